//! All git access lives here.
//!
//! Reading (refs, commits, trees, blobs) and writing objects, commits and compare-and-swap ref
//! updates go through one in-process `gix` repository, opened once per `ork` process. The `git`
//! binary is used only where gix must not be: anything that touches a populated worktree and
//! network operations (see `DESIGN.md`, "git access"). The rest of `ork` speaks of traks and
//! events; it sees object ids only as opaque tips to compare-and-swap against.
//!
//! There is one `Git`; its methods are spread over one file per capability (several `impl Git`
//! blocks), the way gitoxide spreads `Repository` over `gix/src/repository/`:
//!
//! - `mod.rs`: the `Git` struct, opening the repository (signing as ork where no identity is
//!   configured), where its folders are;
//! - `refs.rs`: refs read, listed, created, moved by compare-and-swap and deleted;
//! - `objects.rs`: blobs and trees: a commit's files and folders, trees written with files added;
//! - `commits.rs`: commits written and read back, ancestry, first-parent walks;
//! - `merge.rs`: merges in memory: a trak into its base, two histories joined;
//! - `notes.rs`: gate notes;
//! - the rest (worktrees, checkouts, remotes, locks, the `git` binary) is still in this file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};
use gix::bstr::ByteSlice;

mod commits;
mod merge;
mod notes;
mod objects;
mod refs;

pub use merge::MergeResult;
pub(super) use merge::unresolved_paths;
pub use objects::{FileWrite, TreeDir};
pub use refs::{RefMoved, RefTip, is_valid_branch_name};

/// An object id: the tip a write was based on, or the commit it produced.
pub type Oid = gix::ObjectId;

/// The repository `ork` works on, opened once.
pub struct Git {
    repo: gix::Repository,
    /// The main worktree's root: where `.orkestra/` config and the worktrees folder live.
    main_workdir: PathBuf,
}

impl Git {
    /// Finds the repository that contains `cwd`, refusing bare repositories.
    pub fn discover(cwd: &Path) -> Result<Git> {
        let repo = open_with_identity_fallback(cwd).map_err(|_| {
            anyhow!(
                "{} is not inside a git repository.\n  ork keeps all its state in git: run it inside a \
                 repository, or create one with `git init`.",
                cwd.display()
            )
        })?;
        let Some(current_workdir) = repo.workdir().map(Path::to_path_buf) else {
            bail!(
                "{} is a bare repository.\n  ork needs a worktree to run agents in: run it in a clone \
                 with a checkout (`git clone {} <dir>`).",
                repo.git_dir().display(),
                repo.git_dir().display()
            );
        };
        let main_workdir = match repo.main_repo() {
            Ok(main) => main
                .workdir()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| current_workdir.clone()),
            Err(_) => current_workdir.clone(),
        };
        let main_workdir = main_workdir.canonicalize().unwrap_or(main_workdir);
        Ok(Git { repo, main_workdir })
    }

    /// The repository itself, for the store's other rooms that talk to gix.
    pub(super) fn gix(&self) -> &gix::Repository {
        &self.repo
    }

    /// The main worktree's root directory.
    pub fn main_workdir(&self) -> &Path {
        &self.main_workdir
    }

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

    /// `.git/ork/`: runtime files (locks, live logs of running agents). Nothing in it is state
    /// (DESIGN.md rule 4); deleting it loses nothing.
    pub fn runtime_dir(&self) -> PathBuf {
        self.repo.common_dir().join("ork")
    }

    fn lock_file(&self, name: &str) -> Result<std::fs::File> {
        let path = self.runtime_dir().join(name);
        let dir = path.parent().expect("lock files live in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// An exclusive lock on `.git/ork/<name>`, waited for and held until the returned file is
    /// dropped. The OS releases it when the process dies, so a crash never leaves it stuck.
    fn runtime_lock(&self, name: &str) -> Result<std::fs::File> {
        let file = self.lock_file(name)?;
        file.lock()
            .with_context(|| format!("locking .git/ork/{name}"))?;
        Ok(file)
    }

    /// Like [`Git::runtime_lock`], but `None` at once if another process holds it.
    pub fn try_runtime_lock(&self, name: &str) -> Result<Option<std::fs::File>> {
        let file = self.lock_file(name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking .git/ork/{name}"))
            }
        }
    }

    /// Where git looks for hooks (`git rev-parse --git-path hooks`: honours `core.hooksPath`).
    pub fn hooks_dir(&self) -> Result<PathBuf> {
        let out = self.run(&self.main_workdir, &["rev-parse", "--git-path", "hooks"])?;
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(if path.is_relative() {
            self.main_workdir.join(path)
        } else {
            path
        })
    }

    /// Adds `refspec` to `remote`'s fetch refspecs unless it is there already.
    pub fn ensure_fetch_refspec(&self, remote: &str, refspec: &str) -> Result<bool> {
        if self.fetch_refspecs(remote)?.iter().any(|l| l == refspec) {
            return Ok(false);
        }
        let key = format!("remote.{remote}.fetch");
        self.run(&self.main_workdir, &["config", "--add", &key, refspec])?;
        Ok(true)
    }

    /// `remote`'s configured fetch refspecs.
    pub fn fetch_refspecs(&self, remote: &str) -> Result<Vec<String>> {
        let key = format!("remote.{remote}.fetch");
        let current = Command::new("git")
            .arg("-C")
            .arg(&self.main_workdir)
            .args(["config", "--get-all", &key])
            .output()
            .context("reading the remote's fetch refspecs")?;
        Ok(String::from_utf8_lossy(&current.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .collect())
    }

    /// The name and email ork's commits are made with, as git finds them (`GIT_COMMITTER_*`,
    /// `user.name`, `user.email`); none when there is none and ork signs as its fallback.
    pub fn identity(&self) -> Option<(String, String)> {
        let signature = self.repo.committer()?.ok()?;
        let name = signature.name.to_string();
        let email = signature.email.to_string();
        (name != FALLBACK_NAME || email != FALLBACK_EMAIL).then_some((name, email))
    }

    /// `git fetch <remote>` with its configured refspecs and the user's credentials.
    pub fn fetch(&self, remote: &str) -> Result<()> {
        self.fetch_args(&["fetch", "--quiet", remote])
            .with_context(|| format!("fetching from {remote} failed; nothing local was changed"))
    }

    /// Fetches only `remote`'s branch `branch` into its remote-tracking name.
    pub fn fetch_branch(&self, remote: &str, branch: &str) -> Result<()> {
        let spec = format!("+refs/heads/{branch}:refs/remotes/{remote}/{branch}");
        self.fetch_args(&["fetch", "--quiet", remote, &spec])
            .with_context(|| format!("fetching {branch} from {remote} failed"))
    }

    /// Runs a fetch, again when it lost a race for a ref's lock file to another ork process
    /// of this repository fetching at the same moment (bounded: a few tries).
    fn fetch_args(&self, args: &[&str]) -> Result<()> {
        let mut tries = 0;
        loop {
            match self.run(&self.main_workdir, args) {
                Ok(_) => return Ok(()),
                Err(err) if tries < 6 && lost_a_lock_race(&format!("{err:#}")) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50 * tries));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// `git push --atomic` of `refspecs` (never forced). `Ok(false)` when the remote refused
    /// because it moved on (fetch and integrate, then try again).
    pub fn push(&self, remote: &str, refspecs: &[String]) -> Result<bool> {
        self.push_with_leases(remote, refspecs, &[])
    }

    /// Like [`Git::push`], where each of `leases` — a remote ref and the value this
    /// repository last saw there (`None`: absent) — may be moved in place, but only from
    /// that value (`--force-with-lease=<ref>:<expected>`): a compare-and-swap on the remote.
    /// `Ok(false)` when the remote refused because a ref moved; then nothing was pushed.
    pub fn push_with_leases(
        &self,
        remote: &str,
        refspecs: &[String],
        leases: &[(String, Option<Oid>)],
    ) -> Result<bool> {
        // --no-verify: ork's own pre-push hook would push notes and logs ahead of this atomic
        // push and make the remote refuse it.
        let mut args: Vec<String> = ["push", "--porcelain", "--atomic", "--no-verify"]
            .map(String::from)
            .to_vec();
        args.extend(leases.iter().map(|(name, expected)| {
            let expected = expected.map(|oid| oid.to_string()).unwrap_or_default();
            format!("--force-with-lease={name}:{expected}")
        }));
        args.push(remote.to_string());
        args.extend(refspecs.iter().cloned());
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.main_workdir)
            .args(&args)
            .output()
            .context("running git push")?;
        if output.status.success() {
            return Ok(true);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let rejected = stdout.lines().any(|l| {
            l.starts_with('!')
                && (l.contains("non-fast-forward")
                    || l.contains("fetch first")
                    || l.contains("stale info")
                    || l.contains("atomic"))
        });
        if rejected {
            return Ok(false);
        }
        bail!(
            "pushing to {remote} failed: {}{}",
            String::from_utf8_lossy(&output.stderr).trim(),
            stdout.trim()
        )
    }

    /// The remote that local branch `branch` tracks (`branch.<name>.remote`), if any.
    pub fn upstream_remote(&self, branch: &str) -> Option<String> {
        let config = self.repo.config_snapshot();
        let remote = config.string(format!("branch.{branch}.remote").as_str())?;
        let remote = remote.to_str_lossy().into_owned();
        // "." tracks a local branch: there is no remote to land on.
        (remote != ".").then_some(remote)
    }

    /// Forgets worktree registrations whose folders are gone (`git worktree prune`).
    pub fn prune_worktrees(&self) -> Result<()> {
        self.run(&self.main_workdir, &["worktree", "prune"])?;
        Ok(())
    }

    /// The names of the configured remotes.
    pub fn remote_names(&self) -> Vec<String> {
        self.repo
            .remote_names()
            .into_iter()
            .map(|name| name.to_string())
            .collect()
    }

    /// The linked worktree that has `full_name` checked out, if any.
    pub fn worktree_of_branch(&self, full_name: &str) -> Result<Option<PathBuf>> {
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
        let head = self.run(path, &["rev-parse", "HEAD"])?;
        let text = String::from_utf8_lossy(&head.stdout);
        Oid::from_hex(text.trim().as_bytes()).context("reading the new commit id")
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

    /// Moves the branch checked out in `worktree` to `target`, a descendant of its tip, the way
    /// `git merge --ff-only` does: the user's uncommitted changes are kept, and git refuses
    /// (changing nothing) if they would be overwritten.
    pub fn fast_forward_checkout(&self, worktree: &Path, target: Oid) -> Result<()> {
        self.run(worktree, &["merge", "--ff-only", "-q", &target.to_string()])?;
        Ok(())
    }

    /// Runs the `git` binary in `dir` with `input` on its standard input.
    pub fn run_with_input(&self, dir: &Path, args: &[&str], input: &str) -> Result<Output> {
        run_git(dir, args, Some(input))
    }

    /// Runs the `git` binary in `dir` for the operations gix must not do (see the module docs).
    pub fn run(&self, dir: &Path, args: &[&str]) -> Result<Output> {
        run_git(dir, args, None)
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

/// Whether a failed fetch lost a race for a ref to another process of this repository
/// (`cannot lock ref …: is at … but expected …`, or a `.lock` file that exists): worth a retry.
fn lost_a_lock_race(message: &str) -> bool {
    message.contains("cannot lock ref") || message.contains(".lock")
}

/// Creates a repository in `dir` with `main` as its first branch (`git init`).
pub fn init_repository(dir: &Path) -> Result<()> {
    run_git(dir, &["init", "-q", "-b", "main"], None).map(drop)
}

/// Sets `key` in the repository's own config (`git config key value`).
pub fn set_config(dir: &Path, key: &str, value: &str) -> Result<()> {
    run_git(dir, &["config", key, value], None).map(drop)
}

/// Commits everything in the worktree `dir` (`git add -A && git commit`).
pub fn commit_all(dir: &Path, message: &str) -> Result<()> {
    run_git(dir, &["add", "-A"], None)?;
    run_git(dir, &["commit", "-q", "-F", "-"], Some(message)).map(drop)
}

/// `git --version`'s answer ("git version 2.47.1"): the binary ork runs for fetch, push and
/// worktrees.
pub fn version() -> Result<String> {
    let output = Command::new("git")
        .arg("--version")
        .output()
        .context("running git --version: is git installed and on PATH?")?;
    if !output.status.success() {
        bail!(
            "git --version failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs the `git` binary in `dir`, feeding `input` to its standard input; fails with git's
/// own message when it fails.
fn run_git(dir: &Path, args: &[&str], input: Option<&str>) -> Result<Output> {
    use std::io::Write;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running git {}", args.join(" ")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Some(text) = input {
        stdin.write_all(text.as_bytes()).context("writing to git")?;
    }
    drop(stdin);
    let output = child.wait_with_output().context("waiting for git")?;
    if !output.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// Who ork signs as on a machine with no git identity.
const FALLBACK_NAME: &str = "ork";

const FALLBACK_EMAIL: &str = "ork@localhost";

/// Discovers the repository containing `cwd`. Commits and reflogs need an author and a
/// committer; on a machine with no git identity configured, ork signs as `ork <ork@localhost>`
/// rather than failing (the user's configured identity always wins).
fn open_with_identity_fallback(cwd: &Path) -> Result<gix::Repository> {
    use gix::sec::trust::DefaultForLevel;
    let fallbacks = [
        format!("gitoxide.committer.nameFallback={FALLBACK_NAME}"),
        format!("gitoxide.committer.emailFallback={FALLBACK_EMAIL}"),
        format!("gitoxide.author.nameFallback={FALLBACK_NAME}"),
        format!("gitoxide.author.emailFallback={FALLBACK_EMAIL}"),
    ];
    let options =
        |level| gix::open::Options::default_for_level(level).config_overrides(fallbacks.clone());
    let repo = gix::ThreadSafeRepository::discover_opts(
        cwd,
        Default::default(),
        gix::sec::trust::Mapping {
            full: options(gix::sec::Trust::Full),
            reduced: options(gix::sec::Trust::Reduced),
        },
    )?;
    Ok(repo.into())
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
