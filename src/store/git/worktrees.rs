//! Linked worktrees: added (a trak's branch, or a detached scratch one for a check), found by
//! the branch they have checked out, removed, and pruned.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use super::{Git, Oid};

impl Git {
    /// Checks out the local branch `full_name` in a new linked worktree at `path`.
    pub fn add_worktree(&self, path: &Path, full_name: &str) -> Result<()> {
        let name: gix::refs::FullName = full_name.try_into()?;
        let interrupt = AtomicBool::new(false);
        // gix reads every registered worktree while adding one, and fails on another process's
        // half-written registration: take turns. The OS drops the lock if the process dies.
        let _lock = self.runtime_lock("worktrees.lock")?;
        self.repo
            .add_worktree(
                path,
                gix::worktree::add::Head::Attached(name),
                gix::progress::Discard,
                &interrupt,
            )
            .with_context(|| format!("adding a worktree for {full_name} at {}", path.display()))?;
        Ok(())
    }

    /// A scratch worktree at `path` with `commit` checked out on a detached HEAD
    /// (`git worktree add --detach`), for running a check on a commit no branch points at.
    pub fn add_scratch_worktree(&self, path: &Path, commit: Oid) -> Result<()> {
        let _lock = self.runtime_lock("worktrees.lock")?;
        let path_text = path.display().to_string();
        self.run(
            &self.main_workdir,
            &[
                "worktree",
                "add",
                "--detach",
                "-f",
                "-q",
                &path_text,
                &commit.to_string(),
            ],
        )
        .map(drop)
    }

    /// A worktree at `path` whose HEAD is the plain ref `full_name` (outside `refs/heads/`, so
    /// no branch): `git worktree add --detach` at its tip, then HEAD pointed at the ref, so
    /// that commits there move it as they move a branch. For a race's attempts, which cannot
    /// be branches beside the trak's `ork/<id>` (a ref cannot be a file and a folder).
    pub fn add_worktree_on_ref(&self, path: &Path, full_name: &str) -> Result<()> {
        let tip = self
            .ref_tip(full_name)?
            .with_context(|| format!("{full_name} does not exist"))?;
        self.add_scratch_worktree(path, tip)?;
        self.run(path, &["symbolic-ref", "HEAD", full_name])
            .map(drop)
            .with_context(|| format!("pointing the worktree {} at {full_name}", path.display()))
    }

    /// Removes a scratch worktree made by [`Git::add_scratch_worktree`], whatever it holds.
    pub fn remove_scratch_worktree(&self, path: &Path) -> Result<()> {
        let _lock = self.runtime_lock("worktrees.lock")?;
        let path_text = path.display().to_string();
        self.run(
            &self.main_workdir,
            &["worktree", "remove", "--force", "--force", &path_text],
        )
        .map(drop)
    }

    /// The worktree (main or linked) that has the local branch `full_name` checked out.
    pub fn checkout_of(&self, full_name: &str) -> Result<Option<PathBuf>> {
        let main = self.repo.main_repo().unwrap_or_else(|_| self.repo.clone());
        if main
            .head_name()
            .ok()
            .flatten()
            .is_some_and(|h| h.as_bstr() == full_name.as_bytes())
        {
            return Ok(main.workdir().map(Path::to_path_buf));
        }
        self.worktree_of_branch(full_name)
    }

    /// The linked worktree that has `full_name` checked out, if any.
    pub fn worktree_of_branch(&self, full_name: &str) -> Result<Option<PathBuf>> {
        // Not while another thread or process adds one: gix fails on a half-written
        // registration (subtraks and race attempts read these from threads of their own).
        let _lock = self.runtime_lock("worktrees.lock")?;
        for proxy in self.repo.worktrees().context("listing worktrees")? {
            let Ok(repo) = proxy.into_repo_with_possibly_inaccessible_worktree() else {
                continue;
            };
            let head = repo.head_name().ok().flatten();
            if head.is_some_and(|h| h.as_bstr() == full_name.as_bytes()) {
                return Ok(repo.workdir().map(Path::to_path_buf));
            }
        }
        Ok(None)
    }

    /// Removes the linked worktree at `path`, discarding its files, and unregisters it.
    pub fn remove_worktree(&self, path: &Path) -> Result<()> {
        self.repo
            .remove_worktree(
                path,
                gix::worktree::remove::Force::DiscardChanges,
                gix::progress::Discard,
            )
            .with_context(|| format!("removing the worktree at {}", path.display()))?;
        Ok(())
    }

    /// Forgets worktree registrations whose folders are gone (`git worktree prune`).
    pub fn prune_worktrees(&self) -> Result<()> {
        self.run(&self.main_workdir, &["worktree", "prune"])?;
        Ok(())
    }
}
