//! Checkpoints: what an agent has written during a run, snapshotted now and then as a commit
//! under `refs/ork/wip/<id>` whose parent is the trak's tip — never on the trak's branch, so
//! `git log ork/<id>` stays the trak's story — so that a crash, a reboot or a dead machine
//! loses at most one interval of its work (docs/data-model.md, "Checkpoints").

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::git::Oid;
use super::git::snapshot::Snapshotter;
use super::{Store, Trak, secrets};

/// Where a trak's checkpoint lives: one ref per trak, moved by each new checkpoint (an older
/// one of the same run is replaced, not kept).
pub const WIP_PREFIX: &str = "refs/ork/wip/";

/// How much of a file is read to look for secrets: a checkpoint is taken while the agent
/// runs, and a file larger than this is left out unread rather than scanned in part.
const SCAN_LIMIT: u64 = 1024 * 1024;

/// One checkpoint taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub commit: String,
    /// The files that differ from the trak's tip, as the checkpoint holds them.
    pub files: Vec<String>,
    /// Files left out: a known secret in them, or too large to scan.
    pub left_out: Vec<String>,
}

/// Takes the checkpoints of one run of one trak. Holds only paths: it runs on a thread of its
/// own beside the agent.
pub struct Checkpointer {
    snapshots: Snapshotter,
    worktree: PathBuf,
    reference: String,
    tip: String,
    allowed: secrets::Allowed,
    /// The tree of the last checkpoint (or the tip's): an unchanged worktree writes nothing.
    last_tree: Option<String>,
    /// What the last snapshot left out, whether or not it wrote a checkpoint.
    left_out: Vec<String>,
    run: String,
}

impl Checkpointer {
    /// For the run `run` ("work, attempt 2") of `trak` in `worktree`.
    pub fn new(store: &Store, trak: &Trak, worktree: &Path, run: &str) -> Checkpointer {
        let index = store
            .git()
            .runtime_dir()
            .join("wip")
            .join(format!("{}.index", trak.id));
        Checkpointer {
            snapshots: Snapshotter::new(worktree, index),
            worktree: worktree.to_path_buf(),
            reference: format!("{WIP_PREFIX}{}", trak.id),
            tip: trak.tip.to_string(),
            allowed: secrets::Allowed::load(store.git().main_workdir()),
            last_tree: None,
            left_out: Vec::new(),
            run: run.to_string(),
        }
    }

    /// Snapshots the worktree if it changed since the last checkpoint; `None` when nothing
    /// changed (nothing is written then).
    pub fn take(&mut self) -> Result<Option<Checkpoint>> {
        let changed = self.snapshots.stage_all(&self.tip)?;
        let mut files = Vec::new();
        let mut left_out = Vec::new();
        for path in changed {
            if self.holds_secret(&path) {
                self.snapshots.unstage(&path)?;
                left_out.push(path);
            } else {
                files.push(path);
            }
        }
        self.left_out = left_out.clone();
        let tree = self.snapshots.write_tree()?;
        if files.is_empty() || self.last_tree.as_deref() == Some(tree.as_str()) {
            return Ok(None);
        }
        let mut message = format!(
            "ork: checkpoint of {}\n\nFiles the run had written when this was taken:\n",
            self.run
        );
        for file in &files {
            message.push_str(&format!("  {file}\n"));
        }
        if !left_out.is_empty() {
            message.push_str("\nLeft out (a secret in it, or too large to scan):\n");
            for file in &left_out {
                message.push_str(&format!("  {file}\n"));
            }
        }
        let commit = self.snapshots.commit(&tree, &self.tip, &message)?;
        self.snapshots.set_ref(&self.reference, &commit)?;
        self.last_tree = Some(tree);
        Ok(Some(Checkpoint {
            commit,
            files,
            left_out,
        }))
    }

    /// The files the last snapshot left out (a secret in them, or too large to scan): a
    /// checkpoint does not hold them, even when it wrote none.
    pub fn left_out(&self) -> &[String] {
        &self.left_out
    }

    /// Whether the file at `path` (in the worktree) holds a known secret the allow list does
    /// not allow, or is too large to be read for one. A deleted file holds none.
    fn holds_secret(&self, path: &str) -> bool {
        let full = self.worktree.join(path);
        let Ok(meta) = std::fs::metadata(&full) else {
            return false;
        };
        if meta.len() > SCAN_LIMIT {
            return true;
        }
        let Ok(bytes) = std::fs::read(&full) else {
            return false;
        };
        let text = String::from_utf8_lossy(&bytes);
        text.lines().enumerate().any(|(n, line)| {
            secrets::find_on_line(path, n + 1, line)
                .iter()
                .any(|finding| !self.allowed.allows(finding))
        })
    }
}

impl Store {
    /// The trak's checkpoint, if one was taken on its current tip: its commit and the files
    /// it holds that differ from the tip. One taken on an older tip is not the trak's any more
    /// (its run ended, or another machine went on) and counts as none.
    pub fn checkpoint_of(&self, trak: &Trak) -> Result<Option<(Oid, Vec<String>)>> {
        // This machine's own, else one a fetch brought (pushed with another machine's claim).
        let mut names = vec![format!("{WIP_PREFIX}{}", trak.id)];
        names.extend(
            self.git()
                .remote_names()
                .iter()
                .map(|remote| format!("refs/ork/remotes/{remote}/wip/{}", trak.id)),
        );
        let mut found = None;
        for name in &names {
            if let Some(commit) = self.git().ref_tip(name)?
                && self.git().parents(commit)?.first() == Some(&trak.tip)
            {
                found = Some(commit);
                break;
            }
        }
        let Some(commit) = found else {
            return Ok(None);
        };
        let out = self.git().run(
            self.git().main_workdir(),
            &[
                "diff-tree",
                "-r",
                "--name-only",
                "-z",
                &trak.tip.to_string(),
                &commit.to_string(),
            ],
        )?;
        let files = String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Some((commit, files)))
    }

    /// When checkpoint `commit` was taken (its commit time).
    pub fn checkpoint_taken_at(&self, commit: Oid) -> Result<chrono::DateTime<chrono::Utc>> {
        let out = self.git().run(
            self.git().main_workdir(),
            &["show", "-s", "--format=%ct", &commit.to_string()],
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        let seconds: i64 = text
            .trim()
            .parse()
            .with_context(|| format!("reading the time of checkpoint {commit}: {text:?}"))?;
        chrono::DateTime::from_timestamp(seconds, 0)
            .with_context(|| format!("checkpoint {commit} has no valid time ({seconds})"))
    }

    /// The commit this machine's checkpoint ref of trak `id` points at, whatever tip it was
    /// taken on: what is left of a trak whose branch is gone.
    pub fn checkpoint_ref_of(&self, id: &str) -> Result<Option<Oid>> {
        self.git().ref_tip(&format!("{WIP_PREFIX}{id}"))
    }

    /// Brings the checkpoint's files into the trak's worktree as uncommitted changes, where
    /// the worktree has none of its own (a take-over on another machine, a worktree made
    /// again). A worktree holding changes keeps them: they are newer than any checkpoint.
    pub fn restore_checkpoint(&self, worktree: &Path, commit: Oid) -> Result<bool> {
        let status = self.git().run(
            worktree,
            &["status", "--porcelain", "--untracked-files=all"],
        )?;
        if !status.stdout.is_empty() {
            return Ok(false);
        }
        self.git().run(
            worktree,
            &["read-tree", "-m", "-u", "HEAD", &commit.to_string()],
        )?;
        // The files stay; the index goes back to the tip, so they read as the run's changes.
        self.git().run(worktree, &["reset", "-q"])?;
        Ok(true)
    }

    /// Makes `commit`, a checkpoint taken on an earlier tip of the trak (before a drop that
    /// `ork trak restore` undid), the trak's checkpoint on its tip now: the same files on top
    /// of what was recorded since. Returns the new checkpoint.
    pub fn carry_checkpoint(&self, trak: &Trak, commit: Oid) -> Result<Oid> {
        let message = format!(
            "ork: checkpoint {commit} carried onto the trak's tip\n\nThe worktree's unsaved changes, kept when it was removed, for the trak as it stands now."
        );
        let carried = self.git().carry_onto(commit, trak.tip, &message)?;
        let reference = format!("{WIP_PREFIX}{}", trak.id);
        let log = "ork: checkpoint carried onto the trak's tip";
        match self.git().ref_tip(&reference)? {
            Some(current) => self.git().update_ref(&reference, carried, current, log)?,
            None => self.git().create_ref(&reference, carried, log)?,
        }
        Ok(carried)
    }

    /// Before the trak's copy here is reset to `theirs` (lost to another machine): what its
    /// worktree holds beyond the commit the two copies share — the stopped run's files,
    /// recorded here or not — kept as a checkpoint on that commit, so that the worktree may
    /// follow the reset. `None` when there is no worktree or nothing in it beyond that commit.
    pub(super) fn keep_before_reset(&self, trak: &Trak, theirs: Oid) -> Result<Option<Checkpoint>> {
        let Some(worktree) = self.git().worktree_of_branch(&trak.branch)? else {
            return Ok(None);
        };
        // Copies with no history in common: the worktree is kept against this one's tip.
        let parted = self.git().merge_base(trak.tip, theirs)?.unwrap_or(trak.tip);
        let at = Trak {
            tip: parted,
            ..trak.clone()
        };
        let run = "this machine's run, before its copy of the trak was reset to the remote's";
        Checkpointer::new(self, &at, &worktree, run).take()
    }

    /// Forgets the trak's checkpoint: its run's work is recorded on the branch now.
    pub fn drop_checkpoint(&self, trak: &Trak) -> Result<()> {
        let reference = format!("{WIP_PREFIX}{}", trak.id);
        if let Some(commit) = self.git().ref_tip(&reference)? {
            self.git().delete_ref(&reference, commit)?;
        }
        Ok(())
    }
}
