//! End to end: `git log ork/<id>` tells the trak's story. Subjects read as one family; the
//! bodies hold the human's words (a rejection's feedback, questions and their answers) and
//! why a gate failed.

use crate::common;

use serde_json::json;

use common::{RunsOrk, Sandbox, artifact};

/// The trak branch's commits as `git log` prints them, newest first.
fn story(flow: &Sandbox, id: &str) -> String {
    flow.repo.git(&["log", &format!("ork/{id}")])
}

#[test]
fn git_log_after_a_reject_shows_the_feedback() {
    let flow = Sandbox::review_flow(
        "",
        json!({"planning": [artifact("# Plan v1"), artifact("# Plan v2")]}),
    );
    let (id, _) = flow.new_trak("Add login", &[]);
    flow.ork_ok(&[
        "reject",
        &id,
        "-m",
        "Use PKCE, not the implicit flow.\n\n# Also\nKeep tokens out of the logs.",
    ]);
    let log = story(&flow, &id);
    let reject = log
        .split("\ncommit ")
        .find(|c| c.contains("ork: Reject planning, back to planning"))
        .unwrap_or_else(|| panic!("no rejection commit in:\n{log}"));
    assert!(
        reject.contains("Use PKCE, not the implicit flow."),
        "{reject}"
    );
    // Markdown headings are the human's words too, not comments to strip.
    assert!(reject.contains("# Also"), "{reject}");
    assert!(reject.contains("Keep tokens out of the logs."), "{reject}");
    // The trailers stay trailers after a body.
    assert_eq!(
        flow.repo.git(&[
            "log",
            "--format=%(trailers:key=Ork-Event,valueonly)",
            "--grep=^ork: Reject",
            &format!("ork/{id}")
        ]),
        "rejected"
    );

    // One family of subjects: "ork: " then a capital, attempts in the same form.
    let subjects = flow
        .repo
        .git(&["log", "--reverse", "--format=%s", &format!("ork/{id}")]);
    let subjects: Vec<&str> = subjects
        .lines()
        .skip_while(|s| !s.starts_with("ork: "))
        .collect();
    assert_eq!(
        subjects,
        [
            "ork: Create trak \"Add login\" (feature)",
            "ork: Start planning (attempt 1, fake)",
            "ork: Finish planning (attempt 1)",
            "ork: Await review of planning",
            "ork: Reject planning, back to planning",
            "ork: Start planning (attempt 1, fake)",
            "ork: Finish planning (attempt 1)",
            "ork: Await review of planning",
        ]
    );
}

#[test]
fn questions_answers_and_failed_gates_are_in_the_commit_bodies() {
    let gate = "[[flows.feature.stages]]\nname = \"check\"\nagent = \"fake\"\nprompt = \"worker.md\"\n\
                artifact = \"report\"\nmax_attempts = 1\n\
                gate = { command = \"echo 'FAIL login_test: expected 200, got 500'; echo second line; exit 1\" }\n";
    let flow = Sandbox::review_flow(
        gate,
        json!({
            "planning": [
                {"result": {"type": "questions", "questions": [
                    {"question": "Which OAuth provider?", "options": ["GitHub", "Google"]}]}},
                artifact("# Plan"),
            ],
            "work": [artifact("done")],
            "check": [artifact("checked")],
        }),
    );
    let (id, _) = flow.new_trak("Add login", &[]);
    let log = story(&flow, &id);
    assert!(
        log.contains("ork: Questions from planning (attempt 1)"),
        "{log}"
    );
    assert!(
        log.contains("Question: Which OAuth provider? (GitHub / Google)"),
        "{log}"
    );

    flow.ork_ok(&["answer", &id, "-m", "GitHub, with PKCE"]);
    let log = story(&flow, &id);
    let answer = log
        .split("\ncommit ")
        .find(|c| c.contains("ork: Answer planning's questions"))
        .unwrap_or_else(|| panic!("no answer commit in:\n{log}"));
    assert!(answer.contains("Which OAuth provider?"), "{answer}");
    assert!(answer.contains("Answer: GitHub, with PKCE"), "{answer}");

    flow.ork_ok(&["approve", &id]);
    flow.ork_ok(&["approve", &id]);
    assert_eq!(flow.at(&id), ("failed".to_string(), "check".to_string()));
    let log = story(&flow, &id);
    let gate = log
        .split("\ncommit ")
        .find(|c| c.contains("ork: Gate failed for check (attempt 1)"))
        .unwrap_or_else(|| panic!("no failed gate commit in:\n{log}"));
    assert!(
        gate.contains("FAIL login_test: expected 200, got 500") && gate.contains("second line"),
        "{gate}"
    );
}
