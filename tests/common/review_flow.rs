//! A repository whose one flow, `feature`, has two stages reviewed by a human (`planning`, then
//! `work`), both run by the fake agent: the setting of the UI and notification tests.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

use super::{Repo, created_id, success};

/// The fake agent, by absolute path.
const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-agent");

pub struct ReviewFlow {
    pub repo: Repo,
    pub plan: PathBuf,
    /// Where the fake agent keeps its run counters and prompts.
    pub agent_dir: PathBuf,
}

impl ReviewFlow {
    /// The flow, with `extra` TOML appended to the workflow, committed on `main`; the fake
    /// agent follows `stages` (the plan's `"stages"` object).
    pub fn new(extra: &str, stages: Value) -> ReviewFlow {
        let workflow = format!(
            "default_flow = \"feature\"\n\n\
             [agents.fake]\nkind = \"command\"\ncommand = [\"{FAKE_AGENT}\"]\ntimeout = \"20s\"\n\n\
             [flows.feature]\ndescription = \"A test flow\"\n\n\
             [[flows.feature.stages]]\nname = \"planning\"\nagent = \"fake\"\nprompt = \"planner.md\"\nartifact = \"plan\"\nreview = \"human\"\n\n\
             [[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"human\"\n\n\
             {extra}\n"
        );
        let repo = Repo::set_up(&workflow, &[]);
        let base = repo.root.parent().unwrap().to_path_buf();
        let flow = ReviewFlow {
            plan: base.join("plan.json"),
            agent_dir: base.join("agent"),
            repo,
        };
        let plan = json!({"dir": flow.agent_dir, "stages": stages});
        std::fs::write(&flow.plan, plan.to_string()).unwrap();
        flow
    }

    /// A path in the sandbox, outside the repository.
    pub fn path(&self, name: &str) -> PathBuf {
        self.repo.root.parent().unwrap().join(name)
    }

    /// A command with the test environment and the fake agent's plan.
    pub fn command(&self, program: &str) -> Command {
        let mut command = self.repo.command(program, &self.repo.root);
        command.env("FAKE_AGENT_PLAN", &self.plan);
        command
    }

    /// Runs `ork args` (within a time limit).
    pub fn ork_output(&self, args: &[&str]) -> Output {
        let mut command = self.command(env!("CARGO_BIN_EXE_ork"));
        command.args(args);
        super::output_within(
            &mut command,
            std::time::Duration::from_secs(30),
            &format!("ork {}", args.join(" ")),
        )
    }

    /// Runs `ork args`, asserts it succeeded, and returns its stdout.
    pub fn ork(&self, args: &[&str]) -> String {
        success(&self.ork_output(args), &format!("ork {}", args.join(" ")))
    }

    /// `ork trak new TITLE args…`: the new trak's id.
    pub fn new_trak(&self, title: &str, args: &[&str]) -> String {
        let mut full = vec!["trak", "new", title];
        full.extend_from_slice(args);
        created_id(&self.ork(&full))
    }

    /// The trak's status and stage as `ork status --json` has them.
    pub fn at(&self, id: &str) -> (String, String) {
        let status = super::json(&self.ork(&["status", "--all", "--json"]));
        let trak = status["traks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no trak {id} in {status:#}"))
            .clone();
        (
            trak["status"].as_str().unwrap().to_string(),
            trak["stage"].as_str().unwrap().to_string(),
        )
    }
}

/// A run of the fake agent that writes `content` as its artifact.
pub fn artifact(content: &str) -> Value {
    json!({"result": {"type": "artifact", "content": content}})
}
