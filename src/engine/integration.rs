//! Integration: the trak's branch merged into its base, the record folder left out.

use std::path::Path;

use anyhow::Result;

use super::{Engine, queue_remote};
use crate::config::workflow::{Flow, Strategy};
use crate::store::event::{Actor, EventKind};
use crate::store::git::{MergeResult, Oid};
use crate::store::{Trak, record_dir};

/// How many times to merge again onto a remote base that moved during the push.
const LANDING_ROUNDS: usize = 5;

/// A trak merged onto a base tip in memory, or sent back because it conflicts.
enum Merged {
    Commit(Trak, Oid),
    SentBack(Trak),
}

impl Engine<'_> {
    /// Merges the trak's branch into its base, leaving its record folder out of the base's
    /// tree; the trak's history stays reachable (a merge parent, or the kept trak branch).
    /// Where the base is shared through a remote (its upstream, or the shared queue's remote),
    /// the merge lands on the remote's base first ([`Engine::integrate_on_remote`]).
    pub(super) fn integrate(&mut self, trak: Trak) -> Result<Trak> {
        if let Some(reason) = self.config_waits(&trak)? {
            return self.block(trak, reason);
        }
        let flow = self.flow(&trak)?.clone();
        if flow.strategy == Strategy::Pr {
            return self.push_for_review(trak, &flow);
        }
        let base = trak.state.base.clone();
        // A subtrak lands on its parent's branch, here; a trak on a shared base, on the remote.
        let remote = match trak.state.parent {
            Some(_) => None,
            None => queue_remote(self.store, self.workflow)
                .or_else(|| self.store.git().upstream_remote(&base)),
        };
        if let Some(remote) = remote {
            return self.integrate_on_remote(trak, &remote);
        }
        // Merges into one branch on this machine go one at a time: a subtrak's into its
        // parent's branch (which may be known here only from a fetch, and which its siblings
        // merge into too), a trak's into its base (`ork run -j` lands several at once; one
        // that read the base's tip before another moved it could not fast-forward it).
        let _merge_lock = match &trak.state.parent {
            Some(parent) => {
                let lock = self.wait_for_merge_lock(&format!("ork/{parent}"))?;
                self.store.adopt(&self.store.load(parent)?)?;
                lock
            }
            None => self.wait_for_merge_lock(&base)?,
        };
        let git = self.store.git();
        let base_ref = format!("refs/heads/{base}");
        let Some(base_tip) = git.ref_tip(&base_ref)? else {
            return self.block(
                trak,
                format!("the base branch {base} no longer exists; create it again, then run `ork integrate`"),
            );
        };
        // A crash after moving the base but before recording it: finish the record only.
        if let Some(landed) = landed_on(git, &trak, base_tip)? {
            return self.finish_integration(trak, &base, landed);
        }
        let (trak, merge) = match self.merge_onto(trak, base_tip)? {
            Merged::Commit(trak, merge) => (trak, merge),
            Merged::SentBack(trak) => return Ok(trak),
        };
        if let Err(err) = self.move_local_base(&base, base_tip, merge) {
            return self.block(
                trak,
                format!("{err:#}\n  Commit or stash the changes that are in the way, then run `ork integrate`."),
            );
        }
        self.finish_integration(trak, &base, merge)
    }

    /// Lands the trak on `remote`'s base: fetch its tip, merge onto it in memory, push the new
    /// base without force; a push refused because another machine landed first starts again
    /// from the new tip (bounded). Then the local base (and its checkout) fast-forwards.
    fn integrate_on_remote(&mut self, trak: Trak, remote: &str) -> Result<Trak> {
        let base = trak.state.base.clone();
        let base_ref = format!("refs/heads/{base}");
        let tracking = format!("refs/remotes/{remote}/{base}");
        let mut trak = trak;
        for _ in 0..LANDING_ROUNDS {
            let git = self.store.git();
            git.fetch_branch(remote, &base)?;
            let local = git.ref_tip(&base_ref)?;
            let theirs = git.ref_tip(&tracking)?;
            // Start from whichever of the two holds the other: the local base's own commits
            // not pushed yet go along; two bases that diverged are the user's to reconcile.
            let onto = match (local, theirs) {
                (None, None) => {
                    return self.block(
                        trak,
                        format!("the base branch {base} exists neither here nor on {remote}; create it, then run `ork integrate`"),
                    );
                }
                (Some(tip), None) | (None, Some(tip)) => tip,
                (Some(ours), Some(theirs)) if git.is_ancestor(ours, theirs)? => theirs,
                (Some(ours), Some(theirs)) if git.is_ancestor(theirs, ours)? => ours,
                (Some(_), Some(_)) => {
                    return self.block(
                        trak,
                        format!("{base} here and {remote}/{base} have diverged; bring them together (git pull), then run `ork integrate`"),
                    );
                }
            };
            // Landed already (a crash after the push): finish the record only.
            if let Some(landed) = landed_on(git, &trak, onto)? {
                self.follow_remote_base(&base, local, onto);
                return self.finish_integration(trak, &base, landed);
            }
            let (merged, merge) = match self.merge_onto(trak, onto)? {
                Merged::Commit(trak, merge) => (trak, merge),
                Merged::SentBack(trak) => return Ok(trak),
            };
            trak = merged;
            let spec = format!("{merge}:{base_ref}");
            if self.store.git().push(remote, &[spec])? {
                self.follow_remote_base(&base, local, merge);
                return self.finish_integration(trak, &base, merge);
            }
            self.reporter.step(&format!(
                "{remote}/{base} moved while landing; merging onto its new tip"
            ));
        }
        self.block(
            trak,
            format!(
                "{remote}/{base} kept moving while ork landed the merge; run `ork integrate` again"
            ),
        )
    }

    /// Merges the trak onto `onto` in memory. A conflict sends the trak back to the flow's
    /// `on_conflict` stage with the conflicted paths as feedback.
    fn merge_onto(&mut self, trak: Trak, onto: Oid) -> Result<Merged> {
        let flow = self.flow(&trak)?.clone();
        let base = trak.state.base.clone();
        let git = self.store.git();
        let tree = match git.merge_tree(onto, trak.tip, &record_dir(&trak.id))? {
            MergeResult::Clean(tree) => tree,
            MergeResult::Conflicts(paths) => {
                return Ok(Merged::SentBack(
                    self.send_back_conflict(trak, &flow, &base, &paths)?,
                ));
            }
        };
        let parents = match flow.strategy {
            Strategy::Merge | Strategy::Pr => vec![onto, trak.tip],
            Strategy::Squash => vec![onto],
        };
        let message = self.landing_message(&trak, &flow)?;
        let merge = git.new_commit(&message, tree, &parents)?;
        if let Some(sent_back) = self.landing_gate(&trak, &flow, merge, &base)? {
            return Ok(Merged::SentBack(sent_back));
        }
        Ok(Merged::Commit(trak, merge))
    }

    /// The message of the commit that lands the trak (docs/data-model.md, "The integration
    /// commit"). A squash reads as a person's commit: the title, then the summary of the stage
    /// that writes the code. A merge names the trak it brings in. Both end in the trailers
    /// that link the commit to the trak's record on `ork/<id>`.
    fn landing_message(&self, trak: &Trak, flow: &Flow) -> Result<String> {
        let trailers = format!(
            "Ork-Trak: {}\nOrk-Event: integrated\nOrk-Flow: {}\nOrk-Trak-Tip: {}\n",
            trak.id, trak.state.flow, trak.tip
        );
        // The subject quotes the title, perhaps recorded elsewhere: one clean line.
        let title = crate::store::text::one_line(&trak.state.title);
        if flow.strategy != Strategy::Squash {
            return Ok(format!("{title} (ork trak {})\n\n{trailers}", trak.id));
        }
        let summary = match flow.stages.iter().find(|s| s.name == flow.on_conflict) {
            Some(stage) => self
                .store
                .artifacts(trak)?
                .into_iter()
                .find(|(name, _)| *name == stage.artifact)
                .map(|(_, content)| summary_body(&content))
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(match summary.is_empty() {
            true => format!("{title}\n\n{trailers}"),
            false => format!("{title}\n\n{summary}\n\n{trailers}"),
        })
    }

    /// Moves the local base from `from` to `merge`: by compare-and-swap, or as `git merge
    /// --ff-only` where it is checked out (keeping the user's uncommitted files).
    fn move_local_base(&self, base: &str, from: Oid, merge: Oid) -> Result<()> {
        let git = self.store.git();
        let base_ref = format!("refs/heads/{base}");
        match git.checkout_of(&base_ref)? {
            None => git.update_ref(
                &base_ref,
                merge,
                from,
                &format!("ork: integrate into {base}"),
            ),
            Some(checkout) => git
                .fast_forward_checkout(&checkout, merge)
                .map_err(|err| in_the_way(base, &checkout, &format!("{err:#}"))),
        }
    }

    /// After landing on the remote: the local base follows (created if it was missing). The
    /// work is on the remote whatever happens here, so a failure is a warning with the way out.
    fn follow_remote_base(&mut self, base: &str, local: Option<Oid>, landed: Oid) {
        let git = self.store.git();
        let moved = match local {
            Some(tip) if tip == landed => Ok(()),
            Some(tip) => self.move_local_base(base, tip, landed),
            None => git.create_ref(&format!("refs/heads/{base}"), landed, "ork: integrate"),
        };
        if let Err(err) = moved {
            self.reporter.warning(&format!(
                "the merge landed on the remote, but the local {base} could not follow: {err:#}\n  \
                 Bring it along with `git merge --ff-only {}` once the way is clear.",
                &landed.to_string()[..12]
            ));
        }
    }

    fn finish_integration(&mut self, trak: Trak, base: &str, merge: Oid) -> Result<Trak> {
        let trak = self.store.record(
            &trak,
            EventKind::Integrated {
                base: base.to_string(),
                commit: merge.to_string(),
            },
        )?;
        self.remove_trak_worktree(&trak);
        self.reporter.step(&format!(
            "integrated into {base} as {}",
            &merge.to_string()[..12]
        ));
        Ok(trak)
    }

    /// A finished trak's worktree goes; a failure to remove it is only a warning.
    pub(super) fn remove_trak_worktree(&mut self, trak: &Trak) {
        let worktree = self.store.worktree_path(&trak.id);
        // Anything left uncommitted there is kept first; if it cannot be, the folder stays.
        if let Err(err) = super::checkpoints::keep_unsaved(self.store, trak, &worktree) {
            self.reporter.warning(&format!(
                "kept {}: its uncommitted changes could not be saved first: {err:#}",
                worktree.display()
            ));
            return;
        }
        if worktree.exists()
            && let Err(err) = self.store.git().remove_worktree(&worktree)
        {
            self.reporter
                .warning(&format!("could not remove {}: {err:#}", worktree.display()));
        }
        super::forget_runs(self.store, &trak.id);
    }

    /// The merge into `base` conflicts in `paths`: back to `on_conflict` with them as feedback.
    pub(super) fn send_back_conflict(
        &mut self,
        trak: Trak,
        flow: &Flow,
        base: &str,
        paths: &[String],
    ) -> Result<Trak> {
        let why = format!("merge into {base} conflicts in {}", paths.join(", "));
        if let Some(trak) = self.stop_sending_back(&trak, flow, &why)? {
            return Ok(trak);
        }
        let route_to = flow.on_conflict.clone();
        self.reporter.step(&format!("{why}; back to {route_to}"));
        let feedback = format!(
            "Merging this branch into {base} conflicts in:\n\n{}\n\nork has started merging {base} into this branch in your worktree: those files hold git's conflict markers. Resolve them keeping both sides' intent and leave the result for ork to commit as the merge (no `git merge` or `git commit` of your own).",
            paths
                .iter()
                .map(|p| format!("- {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        self.store.record(
            &trak,
            EventKind::Rejected {
                stage: trak.state.stage.clone(),
                feedback,
                route_to,
                by: Actor::Integration,
            },
        )
    }

    /// A merge sent back as many times as the flow's `max_rounds` allows is not sent back
    /// again: the trak waits for a person (docs/design.md rule 13). `None`: send it back.
    pub(super) fn stop_sending_back(
        &mut self,
        trak: &Trak,
        flow: &Flow,
        why: &str,
    ) -> Result<Option<Trak>> {
        if trak.state.integration_rounds < flow.max_rounds {
            return Ok(None);
        }
        self.reporter.step(&format!(
            "{why}; the merge was sent back {} time(s), as many as max_rounds allows: the trak waits: ork approve {id}  /  ork reject {id} -m \"…\"",
            flow.max_rounds,
            id = trak.id
        ));
        let trak = self.store.record(
            trak,
            EventKind::RoundsReached {
                stage: trak.state.stage.clone(),
                rounds: flow.max_rounds,
                integration: true,
            },
        )?;
        Ok(Some(trak))
    }

    /// The lock that keeps two subtraks of `parent` on this machine from merging at once (each
    /// merge takes a moment; the lock is released by the OS if the process dies).
    fn wait_for_merge_lock(&self, branch: &str) -> Result<std::fs::File> {
        let name = merge_lock_name(branch);
        // The holder may be running a landing gate (up to its timeout): wait as long.
        for _ in 0..36_000 {
            if let Some(lock) = self.store.git().try_runtime_lock(&name)? {
                return Ok(lock);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        anyhow::bail!(
            "another ork process has been merging into {branch} for half an hour; try again: ork integrate"
        )
    }

    pub(super) fn block(&mut self, trak: Trak, reason: String) -> Result<Trak> {
        self.reporter.step(&format!("integration waits: {reason}"));
        if trak.state.note.as_deref() == Some(reason.as_str()) {
            return Ok(trak);
        }
        let trak = self
            .store
            .record(&trak, EventKind::IntegrationBlocked { reason })?;
        Ok(trak)
    }
}

/// Why a checked-out base could not be moved, in words that stay the same while the cause
/// does (git's own message names a new merge commit every time).
/// How many lines and bytes of the work's summary a squash commit's message carries: a commit
/// message is read in `git log`, not a report (the whole artifact stays in the trak's record).
const SUMMARY_LINES: usize = 40;
const SUMMARY_BYTES: usize = 4000;

/// A summary as a commit message body: redacted, trimmed, bounded, with no line that git would
/// read as one of ork's trailers (`Ork-…: `).
fn summary_body(content: &str) -> String {
    let redacted = crate::store::secrets::redact(content);
    let mut body = String::new();
    for line in redacted.trim().lines().take(SUMMARY_LINES) {
        if body.len() + line.len() > SUMMARY_BYTES {
            break;
        }
        if line.starts_with("Ork-") {
            continue;
        }
        body.push_str(line.trim_end());
        body.push('\n');
    }
    body.trim_end().to_string()
}

/// The commit on `onto` that already holds the trak (a crash after the base moved, before
/// `integrated` was recorded): `onto` itself when the trak's tip is in its history (a merge),
/// or the squashed commit whose trailer names that tip.
fn landed_on(git: &crate::store::git::Git, trak: &Trak, onto: Oid) -> Result<Option<Oid>> {
    if git.is_ancestor(trak.tip, onto)? {
        return Ok(Some(onto));
    }
    git.first_parent_since(onto, trak.tip, &format!("\nOrk-Trak-Tip: {}\n", trak.tip))
}

/// The runtime lock held while a trak merges into `branch` on this machine.
pub(super) fn merge_lock_name(branch: &str) -> String {
    format!("merge/{branch}.lock")
}

fn in_the_way(base: &str, checkout: &Path, git_error: &str) -> anyhow::Error {
    let files: Vec<&str> = git_error
        .lines()
        .filter(|l| l.starts_with('\t'))
        .map(str::trim)
        .collect();
    if files.is_empty() {
        anyhow::anyhow!(
            "{base} is checked out in {} and git would not move it: {}",
            checkout.display(),
            git_error.lines().last().unwrap_or_default().trim()
        )
    } else {
        anyhow::anyhow!(
            "{base} is checked out in {}, and uncommitted changes to {} are in the way of the merge",
            checkout.display(),
            files.join(", ")
        )
    }
}
