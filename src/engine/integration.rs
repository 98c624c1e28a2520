//! Integration: the trak's branch merged into its base, the record folder left out.

use std::path::Path;

use anyhow::Result;

use super::Engine;
use crate::config::workflow::{Flow, Strategy};
use crate::store::event::{Actor, EventKind};
use crate::store::git::MergeResult;
use crate::store::{Trak, record_dir};

impl Engine<'_> {
    /// Merges the trak's branch into its base, leaving its record folder out of the base's
    /// tree; the trak's history stays reachable (a merge parent, or the kept trak branch).
    pub(super) fn integrate(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        if flow.strategy == Strategy::Pr {
            return self.push_for_review(trak, &flow);
        }
        let git = self.store.git();
        let base = trak.state.base.clone();
        // A subtrak merges into its parent's branch, which may be known here only from a
        // fetch, and which its sibling subtraks merge into too: one at a time.
        let _merge_lock = match &trak.state.parent {
            Some(parent) => {
                let lock = self.wait_for_merge_lock(parent)?;
                self.store.adopt(&self.store.load(parent)?)?;
                Some(lock)
            }
            None => None,
        };
        let base_ref = format!("refs/heads/{base}");
        let Some(base_tip) = git.ref_tip(&base_ref)? else {
            return self.block(
                trak,
                format!("the base branch {base} no longer exists; create it again, then run `ork integrate`"),
            );
        };
        // A crash after moving the base but before recording it: finish the record only.
        if git.is_ancestor(trak.tip, base_tip)? {
            return self.finish_integration(trak, &base, base_tip);
        }
        let tree = match git.merge_tree(base_tip, trak.tip, &record_dir(&trak.id))? {
            MergeResult::Clean(tree) => tree,
            MergeResult::Conflicts(paths) => {
                return self.send_back_conflict(trak, &flow, &base, &paths);
            }
        };
        let parents = match flow.strategy {
            Strategy::Merge | Strategy::Pr => vec![base_tip, trak.tip],
            Strategy::Squash => vec![base_tip],
        };
        let message = format!(
            "{} (ork trak {})\n\nOrk-Trak: {}\nOrk-Event: integrated\nOrk-Flow: {}\nOrk-Trak-Tip: {}\n",
            trak.state.title, trak.id, trak.id, trak.state.flow, trak.tip
        );
        let merge = git.new_commit(&message, tree, &parents)?;
        if let Some(sent_back) = self.landing_gate(&trak, &flow, merge, &base)? {
            return Ok(sent_back);
        }
        let moved = match git.checkout_of(&base_ref)? {
            None => git.update_ref(
                &base_ref,
                merge,
                base_tip,
                &format!("ork: integrate {}", trak.id),
            ),
            Some(checkout) => git
                .fast_forward_checkout(&checkout, merge)
                .map_err(|err| in_the_way(&base, &checkout, &format!("{err:#}"))),
        };
        if let Err(err) = moved {
            return self.block(
                trak,
                format!("{err:#}\n  Commit or stash the changes that are in the way, then run `ork integrate`."),
            );
        }
        self.finish_integration(trak, &base, merge)
    }

    fn finish_integration(
        &mut self,
        trak: Trak,
        base: &str,
        merge: crate::store::git::Oid,
    ) -> Result<Trak> {
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
        if worktree.exists()
            && let Err(err) = self.store.git().remove_worktree(&worktree)
        {
            self.reporter.step(&format!(
                "warning: could not remove {}: {err:#}",
                worktree.display()
            ));
        }
        if let Some(warning) = super::forget_runs(self.store, &trak.id) {
            self.reporter.step(&warning);
        }
    }

    /// The merge into `base` conflicts in `paths`: back to `on_conflict` with them as feedback.
    pub(super) fn send_back_conflict(
        &mut self,
        trak: Trak,
        flow: &Flow,
        base: &str,
        paths: &[String],
    ) -> Result<Trak> {
        let route_to = flow.on_conflict.clone();
        self.reporter.step(&format!(
            "merge into {base} conflicts in {}; back to {route_to}",
            paths.join(", ")
        ));
        let feedback = format!(
            "Merging this branch into {base} conflicts in:\n\n{}\n\nMerge {base} into this branch (`git merge {base}`), resolve the conflicts keeping both sides' intent, and finish the merge with `git add`; ork commits the result.",
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

    /// The lock that keeps two subtraks of `parent` on this machine from merging at once (each
    /// merge takes a moment; the lock is released by the OS if the process dies).
    fn wait_for_merge_lock(&self, parent: &str) -> Result<std::fs::File> {
        let name = format!("merge/{parent}.lock");
        for _ in 0..1200 {
            if let Some(lock) = self.store.git().try_runtime_lock(&name)? {
                return Ok(lock);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        anyhow::bail!(
            "another ork process has been merging into ork/{parent} for a minute; try again: ork integrate"
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
