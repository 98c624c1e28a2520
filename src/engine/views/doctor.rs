//! `ork doctor`: whether this machine has what the workflow needs — git, the agents' CLIs, the
//! remotes' refspecs and ork's hooks — and how to get what is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::sandbox::SandboxMode;
use crate::config::workflow::{AgentKind, Workflow, kind_name};
use crate::engine::process::runner;
use crate::engine::process::sandbox::Support;
use crate::engine::process::{TrakCommand, run_with_timeout};
use crate::store::git::{self, Git};

/// How long a CLI may take to print its version: a CLI that hangs there is reported, not waited on.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a CLI's login status may take (OpenCode takes two seconds to start on an idle machine).
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything `ork doctor` found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub git: GitFacts,
    /// Why the workflow could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_error: Option<String>,
    pub agents: Vec<AgentFacts>,
    pub remotes: Vec<RemoteFacts>,
    pub hooks: Vec<HookFacts>,
    /// Hooks in git's hooks folder that ork did not install (they never run under ork).
    pub foreign_hooks: Vec<String>,
    /// What confines the agents here (docs/security.md).
    pub sandbox: SandboxFacts,
    /// What the workflow needs and this machine lacks, each with how to get it.
    pub problems: Vec<String>,
    /// What is worth knowing but does not stop ork.
    pub warnings: Vec<String>,
}

/// The workflow's `[sandbox] mode` and what this machine holds of it.
#[derive(Debug, Serialize)]
pub struct SandboxFacts {
    /// "enforce", "report" or "off" (the workflow's; "enforce" when it cannot be read).
    pub mode: &'static str,
    /// Whether agents here run confined.
    pub enforced: bool,
    /// What the kernel offers: "enforced by Landlock", "not enforced: …".
    pub support: String,
}

#[derive(Debug, Serialize)]
pub struct GitFacts {
    /// `git --version`, or none when git cannot be run.
    pub version: Option<String>,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
}

/// One agent the workflow's stages use.
#[derive(Debug, Serialize)]
pub struct AgentFacts {
    pub name: String,
    pub kind: &'static str,
    /// The program it runs (its `command[0]`, else the CLI's executable).
    pub program: String,
    /// Where that program is, if it is there.
    pub path: Option<PathBuf>,
    /// The first line of its `--version` (CLI kinds only).
    pub version: Option<String>,
    /// The stages that use it, as `flow/stage`.
    pub stages: Vec<String>,
    /// Whether it has a login or an API key (CLI kinds found on PATH only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginFacts>,
}

/// What an agent CLI's login probe found (`agent::LoginProbe`).
#[derive(Debug, Serialize)]
pub struct LoginFacts {
    /// "found", "missing" or "not_checked".
    pub state: &'static str,
    /// What was found, or why it is missing or was not checked.
    pub detail: String,
    /// How to get one, when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// How it was told: the variable or file looked at, or the command run.
    pub by: String,
}

#[derive(Debug, Serialize)]
pub struct RemoteFacts {
    pub name: String,
    /// Whether a plain `git fetch` of it brings ork's notes and logs (`ork init` sets this).
    pub refspecs: bool,
}

#[derive(Debug, Serialize)]
pub struct HookFacts {
    pub name: String,
    /// Installed as ork ships it (`ork hooks install`).
    pub installed: bool,
}

impl Report {
    /// Whether everything the workflow needs is here.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Examines the repository `git` and its `workflow` (or why it could not be loaded).
pub fn examine(git: &Git, workflow: anyhow::Result<Workflow>) -> Report {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let git_facts = git_facts(git, &mut problems, &mut warnings);
    let mode = workflow
        .as_ref()
        .map(|w| w.sandbox.mode)
        .unwrap_or_default();
    let sandbox = sandbox_facts(mode, &mut warnings);
    let (agents, workflow_error) = match workflow {
        Ok(workflow) => {
            codex_sandbox_check(&workflow, sandbox.enforced, &mut problems);
            (
                agent_facts(&workflow, git.main_workdir(), &mut problems),
                None,
            )
        }
        Err(err) => {
            problems.push(format!("the workflow cannot be read: {err:#}"));
            (Vec::new(), Some(format!("{err:#}")))
        }
    };
    let remotes = remote_facts(git, &mut warnings);
    let hooks = hook_facts(git, &remotes, &mut warnings);
    let foreign_hooks = crate::sync::hooks::foreign(git).unwrap_or_default();
    if !foreign_hooks.is_empty() {
        warnings.push(format!(
            "hooks ork did not install: {}. They run under your own git commands (never under ork's: its git runs no hook); if you did not put them there, an agent may have: look at them in {}",
            foreign_hooks.join(", "),
            git.hooks_dir().map(|d| d.display().to_string()).unwrap_or_default()
        ));
    }
    Report {
        git: git_facts,
        workflow_error,
        agents,
        remotes,
        hooks,
        foreign_hooks,
        sandbox,
        problems,
        warnings,
    }
}

/// Codex runs each command through bubblewrap when it finds `bwrap` (where ork's sandbox is
/// not enforced; under it ork turns Codex's own off), and its helper refuses a `CODEX_HOME`
/// under `/tmp`: then every command the agent runs fails. Found in review on a machine with
/// Flatpak's bubblewrap.
fn codex_sandbox_check(workflow: &Workflow, enforced: bool, problems: &mut Vec<String>) {
    let uses_codex = workflow
        .agents
        .values()
        .any(|a| a.kind == crate::config::workflow::AgentKind::Codex);
    if !uses_codex || enforced || runner::locate("bwrap", Path::new("/")).is_none() {
        return;
    }
    let home = std::env::var_os("CODEX_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".codex")));
    if let Some(home) = home.filter(|h| h.starts_with("/tmp")) {
        problems.push(format!(
            "Codex will run its commands through bubblewrap here, which refuses its home {} under /tmp: every command the agent runs would fail. Set CODEX_HOME to a folder outside /tmp, or keep [sandbox] mode = \"enforce\" (ork then turns Codex's own sandbox off)",
            home.display()
        ));
    }
}

fn sandbox_facts(mode: SandboxMode, warnings: &mut Vec<String>) -> SandboxFacts {
    let support = crate::engine::process::sandbox::support();
    let held = !matches!(support, Support::Unavailable(_));
    let enforced = mode == SandboxMode::Enforce && held;
    if mode == SandboxMode::Enforce && !held {
        warnings.push(format!(
            "the sandbox is {}: agents run unconfined here. Set `[sandbox] mode = \"report\"` to do so on purpose (docs/security.md)",
            support.describe()
        ));
    } else if mode != SandboxMode::Enforce {
        warnings.push(format!(
            "[sandbox] mode = \"{}\": agents may write outside their worktree (docs/security.md)",
            mode.name()
        ));
    }
    SandboxFacts {
        mode: mode.name(),
        enforced,
        support: support.describe(),
    }
}

/// The agent CLI `ork init` has the stages use: the first found on `PATH` of Claude Code, Codex
/// and OpenCode, with where it is; none when none is installed.
pub fn installed_cli(root: &Path) -> Option<(AgentKind, PathBuf)> {
    [AgentKind::Claude, AgentKind::Codex, AgentKind::Opencode]
        .into_iter()
        .find_map(|kind| {
            let cli = runner::cli(kind)?;
            runner::locate(cli.program, root).map(|path| (kind, path))
        })
}

fn git_facts(git: &Git, problems: &mut Vec<String>, warnings: &mut Vec<String>) -> GitFacts {
    let version = match git::version() {
        Ok(version) => Some(version),
        Err(err) => {
            problems.push(format!(
                "{err:#}; install git (ork runs it to fetch, push and manage worktrees)"
            ));
            None
        }
    };
    let (user_name, user_email) = git.identity().unzip();
    if user_name.is_none() {
        warnings.push(
            "no git identity (user.name and user.email): ork signs its commits as `ork <ork@localhost>`; set yours with `git config --global user.name \"…\"` and `git config --global user.email …`".into(),
        );
    }
    GitFacts {
        version,
        user_name,
        user_email,
    }
}

/// Every agent some stage uses, in name order, with where its program is and its version.
fn agent_facts(workflow: &Workflow, root: &Path, problems: &mut Vec<String>) -> Vec<AgentFacts> {
    let mut used: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for flow in workflow.flows.values() {
        for stage in &flow.stages {
            used.entry(stage.agent.as_str())
                .or_default()
                .push(format!("{}/{}", flow.name, stage.name));
        }
    }
    used.into_iter()
        .filter_map(|(name, stages)| {
            let agent = workflow.agents.get(name)?;
            let program = runner::program(agent)?.to_string();
            let path = runner::locate(&program, root);
            let version = match &path {
                Some(path) if agent.kind != AgentKind::Command => version_of(path),
                Some(_) => None,
                None => {
                    problems.push(runner::not_found(agent, &program));
                    None
                }
            };
            let login = path
                .as_ref()
                .zip(runner::cli(agent.kind))
                .map(|(path, cli)| login_of(&cli, path, &agent.args));
            if let Some(LoginFacts {
                state: "missing",
                detail,
                fix,
                ..
            }) = &login
            {
                problems.push(format!(
                    "{} (agent \"{name}\") cannot answer: {detail}; {}",
                    runner::cli(agent.kind).map_or("", |cli| cli.name),
                    fix.as_deref().unwrap_or_default()
                ));
            }
            Some(AgentFacts {
                name: name.to_string(),
                kind: kind_name(agent.kind),
                program,
                path,
                version,
                stages,
                login,
            })
        })
        .collect()
}

/// The first line `program --version` prints, if it answers in time.
fn version_of(program: &Path) -> Option<String> {
    // No trak's: it runs where ork was started, with PWD saying so.
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut command = TrakCommand::new(program, &here);
    command.arg("--version");
    let finished = run_with_timeout(&mut command, VERSION_TIMEOUT).ok()?;
    let text = if finished.stdout.trim().is_empty() {
        &finished.stderr
    } else {
        &finished.stdout
    };
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_string)
}

/// Whether the CLI at `program` has a login or a key, by its probe: what the environment and
/// its files show, else its own status command, run with a timeout where ork was started.
/// Never a model, nor any request ork knows of (docs/cli.md, `ork doctor`).
fn login_of(cli: &crate::agent::Cli, program: &Path, agent_args: &[String]) -> LoginFacts {
    use crate::agent::{Login, LoginReply};
    let probe = cli.login;
    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    if let Some(seen) = (probe.local)(&env) {
        return LoginFacts {
            state: "found",
            detail: seen,
            fix: None,
            by: format!("seen without running {}", cli.program),
        };
    }
    let by = format!("{} {}", cli.program, probe.args.join(" "));
    // Not in the repository, whose settings such a command may read (or run).
    let mut command = TrakCommand::new(program, Path::new("/"));
    command.args(probe.args);
    for (name, value) in probe.env {
        command.env(name, value);
    }
    let login = match run_with_timeout(&mut command, LOGIN_TIMEOUT) {
        Ok(finished) if finished.status.is_some() => (probe.read)(&LoginReply {
            code: finished.status.and_then(|s| s.code()),
            stdout: &finished.stdout,
            stderr: &finished.stderr,
            env: &env,
            agent_args,
        }),
        Ok(_) => Login::NotChecked(format!(
            "`{by}` did not answer within {}s",
            LOGIN_TIMEOUT.as_secs()
        )),
        Err(err) => Login::NotChecked(format!("`{by}` could not be run: {err:#}")),
    };
    let (state, detail, fix) = match login {
        Login::Found(what) => ("found", what, None),
        Login::Missing { what, fix } => ("missing", what, Some(fix)),
        Login::NotChecked(why) => ("not_checked", why, None),
    };
    LoginFacts {
        state,
        detail,
        fix,
        by,
    }
}

fn remote_facts(git: &Git, warnings: &mut Vec<String>) -> Vec<RemoteFacts> {
    git.remote_names()
        .into_iter()
        .map(|name| {
            let refspecs = crate::sync::remote_configured(git, &name).unwrap_or(false);
            if !refspecs {
                warnings.push(format!(
                    "remote {name}: a plain `git fetch` does not bring ork's notes and logs; `ork init` adds the refspecs (`ork sync` works either way)"
                ));
            }
            RemoteFacts { name, refspecs }
        })
        .collect()
}

fn hook_facts(git: &Git, remotes: &[RemoteFacts], warnings: &mut Vec<String>) -> Vec<HookFacts> {
    let hooks = crate::sync::hooks::installed(git).unwrap_or_default();
    hooks
        .into_iter()
        .map(|(name, installed)| {
            // The hook only matters to someone who pushes.
            if !installed && !remotes.is_empty() {
                warnings.push(format!(
                    "the {name} hook is not installed: a plain `git push` of a trak branch leaves its notes and logs behind; `ork hooks install` installs it"
                ));
            }
            HookFacts {
                name: name.to_string(),
                installed,
            }
        })
        .collect()
}
