//! End to end: output that scales and that scripts can read: `ork sync` counts what it moved
//! on one line (`-v` names every trak), `ork logs --json` and `ork diff --json`, and no colour
//! when piped.

use crate::common;

use serde_json::json;

use common::{RunsOrk, Sandbox, artifact};

#[test]
fn sync_counts_many_traks_on_one_line_and_names_them_with_v() {
    let flow = Sandbox::review_flow("", json!({})).with_remote();
    let url = flow.remote().root.display().to_string();
    let ids: Vec<String> = (0..7)
        .map(|n| flow.new_trak(&format!("Task {n}"), &["--no-run"]).0)
        .collect();
    let out = flow.ork_ok(&["sync"]);
    assert!(out.contains("→ pushed to origin: "), "{out}");
    assert!(
        !out.contains(&ids[0]),
        "the ids are counted, not listed:\n{out}"
    );

    // Another clone sees them arrive: one line that counts them, all ids with -v.
    let other = flow.repo.sibling("other");
    other.git(&["clone", "-q", &url, "."]);
    let out = common::success(&other.ork(&["sync"]), "ork sync in the other clone");
    let line = out
        .lines()
        .find(|l| l.contains("only"))
        .unwrap_or_else(|| panic!("no line for the arriving traks:\n{out}"));
    assert!(line.contains("7 traks (ork sync -v names them)"), "{out}");
    assert!(ids.iter().all(|id| !out.contains(id.as_str())), "{out}");
    let out = common::success(&other.ork(&["sync", "-v"]), "ork sync -v");
    assert!(ids.iter().all(|id| out.contains(id.as_str())), "{out}");
}

#[test]
fn logs_and_diff_print_json_and_nothing_is_coloured_when_piped() {
    let flow = Sandbox::review_flow(
        "",
        json!({"planning": [
            {"stdout": "thinking hard", "write": {"login.rs": "fn login() {}\n"},
             "result": {"type": "artifact", "content": "# Plan v1"}},
            artifact("# Plan v2"),
        ]}),
    );
    let (id, _) = flow.new_trak("Add login", &[]);
    flow.ork_ok(&["reject", &id, "-m", "more detail"]);

    let logs = common::json(&flow.ork_ok(&["logs", &id, "--json"]));
    assert_eq!(logs["trak"], id.as_str());
    let runs = logs["logs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{logs:#}");
    assert_eq!(runs[0]["stage"], "planning");
    assert!(
        runs[0]["output"]
            .as_str()
            .unwrap()
            .contains("thinking hard"),
        "{logs:#}"
    );

    let diff = common::json(&flow.ork_ok(&["diff", &id, "--json"]));
    assert_eq!(diff["base"], "main");
    assert!(
        diff["diff"].as_str().unwrap().contains("+fn login() {}"),
        "{diff:#}"
    );

    let versions = common::json(&flow.ork_ok(&["diff", &id, "--stage", "planning", "--json"]));
    let contents: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["# Plan v1", "# Plan v2"], "{versions:#}");

    // Piped: plain text, whatever the status.
    for args in [
        vec!["status"],
        vec!["show", &id],
        vec!["diff", &id],
        vec!["logs", &id],
    ] {
        let out = flow.ork_ok(&args);
        assert!(
            !out.contains('\x1b'),
            "ork {args:?} is coloured when piped:\n{out}"
        );
    }
    let err = common::usage_error(&flow.ork(&["logs", &id, "-f", "--json"]), "logs -f --json");
    assert!(err.contains("--json") && err.contains("--follow"), "{err}");
}

#[test]
fn ork_ui_outside_a_terminal_says_what_to_use_instead() {
    let flow = Sandbox::review_flow("", json!({}));
    let err = common::ork_error(&flow.ork(&["ui"]), "ork ui, piped");
    assert!(err.contains("ork ui needs a terminal"), "{err}");
    assert!(err.contains("ork status"), "{err}");
}

#[test]
fn logs_follow_shows_every_runs_header_and_ends_with_the_traks_outcome() {
    use common::sandbox::{feature_workflow, stage};
    use std::time::Duration;
    let s = Sandbox::new(
        &feature_workflow(
            "20s",
            "",
            &[
                stage("work", "worker.md", "summary", "review = \"auto\""),
                stage(
                    "review",
                    "reviewer.md",
                    "verdict",
                    "verdict = true\nreview = \"auto\"",
                ),
            ],
        ),
        json!({
            "work": [{"stdout": "writing the code", "hang": 2, "result": {"type": "artifact", "content": "done"}}],
            "review": [{"stdout": "reading the code", "result": {"type": "verdict", "decision": "approve", "content": "fine"}}],
        }),
    );
    let (id, _) = s.new_trak("Follow me", &["--no-run"]);
    let mut resume = s.ork_command(&["resume", &id]);
    let mut running = resume.spawn().unwrap();
    let runs = s.repo.root.join(".git/ork/runs").join(&id);
    common::wait_until(Duration::from_secs(10), "the work run's log", || {
        runs.join("work-1/log").exists()
    });
    let followed = s.ork(&["logs", &id, "-f"]);
    let out = common::success(&followed, "ork logs -f");
    assert!(running.wait().unwrap().success());
    for line in [
        "=== work-1 ===",
        "writing the code",
        "=== review-1 ===",
        "reading the code",
        &format!("{id}: done at review."),
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    assert!(common::stderr(&followed).is_empty(), "{followed:?}");
}
