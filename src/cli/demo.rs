//! `ork demo`: a whole flow in a fresh repository, with a built-in scripted agent (no model,
//! no network), printed as a user would see it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use ork::config::workflow::Workflow;
use ork::engine::{self, Engine, HumanDecision, TrakRequest};
use ork::store::Store;
use ork::store::git::Git;

use crate::cli::print::{self, Terminal};

const WORKFLOW: &str = r#"# The demo's workflow: the built-in scripted agent plays every role.
default_flow = "feature"

[agents.demo]
kind = "command"
command = ["{ork}", "demo-agent"]
timeout = "1m"

[flows.feature]
description = "Plan, split, build, review"

[[flows.feature.stages]]
name = "planning"
agent = "demo"
prompt = "planner.md"
artifact = "plan"

# The agent splits the work in two parts; each runs the `part` flow as a subtrak and merges
# into this trak's branch, then this trak's own work stage joins them.
[[flows.feature.stages]]
name = "breakdown"
agent = "demo"
prompt = "breakdown.md"
artifact = "breakdown"
review = "auto"
subtraks = { flow = "part" }

[[flows.feature.stages]]
name = "work"
agent = "demo"
prompt = "worker.md"
artifact = "summary"
gate = { command = "sh tests/test.sh", timeout = "1m" }
max_attempts = 3

[[flows.feature.stages]]
name = "review"
agent = "demo"
prompt = "reviewer.md"
artifact = "verdict"
verdict = true
on_reject = "work"
review = "auto"

[flows.part]
description = "One part of a breakdown"

[[flows.part.stages]]
name = "work"
agent = "demo"
prompt = "worker.md"
artifact = "summary"
gate = { command = "sh tests/test.sh", timeout = "1m" }
max_attempts = 3
review = "auto"
"#;

const TEST: &str = r#"#!/bin/sh
# The project's tests: the gate runs them after every work attempt.
[ -f greet.sh ] || { echo "ok: no greet.sh yet, nothing to test"; exit 0; }
out=$(sh greet.sh)
[ "$out" = "Hello, world!" ] || { echo "FAIL: sh greet.sh printed '$out', expected 'Hello, world!'"; exit 1; }
if grep -q NAME greet.sh; then
  out=$(sh greet.sh Ada)
  [ "$out" = "Hello, Ada!" ] || { echo "FAIL: sh greet.sh Ada printed '$out', expected 'Hello, Ada!'"; exit 1; }
fi
echo "ok: all tests pass"
"#;

/// Runs the demo; leaves the repository in place and says where it is.
pub fn run() -> Result<()> {
    let dir = demo_dir()?;
    say(&format!("A demo repository at {}\n", dir.display()));
    setup(&dir)?;
    let git = Git::discover(&dir)?;
    let workflow = Workflow::load(git.main_workdir())?;
    let store = Store::new(git);

    command(
        "ork trak new \"Add a greeting script\" -d \"A shell script, greet.sh, that greets the world.\"",
    );
    let trak = engine::new_trak(
        &store,
        &workflow,
        &TrakRequest {
            budget: None,
            title: "Add a greeting script",
            description: "A shell script, greet.sh, that greets the world.",
            flow: Some("feature"),
            base: Some("main"),
        },
    )?;
    print::created(&store, &trak)?;
    let trak = drive(&store, &workflow, trak)?;

    command(&format!("ork approve {}", trak.id));
    let trak = engine::decide(&store, &workflow, &trak, HumanDecision::Approve)?;
    let trak = drive(&store, &workflow, trak)?;

    let feedback = "Also greet someone by name: sh greet.sh Ada prints Hello, Ada!";
    command(&format!("ork reject {} -m \"{feedback}\"", trak.id));
    let trak = engine::decide(
        &store,
        &workflow,
        &trak,
        HumanDecision::Reject {
            feedback: feedback.to_string(),
            route_to: None,
        },
    )?;
    let trak = drive(&store, &workflow, trak)?;

    command(&format!("ork approve {}", trak.id));
    let trak = engine::decide(&store, &workflow, &trak, HumanDecision::Approve)?;
    let trak = drive(&store, &workflow, trak)?;

    command("git log --graph --oneline main");
    let log = store
        .git()
        .run(&dir, &["log", "--graph", "--oneline", "--decorate", "main"])?;
    say(&String::from_utf8_lossy(&log.stdout));
    say(&format!(
        "\nThe trak is {}. Explore it:\n  cd {}\n  ork show {}\n  ork log {}\n  ork diff {} --stage work\n  git log ork/{}\n  git notes --ref=orkestra list",
        trak.state.status.as_str(),
        dir.display(),
        trak.id,
        trak.id,
        trak.id,
        trak.id
    ));
    Ok(())
}

fn drive(store: &Store, workflow: &Workflow, trak: ork::store::Trak) -> Result<ork::store::Trak> {
    let mut terminal = Terminal::new();
    let mut engine = Engine {
        store,
        workflow,
        reporter: &mut terminal,
        take_over: false,
    };
    let trak = engine.drive(trak)?;
    print::next(&trak)?;
    Ok(trak)
}

fn command(text: &str) {
    say(&format!("\n$ {text}"));
}

fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// A new folder under the system's temporary directory, kept after the demo.
fn demo_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "ork-demo-{}",
        ork::store::trak_id::random_suffix(6)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.canonicalize()?)
}

/// A small project with tests, ork's files, and the demo workflow, committed.
fn setup(dir: &Path) -> Result<()> {
    ork::store::git::init_repository(dir)?;
    // A throwaway repository: give it an identity so the demo runs on a machine without one.
    ork::store::git::set_config(dir, "user.name", "ork demo")?;
    ork::store::git::set_config(dir, "user.email", "demo@ork.invalid")?;
    std::fs::write(
        dir.join("README.md"),
        "# greet\n\nA tiny project for the ork demo.\n",
    )?;
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(dir.join("tests/test.sh"), TEST)?;
    ork::config::init::write_defaults(dir, false, ork::config::init::DEFAULT_AGENT)?;
    let exe = std::env::current_exe().context("finding the ork executable")?;
    let workflow = WORKFLOW.replace("{ork}", &exe.display().to_string());
    std::fs::write(dir.join(ork::config::workflow::WORKFLOW_PATH), workflow)?;
    ork::store::git::commit_all(dir, "A tiny project, with ork's workflow")?;
    Ok(())
}

/// The demo's scripted agent (`ork demo-agent`, hidden): follows the `command` contract.
pub fn agent() -> Result<()> {
    let mut prompt = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut prompt)?;
    let stage = std::env::var("ORK_STAGE").unwrap_or_default();
    let attempt: u32 = std::env::var("ORK_ATTEMPT")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let part = std::env::var("ORK_SUBTRAK").unwrap_or_default();
    let result = match (stage.as_str(), part.as_str()) {
        ("planning", _) => artifact(
            "# Plan\n\n1. Add `greet.sh`, printing `Hello, world!`.\n2. The tests in `tests/test.sh` check it.\n3. Document it in `docs/usage.md`.\n",
        ),
        ("breakdown", _) => serde_json::json!({
            "type": "breakdown",
            "content": "The script and its documentation touch different files: two parts, built at once.",
            "subtraks": [
                {"key": "script", "title": "The greet.sh script", "description": "Add greet.sh printing Hello, world!", "depends_on": []},
                {"key": "docs", "title": "Its documentation", "description": "Add docs/usage.md on running greet.sh", "depends_on": []},
            ],
            "usage": {"input_tokens": 800, "output_tokens": 120, "cost_usd": 0.0030},
        }),
        ("work", "docs") => {
            std::fs::create_dir_all("docs")?;
            std::fs::write(
                "docs/usage.md",
                "# Usage\n\n    sh greet.sh        # Hello, world!\n",
            )?;
            artifact("Added docs/usage.md.")
        }
        ("work", "script") => work(&prompt, attempt)?,
        ("work", _) => join(&prompt)?,
        _ => serde_json::json!({
            "type": "verdict",
            "decision": "approve",
            "content": "Looks good: greet.sh does what the task asks and the tests cover it.",
            "usage": {"input_tokens": 900, "output_tokens": 60, "cost_usd": 0.0021},
        }),
    };
    let output = std::env::var("ORK_OUTPUT").context("ORK_OUTPUT is not set: run by ork only")?;
    std::fs::write(output, result.to_string())?;
    println!("demo agent: {stage}, attempt {attempt}: done");
    Ok(())
}

/// The parent's work stage, after its parts merged: nothing to join at first; with feedback
/// asking for names, the version that greets by name.
fn join(prompt: &str) -> Result<serde_json::Value> {
    if prompt.contains("by name") {
        return work(prompt, 2);
    }
    Ok(artifact(
        "Joined the parts: greet.sh and docs/usage.md are both here, and the tests pass.",
    ))
}

/// The script part's work stage: a typo on the first try (the gate catches it), then right; with feedback
/// asking for names, the version that greets by name.
fn work(prompt: &str, attempt: u32) -> Result<serde_json::Value> {
    let (script, summary) = if prompt.contains("by name") {
        (
            "#!/bin/sh\nNAME=${1:-world}\necho \"Hello, $NAME!\"\n",
            "greet.sh greets by name (default: world), as the review asked.",
        )
    } else if attempt == 1 {
        ("#!/bin/sh\necho \"Helo, world!\"\n", "Added greet.sh.")
    } else {
        (
            "#!/bin/sh\necho \"Hello, world!\"\n",
            "Fixed the typo the tests found: greet.sh prints Hello, world!",
        )
    };
    std::fs::write("greet.sh", script)?;
    Ok(artifact(summary))
}

fn artifact(content: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "artifact",
        "content": content,
        "usage": {"input_tokens": 1200, "output_tokens": 150, "cost_usd": 0.0042},
    })
}
