//! A worktree's files as a tree, through an index of its own: what a checkpoint holds
//! (`store::checkpoint`). Only the `git` binary and paths, so that a checkpoint can be taken on
//! a thread beside the agent's run, away from the store's open repository.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::command::run_git_with;

/// A worktree and the scratch index its snapshots are staged in (never the worktree's own).
pub struct Snapshotter {
    worktree: PathBuf,
    index: PathBuf,
}

impl Snapshotter {
    pub fn new(worktree: &Path, index: PathBuf) -> Snapshotter {
        Snapshotter {
            worktree: worktree.to_path_buf(),
            index,
        }
    }

    /// Stages every file of the worktree (untracked ones too, ignored ones not) in the scratch
    /// index, starting from the worktree's own index so that only changed files are hashed,
    /// the traks' record folder as in `base` (it is ork's, never a run's work); returns the
    /// paths that differ from `base` (a commit, or `HEAD`).
    pub fn stage_all(&self, base: &str) -> Result<Vec<String>> {
        // Asked without the scratch index: with GIT_INDEX_FILE set, git names that file.
        let own = self.run(&["rev-parse", "--git-path", "index"], None, false)?;
        let own = self.worktree.join(own.trim());
        if let Some(dir) = self.index.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        match std::fs::copy(&own, &self.index) {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&self.index);
            }
            Err(err) => return Err(err).with_context(|| format!("copying {}", own.display())),
        }
        self.git(&["add", "-A", "--", "."])?;
        self.git(&["reset", "-q", base, "--", crate::layout::TRAKS])?;
        let changed = self.git(&["diff", "--cached", "--name-only", "-z", base])?;
        Ok(changed
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Takes `path` out of the scratch index again (a file left out of the snapshot).
    pub fn unstage(&self, path: &str) -> Result<()> {
        self.git(&["rm", "-q", "--cached", "--ignore-unmatch", "--", path])
            .map(drop)
    }

    /// The tree the scratch index holds.
    pub fn write_tree(&self) -> Result<String> {
        Ok(self.git(&["write-tree"])?.trim().to_string())
    }

    /// A commit of `tree` on `parent`, with `message`, by ork itself (a snapshot is a machine's,
    /// not a person's commit).
    pub fn commit(&self, tree: &str, parent: &str, message: &str) -> Result<String> {
        let out = self.git_with(
            &["commit-tree", tree, "-p", parent, "-F", "-"],
            Some(message),
        )?;
        Ok(out.trim().to_string())
    }

    /// Points `reference` at `commit`.
    pub fn set_ref(&self, reference: &str, commit: &str) -> Result<()> {
        self.git(&["update-ref", reference, commit]).map(drop)
    }

    fn git(&self, args: &[&str]) -> Result<String> {
        self.git_with(args, None)
    }

    fn git_with(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        self.run(args, input, true)
    }

    /// `git args` in the worktree, on the scratch index where `scratch`, as ork itself (a
    /// snapshot is a machine's commit, not a person's).
    fn run(&self, args: &[&str], input: Option<&str>, scratch: bool) -> Result<String> {
        let ork = std::ffi::OsStr::new("ork");
        let email = std::ffi::OsStr::new("ork@localhost");
        let mut env = vec![
            ("GIT_AUTHOR_NAME", ork),
            ("GIT_AUTHOR_EMAIL", email),
            ("GIT_COMMITTER_NAME", ork),
            ("GIT_COMMITTER_EMAIL", email),
        ];
        if scratch {
            env.push(("GIT_INDEX_FILE", self.index.as_os_str()));
        }
        let out = run_git_with(&self.worktree, args, input, &env)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two snapshots in a row, the second after more changes: each holds what the worktree
    /// held then, and the worktree's own index is never touched.
    #[test]
    fn snapshots_follow_the_worktree_and_leave_its_index_alone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        super::super::init_repository(&repo).unwrap();
        for (key, value) in [("user.name", "t"), ("user.email", "t@example.com")] {
            super::super::set_config(&repo, key, value).unwrap();
        }
        std::fs::write(repo.join("kept.txt"), "kept\n").unwrap();
        super::super::commit_all(&repo, "first").unwrap();
        let snap = Snapshotter::new(&repo, dir.path().join("scratch.index"));
        std::fs::write(repo.join("one.txt"), "1\n").unwrap();
        assert_eq!(snap.stage_all("HEAD").unwrap(), ["one.txt"]);
        let first = snap.write_tree().unwrap();
        std::fs::write(repo.join("two.txt"), "2\n").unwrap();
        assert_eq!(snap.stage_all("HEAD").unwrap(), ["one.txt", "two.txt"]);
        assert_ne!(snap.write_tree().unwrap(), first);
        let staged = snap
            .run(&["diff", "--cached", "--name-only"], None, false)
            .unwrap();
        assert_eq!(staged, "", "the worktree's own index stays as it was");
    }
}
