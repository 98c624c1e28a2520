//! All git access lives here.
//!
//! Reading (refs, commits, trees, blobs) and writing objects, commits and compare-and-swap ref
//! updates go through one in-process `gix` repository, opened once per `ork` process. The `git`
//! binary is used only where gix must not be: anything that touches a populated worktree and
//! network operations (see `DESIGN.md`, "git access"). The rest of `ork` speaks of traks and
//! events; it sees object ids only as opaque tips to compare-and-swap against.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};
use gix::bstr::ByteSlice;
use gix::object::tree::EntryKind;
use gix::refs::transaction::PreviousValue;

/// An object id: the tip a write was based on, or the commit it produced.
pub type Oid = gix::ObjectId;

/// A reference and the commit it points to.
#[derive(Debug, Clone)]
pub struct RefTip {
    /// Full name, like `refs/heads/ork/add-login-k3f9`.
    pub name: String,
    pub tip: Oid,
}

/// A file to write in a commit, by path relative to the repository root.
pub struct FileWrite {
    pub path: String,
    pub contents: Vec<u8>,
}

/// The outcome of a compare-and-swap ref update that lost the race.
#[derive(Debug)]
pub struct RefMoved {
    pub name: String,
    pub expected: Oid,
}

impl std::fmt::Display for RefMoved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} moved while ork was writing to it (expected it at {}); another ork process or machine \
             recorded something first. Run the command again to act on the new state.",
            self.name, self.expected
        )
    }
}

impl std::error::Error for RefMoved {}

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

    /// The branch checked out in the worktree the process runs in, as a full ref name.
    pub fn current_branch(&self) -> Option<String> {
        self.repo
            .head_name()
            .ok()
            .flatten()
            .map(|name| name.as_bstr().to_string())
    }

    /// The branch checked out in the main worktree, as a short name, or `None` when HEAD is detached.
    /// Fails when the repository has no commit yet.
    pub fn main_branch(&self) -> Result<Option<String>> {
        let main = self.repo.main_repo().unwrap_or_else(|_| self.repo.clone());
        let head = main.head().context("reading HEAD of the main worktree")?;
        if head.is_unborn() {
            bail!(
                "the repository at {} has no commit yet.\n  ork branches traks off a commit: make a \
                 first commit (`git commit --allow-empty -m init`), then try again.",
                self.main_workdir.display()
            );
        }
        Ok(head.referent_name().map(|name| name.shorten().to_string()))
    }

    /// The object a reference points to, or `None` when it does not exist.
    pub fn ref_tip(&self, full_name: &str) -> Result<Option<Oid>> {
        let Some(mut reference) = self
            .repo
            .try_find_reference(full_name)
            .with_context(|| format!("reading {full_name}"))?
        else {
            return Ok(None);
        };
        Ok(Some(target_of(&mut reference)?))
    }

    /// All references under `prefix` (for example `refs/heads/ork/`) and what they point to.
    pub fn refs_with_prefix(&self, prefix: &str) -> Result<Vec<RefTip>> {
        let platform = self
            .repo
            .references()
            .context("opening the reference store")?;
        let iter = platform
            .prefixed(prefix)
            .with_context(|| format!("listing {prefix}"))?;
        let mut out = Vec::new();
        for reference in iter {
            let mut reference = reference.map_err(|e| anyhow!("listing {prefix}: {e}"))?;
            let name = reference.name().as_bstr().to_string();
            let tip = target_of(&mut reference)?;
            out.push(RefTip { name, tip });
        }
        Ok(out)
    }

    /// The contents of the file at `path` in `commit`'s tree, or `None` when there is none.
    pub fn read_file(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>> {
        let tree = self.commit_tree(commit)?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .with_context(|| format!("looking up {path} in {commit}"))?
        else {
            return Ok(None);
        };
        let object = entry
            .object()
            .with_context(|| format!("reading {path} in {commit}"))?;
        Ok(Some(object.detach().data))
    }

    /// `commit`'s message and the folder `path` of its tree, or `None` when there is no such
    /// folder: one commit read and one tree read per path component.
    pub fn commit_dir(&self, commit: Oid, path: &str) -> Result<Option<(String, TreeDir<'_>)>> {
        let commit_object = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        let message = commit_object
            .message_raw_sloppy()
            .to_str_lossy()
            .into_owned();
        let tree = commit_object
            .tree()
            .with_context(|| format!("reading the tree of {commit}"))?;
        Ok(subfolder(&tree, commit, path)?.map(|dir| (message, dir)))
    }

    /// The folder `path` in `commit`'s tree, or `None` when there is none.
    pub fn dir_at(&self, commit: Oid, path: &str) -> Result<Option<TreeDir<'_>>> {
        subfolder(&self.commit_tree(commit)?, commit, path)
    }

    /// The id of `commit`'s tree.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid> {
        Ok(self.commit_tree(commit)?.id)
    }

    fn commit_tree(&self, commit: Oid) -> Result<gix::Tree<'_>> {
        self.repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?
            .tree()
            .with_context(|| format!("reading the tree of {commit}"))
    }

    /// Writes a commit whose tree is `parent`'s tree with `files` added or replaced, without
    /// touching any index, worktree or ref. Returns the new commit.
    pub fn write_commit(
        &self,
        parent: Oid,
        files: &[FileWrite],
        message: &str,
        header: Option<(&str, &str)>,
    ) -> Result<Oid> {
        let tree_id = self.commit_tree(parent)?.id;
        let tree = self.tree_with(tree_id, files)?;
        self.new_commit_with_header(message, tree, &[parent], header)
    }

    /// `tree` with `files` added or replaced.
    fn tree_with(&self, tree: Oid, files: &[FileWrite]) -> Result<Oid> {
        let mut editor = self.repo.edit_tree(tree).context("editing a tree")?;
        for file in files {
            let blob = self
                .repo
                .write_blob(&file.contents)
                .with_context(|| format!("writing {}", file.path))?;
            editor
                .upsert(file.path.as_str(), EntryKind::Blob, blob)
                .with_context(|| format!("adding {} to the tree", file.path))?;
        }
        Ok(editor.write().context("writing a tree")?.detach())
    }

    /// Creates `full_name` at `target`; fails if it already exists.
    pub fn create_ref(&self, full_name: &str, target: Oid, log_message: &str) -> Result<()> {
        if self.ref_tip(full_name)?.is_some() {
            bail!("{full_name} already exists");
        }
        self.repo
            .reference(full_name, target, PreviousValue::MustNotExist, log_message)
            .with_context(|| format!("creating {full_name}"))?;
        Ok(())
    }

    /// Moves `full_name` from `expected` to `target`, or fails with [`RefMoved`] when it no longer
    /// points at `expected`: compare-and-swap, so no concurrent write is ever silently lost.
    pub fn update_ref(
        &self,
        full_name: &str,
        target: Oid,
        expected: Oid,
        log_message: &str,
    ) -> Result<()> {
        let previous = PreviousValue::MustExistAndMatch(gix::refs::Target::Object(expected));
        match self
            .repo
            .reference(full_name, target, previous, log_message)
        {
            Ok(_) => Ok(()),
            Err(err) if err.is_conflict() => Err(RefMoved {
                name: full_name.to_string(),
                expected,
            }
            .into()),
            Err(err) => Err(anyhow::Error::new(err).context(format!("updating {full_name}"))),
        }
    }

    /// Deletes `full_name` if it still points at `expected`.
    pub fn delete_ref(&self, full_name: &str, expected: Oid) -> Result<()> {
        use gix::refs::transaction::{Change, RefEdit, RefLog};
        let edit = RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(expected)),
                log: RefLog::AndReference,
            },
            name: full_name.try_into()?,
            deref: false,
        };
        self.repo
            .edit_reference(edit)
            .with_context(|| format!("deleting {full_name}"))?;
        Ok(())
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

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        match self.repo.merge_base(ancestor, descendant) {
            Ok(base) => Ok(base.is_some_and(|b| b.detach() == ancestor)),
            Err(_) => Ok(false),
        }
    }

    /// Walks first parents from `tip`, newest first, handing each commit's id and message to
    /// `visit` until it returns `false`.
    pub fn walk_first_parents(
        &self,
        tip: Oid,
        mut visit: impl FnMut(Oid, &str) -> bool,
    ) -> Result<()> {
        let mut next = Some(tip);
        while let Some(id) = next {
            let commit = self
                .repo
                .find_commit(id)
                .with_context(|| format!("reading commit {id}"))?;
            let message = commit.message_raw_sloppy().to_str_lossy().into_owned();
            if !visit(id, &message) {
                break;
            }
            next = commit.parent_ids().next().map(|p| p.detach());
        }
        Ok(())
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

    /// A commit with no parent whose tree holds one file, `name`: a record moved in place on a
    /// ref of its own (a claim), never a history.
    pub fn single_file_commit(&self, name: &str, contents: &[u8], message: &str) -> Result<Oid> {
        let empty = self.repo.empty_tree().id;
        let tree = self.tree_with(
            empty,
            &[FileWrite {
                path: name.to_string(),
                contents: contents.to_vec(),
            }],
        )?;
        self.new_commit(message, tree, &[])
    }

    /// Joins another machine's gate notes into ours, line by line
    /// (`git notes merge -s cat_sort_uniq`).
    pub fn merge_notes(&self, notes_ref: &str, theirs: &str) -> Result<()> {
        let short = notes_ref.trim_start_matches("refs/notes/");
        self.run(
            &self.main_workdir,
            &[
                "notes",
                &format!("--ref={short}"),
                "merge",
                "-q",
                "-s",
                "cat_sort_uniq",
                theirs,
            ],
        )
        .map(drop)
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

    /// Appends `line` (one JSON object) to the note on `commit` in `notes_ref`, so that
    /// `git notes merge -s cat_sort_uniq` can join two machines' notes line by line.
    pub fn append_note(&self, notes_ref: &str, commit: Oid, line: &str) -> Result<()> {
        let mut notes = self
            .repo
            .notes()?
            .with_refs([notes_ref])?
            .with_commit_message(format!("ork: note on {commit}"));
        let mut text = notes
            .get(commit)?
            .first()
            .map(|note| note.blob.data.clone())
            .unwrap_or_default();
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        // A note leaves the machine with `ork sync`: no secret in it (DESIGN.md rule 10).
        text.extend_from_slice(crate::store::secrets::redact_json(line.trim_end()).as_bytes());
        text.push(b'\n');
        let name: gix::refs::FullName = notes_ref.try_into()?;
        notes
            .replace_at_ref(name.as_ref(), commit, text)
            .with_context(|| format!("writing a note on {commit}"))?;
        Ok(())
    }

    /// Adds `files` to the tree at the tip of `full_name` (or to an empty tree when it does not
    /// exist yet) and moves it there by compare-and-swap: for side records such as agent logs.
    pub fn commit_on_ref(
        &self,
        full_name: &str,
        files: &[FileWrite],
        message: &str,
    ) -> Result<Oid> {
        // Side records (agent logs, session transcripts) are pushed like the rest: redacted.
        let redacted: Vec<FileWrite> = files
            .iter()
            .map(|f| FileWrite {
                path: f.path.clone(),
                contents: crate::store::secrets::redact_bytes(&f.contents),
            })
            .collect();
        let files = redacted.as_slice();
        match self.ref_tip(full_name)? {
            Some(tip) => {
                let commit = self.write_commit(tip, files, message, None)?;
                self.update_ref(full_name, commit, tip, message)?;
                Ok(commit)
            }
            None => {
                let empty = self.repo.empty_tree().id;
                let tree = self.tree_with(empty, files)?;
                let commit = self.new_commit(message, tree, &[])?;
                self.create_ref(full_name, commit, message)?;
                Ok(commit)
            }
        }
    }

    /// Merges `theirs` into `ours` in memory, without touching any worktree: the merged tree
    /// with `drop_path` (a folder) left out, or the conflicted paths.
    pub fn merge_tree(&self, ours: Oid, theirs: Oid, drop_path: &str) -> Result<MergeResult> {
        let options = self.repo.tree_merge_options()?;
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("merge base".into()),
            current: Some("base".into()),
            other: Some("trak".into()),
        };
        let mut outcome = self
            .repo
            .merge_commits(ours, theirs, labels, options.into())
            .context("merging the trak into its base")?;
        let paths = unresolved_paths(&outcome.tree_merge.conflicts, |_| true);
        if !paths.is_empty() {
            return Ok(MergeResult::Conflicts(paths));
        }
        let merged = outcome
            .tree_merge
            .tree
            .write()
            .context("writing the merged tree")?;
        let mut editor = self.repo.edit_tree(merged)?;
        editor.remove(drop_path)?;
        Ok(MergeResult::Clean(editor.write()?.detach()))
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

    /// Joins two diverged histories: a commit with parents `ours` and `theirs` whose tree is
    /// both sides' changes merged as git merges them, except the folder `dir`, which is
    /// replaced by `dir_files` (computed by the caller, never text-merged). Conflicts outside
    /// `dir` are returned instead.
    pub fn join(
        &self,
        ours: Oid,
        theirs: Oid,
        dir: &str,
        dir_files: &[FileWrite],
        message: &str,
        header: Option<(&str, &str)>,
    ) -> Result<MergeResult> {
        let prefix = format!("{dir}/");
        let merged = match self.merge_histories(ours, theirs, |path| !path.starts_with(&prefix))? {
            MergeResult::Clean(tree) => tree,
            conflicts => return Ok(conflicts),
        };
        let mut editor = self.repo.edit_tree(merged)?;
        editor.remove(dir)?;
        let without_record = editor.write()?.detach();
        let tree = self.tree_with(without_record, dir_files)?;
        Ok(MergeResult::Clean(self.new_commit_with_header(
            message,
            tree,
            &[ours, theirs],
            header,
        )?))
    }

    /// Joins two histories of files that never change once written (agent logs): the union of
    /// both trees, as a commit with both parents. Histories started apart join too.
    pub fn union(&self, ours: Oid, theirs: Oid, message: &str) -> Result<Oid> {
        match self.merge_histories(ours, theirs, |_| true)? {
            MergeResult::Clean(tree) => self.new_commit(message, tree, &[ours, theirs]),
            MergeResult::Conflicts(paths) => bail!(
                "{ours} and {theirs} hold different files at {}",
                paths.join(", ")
            ),
        }
    }

    /// Merges the trees of two commits as git would (from their merge base, or from nothing
    /// when they share no history); conflicts at paths where `counts` is false are ignored
    /// (the caller replaces those paths).
    fn merge_histories(
        &self,
        ours: Oid,
        theirs: Oid,
        counts: impl Fn(&str) -> bool,
    ) -> Result<MergeResult> {
        let base_tree = match self
            .repo
            .merge_base(ours, theirs)
            .with_context(|| format!("finding where {ours} and {theirs} diverged"))?
        {
            Some(base) => self.commit_tree(base.detach())?.id,
            None => self.repo.empty_tree().id,
        };
        let our_tree = self.commit_tree(ours)?.id;
        let their_tree = self.commit_tree(theirs)?.id;
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("merge base".into()),
            current: Some("local".into()),
            other: Some("remote".into()),
        };
        let options = self.repo.tree_merge_options()?;
        let mut outcome = self
            .repo
            .merge_trees(base_tree, our_tree, their_tree, labels, options)
            .context("joining two histories")?;
        let conflicts = unresolved_paths(&outcome.conflicts, counts);
        if !conflicts.is_empty() {
            return Ok(MergeResult::Conflicts(conflicts));
        }
        Ok(MergeResult::Clean(
            outcome
                .tree
                .write()
                .context("writing the merged tree")?
                .detach(),
        ))
    }

    /// Writes a commit of `tree` with `parents`, moving no ref.
    pub fn new_commit(&self, message: &str, tree: Oid, parents: &[Oid]) -> Result<Oid> {
        self.new_commit_with_header(message, tree, parents, None)
    }

    /// Like [`Git::new_commit`], with an extra commit header `(name, value)`: data that git
    /// keeps with the commit (through fetch and push) but `git log` does not show.
    pub fn new_commit_with_header(
        &self,
        message: &str,
        tree: Oid,
        parents: &[Oid],
        header: Option<(&str, &str)>,
    ) -> Result<Oid> {
        let committer = self
            .repo
            .committer()
            .context("no committer identity")?
            .context("reading the committer identity")?;
        let author = self
            .repo
            .author()
            .context("no author identity")?
            .context("reading the author identity")?;
        let commit = gix::objs::Commit {
            message: message.into(),
            tree,
            author: author.into(),
            committer: committer.into(),
            encoding: None,
            parents: parents.iter().copied().collect(),
            extra_headers: header
                .map(|(name, value)| (name.into(), value.into()))
                .into_iter()
                .collect(),
        };
        Ok(self
            .repo
            .write_object(commit)
            .context("writing a commit")?
            .detach())
    }

    /// `commit`'s message and the value of its extra header `name`, if it has one.
    pub fn commit_header(&self, commit: Oid, name: &str) -> Result<(String, Option<String>)> {
        let object = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        let decoded = object
            .decode()
            .with_context(|| format!("decoding commit {commit}"))?;
        let message = decoded.message.to_str_lossy().into_owned();
        let header = decoded
            .extra_headers()
            .find(name)
            .map(|value| value.to_str_lossy().into_owned());
        Ok((message, header))
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

/// The folder `path` under `tree` (the tree of `commit`, named in errors), if there is one.
fn subfolder<'repo>(
    tree: &gix::Tree<'repo>,
    commit: Oid,
    path: &str,
) -> Result<Option<TreeDir<'repo>>> {
    let Some(entry) = tree
        .lookup_entry_by_path(path)
        .with_context(|| format!("looking up {path} in {commit}"))?
    else {
        return Ok(None);
    };
    let tree = entry
        .object()
        .with_context(|| format!("reading {path} in {commit}"))?
        .try_into_tree()
        .map_err(|_| anyhow!("{path} in {commit} is not a folder"))?;
    Ok(Some(TreeDir { tree }))
}

/// The result of merging a trak into its base in memory.
#[derive(Debug)]
pub enum MergeResult {
    /// The merged tree, with the trak's record folder left out.
    Clean(Oid),
    /// The paths git could not merge.
    Conflicts(Vec<String>),
}

/// A folder of a commit's tree, for reading a few files from it without repeating the lookup.
pub struct TreeDir<'repo> {
    tree: gix::Tree<'repo>,
}

impl TreeDir<'_> {
    /// The contents of the file `name` directly in this folder.
    pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.tree.find_entry(name) else {
            return Ok(None);
        };
        let object = entry.object().with_context(|| format!("reading {name}"))?;
        Ok(Some(object.detach().data))
    }

    /// The sub-folder `name`, if there is one.
    pub fn dir(&self, name: &str) -> Result<Option<Self>> {
        let Some(entry) = self.tree.find_entry(name) else {
            return Ok(None);
        };
        let tree = entry
            .object()
            .with_context(|| format!("reading {name}"))?
            .try_into_tree()
            .map_err(|_| anyhow!("{name} is not a folder"))?;
        Ok(Some(TreeDir { tree }))
    }

    /// The names of the files directly in this folder, in git's order (sorted).
    pub fn file_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            if entry.mode().is_blob() {
                names.push(entry.filename().to_str_lossy().into_owned());
            }
        }
        Ok(names)
    }

    /// The names of everything directly in this folder, files and folders, sorted.
    pub fn entry_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            names.push(entry.filename().to_str_lossy().into_owned());
        }
        Ok(names)
    }

    /// Every file under this folder, at any depth, as (path relative to it, contents).
    pub fn files_deep(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            let name = entry.filename().to_str_lossy().into_owned();
            if entry.mode().is_blob() {
                files.push((name, entry.object()?.detach().data));
            } else if entry.mode().is_tree() {
                let sub = TreeDir {
                    tree: entry
                        .object()?
                        .try_into_tree()
                        .map_err(|_| anyhow!("{name} is not a folder"))?,
                };
                for (path, data) in sub.files_deep()? {
                    files.push((format!("{name}/{path}"), data));
                }
            }
        }
        Ok(files)
    }

    /// Every file directly in this folder as (name, contents), sorted by name.
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            if !entry.mode().is_blob() {
                continue;
            }
            let name = entry.filename().to_str_lossy().into_owned();
            let data = entry.object()?.detach().data;
            files.push((name, data));
        }
        Ok(files)
    }
}

/// The object a reference points to. Branch refs point straight at commits, so the target is
/// taken as it is; peeling (which reads the object to see whether it is a tag) is only for
/// symbolic refs. Listing N traks then reads no object for the refs themselves.
/// The paths a tree merge left in conflict as git counts them (unresolved, not merely
/// auto-resolved), where `counts` says a path matters; sorted, each once.
pub(super) fn unresolved_paths(
    conflicts: &[gix::merge::tree::Conflict],
    counts: impl Fn(&str) -> bool,
) -> Vec<String> {
    let how = gix::merge::tree::TreatAsUnresolved::git();
    let mut paths: Vec<String> = conflicts
        .iter()
        .filter(|conflict| conflict.is_unresolved(how))
        .map(|conflict| conflict.ours.location().to_string())
        .filter(|path| counts(path))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

fn target_of(reference: &mut gix::Reference<'_>) -> Result<Oid> {
    if let Some(id) = reference.target().try_id() {
        return Ok(id.to_owned());
    }
    let name = reference.name().as_bstr().to_string();
    Ok(reference
        .peel_to_id()
        .with_context(|| format!("resolving {name}"))?
        .detach())
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

/// Whether `name` is a valid branch name, as git would accept it after `refs/heads/`.
pub fn is_valid_branch_name(name: &str) -> bool {
    gix::validate::reference::name(format!("refs/heads/{name}").as_bytes().as_bstr()).is_ok()
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
