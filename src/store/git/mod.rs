//! All git access lives here.
//!
//! Reading (refs, commits, trees, blobs) and writing objects, commits and compare-and-swap ref
//! updates go through one in-process `gix` repository, opened once per `ork` process. The `git`
//! binary is used only where gix must not be: anything that touches a populated worktree and
//! network operations (see `docs/design.md`, "Git access"). The rest of `ork` speaks of traks and
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
//! - `worktrees.rs`: linked worktrees added, found and removed;
//! - `checkout.rs`: a populated checkout changed and read through the `git` binary;
//! - `remote.rs`: remotes, fetch and push;
//! - `locks.rs`: `.git/ork/`, the runtime folder, and its locks;
//! - `command.rs`: running the `git` binary; `git_command()` builds every `git` process ork
//!   starts, with `LC_ALL=C`, so that ork can read what git prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

mod checkout;
mod command;
mod commits;
mod locks;
mod merge;
mod notes;
mod objects;
mod refs;
mod remote;
pub mod snapshot;
mod worktrees;

pub use command::{commit_all, init_repository, set_config, version};
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

    /// The git dir all worktrees share (`.git` of the main checkout).
    pub fn common_dir(&self) -> &Path {
        self.repo.common_dir()
    }

    /// The main worktree's root directory.
    pub fn main_workdir(&self) -> &Path {
        &self.main_workdir
    }

    /// Where git looks for hooks (`git rev-parse --git-path hooks`: honours `core.hooksPath`).
    pub fn hooks_dir(&self) -> Result<PathBuf> {
        // The user's `core.hooksPath`, which the settings of every other git call override.
        let out = self.ask_as_configured(&["rev-parse", "--git-path", "hooks"])?;
        if !out.status.success() {
            anyhow::bail!(
                "git rev-parse --git-path hooks failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(if path.is_relative() {
            self.main_workdir.join(path)
        } else {
            path
        })
    }

    /// The SSH key git signs with (`user.signingkey`), as the user configured it.
    /// `~/` expanded by git itself (`--type=path`).
    pub fn signing_key(&self) -> Result<String> {
        let out = self.ask_as_configured(&["config", "--type=path", "--get", "user.signingkey"])?;
        let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if key.is_empty() {
            anyhow::bail!(
                "[trust] sign is on, but git has no user.signingkey.\n  Name your SSH key: git config user.signingkey ~/.ssh/id_ed25519.pub"
            );
        }
        Ok(key)
    }

    /// Runs a git question in the main checkout with the user's own settings (hooks path,
    /// signing key): questions only, never a command that could run a program.
    fn ask_as_configured(&self, args: &[&str]) -> Result<std::process::Output> {
        command::git_command_as_configured()
            .arg("-C")
            .arg(&self.main_workdir)
            .args(args)
            .output()
            .with_context(|| format!("running git {}", args.join(" ")))
    }

    /// Whether `commit` carries a good signature by a key in `allowed_signers` (git's own
    /// check: `git verify-commit` with `gpg.format = ssh`).
    pub fn signed_by_allowed(&self, commit: Oid, allowed_signers: &Path) -> Result<bool> {
        let out = command::git_command()
            .arg("-C")
            .arg(&self.main_workdir)
            .arg("-c")
            .arg("gpg.format=ssh")
            .arg("-c")
            .arg(format!(
                "gpg.ssh.allowedSignersFile={}",
                allowed_signers.display()
            ))
            .args(["verify-commit", &commit.to_string()])
            .output()
            .context("running git verify-commit")?;
        Ok(out.status.success())
    }

    /// The name and email ork's commits are made with, as git finds them (`GIT_COMMITTER_*`,
    /// `user.name`, `user.email`); none when there is none and ork signs as its fallback.
    pub fn identity(&self) -> Option<(String, String)> {
        let signature = self.repo.committer()?.ok()?;
        let name = signature.name.to_string();
        let email = signature.email.to_string();
        (name != FALLBACK_NAME || email != FALLBACK_EMAIL).then_some((name, email))
    }
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
