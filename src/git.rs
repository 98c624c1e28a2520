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
    /// The worktree the process was started in (the main one or a trak's linked one).
    current_workdir: PathBuf,
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
        let current_workdir = current_workdir.canonicalize().unwrap_or(current_workdir);
        Ok(Git {
            repo,
            main_workdir,
            current_workdir,
        })
    }

    /// The main worktree's root directory.
    pub fn main_workdir(&self) -> &Path {
        &self.main_workdir
    }

    /// The worktree the process runs in.
    pub fn current_workdir(&self) -> &Path {
        &self.current_workdir
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

    /// Whether HEAD of the main worktree points at a commit.
    pub fn has_commits(&self) -> bool {
        self.main_branch().is_ok()
    }

    /// The commit a reference points to, peeled, or `None` when it does not exist.
    pub fn ref_tip(&self, full_name: &str) -> Result<Option<Oid>> {
        let Some(mut reference) = self
            .repo
            .try_find_reference(full_name)
            .with_context(|| format!("reading {full_name}"))?
        else {
            return Ok(None);
        };
        let id = reference
            .peel_to_id()
            .with_context(|| format!("resolving {full_name}"))?;
        Ok(Some(id.detach()))
    }

    /// All references under `prefix` (for example `refs/heads/ork/`), peeled to their commits.
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
            let tip = reference
                .peel_to_id()
                .with_context(|| format!("resolving {name}"))?
                .detach();
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

    /// The folder `path` in `commit`'s tree, or `None` when there is none.
    pub fn dir_at(&self, commit: Oid, path: &str) -> Result<Option<TreeDir<'_>>> {
        let tree = self.commit_tree(commit)?;
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

    fn commit_tree(&self, commit: Oid) -> Result<gix::Tree<'_>> {
        self.repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?
            .tree()
            .with_context(|| format!("reading the tree of {commit}"))
    }

    /// Writes a commit whose tree is `parent`'s tree with `files` added or replaced, without
    /// touching any index, worktree or ref. Returns the new commit.
    pub fn write_commit(&self, parent: Oid, files: &[FileWrite], message: &str) -> Result<Oid> {
        let tree_id = self.commit_tree(parent)?.id;
        let mut editor = self.repo.edit_tree(tree_id).context("editing a tree")?;
        for file in files {
            let blob = self
                .repo
                .write_blob(&file.contents)
                .with_context(|| format!("writing {}", file.path))?;
            editor
                .upsert(file.path.as_str(), EntryKind::Blob, blob)
                .with_context(|| format!("adding {} to the tree", file.path))?;
        }
        let tree = editor.write().context("writing a tree")?;
        let committer = self
            .repo
            .committer()
            .context("no committer identity")?
            .context("reading the committer identity")?;
        // With no author configured, the committer (or its fallback) signs as author too.
        let author = match self.repo.author() {
            Some(author) => author.context("reading the author identity")?,
            None => committer,
        };
        let commit = self
            .repo
            .new_commit_as(committer, author, message, tree, [parent])
            .context("writing a commit")?;
        Ok(commit.id)
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

    /// An exclusive lock on `.git/ork/<name>`, held until the returned file is dropped.
    /// Runtime only: nothing in it is state (DESIGN.md rule 4).
    fn runtime_lock(&self, name: &str) -> Result<std::fs::File> {
        let dir = self.repo.common_dir().join("ork");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(file)
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

    /// Runs the `git` binary in `dir` for the operations gix must not do (see the module docs).
    pub fn run(&self, dir: &Path, args: &[&str]) -> Result<Output> {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .with_context(|| format!("running git {}", args.join(" ")))?;
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

/// Discovers the repository containing `cwd`. Commits and reflogs need an author and a
/// committer; on a machine with no git identity configured, ork signs as `ork <ork@localhost>`
/// rather than failing (the user's configured identity always wins).
fn open_with_identity_fallback(cwd: &Path) -> Result<gix::Repository> {
    use gix::sec::trust::DefaultForLevel;
    let fallbacks = [
        "gitoxide.committer.nameFallback=ork",
        "gitoxide.committer.emailFallback=ork@localhost",
        "gitoxide.author.nameFallback=ork",
        "gitoxide.author.emailFallback=ork@localhost",
    ];
    let options = |level| gix::open::Options::default_for_level(level).config_overrides(fallbacks);
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
