//! A populated checkout, through the `git` binary (gix must not change one): its branch moved
//! (fast-forward, reset) with its files, everything in it committed, a folder put back, and
//! what it changes read (dirty paths, added lines).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Git, Oid};

impl Git {
    /// Brings the worktree at `path`, whose branch gix just moved from `old` to `new`, up to
    /// date: git's two-tree merge updates the index and the files that differ between the two
    /// commits and refuses (touching nothing) if that would overwrite local changes.
    pub fn fast_forward_worktree(&self, path: &Path, old: Oid, new: Oid) -> Result<()> {
        self.run(
            path,
            &["read-tree", "-m", "-u", &old.to_string(), &new.to_string()],
        )?;
        Ok(())
    }

    /// Moves the branch checked out in `worktree` to `target`, a descendant of its tip, the way
    /// `git merge --ff-only` does: the user's uncommitted changes are kept, and git refuses
    /// (changing nothing) if they would be overwritten.
    pub fn fast_forward_checkout(&self, worktree: &Path, target: Oid) -> Result<()> {
        self.run(worktree, &["merge", "--ff-only", "-q", &target.to_string()])?;
        Ok(())
    }

    /// Commits everything in the worktree at `path` (its branch moves, as with `git commit`),
    /// skipping the user's commit hooks: ork's gate is the check. Returns the new commit.
    /// Paths in `keep_out` (relative to the worktree) are left out: the user's local files.
    pub fn commit_worktree(&self, path: &Path, message: &str, keep_out: &[PathBuf]) -> Result<Oid> {
        let excludes: Vec<String> = keep_out
            .iter()
            .map(|p| format!(":(exclude,literal){}", p.display()))
            .collect();
        let mut add = vec!["add", "-A", "--", "."];
        add.extend(excludes.iter().map(String::as_str));
        self.run(path, &add)?;
        self.run_with_input(
            path,
            &["commit", "-q", "--no-verify", "--allow-empty", "-F", "-"],
            message,
        )?;
        self.rev_parse(path, "HEAD")
            .context("reading the new commit id")
    }

    /// What `rev` names in the checkout at `path` (`git rev-parse --verify`).
    fn rev_parse(&self, path: &Path, rev: &str) -> Result<Oid> {
        let out = self.run(path, &["rev-parse", "-q", "--verify", rev])?;
        Ok(Oid::from_hex(
            String::from_utf8_lossy(&out.stdout).trim().as_bytes(),
        )?)
    }

    /// Starts merging `tip` into the branch checked out at `path` and leaves it unfinished
    /// (`git merge --no-commit`): conflicting files hold git's markers and `MERGE_HEAD` names
    /// `tip`, so that ork's next commit of the worktree is the merge. Nothing is done when a
    /// merge is already under way there or `tip` is merged already. Returns whether it
    /// started one.
    pub fn begin_merge(&self, path: &Path, tip: Oid) -> Result<bool> {
        if self.rev_parse(path, "MERGE_HEAD").is_ok() {
            return Ok(false);
        }
        let head = self
            .rev_parse(path, "HEAD")
            .context("reading the worktree's HEAD")?;
        if self.is_ancestor(tip, head)? {
            return Ok(false);
        }
        // A conflict makes git exit 1 and is what is wanted here; anything else must leave
        // MERGE_HEAD behind too, or the merge did not start.
        let _ = self.run(
            path,
            &["merge", "--no-ff", "--no-commit", "-q", &tip.to_string()],
        );
        self.rev_parse(path, "MERGE_HEAD")
            .with_context(|| format!("starting the merge of {tip} in {}", path.display()))?;
        Ok(true)
    }

    /// Makes ork's next commit of the worktree at `path` a merge of `tip` too, leaving its
    /// files as they are (`git merge --no-commit -s ours`): for a merge someone else resolved
    /// and committed there, whose result the files already hold.
    pub fn begin_merge_keeping_files(&self, path: &Path, tip: Oid) -> Result<()> {
        self.run(
            path,
            &[
                "merge",
                "--no-ff",
                "--no-commit",
                "-q",
                "-s",
                "ours",
                &tip.to_string(),
            ],
        )
        .map(drop)
    }

    /// Makes each of `paths` in the worktree at `dir` what it is in `commit` (its index entry
    /// too): checked out from there, or removed where `commit` does not have it.
    pub fn put_paths_as_in(&self, dir: &Path, commit: Oid, paths: &[String]) -> Result<()> {
        let mut present = Vec::new();
        for path in paths {
            if self.read_file(commit, path)?.is_some() {
                present.push(path.as_str());
            } else {
                let _ = self.run(
                    dir,
                    &["rm", "-q", "--cached", "--ignore-unmatch", "--", path],
                );
                let _ = std::fs::remove_file(dir.join(path));
            }
        }
        if !present.is_empty() {
            let rev = commit.to_string();
            let mut args = vec!["checkout", rev.as_str(), "--"];
            args.extend(present);
            self.run(dir, &args)?;
        }
        Ok(())
    }

    /// Moves the branch checked out in the worktree at `path` to `commit`, and its index with it,
    /// leaving every file as it is (`git reset --mixed`).
    pub fn reset_branch_keeping_files(&self, path: &Path, commit: Oid) -> Result<()> {
        self.run(path, &["reset", "-q", "--mixed", &commit.to_string()])
            .map(drop)
    }

    /// The paths with uncommitted changes (or untracked) in the worktree at `path`, as
    /// `git status --porcelain` lists them.
    pub fn uncommitted(&self, path: &Path) -> Result<Vec<String>> {
        let out = self.run(path, &["status", "--porcelain"])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.get(3..).unwrap_or(l).to_string())
            .collect())
    }

    /// The paths with uncommitted changes in the checkout at `path` (untracked files one by
    /// one; ignored files not), relative to it, leaving out the folders in `exclude`: one
    /// `git status`, which takes no lock, so an ork process committing there is not disturbed.
    /// A rename lists both its paths. Each path comes with whether git knows it (`false`:
    /// untracked).
    pub fn dirty_paths(&self, path: &Path, exclude: &[&str]) -> Result<Vec<(String, bool)>> {
        let excludes: Vec<String> = exclude
            .iter()
            .map(|p| format!(":(exclude,literal){p}"))
            .collect();
        let mut args = vec![
            "--no-optional-locks",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            ".",
        ];
        args.extend(excludes.iter().map(String::as_str));
        let out = self.run(path, &args)?;
        let mut paths = Vec::new();
        let mut entries = out.stdout.split(|&b| b == 0).filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            let Some(name) = entry.get(3..) else { continue };
            let tracked = !entry.starts_with(b"??");
            paths.push((String::from_utf8_lossy(name).into_owned(), tracked));
            // A rename or copy is followed by the path it came from.
            if entry[..2].iter().any(|&b| b == b'R' || b == b'C')
                && let Some(from) = entries.next()
            {
                paths.push((String::from_utf8_lossy(from).into_owned(), true));
            }
        }
        Ok(paths)
    }

    /// The lines the worktree at `path` adds to `base` (tracked changes and untracked files, as
    /// `git add -A` would take them), leaving out `keep_out` (paths relative to the worktree),
    /// as (path, line number, text). Reads only: the index and the files stay as they are.
    /// Binary files are skipped.
    pub fn added_lines(
        &self,
        path: &Path,
        base: Oid,
        keep_out: &[String],
    ) -> Result<Vec<(String, usize, String)>> {
        let excludes: Vec<String> = keep_out
            .iter()
            .map(|p| format!(":(exclude,literal){p}"))
            .collect();
        let base = base.to_string();
        let mut diff = vec![
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            "--no-textconv",
            "-U0",
            &base,
            "--",
            ".",
        ];
        diff.extend(excludes.iter().map(String::as_str));
        let out = self.run(path, &diff)?;
        let mut added = added_in_diff(&String::from_utf8_lossy(&out.stdout));
        let mut untracked = vec![
            "ls-files",
            "-z",
            "--others",
            "--exclude-standard",
            "--",
            ".",
        ];
        untracked.extend(excludes.iter().map(String::as_str));
        let out = self.run(path, &untracked)?;
        for name in String::from_utf8_lossy(&out.stdout).split('\0') {
            let Ok(bytes) = std::fs::read(path.join(name)) else {
                continue;
            };
            if name.is_empty() || bytes.contains(&0) {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            added.extend(
                text.lines()
                    .enumerate()
                    .map(|(i, line)| (name.to_string(), i + 1, line.to_string())),
            );
        }
        Ok(added)
    }

    /// Puts the folder `path` of the worktree at `worktree` (index and files) back as it is in
    /// `commit` (`git checkout <commit> -- <path>`).
    pub fn restore_folder(&self, worktree: &Path, commit: Oid, path: &str) -> Result<()> {
        self.run(worktree, &["checkout", &commit.to_string(), "--", path])
            .map(drop)
    }
}

/// The added lines of a `git diff -U0` as (path, line number in the new file, text).
fn added_in_diff(diff: &str) -> Vec<(String, usize, String)> {
    let mut added = Vec::new();
    let mut file: Option<String> = None;
    let mut in_hunk = false;
    let mut next_line = 0;
    for line in diff.lines() {
        if line.starts_with("diff --git ") {
            in_hunk = false;
            file = None;
        } else if let Some(name) = line.strip_prefix("+++ ").filter(|_| !in_hunk) {
            file = name.strip_prefix("b/").map(str::to_string);
        } else if let Some(hunk) = line.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`: the new file's lines start at c.
            in_hunk = true;
            next_line = hunk
                .split_whitespace()
                .find_map(|part| part.strip_prefix('+'))
                .and_then(|range| range.split(',').next())
                .and_then(|start| start.parse().ok())
                .unwrap_or(0);
        } else if let (Some(text), Some(name), true) = (line.strip_prefix('+'), &file, in_hunk) {
            added.push((name.clone(), next_line, text.to_string()));
            next_line += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_carry_their_number_in_the_new_file() {
        let diff = "diff --git a/a.rs b/a.rs\n--- a/a.rs\n+++ b/a.rs\n@@ -2,0 +3,2 @@ fn x\n+let k = 1;\n++++ plus\n@@ -9 +10 @@\n-old\n+new\n\\ No newline at end of file\ndiff --git a/gone.rs b/gone.rs\n--- a/gone.rs\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n";
        assert_eq!(
            added_in_diff(diff),
            [
                ("a.rs".to_string(), 3, "let k = 1;".to_string()),
                ("a.rs".to_string(), 4, "+++ plus".to_string()),
                ("a.rs".to_string(), 10, "new".to_string()),
            ]
        );
    }
}
