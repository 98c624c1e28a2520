//! The sandbox the end-to-end tests of flows start from: a repository set up for ork with a
//! workflow, the fake agent (`fixtures/agents/fake-agent`) and its plan beside the repository,
//! and `ork` run there through [`RunsOrk`]. Options for what a test needs beyond that: a bare
//! remote ([`Sandbox::with_remote`]), the stand-in `gh` ([`Sandbox::with_gh`]), a longer time
//! limit, more environment; a machine of several, each a clone of one bare remote with its own
//! home folder and machine name ([`Sandbox::machine`], [`Net`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Repo, RunsOrk, lines, stdout};

/// The fake agent, by absolute path.
pub const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-agent");

/// The folder of the stand-in `gh` (`fixtures/gh/gh`).
const FAKE_GH_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/gh");

/// How long one `ork` command may take in a sandbox before the test fails (and kills it),
/// unless [`Sandbox::with_limit`] says otherwise.
const DEFAULT_LIMIT: Duration = Duration::from_secs(40);

/// How long one `ork` command may take on a machine of a [`Net`]: it fetches and pushes.
const MACHINE_LIMIT: Duration = Duration::from_secs(90);

/// The machines of a [`Net`].
pub const MACHINE_A: &str = "machine-a";
pub const MACHINE_B: &str = "machine-b";

// ---------------------------------------------------------------------------------------------
// Workflows and plans for the fake agent
// ---------------------------------------------------------------------------------------------

/// The `[agents.fake]` table: the fake agent as a `command` agent under `timeout`.
pub fn fake_agent(timeout: &str) -> String {
    format!(
        "[agents.fake]\nkind = \"command\"\ncommand = [\"{FAKE_AGENT}\"]\ntimeout = \"{timeout}\"\n"
    )
}

/// A workflow with one agent, `fake` (under `agent_timeout`), `extra` top-level tables (such
/// as `[sync]`), and one flow, `feature`, made of `stages`; merge conflicts go back to its
/// `work` stage.
pub fn feature_workflow(agent_timeout: &str, extra: &str, stages: &[String]) -> String {
    format!(
        "default_flow = \"feature\"\n\n{}\n{extra}\n\
         [flows.feature]\ndescription = \"A test flow\"\n\n\
         {}\n\
         [flows.feature.integration]\nstrategy = \"merge\"\non_conflict = \"work\"\n",
        fake_agent(agent_timeout),
        stages.concat()
    )
}

/// One `[[flows.feature.stages]]` table run by the fake agent; `extra` holds more keys (TOML).
pub fn stage(name: &str, prompt: &str, artifact: &str, extra: &str) -> String {
    format!(
        "[[flows.feature.stages]]\nname = \"{name}\"\nagent = \"fake\"\nprompt = \"{prompt}\"\nartifact = \"{artifact}\"\n{extra}\n"
    )
}

/// A run of the fake agent that writes `content` as its artifact.
pub fn artifact(content: &str) -> Value {
    json!({"result": {"type": "artifact", "content": content}})
}

// ---------------------------------------------------------------------------------------------
// The sandbox
// ---------------------------------------------------------------------------------------------

/// A repository set up for ork, the fake agent's plan beside it, and how `ork` runs there.
pub struct Sandbox {
    pub repo: Repo,
    /// The sandbox folder holding the repository, the plan and the agent's records.
    pub base: PathBuf,
    /// The fake agent's plan (`FAKE_AGENT_PLAN`).
    pub plan: PathBuf,
    /// Where the fake agent keeps its run counters, prompts and environments.
    pub agent_dir: PathBuf,
    /// Whether the stand-in `gh` is on `PATH` (with [`Sandbox::with_gh`]).
    pub gh_on_path: bool,
    remote: Option<Repo>,
    gh_state: Option<PathBuf>,
    machine: Option<&'static str>,
    label: String,
    limit: Duration,
    /// Variables set (`Some`) or removed (`None`) on every command, in order.
    env: Vec<(String, Option<OsString>)>,
}

impl RunsOrk for Sandbox {
    fn ork_command(&self, args: &[&str]) -> Command {
        let mut command = self.command(env!("CARGO_BIN_EXE_ork"));
        command.args(args);
        command
    }

    fn limit(&self) -> Duration {
        self.limit
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

impl Sandbox {
    /// [`Repo::set_up`] with `workflow` (committed on `main`), the fake agent following `stages`
    /// (the plan's `"stages"` object).
    pub fn new(workflow: &str, stages: Value) -> Sandbox {
        Sandbox::with_files(workflow, &[], stages)
    }

    /// Like [`Sandbox::new`], with `files` committed on `main` too.
    pub fn with_files(workflow: &str, files: &[(&str, &str)], stages: Value) -> Sandbox {
        let sandbox = Sandbox::in_repo(Repo::set_up(workflow, files), "");
        sandbox.set_plan(stages);
        sandbox
    }

    /// A sandbox around `repo`; the fake agent's plan and records are named with `prefix`
    /// (machines of one [`Net`] keep theirs apart). No plan is written yet.
    pub fn in_repo(repo: Repo, prefix: &str) -> Sandbox {
        let base = repo.root.parent().unwrap().to_path_buf();
        Sandbox {
            plan: base.join(format!("{prefix}plan.json")),
            agent_dir: repo.agents_area().join(format!("{prefix}agent")),
            base,
            repo,
            gh_on_path: false,
            remote: None,
            gh_state: None,
            machine: None,
            label: "sandbox".to_string(),
            limit: DEFAULT_LIMIT,
            env: Vec::new(),
        }
    }

    /// Machine `name`: a clone of the bare repository `remote` in the sandbox folder `name`,
    /// with a home folder of its own, `ORK_MACHINE` set to `name`, and its own fake-agent plan
    /// (with no stages yet).
    pub fn machine(remote: &Repo, name: &'static str) -> Sandbox {
        let repo = remote.sibling_with_home(name);
        let url = remote.root.display().to_string();
        repo.git(&["clone", "-q", &url, "."]);
        let mut machine = Sandbox::in_repo(repo, &format!("{name}-"));
        machine.machine = Some(name);
        machine.label = name.to_string();
        machine.limit = MACHINE_LIMIT;
        machine.set_plan(json!({}));
        machine
    }

    /// A bare repository `remote.git` in the sandbox, the repository's `origin`, with `main`
    /// pushed to it.
    pub fn with_remote(mut self) -> Sandbox {
        self.remote = Some(self.repo.add_origin("remote.git"));
        self
    }

    /// The stand-in `gh` on `PATH`, keeping its state (logged in, no pull requests yet) in a
    /// file of the sandbox.
    pub fn with_gh(mut self) -> Sandbox {
        self.gh_state = Some(self.base.join("gh.json"));
        self.gh_on_path = true;
        self.set_gh(json!({"logged_in": true, "prs": {}}));
        self
    }

    /// The stand-in `gh` on `PATH`, keeping its state in `state`: machines that share one
    /// GitHub share the file.
    pub fn with_gh_at(mut self, state: PathBuf) -> Sandbox {
        self.gh_state = Some(state);
        self.gh_on_path = true;
        self
    }

    /// How long one `ork` command may take here.
    pub fn with_limit(mut self, limit: Duration) -> Sandbox {
        self.limit = limit;
        self
    }

    /// The name failures are reported under.
    pub fn with_label(mut self, label: impl Into<String>) -> Sandbox {
        self.label = label.into();
        self
    }

    /// Sets `var` on every command run here.
    pub fn with_env(mut self, var: &str, value: impl Into<OsString>) -> Sandbox {
        self.env.push((var.to_string(), Some(value.into())));
        self
    }

    /// Removes `var` from every command run here.
    pub fn without_env(mut self, var: &str) -> Sandbox {
        self.env.push((var.to_string(), None));
        self
    }

    /// A command for `program` in the repository, with the test environment, the fake agent's
    /// plan, and this sandbox's machine, `gh` and variables.
    pub fn command(&self, program: &str) -> Command {
        let mut command = self.repo.command(program, &self.repo.root);
        command.env("FAKE_AGENT_PLAN", &self.plan);
        if let Some(name) = self.machine {
            command.env("ORK_MACHINE", name);
        }
        if let Some(state) = &self.gh_state {
            command.env("FAKE_GH_STATE", state);
            if self.gh_on_path {
                let path = std::env::var("PATH").unwrap_or_default();
                command.env("PATH", format!("{FAKE_GH_DIR}:{path}"));
            }
        }
        for (var, value) in &self.env {
            match value {
                Some(value) => command.env(var, value),
                None => command.env_remove(var),
            };
        }
        command
    }

    /// A path in the sandbox, outside the repository.
    pub fn path(&self, name: &str) -> PathBuf {
        self.base.join(name)
    }

    /// Runs `git args` in the repository, asserts it succeeded, and returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.repo.git(args)
    }

    /// The bare remote of [`Sandbox::with_remote`].
    pub fn remote(&self) -> &Repo {
        self.remote
            .as_ref()
            .expect("a sandbox made with_remote has a remote")
    }

    /// The commits on `ork/<id>` whose `Ork-Event` trailer is `event`, oldest first.
    pub fn event_commits(&self, id: &str, event: &str) -> Vec<String> {
        let log = self.git(&[
            "log",
            "--reverse",
            "--format=%H %(trailers:key=Ork-Event,valueonly,separator=)",
            &format!("ork/{id}"),
        ]);
        log.lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, e)| e.trim() == event)
            .map(|(h, _)| h.to_string())
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // The fake agent: its plan, and what it leaves in its folder
    // -----------------------------------------------------------------------------------------

    /// Replaces the fake agent's plan (its run counters are kept).
    pub fn set_plan(&self, stages: Value) {
        self.write_plan(json!({"dir": self.agent_dir, "stages": stages}));
    }

    /// Replaces the fake agent's plan: the parent's `stages`, and each subtrak's, by key.
    pub fn set_plan_with_subtraks(&self, stages: Value, subtraks: Value) {
        self.write_plan(json!({"dir": self.agent_dir, "stages": stages, "subtraks": subtraks}));
    }

    fn write_plan(&self, plan: Value) {
        std::fs::write(&self.plan, plan.to_string()).unwrap();
    }

    /// How many times the fake agent ran `stage` (`db.work` for subtrak `db`).
    pub fn runs(&self, stage: &str) -> u32 {
        std::fs::read_to_string(self.agent_dir.join(format!("{stage}.count")))
            .map_or(0, |n| n.trim().parse().unwrap())
    }

    /// The prompt of the fake agent's `n`-th run of `stage`.
    pub fn prompt(&self, stage: &str, n: u32) -> String {
        self.agent_file(&format!("{stage}-{n}.prompt"))
    }

    /// The `ORK_*` environment of the fake agent's `n`-th run of `stage`.
    pub fn agent_env(&self, stage: &str, n: u32) -> BTreeMap<String, String> {
        self.agent_file(&format!("{stage}-{n}.env"))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The fake agent's run log: "<stage> start|end <n>" lines in the order they happened.
    pub fn run_log(&self) -> Vec<String> {
        lines(&std::fs::read_to_string(self.agent_dir.join("runs.log")).unwrap_or_default())
    }

    fn agent_file(&self, name: &str) -> String {
        let path = self.agent_dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    // -----------------------------------------------------------------------------------------
    // The stand-in gh
    // -----------------------------------------------------------------------------------------

    fn gh_state(&self) -> &PathBuf {
        self.gh_state
            .as_ref()
            .expect("a sandbox made with_gh has the stand-in gh")
    }

    /// The stand-in gh's state: its pull requests and the calls made to it.
    pub fn gh(&self) -> Value {
        super::json(&std::fs::read_to_string(self.gh_state()).unwrap())
    }

    /// Replaces the stand-in gh's state.
    pub fn set_gh(&self, state: Value) {
        std::fs::write(self.gh_state(), state.to_string()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Several machines
// ---------------------------------------------------------------------------------------------

/// A bare remote and two machines cloned from it, `a` (which set the project up) and `b`.
pub struct Net {
    pub remote: Repo,
    pub a: Sandbox,
    pub b: Sandbox,
}

impl Net {
    /// The remote, then machine A: a first commit, `ork init`'s files with `workflow` as the
    /// workflow, committed and pushed; then machine B, a clone of that.
    pub fn new(workflow: &str) -> Net {
        let remote = Repo::plain_dir();
        remote.git(&["init", "-q", "--bare", "-b", "main"]);
        let a = Sandbox::machine(&remote, MACHINE_A);
        a.git(&["symbolic-ref", "HEAD", "refs/heads/main"]);
        a.repo.write("README.md", "# Project\n");
        a.repo.commit_all("First commit");
        a.ork_ok(&["init"]);
        a.repo.write(
            ".orkestra/workflow.toml",
            &super::agents_area_writable(workflow, &a.repo.agents_area()),
        );
        a.repo.commit_all("Set up ork");
        a.git(&["push", "-q", "-u", "origin", "main"]);
        let b = Sandbox::machine(&remote, MACHINE_B);
        Net { remote, a, b }
    }

    /// Runs `git args` in the bare remote.
    pub fn remote_git(&self, args: &[&str]) -> String {
        self.remote.git(args)
    }

    /// The remote's ref `name`, if it has it.
    pub fn remote_ref(&self, name: &str) -> Option<String> {
        let out = self
            .remote
            .git_output(&["rev-parse", "--verify", "-q", name]);
        out.status
            .success()
            .then(|| stdout(&out).trim().to_string())
    }
}

/// Starts `ork args` on `machine` in the background, its output (both streams) in `log`.
pub fn spawn_ork(machine: &Sandbox, args: &[&str], log: &Path) -> std::process::Child {
    let file = std::fs::File::create(log).unwrap();
    machine
        .ork_command(args)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("starting ork")
}
