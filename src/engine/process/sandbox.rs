//! Confining the processes ork starts for a trak (docs/design.md rule 12, docs/security.md).
//!
//! An agent, its gate and the worktree setup run as the user, with a shell. Under
//! `[sandbox] mode = "enforce"` the kernel (Linux Landlock) lets them read everything but
//! write only their worktree, their run's own folder (prompt, output, `$TMPDIR`), the agent
//! CLI's own state folders, `/dev`, and what `[sandbox] writable` adds. The repository's git
//! dir is not among them: no ref, object, hook or config write, so `git status`, `git diff` and
//! `git log` work and `git commit` fails. The rules are made in ork and applied in the child
//! between fork and exec, so the agent cannot opt out, and nothing it starts can either.
//!
//! Whatever the mode, the environment loses the credentials ork does not pass on purpose (an
//! SSH agent's socket above all: with it an agent could sign as the user).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus,
};

use crate::config::sandbox::{SandboxMode, SandboxSettings};
use crate::store::repo_watch::confined_email;

/// The newest Landlock ABI ork asks for; an older kernel gets what it has (best effort), and
/// [`support`] says how much that is.
const ABI_WANTED: ABI = ABI::V5;

/// Variables dropped from every confined process's environment unless `[sandbox] pass_env`
/// names them: each lets a process act as the user somewhere ork does not watch.
pub const DROPPED_ENV: &[&str] = &[
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "GPG_AGENT_INFO",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITLAB_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DOCKER_AUTH_CONFIG",
];

/// What one process may write, and how strictly that is held.
#[derive(Debug, Clone)]
pub struct Confinement {
    pub mode: SandboxMode,
    /// Every folder (or file) the process may write.
    writable: Vec<PathBuf>,
    /// Its own temporary folder, given as `TMPDIR`.
    tmp: PathBuf,
    pass_env: Vec<String>,
    /// The trak the process works for: git names it in what the process does to refs.
    trak: String,
}

impl Confinement {
    /// A process working in `worktree`, with `run_dir` as its own folder, under the
    /// workflow's `[sandbox]`. Its `TMPDIR` is the trak's one `tmp` folder beside the runs'
    /// folders: an agent CLI that resumes a session may look again for what it left there in
    /// an earlier run (Codex does).
    pub fn new(
        settings: &SandboxSettings,
        trak: &str,
        worktree: &Path,
        run_dir: &Path,
    ) -> Confinement {
        let tmp = run_dir.parent().unwrap_or(run_dir).join("tmp");
        let mut writable = vec![worktree.to_path_buf(), run_dir.to_path_buf(), tmp.clone()];
        writable.extend(settings.writable.iter().cloned());
        Confinement {
            mode: settings.mode,
            writable,
            tmp,
            pass_env: settings.pass_env.clone(),
            trak: trak.to_string(),
        }
    }

    /// The same, also writing `more` (an agent CLI's state folders, setup's own folders).
    pub fn also_writing(mut self, more: impl IntoIterator<Item = PathBuf>) -> Confinement {
        self.writable.extend(more);
        self
    }

    /// The folders this process may write, as the docs and `ork doctor` list them.
    pub fn writable(&self) -> &[PathBuf] {
        &self.writable
    }

    /// Sets up `command` to run confined: its environment now, and under `enforce` the kernel's
    /// rules, applied in the child just before it execs (where the kernel cannot, the process
    /// runs unconfined: [`Confinement::unenforced`] says so).
    pub(super) fn apply(&self, command: &mut std::process::Command) -> Result<()> {
        mark_git_identity(command, &self.trak);
        if self.mode == SandboxMode::Off {
            return Ok(());
        }
        for name in DROPPED_ENV {
            if !self.pass_env.iter().any(|kept| kept == name) {
                command.env_remove(name);
            }
        }
        crate::engine::process::create_private_dir(&self.tmp)?;
        for var in ["TMPDIR", "TMP", "TEMP"] {
            command.env(var, &self.tmp);
        }
        if self.enforced() {
            install(command, self.ruleset()?);
        }
        Ok(())
    }

    /// Whether the kernel confines the process.
    pub fn enforced(&self) -> bool {
        self.mode == SandboxMode::Enforce && self.unenforced().is_none()
    }

    /// Why `enforce` was asked for and cannot be held on this machine, if so.
    pub fn unenforced(&self) -> Option<&'static str> {
        match (self.mode, support()) {
            (SandboxMode::Enforce, Support::Unavailable(why)) => Some(why),
            _ => None,
        }
    }

    /// The kernel's rules: read and run anything, write only [`Confinement::writable`],
    /// `/dev` (`/dev/null`, the terminal) and existing files under `/proc`. A folder that does not exist yet is made first (an
    /// agent CLI's state folder on a fresh machine); a missing path with an extension is taken
    /// for a file (`~/.claude.json`) and left out until it exists.
    fn ruleset(&self) -> Result<RulesetCreated> {
        let all = AccessFs::from_all(ABI_WANTED);
        let read = AccessFs::from_read(ABI_WANTED);
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(all)?
            .create()?
            .add_rule(PathBeneath::new(PathFd::new("/")?, read))?;
        for path in self
            .writable
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new("/dev")])
        {
            if path.extension().is_none() && !path.exists() {
                let _ = std::fs::create_dir_all(path);
            }
            let Ok(fd) = PathFd::new(path) else { continue };
            let access = if path.is_dir() {
                all
            } else {
                // A file: what may be done to a file (no folder rights on it).
                AccessFs::from_file(ABI_WANTED)
            };
            ruleset = ruleset
                .add_rule(PathBeneath::new(fd, access))
                .with_context(|| format!("allowing writes under {}", path.display()))?;
        }
        // Writing files under /proc (no creating): a process's own settings, and the uid map a
        // user namespace needs, as Codex's own sandbox (bubblewrap) sets up. What else /proc
        // takes is the kernel's to refuse to a user.
        if let Ok(fd) = PathFd::new("/proc") {
            ruleset = ruleset.add_rule(PathBeneath::new(fd, AccessFs::WriteFile))?;
        }
        Ok(ruleset)
    }
}

/// Whether this machine can enforce the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Landlock holds every right ork asks for.
    Full,
    /// Landlock is there but older than ork's rules: some rights are not held (say which).
    Partial(String),
    /// No enforcement here; why.
    Unavailable(String),
}

impl Support {
    pub fn describe(&self) -> String {
        match self {
            Support::Full => "enforced by Landlock".into(),
            Support::Partial(what) => format!("enforced by Landlock, in part: {what}"),
            Support::Unavailable(why) => format!("not enforced: {why}"),
        }
    }
}

/// What this machine's kernel enforces, found once per process by confining a throwaway
/// thread (Landlock confines the calling thread only, so ork itself stays as it was).
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        if !cfg!(target_os = "linux") {
            return Support::Unavailable(
                "Landlock is Linux's; on this system ork runs agents unconfined and reports what they change".into(),
            );
        }
        std::thread::spawn(probe)
            .join()
            .unwrap_or_else(|_| Support::Unavailable("the Landlock probe failed".into()))
    })
}

fn probe() -> Support {
    let restricted = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(ABI_WANTED))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    match restricted {
        Ok(status) => match status.ruleset {
            RulesetStatus::FullyEnforced => Support::Full,
            RulesetStatus::PartiallyEnforced => Support::Partial(format!(
                "the kernel's Landlock is older than ABI {} ({:?})",
                ABI_WANTED as i32, status.landlock
            )),
            RulesetStatus::NotEnforced => Support::Unavailable(format!(
                "the kernel does not enable Landlock ({:?}); add `landlock` to its `lsm=` boot parameter",
                status.landlock
            )),
        },
        Err(err) => Support::Unavailable(format!("Landlock refused: {err}")),
    }
}

/// Makes `command`'s child confine itself with `ruleset` between fork and exec. A child that
/// cannot is not started (the spawn fails): never an unconfined run that looks confined.
fn install(command: &mut std::process::Command, ruleset: RulesetCreated) {
    use std::os::unix::process::CommandExt;
    let mut ruleset = Some(ruleset);
    // SAFETY: the closure runs in the forked child before exec. It only makes the two system
    // calls Landlock needs (prctl, landlock_restrict_self) on a ruleset built in the parent,
    // and allocates nothing on its way (an OS error code is no allocation).
    unsafe {
        command.pre_exec(move || {
            let Some(ruleset) = ruleset.take() else {
                return Ok(());
            };
            match ruleset.restrict_self() {
                Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Ok(()),
                _ => Err(std::io::Error::from_raw_os_error(
                    nix::errno::Errno::EPERM as i32,
                )),
            }
        });
    }
}

/// Makes git, run by the process or anything it starts, sign what it does to refs as a
/// process of `trak` and log every ref update, so that ork can tell afterwards which refs the
/// run moved (docs/design.md rule 12; store::repo_watch). Commits the process makes carry the
/// same committer: ork never keeps them as history anyway.
fn mark_git_identity(command: &mut std::process::Command, trak: &str) {
    command
        .env("GIT_COMMITTER_NAME", format!("ork-confined {trak}"))
        .env("GIT_COMMITTER_EMAIL", confined_email(trak));
    // Appended to the configuration the environment may carry already.
    let count: usize = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    command
        .env("GIT_CONFIG_COUNT", (count + 1).to_string())
        .env(format!("GIT_CONFIG_KEY_{count}"), "core.logAllRefUpdates")
        .env(format!("GIT_CONFIG_VALUE_{count}"), "always");
}
