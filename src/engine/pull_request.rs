//! Pull requests, through the GitHub CLI (`gh`, with the user's own auth and hosts).
//!
//! When the last stage of a `pr` flow passes, ork pushes `ork-pr/<id>`: commits whose trees
//! are the trak merged with the base's tip, without ork's record folder `.orkestra/traks/`
//! (docs/design.md rule 10), so the pull request's diff is what a reviewer should read. It opens the
//! pull request with a body made from the trak's artifacts, and the trak waits *in review*.
//! Driving it again reads the pull request once: changes asked for go back to `on_changes`
//! with the reviewers' words and the failing checks; the next round is pushed to the same
//! branch as new commits (never forced); approved, green and mergeable, ork merges it.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Engine;
use crate::config::workflow::Flow;
use crate::engine::process::{Finished, TrakCommand, run_with_timeout};
use crate::store::event::EventKind;
use crate::store::git::{MergeResult, Oid};
use crate::store::state::PullRequest;
use crate::store::{Trak, record_dir};

/// The branch a trak's code is pushed to for review.
pub fn pr_branch(id: &str) -> String {
    format!("ork-pr/{id}")
}

/// The folder that must never reach a pull request's branch.
use crate::layout::TRAKS as RECORDS;
/// How long one `gh` call may take.
const GH_TIMEOUT: Duration = Duration::from_secs(120);
/// What `gh pr view` is asked for.
const VIEW_FIELDS: &str =
    "number,url,state,reviewDecision,mergeable,statusCheckRollup,reviews,comments";

impl Engine<'_> {
    /// Opens the trak's pull request, or pushes its next round to the one it has. The trak
    /// then waits in review; anything in the way leaves it integrating with the reason.
    pub(super) fn push_for_review(&mut self, trak: Trak, flow: &Flow) -> Result<Trak> {
        let id = trak.id.clone();
        if let Err(why) = self.gh_ready() {
            return self.block(trak, why);
        }
        let git = self.store.git();
        let remote = match crate::sync::pick_remote(git, None) {
            Ok(remote) => remote,
            Err(err) => return self.block(trak, format!("{err:#}")),
        };
        if let Err(err) = git.fetch(&remote) {
            return self.block(
                trak,
                format!("{err:#}; check the remote, then run `ork integrate {id}`"),
            );
        }
        let base = trak.state.base.clone();
        let Some(base_tip) = remote_or_local(git, &remote, &base)? else {
            return self.block(
                trak,
                format!("the base branch {base} exists neither on {remote} nor here; push it, then run `ork integrate {id}`"),
            );
        };
        let tree = match git.merge_tree(base_tip, trak.tip, RECORDS)? {
            MergeResult::Clean(tree) => tree,
            MergeResult::Conflicts(paths) => {
                return self.send_back_conflict(trak, flow, &base, &paths);
            }
        };
        let branch = pr_branch(&trak.id);
        let previous = match git.ref_tip(&format!("refs/remotes/{remote}/{branch}"))? {
            Some(tip) => Some(tip),
            None => match &trak.state.pull_request {
                Some(pr) => Some(
                    Oid::from_hex(pr.head.as_bytes())
                        .context("reading the pull request's last head")?,
                ),
                None => None,
            },
        };
        let head = self.round_commit(&trak, tree, base_tip, previous)?;
        if let Some(sent_back) = self.landing_gate(&trak, flow, head, &base)? {
            return Ok(sent_back);
        }
        let refspec = format!("{head}:refs/heads/{branch}");
        if !git.push(&remote, &[refspec])? {
            return self.block(
                trak,
                format!("{remote} refused the push to {branch}: someone else pushed to it. Merge their commits into ork/{id} (git pull {remote} {branch}), then run `ork integrate {id}`"),
            );
        }
        self.reporter.step(&format!(
            "pushed {branch} to {remote} at {}",
            &head.to_string()[..12]
        ));
        if trak.state.pull_request.is_some() {
            return self.store.record(
                &trak,
                EventKind::PrPushed {
                    head: head.to_string(),
                },
            );
        }
        // A pull request opened before a crash is taken up again, not opened twice.
        let (number, url) = match self.gh_view(&branch)? {
            Some(view) if view.state == "OPEN" => (view.number, view.url),
            _ => self.gh_create(&trak, flow, &branch)?,
        };
        self.reporter
            .step(&format!("opened pull request #{number}: {url}"));
        self.store.record(
            &trak,
            EventKind::PrOpened {
                number,
                url,
                branch,
                head: head.to_string(),
            },
        )
    }

    /// A commit whose tree is `tree` (the trak merged with the base, without the records): on
    /// top of the branch's previous head, with the base as a second parent when it moved on, so
    /// every push is a fast-forward; the first round sits on the base's tip.
    fn round_commit(
        &self,
        trak: &Trak,
        tree: Oid,
        base_tip: Oid,
        previous: Option<Oid>,
    ) -> Result<Oid> {
        let git = self.store.git();
        // A commit subject: one clean line, whichever ork recorded the title.
        let title = crate::store::text::one_line(&trak.state.title);
        let Some(previous) = previous else {
            let message = format!("{title}\n\nOrk-Trak: {}\n", trak.id);
            return git.new_commit(&message, tree, &[base_tip]);
        };
        let base_in = git.is_ancestor(base_tip, previous)?;
        if base_in && git.tree_of(previous)? == tree {
            return Ok(previous);
        }
        let mut parents = vec![previous];
        if !base_in {
            parents.push(base_tip);
        }
        let round = trak.state.pull_request.as_ref().map_or(0, |pr| pr.rounds);
        let message = format!("{title} (round {})\n\nOrk-Trak: {}\n", round + 1, trak.id);
        git.new_commit(&message, tree, &parents)
    }

    /// Reads the trak's pull request once and does what it calls for.
    pub(super) fn review_pull_request(&mut self, trak: Trak) -> Result<Trak> {
        let id = trak.id.clone();
        let flow = self.flow(&trak)?.clone();
        let Some(pr) = trak.state.pull_request.clone() else {
            bail!(
                "trak {} is in review but has no pull request recorded",
                trak.id
            );
        };
        if let Err(why) = self.gh_ready() {
            return self.wait_in_review(trak, why);
        }
        let Some(view) = self.gh_view(&pr.branch)? else {
            return self.wait_in_review(
                trak,
                format!(
                    "gh finds no pull request for {}; check `gh pr view {}`",
                    pr.branch, pr.branch
                ),
            );
        };
        match view.state.as_str() {
            "MERGED" => return self.finish_pull_request(trak, &pr, "merged on GitHub"),
            "CLOSED" => {
                return self.wait_in_review(
                    trak,
                    format!(
                        "pull request #{} was closed without merging. Reopen it, then `ork resume {id}`; or give the trak up: ork trak drop {id}",
                        pr.number,
                    ),
                );
            }
            _ => {}
        }
        let asked = view.changes_asked(pr.pushed_at);
        if !asked.is_empty() {
            if pr.rounds >= flow.max_rounds {
                return self.wait_in_review(
                    trak,
                    format!(
                        "pull request #{} asks for changes again, after {} rounds (max_rounds); answer it by hand on GitHub",
                        pr.number, pr.rounds
                    ),
                );
            }
            let route_to = flow.on_changes.clone();
            self.reporter.step(&format!(
                "pull request #{} asks for changes; back to {route_to}",
                pr.number
            ));
            let feedback = crate::store::secrets::redact(&asked.feedback(&pr));
            return self.store.record(
                &trak,
                EventKind::PrChangesRequested {
                    stage: trak.state.stage.clone(),
                    feedback,
                    route_to,
                },
            );
        }
        let checks = view.checks();
        if !checks.pending.is_empty() {
            return self.report_waiting(
                trak,
                &format!("checks still running: {}", checks.pending.join(", ")),
            );
        }
        if view.review_decision != "APPROVED" {
            return self.report_waiting(
                trak,
                &format!(
                    "pull request #{} waits for an approving review: {}",
                    pr.number, pr.url
                ),
            );
        }
        if view.mergeable != "MERGEABLE" {
            return self.report_waiting(
                trak,
                &format!(
                    "pull request #{} is approved but GitHub says it is not mergeable ({})",
                    pr.number,
                    view.mergeable.to_lowercase()
                ),
            );
        }
        let Some(flag) = flow.merge.gh_flag() else {
            return self.wait_in_review(
                trak,
                format!("pull request #{} is approved and green; merge it on GitHub (merge = \"none\"), then `ork resume {id}`", pr.number),
            );
        };
        let merged = self.gh(&["pr", "merge", &pr.branch, flag])?;
        if !merged.success() {
            return self.wait_in_review(
                trak,
                format!(
                    "gh pr merge {} {flag} failed ({}): {}",
                    pr.branch,
                    merged.describe(),
                    merged.stderr.trim()
                ),
            );
        }
        self.finish_pull_request(trak, &pr, "merged by ork")
    }

    /// The pull request was merged: the trak is done.
    fn finish_pull_request(&mut self, trak: Trak, pr: &PullRequest, how: &str) -> Result<Trak> {
        let git = self.store.git();
        let base = trak.state.base.clone();
        // The merge commit, as the remote now has it; best effort (the merge is GitHub's).
        let commit = crate::sync::pick_remote(git, None)
            .ok()
            .filter(|remote| git.fetch(remote).is_ok())
            .and_then(|remote| {
                git.ref_tip(&format!("refs/remotes/{remote}/{base}"))
                    .ok()
                    .flatten()
            })
            .map(|oid| oid.to_string())
            .unwrap_or_default();
        self.reporter.step(&format!(
            "pull request #{} {how}; the trak is done",
            pr.number
        ));
        let trak = self
            .store
            .record(&trak, EventKind::Integrated { base, commit })?;
        self.remove_trak_worktree(&trak);
        Ok(trak)
    }

    /// Records that the pull request waits for a human, once for the same reason.
    fn wait_in_review(&mut self, trak: Trak, reason: String) -> Result<Trak> {
        self.reporter.step(&format!("in review: {reason}"));
        if trak.state.note.as_deref() == Some(reason.as_str()) {
            return Ok(trak);
        }
        self.store.record(&trak, EventKind::PrWaiting { reason })
    }

    /// Says what the pull request waits for, recording nothing: that is GitHub's to change.
    fn report_waiting(&mut self, trak: Trak, what: &str) -> Result<Trak> {
        self.reporter.step(&format!("in review: {what}"));
        Ok(trak)
    }

    /// `Err` with what to install or run when `gh` is missing or not logged in.
    fn gh_ready(&mut self) -> std::result::Result<(), String> {
        match self.gh(&["auth", "status"]) {
            Err(err) if is_not_found(&err) => Err(
                "`gh` (the GitHub CLI) is not on PATH: a `pr` flow opens pull requests with it. Install it (https://cli.github.com), log in with `gh auth login`, then run `ork integrate`"
                    .to_string(),
            ),
            Err(err) => Err(format!("running `gh auth status` failed: {err:#}")),
            Ok(done) if !done.success() => Err(format!(
                "`gh` is not logged in ({}). Run `gh auth login`, then `ork integrate`",
                done.output.lines().find(|l| !l.trim().is_empty()).unwrap_or("gh auth status failed").trim()
            )),
            Ok(_) => Ok(()),
        }
    }

    /// The pull request for `branch`, if there is one.
    fn gh_view(&mut self, branch: &str) -> Result<Option<PrView>> {
        let done = self.gh(&["pr", "view", branch, "--json", VIEW_FIELDS])?;
        if !done.success() {
            if done.stderr.contains("no pull requests found") {
                return Ok(None);
            }
            bail!(
                "gh pr view {branch} failed ({}): {}",
                done.describe(),
                done.stderr.trim()
            );
        }
        PrView::parse(&done.stdout).map(Some)
    }

    /// `gh pr create`: the number and URL of the new pull request.
    fn gh_create(&mut self, trak: &Trak, flow: &Flow, branch: &str) -> Result<(u64, String)> {
        let body = crate::store::secrets::redact(&self.pr_body(trak, flow)?);
        let file = self
            .store
            .git()
            .runtime_dir()
            .join("pr")
            .join(format!("{}.md", trak.id));
        std::fs::create_dir_all(file.parent().expect("a folder"))?;
        std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
        let file_text = file.display().to_string();
        let title = crate::store::text::one_line(&trak.state.title);
        let done = self.gh(&[
            "pr",
            "create",
            "--base",
            &trak.state.base,
            "--head",
            branch,
            "--title",
            &title,
            "--body-file",
            &file_text,
        ])?;
        let _ = std::fs::remove_file(&file);
        if !done.success() {
            bail!(
                "gh pr create failed ({}): {}",
                done.describe(),
                done.stderr.trim()
            );
        }
        let url = done
            .stdout
            .lines()
            .rev()
            .find(|l| l.contains("/pull/"))
            .map(str::trim)
            .with_context(|| {
                format!(
                    "gh pr create printed no pull request URL: {}",
                    done.stdout.trim()
                )
            })?
            .to_string();
        let number = url
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("no pull request number at the end of {url}"))?;
        Ok((number, url))
    }

    /// The pull request's body: the description and every stage's latest artifact (the plan,
    /// the summary, the review), and the trak's id.
    fn pr_body(&self, trak: &Trak, flow: &Flow) -> Result<String> {
        let mut body = String::new();
        let description = self.store.description(trak)?;
        if !description.trim().is_empty() {
            body.push_str(description.trim_end());
            body.push_str("\n\n");
        }
        let artifacts: std::collections::BTreeMap<String, String> =
            self.store.artifacts(trak)?.into_iter().collect();
        for stage in &flow.stages {
            if let Some(content) = artifacts.get(&stage.artifact) {
                body.push_str(&format!(
                    "## {} ({})\n\n{}\n\n",
                    stage.artifact,
                    stage.name,
                    content.trim_end()
                ));
            }
        }
        if let Some(source) = trak.state.source.as_ref().filter(|s| s.tracker == "github") {
            // GitHub closes the issue when this pull request merges.
            body.push_str(&format!("Closes #{}\n\n", source.key));
        }
        body.push_str(&format!(
            "---\nMade by ork, trak `{}` (its history: `git log ork/{}`; its record stays out of this branch, under {}).\n",
            trak.id,
            trak.id,
            record_dir(&trak.id)
        ));
        Ok(body)
    }

    /// Runs `gh args` in the main checkout (the trak's code is on the remote, not in a
    /// worktree), as any child of ork: its own process group, a timeout, bounded output.
    fn gh(&mut self, args: &[&str]) -> Result<Finished> {
        run_gh(self.store.git().main_workdir(), args)
    }
}

/// Runs `gh args` in `dir` as any child of ork: its own process group, a two-minute timeout,
/// bounded output, never a prompt. Pull requests and issue intake both go through it.
pub(crate) fn run_gh(dir: &std::path::Path, args: &[&str]) -> Result<Finished> {
    let mut gh = TrakCommand::new("gh", dir);
    gh.args(args).env("GH_PROMPT_DISABLED", "1");
    run_with_timeout(&mut gh, GH_TIMEOUT).with_context(|| format!("running gh {}", args.join(" ")))
}

/// The base's tip as `remote` has it (fetched), else the local branch's.
fn remote_or_local(git: &crate::store::git::Git, remote: &str, base: &str) -> Result<Option<Oid>> {
    match git.ref_tip(&format!("refs/remotes/{remote}/{base}"))? {
        Some(tip) => Ok(Some(tip)),
        None => git.ref_tip(&format!("refs/heads/{base}")),
    }
}

/// Whether starting a program failed because it is not there.
fn is_not_found(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    })
}

/// What `gh pr view --json …` says about a pull request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrView {
    number: u64,
    url: String,
    /// OPEN, CLOSED or MERGED.
    state: String,
    /// APPROVED, CHANGES_REQUESTED, REVIEW_REQUIRED, or empty.
    #[serde(default)]
    review_decision: String,
    /// MERGEABLE, CONFLICTING or UNKNOWN.
    #[serde(default)]
    mergeable: String,
    #[serde(default)]
    status_check_rollup: Vec<Check>,
    #[serde(default)]
    reviews: Vec<Review>,
    #[serde(default)]
    comments: Vec<Comment>,
}

/// A check run (GitHub Actions and apps) or a commit status (older CI), on the head commit.
#[derive(Debug, Deserialize)]
struct Check {
    /// A check run's name.
    #[serde(default)]
    name: String,
    /// A commit status's name.
    #[serde(default)]
    context: String,
    /// A check run's progress: QUEUED, IN_PROGRESS, COMPLETED.
    #[serde(default)]
    status: String,
    /// A check run's result: SUCCESS, FAILURE, CANCELLED, TIMED_OUT, …
    #[serde(default)]
    conclusion: String,
    /// A commit status's state: SUCCESS, FAILURE, ERROR, PENDING, EXPECTED.
    #[serde(default)]
    state: String,
}

#[derive(Debug, Deserialize)]
struct Author {
    #[serde(default)]
    login: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    author: Option<Author>,
    #[serde(default)]
    body: String,
    /// APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING.
    #[serde(default)]
    state: String,
    submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    author: Option<Author>,
    #[serde(default)]
    body: String,
    created_at: Option<DateTime<Utc>>,
}

/// The checks on the head commit, by how they stand.
struct Checks {
    failed: Vec<String>,
    pending: Vec<String>,
}

/// What a pull request asks for since ork's last push.
struct Asked<'a> {
    reviews: Vec<&'a Review>,
    comments: Vec<&'a Comment>,
    failed_checks: Vec<String>,
}

impl PrView {
    fn parse(json: &str) -> Result<PrView> {
        serde_json::from_str(json).with_context(|| {
            format!(
                "gh pr view printed something ork cannot read: {}",
                json.trim()
            )
        })
    }

    fn checks(&self) -> Checks {
        let mut checks = Checks {
            failed: Vec::new(),
            pending: Vec::new(),
        };
        for check in &self.status_check_rollup {
            let (name, failed, pending) = if check.state.is_empty() {
                let failed = matches!(
                    check.conclusion.as_str(),
                    "FAILURE" | "CANCELLED" | "TIMED_OUT" | "ACTION_REQUIRED" | "STARTUP_FAILURE"
                );
                (&check.name, failed, check.status != "COMPLETED")
            } else {
                let failed = matches!(check.state.as_str(), "FAILURE" | "ERROR");
                (
                    &check.context,
                    failed,
                    matches!(check.state.as_str(), "PENDING" | "EXPECTED"),
                )
            };
            if failed {
                checks.failed.push(name.clone());
            } else if pending {
                checks.pending.push(name.clone());
            }
        }
        checks
    }

    /// Reviews asking for changes and comments made after `since` (ork's last push: what came
    /// before was answered by that push), and the failing checks on the head commit. As on
    /// GitHub, `reviewDecision` stays CHANGES_REQUESTED after a push until the reviewer looks
    /// again, so it is the reviews' own times that count, never the decision. Plain comments
    /// on an approved pull request ask for nothing.
    fn changes_asked(&self, since: DateTime<Utc>) -> Asked<'_> {
        let after = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at > since);
        let reviews: Vec<&Review> = self
            .reviews
            .iter()
            .filter(|r| after(r.submitted_at))
            .filter(|r| {
                r.state == "CHANGES_REQUESTED"
                    || (r.state == "COMMENTED" && !r.body.trim().is_empty())
            })
            .collect();
        let approved = self.review_decision == "APPROVED";
        let comments = self
            .comments
            .iter()
            .filter(|c| !approved && after(c.created_at) && !c.body.trim().is_empty())
            // `/ork approve` and the rest speak to ork (`[intake]`), not to the agent.
            .filter(|c| !crate::engine::intake::is_command(&c.body))
            .collect();
        Asked {
            reviews,
            comments,
            failed_checks: self.checks().failed,
        }
    }
}

impl Asked<'_> {
    fn is_empty(&self) -> bool {
        self.reviews.is_empty() && self.comments.is_empty() && self.failed_checks.is_empty()
    }

    /// The feedback for the agent: who said what, and which checks fail.
    fn feedback(&self, pr: &PullRequest) -> String {
        let who = |author: &Option<Author>| {
            author
                .as_ref()
                .map(|a| a.login.clone())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| "someone".to_string())
        };
        let mut text = format!(
            "The pull request #{} ({}) asks for changes.\n",
            pr.number, pr.url
        );
        if !self.reviews.is_empty() {
            text.push_str("\nReviews:\n");
            for review in &self.reviews {
                let what = if review.state == "CHANGES_REQUESTED" {
                    "requests changes"
                } else {
                    "comments"
                };
                text.push_str(&format!(
                    "\n- {} {what}:\n{}\n",
                    who(&review.author),
                    indent(&review.body)
                ));
            }
        }
        if !self.comments.is_empty() {
            text.push_str("\nComments:\n");
            for comment in &self.comments {
                text.push_str(&format!(
                    "\n- {}:\n{}\n",
                    who(&comment.author),
                    indent(&comment.body)
                ));
            }
        }
        if !self.failed_checks.is_empty() {
            text.push_str("\nFailing checks on the pull request's head commit:\n\n");
            for check in &self.failed_checks {
                text.push_str(&format!("- {check}\n"));
            }
        }
        text.push_str("\nChange the code to answer them; ork pushes the result to the same pull request as new commits.");
        text
    }
}

fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(json: serde_json::Value) -> PrView {
        PrView::parse(&json.to_string()).unwrap()
    }

    #[test]
    fn checks_are_failed_pending_or_green() {
        let v = view(serde_json::json!({
            "number": 1, "url": "u", "state": "OPEN",
            "statusCheckRollup": [
                {"__typename": "CheckRun", "name": "test", "status": "COMPLETED", "conclusion": "FAILURE"},
                {"__typename": "CheckRun", "name": "lint", "status": "IN_PROGRESS", "conclusion": ""},
                {"__typename": "CheckRun", "name": "build", "status": "COMPLETED", "conclusion": "SUCCESS"},
                {"__typename": "StatusContext", "context": "ci/legacy", "state": "ERROR"},
                {"__typename": "StatusContext", "context": "ci/slow", "state": "PENDING"},
            ]
        }));
        let checks = v.checks();
        assert_eq!(checks.failed, ["test", "ci/legacy"]);
        assert_eq!(checks.pending, ["lint", "ci/slow"]);
    }

    #[test]
    fn only_what_came_after_the_last_push_asks_for_changes() {
        let v = view(serde_json::json!({
            "number": 7, "url": "https://x/pull/7", "state": "OPEN", "reviewDecision": "CHANGES_REQUESTED",
            "reviews": [
                {"author": {"login": "old"}, "state": "CHANGES_REQUESTED", "body": "answered", "submittedAt": "2026-01-01T00:00:00Z"},
                {"author": {"login": "alice"}, "state": "CHANGES_REQUESTED", "body": "use PKCE", "submittedAt": "2026-01-03T00:00:00Z"},
                {"author": {"login": "bob"}, "state": "APPROVED", "body": "", "submittedAt": "2026-01-03T00:00:00Z"},
            ],
            "comments": [{"author": {"login": "carol"}, "body": "and a test", "createdAt": "2026-01-04T00:00:00Z"}]
        }));
        let since: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
        let asked = v.changes_asked(since);
        assert_eq!(asked.reviews.len(), 1);
        assert_eq!(asked.comments.len(), 1);
        let pr = PullRequest {
            number: 7,
            url: v.url.clone(),
            branch: "b".into(),
            head: "h".into(),
            pushed_at: since,
            rounds: 0,
        };
        let text = asked.feedback(&pr);
        assert!(
            text.contains("alice requests changes:\n  use PKCE"),
            "{text}"
        );
        assert!(text.contains("carol:\n  and a test"), "{text}");
        assert!(!text.contains("answered"), "{text}");
        // The same review after a later push asks for nothing more.
        let later: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
        assert!(v.changes_asked(later).is_empty());
    }
}
