//! End to end: the README's Quickstart, command by command, with the fake agent in place of a
//! model. Each `→ <status> at <stage>` comment there is checked against where the trak
//! stands after its command, so the README cannot drift from what ork does.

use crate::common;

use std::path::Path;

use serde_json::{Value, json};

use common::sandbox::fake_agent;
use common::{Repo, RunsOrk, Sandbox, agents_area_writable};

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

/// The Quickstart's shell lines as (command, comment).
fn quickstart() -> Vec<(String, String)> {
    let section = README
        .split("## Quickstart")
        .nth(1)
        .expect("the README has a Quickstart");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Quickstart has a sh block");
    block
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.find("  #") {
            Some(at) => (
                line[..at].trim().to_string(),
                line[at + 3..].trim().to_string(),
            ),
            None => (line.trim().to_string(), String::new()),
        })
        .collect()
}

/// The `(status, stage)` a comment's `→ awaiting review at planning` names, if it names one.
fn expected_stop(comment: &str) -> Option<(String, String)> {
    let (_, stop) = comment.rsplit_once('→')?;
    let (status, stage) = stop.trim().rsplit_once(" at ")?;
    Some((status.trim().replace(' ', "_"), stage.trim().to_string()))
}

fn artifact(content: &str) -> Value {
    json!({"result": {"type": "artifact", "content": content}})
}

fn approve(why: &str) -> Value {
    json!({"result": {"type": "verdict", "decision": "approve", "content": why}})
}

/// A part that writes `file`, and its reviewer's approval.
fn part_runs(file: &str) -> Value {
    json!({
        "work": [{"write": {file: "done\n"}, "result": {"type": "artifact", "content": format!("Wrote {file}.")}}],
        "review": [approve("The part does what it says.")],
    })
}

/// The default workflow as `ork init` wrote it, every stage run by the fake agent: the one
/// line the Quickstart's reader would not change, `default_agent`.
fn with_the_fake_agent(repo: &Repo) {
    let workflow = repo.read(".orkestra/workflow.toml");
    assert!(workflow.contains("\ndefault_agent = \""), "{workflow}");
    let workflow = workflow
        .lines()
        .map(|line| match line.starts_with("default_agent = ") {
            true => "default_agent = \"fake\"".to_string(),
            false => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let workflow = format!("{workflow}\n\n{}", fake_agent("20s"));
    repo.write(
        ".orkestra/workflow.toml",
        &agents_area_writable(&workflow, &repo.agents_area()),
    );
}

#[test]
fn the_readme_quickstart_runs_as_it_says() {
    let repo = Repo::new();
    let root = repo.root.clone();
    let s = Sandbox::in_repo(repo, "");
    s.set_plan_with_subtraks(
        json!({
            "planning": [
                artifact("# Plan\n\n1. GitHub sign-in.\n2. Sessions."),
                artifact("# Plan\n\n1. GitHub sign-in.\n2. Sessions, and expired tokens."),
            ],
            "breakdown": [{"result": {"type": "breakdown", "content": "Sign-in first, then sessions.", "subtraks": [
                {"key": "signin", "title": "GitHub sign-in", "description": "The OAuth flow.", "depends_on": []},
                {"key": "session", "title": "Sessions", "description": "Keep users signed in.", "depends_on": ["signin"]},
            ]}}],
            "work": [{"write": {"login.md": "joined\n"}, "result": {"type": "artifact", "content": "Users sign in with GitHub; expired tokens send them back to sign in."}}],
            "review": [approve("Both parts are joined and tested.")],
            "compound": [artifact("Nothing new to record.")],
        }),
        json!({"signin": part_runs("signin.txt"), "session": part_runs("session.txt")}),
    );
    let path = format!(
        "{}:{}",
        Path::new(env!("CARGO_BIN_EXE_ork"))
            .parent()
            .unwrap()
            .display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut checked = 0;
    for (command, comment) in quickstart() {
        if command.starts_with("cd ") {
            continue;
        }
        let out = s
            .command("sh")
            .args(["-c", &command])
            .env("PATH", &path)
            .output()
            .unwrap();
        let shown = common::success(&out, &command);
        if command == "ork init" {
            with_the_fake_agent(&s.repo);
        }
        if let Some((status, stage)) = expected_stop(&comment) {
            let traks = common::json(&s.ork_ok(&["status", "--json", "--all"]));
            let trak = traks["traks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["parent"].is_null())
                .unwrap_or_else(|| panic!("no trak after `{command}`:\n{traks:#}"));
            assert_eq!(
                (
                    trak["status"].as_str().unwrap(),
                    trak["stage"].as_str().unwrap()
                ),
                (status.as_str(), stage.as_str()),
                "after `{command}` (README says: {comment}):\n{shown}"
            );
            checked += 1;
        }
        if command.starts_with("ork show") && checked == 1 {
            assert!(
                shown.contains("GitHub sign-in."),
                "the plan under review:\n{shown}"
            );
        }
        if command.starts_with("ork show") && checked == 3 {
            assert!(
                shown.contains("session: Sessions (after signin)"),
                "the parts:\n{shown}"
            );
        }
        if command == "git log --oneline main" {
            let subjects: Vec<&str> = shown
                .lines()
                .map(|l| l.split_once(' ').unwrap().1)
                .collect();
            assert_eq!(subjects[0], "Add OAuth login", "{shown}");
            assert!(subjects.iter().all(|s| !s.starts_with("ork:")), "{shown}");
        }
    }
    assert_eq!(checked, 5, "every stop the README names was checked");
    for file in ["signin.txt", "session.txt", "login.md"] {
        assert!(
            root.join(file).exists(),
            "{file} merged into the main checkout"
        );
    }
}
