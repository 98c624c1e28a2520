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

/// What the demo adds to the default workflow `ork init` writes: the built-in scripted agent,
/// which `default_agent` makes every stage's.
const DEMO_AGENT: &str = r#"
# The demo's agent: the built-in scripted agent plays every role.
[agents.demo]
kind = "command"
command = ["{ork}", "demo-agent"]
timeout = "1m"
"#;

/// The project's tests, as the gate script `ork init` writes is meant to grow into.
const CHECKS: &str = r#"#!/bin/sh
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
            after: &[],
            priority: None,
            id: None,
            title: "Add a greeting script",
            description: "A shell script, greet.sh, that greets the world.",
            flow: Some("feature"),
            base: Some("main"),
            ..TrakRequest::default()
        },
    )?;
    print::created(&store, &trak)?;
    let trak = drive(&store, &workflow, trak)?;

    // The plan, then the parts the breakdown proposes: each waits for a person.
    let trak = approve(&store, &workflow, trak)?;
    let trak = approve(&store, &workflow, trak)?;

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

    let trak = approve(&store, &workflow, trak)?;

    command("git log --oneline main");
    let log = store.git().run(&dir, &["log", "--oneline", "main"])?;
    say(&String::from_utf8_lossy(&log.stdout));
    say(&format!(
        "\nThe trak is {status}: one commit on main, its whole story on ork/{id}. Explore it:\n  cd {dir}\n  ork show {id}\n  ork log {id}\n  ork diff {id} --stage work\n  git log ork/{id}\n  git notes --ref=orkestra list\nWhen you are done: rm -rf {dir}",
        status = trak.state.status.as_str(),
        dir = dir.display(),
        id = trak.id,
    ));
    Ok(())
}

/// `ork approve`, and what runs next.
fn approve(store: &Store, workflow: &Workflow, trak: ork::store::Trak) -> Result<ork::store::Trak> {
    command(&format!("ork approve {}", trak.id));
    let trak = engine::decide(store, workflow, &trak, HumanDecision::Approve)?;
    drive(store, workflow, trak)
}

fn drive(store: &Store, workflow: &Workflow, trak: ork::store::Trak) -> Result<ork::store::Trak> {
    let mut terminal = Terminal::new();
    let mut engine = Engine {
        store,
        workflow,
        reporter: &mut terminal,
        take_over: false,
        race_spend: None,
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
    // The flows `ork init` writes, as a user has them, with the demo agent in every stage.
    ork::config::init::write_defaults(dir, false, "demo")?;
    let exe = std::env::current_exe().context("finding the ork executable")?;
    let workflow_path = dir.join(ork::config::workflow::WORKFLOW_PATH);
    let mut workflow = std::fs::read_to_string(&workflow_path)?;
    workflow.push_str(&DEMO_AGENT.replace("{ork}", &exe.display().to_string()));
    std::fs::write(&workflow_path, workflow)?;
    std::fs::write(dir.join(".orkestra/scripts/checks.sh"), CHECKS)?;
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
            "# Plan\n\n1. Add `greet.sh`, printing `Hello, world!`.\n2. The tests in `.orkestra/scripts/checks.sh` check it.\n3. Document it in `docs/usage.md`.\n",
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
        ("compound", _) => {
            artifact("Nothing new for the project's agent docs: greet.sh is small and documented.")
        }
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
