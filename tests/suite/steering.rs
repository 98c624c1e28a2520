//! End to end: steering traks — waiting for others (`ork trak new --after`), the order due traks
//! start in (`--priority`, then age), and a person's notes to a trak's agents (`ork note`).

use crate::common;

use serde_json::json;

use common::sandbox::{feature_workflow, stage};
use common::{RunsOrk, Sandbox};

/// One automatic work stage. Each run lists the `*.txt` files its worktree holds (the code
/// it starts from) into `seen-<trak>.lst`, then adds its own `<trak>.txt`.
fn sandbox() -> Sandbox {
    Sandbox::new(
        &feature_workflow(
            "30s",
            "",
            &[stage("work", "worker.md", "summary", "review = \"auto\"")],
        ),
        json!({"work": [{
            "run": "ls *.txt > \"seen-$ORK_TRAK.lst\" 2>/dev/null; echo work > \"$ORK_TRAK.txt\"",
            "hang": 1,
            "result": {"type": "artifact", "content": "done"},
        }]}),
    )
}

#[test]
fn ork_run_starts_due_traks_by_priority_and_a_dependent_one_after_its_dependency_merged() {
    let s = sandbox();
    let new = |title: &str, args: &[&str]| {
        let mut all = vec!["--no-run"];
        all.extend_from_slice(args);
        s.new_trak(title, &all).0
    };
    let d = new("Delta", &["--priority", "5"]);
    let c = new("Charlie", &["--priority", "4"]);
    let e = new("Echo", &["--priority", "3", "--after", &c[..8]]);
    let b = new("Bravo", &["--priority", "2"]);
    let a = new("Alpha", &["--priority", "1"]);

    // Before anything runs: Echo waits for Charlie, and says so.
    let table = s.ork_ok(&["status"]);
    assert!(
        common::status_row(&table, &e).contains(&format!("waits for {c}")),
        "{table}"
    );
    let listed = common::json(&s.ork_ok(&["status", "--json"]));
    let echo = common::status_entry(&listed.to_string(), &e, "sandbox");
    assert_eq!(echo["after"], json!([c]));
    assert_eq!(echo["waits_for"], json!([c]));
    assert_eq!(echo["priority"], 3);
    let refused = s.ork_err(&["resume", &e]);
    assert!(refused.contains(&format!("waits for {c}")), "{refused}");

    let out = s.ork_ok(&["run", "-j", "3"]);
    // Each trak as first started (one whose merge lost the race to another's is run again).
    let mut started: Vec<&str> = Vec::new();
    for line in out.lines().filter(|l| l.contains(": running ")) {
        let id = line.split(':').next().unwrap();
        if !started.contains(&id) {
            started.push(id);
        }
    }
    assert_eq!(started[..3], [a.as_str(), b.as_str(), c.as_str()], "{out}");
    assert_eq!(started.len(), 5, "{out}");
    for id in [&a, &b, &c, &d, &e] {
        s.assert_status(id, "done");
    }
    // Echo started on top of Charlie's code, brought in from main before its first run.
    let seen = s.repo.git(&["show", &format!("main:seen-{e}.lst")]);
    assert!(seen.lines().any(|f| f == format!("{c}.txt")), "{seen}");
    assert_eq!(s.events_of(&e, "base_merged").len(), 1);
}

#[test]
fn after_an_unknown_or_dropped_trak_or_an_out_of_range_priority_is_refused_creating_nothing() {
    let s = sandbox();
    let branches = s.repo.trak_branches();
    let err = s.ork_err(&["trak", "new", "--no-run", "--after", "nosuch", "X"]);
    assert!(err.contains("--after nosuch"), "{err}");
    assert_eq!(s.repo.trak_branches(), branches);

    let (gone, _) = s.new_trak("Gone", &["--no-run"]);
    s.ork_ok(&["trak", "drop", &gone]);
    let err = s.ork_err(&["trak", "new", "--no-run", "--after", &gone, "Y"]);
    assert!(err.contains("was dropped"), "{err}");

    let err = common::usage_error(
        &s.ork(&["trak", "new", "--no-run", "--priority", "7", "Z"]),
        "--priority 7",
    );
    assert!(err.contains("--priority"), "{err}");
    assert_eq!(s.repo.trak_branches().len(), branches.len() + 1);
}

#[test]
fn a_note_goes_into_the_next_runs_prompt_once_and_reads_as_the_persons_words() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [
            {"result": {"type": "artifact", "content": "# Plan"}},
            {"result": {"type": "artifact", "content": "# Plan, v2"}},
        ], "work": [{"result": {"type": "artifact", "content": "done"}}]}),
    );
    let (id, _) = s.new_trak("Add login", &[]);
    let (other, _) = s.new_trak("Add logout", &["--no-run"]);
    s.ork_ok(&["note", &id, "-m", "Use the v2 API of the provider"]);
    let out = s.ork_ok(&["note", "--all", "-m", "Keep the change small"]);
    assert!(out.contains(&other) && out.contains(&id), "{out}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("for the next run: Use the v2 API"), "{show}");

    s.ork_ok(&["reject", &id, "-m", "More detail"]);
    let prompt = s.prompt("planning", 2);
    assert!(prompt.contains("# Notes from a person"), "{prompt}");
    assert!(
        prompt.contains("- Use the v2 API of the provider\n- Keep the change small"),
        "{prompt}"
    );
    // Taken by that run: the next one does not get them again.
    s.ork_ok(&["approve", &id]);
    assert!(!s.prompt("work", 1).contains("Notes from a person"));
    let story = s
        .repo
        .git(&["log", "--format=%s%n%b", &format!("ork/{id}")]);
    assert!(
        story.contains("Note from a person: Use the v2 API of the provider"),
        "{story}"
    );

    // An agent inside a run cannot speak for a person, and a finished trak gets no note.
    let inside = s
        .command(env!("CARGO_BIN_EXE_ork"))
        .args(["note", &other, "-m", "approve me"])
        .env("ORK_TRAK", &id)
        .output()
        .unwrap();
    let err = common::ork_error(&inside, "ork note from inside a run");
    assert!(err.contains("cannot leave notes"), "{err}");
    s.ork_ok(&["trak", "drop", &other]);
    let err = s.ork_err(&["note", &other, "-m", "too late"]);
    assert!(err.contains("dropped"), "{err}");
}
