//! End to end: two machines working on the same traks through a shared bare remote, with the
//! built `ork` binary and `fixtures/agents/fake-agent` as a `command` agent. Each machine is a
//! clone with its own home folder, `ORK_MACHINE` and fake-agent plan: the handoff of a trak from
//! one machine to the other, conflicting decisions and `ork resolve`, gate notes from both
//! machines, agent logs, claims on running stages and `--take-over`, a push the remote refused
//! because it moved, an unreachable remote, and the refspecs `ork init` configures.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use common::sandbox::{MACHINE_B, feature_workflow, spawn_ork, stage};
use common::{
    AUTHOR, Cleanup, EMAIL, Net, Repo, RunsOrk, Sandbox, artifact, kill_groups, lines, pids,
    status_row, stdout, unique_seconds, wait_until,
};

/// The names events, trailers and log files record for a [`Net`]'s machines `machine-a` and
/// `machine-b`: ork keeps ASCII letters and digits and turns everything else into `_`
/// (docs/data-model.md).
const RECORDED_A: &str = "machine_a";
const RECORDED_B: &str = "machine_b";

/// One machine of a [`Net`]: a clone of the remote with its own home folder, machine name and
/// fake-agent plan.
type Machine = Sandbox;

// ---------------------------------------------------------------------------------------------
// Workflows and plans
// ---------------------------------------------------------------------------------------------

/// A workflow with one agent, `fake` (the fake agent), `extra` top-level tables (such as
/// `[sync]`), and one flow, `feature`, made of `stages`.
fn workflow(extra: &str, stages: &[String]) -> String {
    feature_workflow("60s", extra, stages)
}

/// Planning, then work, each waiting for a human.
fn plan_and_work() -> String {
    plan_and_work_with("")
}

/// [`plan_and_work`] with `extra` TOML (a `[notify]` table).
fn plan_and_work_with(extra: &str) -> String {
    workflow(
        extra,
        &[
            stage("planning", "planner.md", "plan", "review = \"human\""),
            stage("work", "worker.md", "summary", "review = \"human\""),
        ],
    )
}

/// One work stage whose gate always passes (and leaves a note), then a human review.
fn gated_work() -> String {
    workflow(
        "",
        &[stage(
            "work",
            "worker.md",
            "summary",
            "gate = { command = \"true\", timeout = \"20s\" }\nreview = \"human\"",
        )],
    )
}

/// One work stage waiting for a human, with `extra` top-level tables.
fn work_only(extra: &str) -> String {
    workflow(
        extra,
        &[stage("work", "worker.md", "summary", "review = \"human\"")],
    )
}

// ---------------------------------------------------------------------------------------------
// Machines
// ---------------------------------------------------------------------------------------------

impl Machine {
    /// `ork args` on a trak another machine has: not an error of this one, but an info line
    /// and exit code 3. Its stderr.
    fn left_to_another(&self, args: &[&str]) -> String {
        let out = self.ork(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}: ork {args:?}: {err}",
            self.label()
        );
        assert!(err.starts_with("info: "), "{err}");
        err
    }

    /// `ork sync`, asserted to succeed; its stdout.
    fn sync(&self) -> String {
        self.ork_ok(&["sync"])
    }

    /// `ork show ID --json`.
    fn show_json(&self, id: &str) -> Value {
        common::json(&self.ork_ok(&["show", id, "--json"]))
    }

    /// The trak's events of type `kind` as this machine sees them, and which machine recorded
    /// each, oldest first.
    fn recorded_by(&self, id: &str, kind: &str) -> (Vec<Value>, Vec<String>) {
        let events = self.events_of(id, kind);
        let machines = events
            .iter()
            .map(|e| e["machine"].as_str().unwrap().to_string())
            .collect();
        (events, machines)
    }

    /// The commit `rev` names, or `None` if it names none.
    fn rev(&self, rev: &str) -> Option<String> {
        let out =
            self.repo
                .git_output(&["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")]);
        out.status
            .success()
            .then(|| stdout(&out).trim().to_string())
    }

    /// Every ref with its target, one per line.
    fn all_refs(&self) -> String {
        self.git(&["for-each-ref", "--format=%(objectname) %(refname)"])
    }

    /// The objects that carry a gate note in `refs/notes/orkestra`.
    fn annotated(&self) -> BTreeSet<String> {
        notes_list(&self.repo)
    }

    /// The files of `rev`'s tree.
    fn files(&self, rev: &str) -> Vec<String> {
        self.repo.tree_files(rev)
    }

    /// The value of trailer `key` of every commit of `rev` that has one, newest first.
    fn trailers(&self, rev: &str, key: &str) -> Vec<String> {
        lines(&self.git(&[
            "log",
            &format!("--format=%(trailers:key={key},valueonly,separator=)"),
            rev,
        ]))
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
    }

    /// The commit of the trak's gate note: the commit the gate ran on (its stage_finished).
    fn gate_commit(&self, id: &str) -> String {
        self.event_commits(id, "stage_finished")
            .pop()
            .unwrap_or_else(|| {
                panic!(
                    "{}: no stage_finished commit on ork/{id}:\n{}",
                    self.label(),
                    self.git(&["log", "--format=%H %s", &format!("ork/{id}")])
                )
            })
    }
}

/// The objects with a note in `refs/notes/orkestra` of the repository (or bare remote) `repo`.
fn notes_list(repo: &Repo) -> BTreeSet<String> {
    let out = repo.git_output(&["notes", "--ref=orkestra", "list"]);
    if !out.status.success() {
        return BTreeSet::new();
    }
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect()
}

/// Waits until machine `m` has exactly one trak branch whose tip records `event`; its id.
fn wait_for_event(m: &Machine, event: &str) -> String {
    let mut id = String::new();
    wait_until(
        Duration::from_secs(15),
        &format!("a trak at {event} on {}", m.label()),
        || {
            for branch in m.repo.trak_branches() {
                if m.repo.trailer(&branch, "Ork-Event") == event {
                    id = branch.trim_start_matches("ork/").to_string();
                    return true;
                }
            }
            false
        },
    );
    id
}

// ---------------------------------------------------------------------------------------------
// 1. Handing a trak over to another machine
// ---------------------------------------------------------------------------------------------

#[test]
fn a_trak_planned_on_one_machine_is_worked_on_another() {
    let net = Net::new(&plan_and_work());
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"planning": [
        {"stdout": "planning on A", "result": {"type": "artifact", "content": "# Plan\n1. Add the OAuth callback"}}
    ]}));
    b.set_plan(json!({"work": [
        {"write": {"oauth.rs": "fn callback() {}\n"}, "stdout": "working on B",
         "result": {"type": "artifact", "content": "Added the OAuth callback"}}
    ]}));

    // A plans; the plan waits for review; A shares it.
    let (id, _) = a.new_trak("Add OAuth login", &[]);
    a.assert_at(&id, "awaiting_review", "planning");
    let a_tip = a.rev(&format!("ork/{id}")).unwrap();
    let out = a.sync();
    assert!(out.contains(&format!("refs/heads/ork/{id}")), "{out}");
    assert_eq!(
        net.remote_ref(&format!("refs/heads/ork/{id}")),
        Some(a_tip.clone())
    );

    // B sees it after a plain git fetch, as a trak of origin's.
    b.git(&["fetch", "-q"]);
    let table = b.ork_ok(&["status"]);
    assert!(table.lines().next().unwrap().contains("WHERE"), "{table}");
    let row = status_row(&table, &id);
    assert!(row.contains("awaiting review"), "{table}");
    assert!(row.trim_end().ends_with("origin"), "{table}");
    let trak = b.trak(&id);
    assert_eq!(trak["remote"], "origin", "{trak:#}");
    assert_eq!(trak["status"], "awaiting_review", "{trak:#}");
    assert_eq!(trak["stage"], "planning", "{trak:#}");
    let prefix = &id[..id.len() - 3];
    let show = b.ork_ok(&["show", prefix]);
    assert!(show.contains(&id), "{show}");
    assert!(show.contains("awaiting review at planning"), "{show}");
    assert!(show.contains(&format!("origin/ork/{id}")), "{show}");
    let plan = b.git(&[
        "show",
        &format!("origin/ork/{id}:.orkestra/traks/{id}/artifacts/plan.md"),
    ]);
    assert!(plan.contains("1. Add the OAuth callback"), "{plan}");

    // B approves: the work runs on B, in a worktree of B's, with A's plan in its prompt.
    let out = b.ork_ok(&["approve", prefix]);
    assert_eq!(b.runs("work"), 1, "{out}");
    assert_eq!(b.runs("planning"), 0);
    assert_eq!(a.runs("work"), 0);
    b.assert_at(&id, "awaiting_review", "work");
    assert_eq!(b.trak(&id)["remote"], Value::Null);
    let b_worktree = b.repo.worktree_path(&id);
    assert_eq!(
        std::fs::read_to_string(b_worktree.join("oauth.rs")).unwrap(),
        "fn callback() {}\n"
    );
    assert!(
        b.prompt("work", 1).contains("1. Add the OAuth callback"),
        "{}",
        b.prompt("work", 1)
    );
    let out = b.sync();
    assert!(out.contains(&format!("refs/heads/ork/{id}")), "{out}");
    let b_tip = b.rev(&format!("ork/{id}")).unwrap();
    assert_eq!(
        net.remote_ref(&format!("refs/heads/ork/{id}")),
        Some(b_tip.clone())
    );

    // A sees B's progress after a plain git fetch, before any ork sync.
    a.git(&["fetch", "-q"]);
    assert_eq!(
        a.rev(&format!("ork/{id}")),
        Some(a_tip.clone()),
        "A's branch did not move"
    );
    let trak = a.trak(&id);
    assert_eq!(trak["remote"], "origin", "{trak:#}");
    assert_eq!(trak["status"], "awaiting_review", "{trak:#}");
    assert_eq!(trak["stage"], "work", "{trak:#}");
    assert_eq!(trak["tip"], b_tip.as_str(), "{trak:#}");
    let table = a.ork_ok(&["status"]);
    let row = status_row(&table, &id);
    assert!(row.contains(" work "), "{table}");
    assert!(row.trim_end().ends_with("origin"), "{table}");
    let machines = a.trailers(&format!("origin/ork/{id}"), "Ork-Machine");
    let events = a.trailers(&format!("origin/ork/{id}"), "Ork-Event");
    let on_b: Vec<&str> = events
        .iter()
        .zip(&machines)
        .filter(|(_, m)| *m == RECORDED_B)
        .map(|(e, _)| e.as_str())
        .collect();
    assert_eq!(
        on_b,
        [
            "review_requested",
            "stage_finished",
            "stage_started",
            "approved"
        ],
        "events {events:?} by {machines:?}"
    );
    assert!(machines.contains(&RECORDED_A.to_string()), "{machines:?}");
    let by_machine: Vec<(String, String)> = a
        .events(&id)
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["machine"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(by_machine[0], ("created".into(), RECORDED_A.into()));
    assert!(
        by_machine.contains(&("approved".into(), RECORDED_B.into())),
        "{by_machine:?}"
    );

    // ork sync on A fast-forwards its branch and its worktree to B's work.
    let out = a.sync();
    assert!(out.contains(&format!("updated from origin: {id}")), "{out}");
    assert_eq!(a.rev(&format!("ork/{id}")), Some(b_tip.clone()));
    assert_eq!(a.rev(&format!("origin/ork/{id}")), Some(b_tip));
    assert_eq!(a.trak(&id)["remote"], Value::Null);
    a.assert_at(&id, "awaiting_review", "work");
    let a_worktree = a.repo.worktree_path(&id);
    assert_eq!(
        std::fs::read_to_string(a_worktree.join("oauth.rs")).unwrap(),
        "fn callback() {}\n"
    );
    assert_eq!(
        a.repo.git_in(&a_worktree, &["status", "--porcelain"]),
        "",
        "A's worktree is clean at B's work"
    );
    assert_eq!(a.sync().trim(), "Up to date with origin.");
}

// ---------------------------------------------------------------------------------------------
// 1b. Agent logs of both machines
// ---------------------------------------------------------------------------------------------

#[test]
fn agent_logs_of_both_machines_reach_both_machines() {
    let net = Net::new(&plan_and_work());
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"planning": [{"stdout": "PLANNING-ON-A", "result": {"type": "artifact", "content": "plan"}}]}));
    b.set_plan(json!({"work": [{"stdout": "WORKING-ON-B", "result": {"type": "artifact", "content": "done"}}]}));

    let (id, _) = a.new_trak("Logs everywhere", &[]);
    a.sync();
    b.sync();
    b.ork_ok(&["approve", &id]);
    let logs = b.ork_ok(&["logs", &id]);
    assert!(logs.contains("WORKING-ON-B"), "{logs}");
    b.sync();
    a.sync();

    // The remote keeps both runs' logs: A's planning and B's work.
    let log_ref = format!("refs/ork/logs/{id}");
    assert!(
        net.remote_ref(&log_ref).is_some(),
        "no {log_ref} on the remote"
    );
    let remote_logs = lines(&net.remote_git(&["ls-tree", "-r", "--name-only", &log_ref]));
    assert!(
        remote_logs
            .iter()
            .any(|f| f.starts_with(&format!("planning/1-{RECORDED_A}-"))),
        "{remote_logs:?}"
    );
    assert!(
        remote_logs
            .iter()
            .any(|f| f.starts_with(&format!("work/1-{RECORDED_B}-"))),
        "B's work log never reached the remote: {remote_logs:?}"
    );
    // And `ork logs` shows both on both machines.
    for m in [a, b] {
        let logs = m.ork_ok(&["logs", &id]);
        assert!(logs.contains("PLANNING-ON-A"), "{}: {logs}", m.label());
        assert!(logs.contains("WORKING-ON-B"), "{}: {logs}", m.label());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Conflicting decisions
// ---------------------------------------------------------------------------------------------

#[test]
fn conflicting_decisions_show_as_a_conflict_until_resolved() {
    let net = Net::new(&plan_and_work());
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"planning": [artifact("# Plan\nthe plan")]}));
    b.set_plan(json!({"work": [artifact("worked on B")]}));
    let (id, _) = a.new_trak("Decide twice", &[]);
    a.sync();
    b.sync();
    b.assert_at(&id, "awaiting_review", "planning");

    // From the same state, A approves and B rejects.
    a.ork_ok(&["approve", &id, "--no-run"]);
    b.ork_ok(&["reject", &id, "--no-run", "-m", "redo"]);
    a.assert_at(&id, "queued", "work");
    b.assert_at(&id, "queued", "planning");
    let approved = a.events_of(&id, "approved");
    let rejected = b.events_of(&id, "rejected");
    assert_eq!((approved.len(), rejected.len()), (1, 1));
    let approved_id = approved[0]["id"].as_str().unwrap().to_string();
    let rejected_id = rejected[0]["id"].as_str().unwrap().to_string();
    assert_eq!(approved[0]["prev"], rejected[0]["prev"]);

    // A pushes first; B's sync joins both histories; A takes the join.
    a.sync();
    let out = b.sync();
    assert!(
        out.contains(&format!("joined with origin's work: {id}")),
        "{out}"
    );
    let out = a.sync();
    assert!(out.contains(&format!("updated from origin: {id}")), "{out}");
    assert_eq!(a.rev(&format!("ork/{id}")), b.rev(&format!("ork/{id}")));
    assert_eq!(
        net.remote_ref(&format!("refs/heads/ork/{id}")),
        a.rev(&format!("ork/{id}"))
    );

    let events_dir = format!(".orkestra/traks/{id}/events");
    for m in [a, b] {
        let trak = m.trak(&id);
        assert_eq!(trak["status"], "conflict", "{}: {trak:#}", m.label());
        let show = m.ork_ok(&["show", &id]);
        assert!(show.contains("conflict"), "{show}");
        assert!(show.contains(&approved_id), "{}: {show}", m.label());
        assert!(show.contains(&rejected_id), "{}: {show}", m.label());
        assert!(show.contains("ork resolve"), "{}: {show}", m.label());
        let json = m.show_json(&id);
        let mut conflicting: Vec<&str> = json["conflicting_events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        conflicting.sort();
        let mut expected = vec![approved_id.as_str(), rejected_id.as_str()];
        expected.sort();
        assert_eq!(conflicting, expected, "{}", m.label());
        let files = m.files(&format!("ork/{id}"));
        for event in [&approved_id, &rejected_id] {
            let file = format!("{events_dir}/{event}.json");
            assert!(
                files.contains(&file),
                "{}: no {file} in {files:?}",
                m.label()
            );
        }
        // Both decisions are in the history (the join's parents).
        let history = m.trailers(&format!("ork/{id}"), "Ork-Event-Id");
        assert!(history.contains(&approved_id), "{history:?}");
        assert!(history.contains(&rejected_id), "{history:?}");
        // Nothing runs while the machines disagree.
        let err = m.ork_err(&["approve", &id, "--no-run"]);
        assert!(err.contains("conflict"), "{err}");
    }

    // A keep that matches neither conflicting event is refused, naming them.
    let err = a.ork_err(&["resolve", &id, "--keep", "answered", "--no-run"]);
    assert!(err.contains(&approved_id), "{err}");
    assert!(err.contains(&rejected_id), "{err}");

    // A keeps the approval: the trak goes on at the next stage.
    a.ork_ok(&["resolve", &id, "--keep", "approved", "--no-run"]);
    a.assert_at(&id, "queued", "work");
    a.sync();
    let out = b.sync();
    assert!(out.contains(&format!("updated from origin: {id}")), "{out}");
    let tip = a.rev(&format!("ork/{id}")).unwrap();
    assert_eq!(b.rev(&format!("ork/{id}")), Some(tip.clone()));
    for m in [a, b] {
        m.assert_at(&id, "queued", "work");
        let json = m.show_json(&id);
        assert_eq!(
            json["conflicting_events"],
            json!([]),
            "{}: {json:#}",
            m.label()
        );
        assert_eq!(json["tip"], tip.as_str());
        // The rejection is still recorded, set aside by the resolution.
        let files = m.files(&format!("ork/{id}"));
        assert!(
            files.contains(&format!("{events_dir}/{rejected_id}.json")),
            "{files:?}"
        );
        assert_eq!(m.events_of(&id, "rejected").len(), 1);
        let resolved = m.events_of(&id, "resolved");
        assert_eq!(resolved.len(), 1, "{}", m.label());
        assert_eq!(resolved[0]["chosen"], approved_id.as_str());
        assert_eq!(resolved[0]["dropped"], json!([rejected_id]));
        assert_eq!(resolved[0]["machine"], RECORDED_A);
    }

    // The rejection no longer counts: B runs work, not planning again, without "redo".
    b.ork_ok(&["resume", &id]);
    assert_eq!(b.runs("planning"), 0);
    assert_eq!(b.runs("work"), 1);
    let prompt = b.prompt("work", 1);
    assert!(!prompt.contains("redo"), "{prompt}");
    b.assert_at(&id, "awaiting_review", "work");
}

// ---------------------------------------------------------------------------------------------
// 3. Gate notes from both machines
// ---------------------------------------------------------------------------------------------

#[test]
fn gate_notes_of_both_machines_reach_both_and_survive_a_prune() {
    let net = Net::new(&gated_work());
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"work": [artifact("done on A")]}));
    b.set_plan(json!({"work": [artifact("done on B")]}));

    let (on_a, _) = a.new_trak("Gate on A", &[]);
    let (on_b, _) = b.new_trak("Gate on B", &[]);
    a.assert_at(&on_a, "awaiting_review", "work");
    b.assert_at(&on_b, "awaiting_review", "work");
    let commit_a = a.gate_commit(&on_a);
    let commit_b = b.gate_commit(&on_b);
    assert_eq!(a.annotated(), BTreeSet::from([commit_a.clone()]));
    assert_eq!(b.annotated(), BTreeSet::from([commit_b.clone()]));

    a.sync();
    let out = b.sync();
    assert!(out.contains("gate notes merged from origin"), "{out}");
    a.sync();

    let both = BTreeSet::from([commit_a.clone(), commit_b.clone()]);
    assert_eq!(notes_list(&net.remote), both, "the remote's notes");
    for m in [a, b] {
        assert_eq!(m.annotated(), both, "{}'s notes", m.label());
        let note = m.git(&["notes", "--ref=orkestra", "show", &commit_a]);
        assert!(
            note.contains(&format!("\"machine\":\"{RECORDED_A}\"")),
            "{note}"
        );
        let note = m.git(&["notes", "--ref=orkestra", "show", &commit_b]);
        assert!(
            note.contains(&format!("\"machine\":\"{RECORDED_B}\"")),
            "{note}"
        );
    }
    assert_eq!(
        a.rev("refs/notes/orkestra"),
        b.rev("refs/notes/orkestra"),
        "both machines end with the same notes"
    );

    // A plain git fetch --prune loses none of them, on either machine.
    for m in [a, b] {
        let refs = m.all_refs();
        m.git(&["fetch", "-q", "--prune"]);
        assert_eq!(m.annotated(), both, "{}'s notes after a prune", m.label());
        assert_eq!(m.all_refs(), refs, "{}: the prune changed refs", m.label());
        assert_eq!(
            m.rev("refs/notes/remotes/origin/orkestra"),
            m.rev("refs/notes/orkestra")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Claims on running stages
// ---------------------------------------------------------------------------------------------

#[test]
fn a_stage_running_on_another_machine_is_refused_without_take_over() {
    let hang = unique_seconds(7000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let net = Net::new(&work_only(""));
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"work": [{"write": {"a.txt": "from A\n"}, "hang": hang}]}));
    b.set_plan(json!({"work": [
        {"write": {"b.txt": "from B\n"}, "result": {"type": "artifact", "content": "done on B"}}
    ]}));

    // A's stage runs (and hangs); A shares that from another process meanwhile.
    let child = spawn_ork(
        a,
        &["trak", "new", "Long job"],
        &a.plan.with_extension("log"),
    );
    cleanup.children.push(child);
    let id = wait_for_event(a, "stage_started");
    wait_until(Duration::from_secs(15), "A's agent", || {
        !pids(&sleep).is_empty()
    });
    let out = a.sync();
    assert!(out.contains(&format!("refs/heads/ork/{id}")), "{out}");

    // B sees it running on A.
    b.git(&["fetch", "-q"]);
    let trak = b.trak(&id);
    assert_eq!(trak["status"], "running", "{trak:#}");
    assert_eq!(trak["remote"], "origin", "{trak:#}");
    let remote_tip = b.rev(&format!("origin/ork/{id}")).unwrap();

    // Resuming it on B is refused, naming A and the way out; nothing is recorded or run.
    let err = b.ork_err(&["resume", &id]);
    assert!(err.contains(&format!("running on {RECORDED_A}")), "{err}");
    assert!(err.contains("--take-over"), "{err}");
    assert_eq!(b.runs("work"), 0);
    assert!(
        b.rev(&format!("ork/{id}"))
            .is_none_or(|tip| tip == remote_tip),
        "B recorded something"
    );
    assert_eq!(b.trak(&id)["status"], "running");

    // With --take-over, B runs the stage.
    let out = b.ork_ok(&["resume", &id, "--take-over"]);
    assert_eq!(b.runs("work"), 1, "{out}");
    b.assert_at(&id, "awaiting_review", "work");
    let (started, machines) = b.recorded_by(&id, "stage_started");
    assert_eq!(machines.len(), 2, "{started:?}");
    assert_eq!(machines, [RECORDED_A, RECORDED_B], "{started:?}");
    assert_eq!(started[1]["attempt"], 1, "the same attempt, run again");
    assert_eq!(
        std::fs::read_to_string(b.repo.worktree_path(&id).join("b.txt")).unwrap(),
        "from B\n"
    );

    drop(cleanup);
    // A killed process takes a moment to go.
    wait_until(Duration::from_secs(5), "the agents to be gone", || {
        pids(&sleep).is_empty()
    });
}

#[test]
fn a_claim_whose_lease_ran_out_is_taken_without_take_over() {
    let (net, sleep, mut cleanup) =
        a_hangs_b_finishes(&work_only("[sync]\nlease = \"1s\"\n"), 8000);
    let (a, b) = (&net.a, &net.b);

    // A's ork dies mid-stage (kill -9); what it recorded is shared.
    let child = spawn_ork(
        a,
        &["trak", "new", "Abandoned job"],
        &a.plan.with_extension("log"),
    );
    cleanup.children.push(child);
    let id = wait_for_event(a, "stage_started");
    wait_until(Duration::from_secs(15), "A's agent", || {
        !pids(&sleep).is_empty()
    });
    let mut child = cleanup.children.pop().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    kill_groups(&sleep);
    a.sync();

    // Once the lease ran out, B runs the stage without --take-over.
    b.git(&["fetch", "-q"]);
    assert_eq!(b.trak(&id)["status"], "running");
    std::thread::sleep(Duration::from_millis(1100));
    let out = b.ork_ok(&["resume", &id]);
    assert_eq!(b.runs("work"), 1, "{out}");
    b.assert_at(&id, "awaiting_review", "work");
    drop(cleanup);
    // A killed process takes a moment to go.
    wait_until(Duration::from_secs(5), "the agents to be gone", || {
        pids(&sleep).is_empty()
    });
}

// ---------------------------------------------------------------------------------------------
// 5. A push the remote refused because it moved
// ---------------------------------------------------------------------------------------------

/// Single-quotes `path` for sh.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn a_push_refused_because_the_remote_moved_is_retried_and_loses_nothing() {
    let net = Net::new(&gated_work());
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"work": [artifact("done on A")]}));
    b.set_plan(json!({"work": [artifact("done on B")]}));

    // Both machines work on traks of their own; B shares first.
    let (ta, _) = a.new_trak("Work on A", &[]);
    let (tb, _) = b.new_trak("Work on B", &[]);
    b.sync();
    // B goes on with a second trak it has not shared yet.
    let (tb2, _) = b.new_trak("More work on B", &[]);
    let gates = BTreeSet::from([a.gate_commit(&ta), b.gate_commit(&tb), b.gate_commit(&tb2)]);

    // While A's sync fetches, B shares its second trak: the remote moves between A's fetch and
    // A's push. ork's git processes run no hook, so the race is set up on PATH: a `git` that,
    // the first time A's sync pushes, runs B's `ork sync` before the real push.
    let base = net.remote.root.parent().unwrap();
    let marker = base.join("hook-ran");
    let hook_log = base.join("hook-sync.log");
    let real_git = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let wrapper_dir = base.join("git-wrapper");
    std::fs::create_dir_all(&wrapper_dir).unwrap();
    let wrapper = format!(
        "#!/bin/sh\n\
         for arg in \"$@\"; do\n\
           if [ \"$arg\" = push ] && [ ! -e {marker} ]; then\n\
             : > {marker}\n\
             env -i PATH=\"$PATH\" HOME={home} XDG_CONFIG_HOME={home}/.config GIT_CONFIG_NOSYSTEM=1 \
             GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME='{AUTHOR}' GIT_AUTHOR_EMAIL='{EMAIL}' \
             GIT_COMMITTER_NAME='{AUTHOR}' GIT_COMMITTER_EMAIL='{EMAIL}' ORK_MACHINE={MACHINE_B} LC_ALL=C \
             {ork} -C {b_root} sync > {log} 2>&1\n\
           fi\n\
         done\n\
         exec {real_git} \"$@\"\n",
        marker = quoted(&marker),
        home = quoted(b.repo.home()),
        ork = quoted(Path::new(env!("CARGO_BIN_EXE_ork"))),
        b_root = quoted(&b.repo.root),
        log = quoted(&hook_log),
        real_git = quoted(Path::new(real_git.trim())),
    );
    let wrapper_path = wrapper_dir.join("git");
    std::fs::write(&wrapper_path, wrapper).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper_path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let mut sync = a.ork_command(&["sync"]);
    let path = std::env::var("PATH").unwrap_or_default();
    sync.env("PATH", format!("{}:{path}", wrapper_dir.display()));
    let out = common::success(&sync.output().unwrap(), "A's ork sync");
    assert!(
        marker.exists(),
        "the push never ran B's sync; A's sync said:\n{out}"
    );
    let hook_out = std::fs::read_to_string(&hook_log).unwrap();
    assert!(
        hook_out.contains(&format!("refs/heads/ork/{tb2}")),
        "B's sync in the hook: {hook_out}"
    );
    let notes_b2 = b.rev("refs/notes/orkestra").unwrap();
    assert!(out.contains("pushed to origin"), "{out}");
    // B pushed its second trak after A's first fetch had read the remote's refs: A knowing it
    // shows that A fetched again after its push was refused.
    assert_eq!(
        a.rev(&format!("origin/ork/{tb2}")),
        b.rev(&format!("ork/{tb2}")),
        "A did not fetch again:\n{out}"
    );

    // Nothing is lost: the remote has every trak, every log and every gate note, and its notes
    // grew from what B pushed in between (never forced).
    for (m, id) in [(a, &ta), (b, &tb), (b, &tb2)] {
        assert_eq!(
            net.remote_ref(&format!("refs/heads/ork/{id}")),
            m.rev(&format!("ork/{id}")),
            "{id}"
        );
        assert_eq!(
            net.remote_ref(&format!("refs/ork/logs/{id}")),
            m.rev(&format!("refs/ork/logs/{id}")),
            "the log of {id}"
        );
    }
    assert_eq!(notes_list(&net.remote), gates, "the remote's notes");
    let remote_notes = net.remote_ref("refs/notes/orkestra").unwrap();
    net.remote_git(&["merge-base", "--is-ancestor", &notes_b2, &remote_notes]);
    assert_eq!(a.rev("refs/notes/orkestra"), Some(remote_notes.clone()));
    assert_eq!(a.annotated(), gates);
    for id in [&ta, &tb, &tb2] {
        let status = a.trak(id)["status"].clone();
        assert_eq!(status, "awaiting_review", "{id} on A");
    }

    // B catches up, and both agree.
    b.sync();
    assert_eq!(b.annotated(), gates);
    assert_eq!(b.rev("refs/notes/orkestra"), Some(remote_notes));
    let out = a.sync();
    assert!(out.contains("Up to date with origin."), "{out}");
}

// ---------------------------------------------------------------------------------------------
// 6. A remote that cannot be reached
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unreachable_remote_fails_the_sync_and_changes_nothing() {
    let net = Net::new(&plan_and_work());
    let a = &net.a;
    a.set_plan(json!({"planning": [artifact("the plan")]}));
    let (id, _) = a.new_trak("Offline", &[]);
    a.sync();
    a.ork_ok(&["approve", &id, "--no-run"]);
    let shared = net.remote_ref(&format!("refs/heads/ork/{id}"));

    a.git(&["remote", "set-url", "origin", "/nonexistent/x.git"]);
    let refs = a.all_refs();
    let err = a.ork_err(&["sync"]);
    assert!(err.contains("fetch"), "{err}");
    assert!(err.contains("origin"), "{err}");
    assert_eq!(a.all_refs(), refs, "a failed sync changed refs");
    a.assert_at(&id, "queued", "work");
    assert_eq!(net.remote_ref(&format!("refs/heads/ork/{id}")), shared);

    // A remote that is not configured at all is named as such.
    let err = a.ork_err(&["sync", "nosuch"]);
    assert!(err.contains("no remote \"nosuch\""), "{err}");
    assert!(err.contains("origin"), "{err}");
    assert_eq!(a.all_refs(), refs);
}

// ---------------------------------------------------------------------------------------------
// 7. Refspecs
// ---------------------------------------------------------------------------------------------

#[test]
fn ork_init_configures_refspecs_so_a_plain_fetch_brings_notes_and_logs() {
    let net = Net::new(&gated_work());
    let (a, b) = (&net.a, &net.b);
    let ork_specs = [
        "+refs/notes/orkestra*:refs/notes/remotes/origin/orkestra*",
        "+refs/ork/logs/*:refs/ork/remotes/origin/logs/*",
        "+refs/ork/claims/*:refs/ork/remotes/origin/claims/*",
        "+refs/ork/wip/*:refs/ork/remotes/origin/wip/*",
        "+refs/ork/schedules/*:refs/ork/remotes/origin/schedules/*",
        "+refs/ork/race/*:refs/ork/remotes/origin/race/*",
    ];
    let default_spec = "+refs/heads/*:refs/remotes/origin/*";

    // A ran `ork init` with origin configured (Net::new); running it again adds nothing.
    let specs = |m: &Machine, remote: &str| {
        lines(&m.git(&["config", "--get-all", &format!("remote.{remote}.fetch")]))
    };
    assert_eq!(
        specs(a, "origin"),
        [
            default_spec,
            ork_specs[0],
            ork_specs[1],
            ork_specs[2],
            ork_specs[3],
            ork_specs[4],
            ork_specs[5]
        ]
    );
    a.ork_ok(&["init"]);
    assert_eq!(
        specs(a, "origin"),
        [
            default_spec,
            ork_specs[0],
            ork_specs[1],
            ork_specs[2],
            ork_specs[3],
            ork_specs[4],
            ork_specs[5]
        ]
    );

    // B, a plain clone, has only git's refspec until `ork init` configures every remote.
    assert_eq!(specs(b, "origin"), [default_spec]);
    let backup = net.remote.sibling("backup.git");
    backup.git(&["init", "-q", "--bare", "-b", "main"]);
    b.git(&[
        "remote",
        "add",
        "backup",
        &backup.root.display().to_string(),
    ]);
    b.ork_ok(&["init"]);
    assert_eq!(
        specs(b, "origin"),
        [
            default_spec,
            ork_specs[0],
            ork_specs[1],
            ork_specs[2],
            ork_specs[3],
            ork_specs[4],
            ork_specs[5]
        ]
    );
    assert_eq!(
        specs(b, "backup"),
        [
            "+refs/heads/*:refs/remotes/backup/*",
            "+refs/notes/orkestra*:refs/notes/remotes/backup/orkestra*",
            "+refs/ork/logs/*:refs/ork/remotes/backup/logs/*",
            "+refs/ork/claims/*:refs/ork/remotes/backup/claims/*",
            "+refs/ork/wip/*:refs/ork/remotes/backup/wip/*",
            "+refs/ork/schedules/*:refs/ork/remotes/backup/schedules/*",
            "+refs/ork/race/*:refs/ork/remotes/backup/race/*",
        ]
    );
    assert_eq!(
        b.git(&["status", "--porcelain"]),
        "",
        "init changed no file"
    );

    // A plain fetch works while the remotes have no notes and no logs at all.
    b.git(&["fetch", "-q", "origin"]);
    b.git(&["fetch", "-q", "backup"]);
    assert_eq!(
        b.git(&["for-each-ref", "refs/notes/", "refs/ork/"]),
        "",
        "nothing to fetch yet"
    );

    // A runs a gated stage and syncs; a plain git fetch on B brings its notes and logs.
    a.set_plan(json!({"work": [artifact("done")]}));
    let (id, _) = a.new_trak("Notes please", &[]);
    a.sync();
    b.git(&["fetch", "-q"]);
    let a_notes = a.rev("refs/notes/orkestra").unwrap();
    assert_eq!(b.rev("refs/notes/remotes/origin/orkestra"), Some(a_notes));
    assert_eq!(
        b.rev(&format!("refs/ork/remotes/origin/logs/{id}")),
        a.rev(&format!("refs/ork/logs/{id}"))
    );
    let commit = a.gate_commit(&id);
    let note = b.git(&["notes", "--ref=remotes/origin/orkestra", "show", &commit]);
    assert!(note.contains("\"passed\":true"), "{note}");
    // Fetching still works when one remote has notes and the other none.
    b.git(&["fetch", "-q", "--all"]);
}

// ---------------------------------------------------------------------------------------------
// 8. Auto-sync
// ---------------------------------------------------------------------------------------------

#[test]
fn auto_sync_shares_each_transition_without_ork_sync() {
    let net = Net::new(&workflow(
        "[sync]\nauto = true\n",
        &[
            stage("planning", "planner.md", "plan", "review = \"human\""),
            stage("work", "worker.md", "summary", "review = \"human\""),
        ],
    ));
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"planning": [artifact("# Plan")]}));
    b.set_plan(json!({"work": [artifact("Done on B")]}));

    // No `ork sync` anywhere: the remote has A's trak as soon as planning waits.
    let (id, _) = a.new_trak("Shared as it goes", &[]);
    assert_eq!(
        net.remote_ref(&format!("refs/heads/ork/{id}")),
        a.rev(&format!("ork/{id}"))
    );
    b.git(&["fetch", "-q"]);
    b.ork_ok(&["approve", &id]);
    b.assert_at(&id, "awaiting_review", "work");
    assert_eq!(
        net.remote_ref(&format!("refs/heads/ork/{id}")),
        b.rev(&format!("ork/{id}"))
    );
    // A sees B's work after a plain fetch.
    a.git(&["fetch", "-q"]);
    a.assert_at(&id, "awaiting_review", "work");
}

// ---------------------------------------------------------------------------------------------
// 9. The shared queue: many machines, one backlog
// ---------------------------------------------------------------------------------------------

const MACHINE_C: &str = "machine-c";

/// One work stage, approved automatically, with the shared queue on (`[sync] auto`) and
/// `extra` keys in `[sync]`.
fn queued_work(extra: &str) -> String {
    workflow(
        &format!("[sync]\nauto = true\n{extra}\n"),
        &[stage("work", "worker.md", "summary", "review = \"auto\"")],
    )
}

/// Two machines on `workflow`: A's agent hangs (a `sleep` of its own, from `base`), B's
/// finishes with "done on B". The net, the hanging sleep's command line, and the cleanup that
/// kills it.
fn a_hangs_b_finishes(workflow: &str, base: u32) -> (Net, String, Cleanup) {
    let hang = unique_seconds(base);
    let sleep = format!("sleep {hang}");
    let cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let net = Net::new(workflow);
    net.a.set_plan(json!({"work": [{"hang": hang}]}));
    net.b.set_plan(json!({"work": [artifact("done on B")]}));
    (net, sleep, cleanup)
}

/// The command line of the background `ork resume ID` that `ork run` starts on machine `m`.
fn resume_cmdline(m: &Machine, id: &str) -> String {
    format!(
        "{} -C {} resume {id}",
        env!("CARGO_BIN_EXE_ork"),
        m.repo.root.display()
    )
}

/// The status the remote's copy of trak `id` records.
fn remote_status(net: &Net, id: &str) -> String {
    net.remote_git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Ork-Status,valueonly)",
        &format!("refs/heads/ork/{id}"),
    ])
    .trim()
    .to_string()
}

/// The remote's claim of trak `id`, as JSON.
fn remote_claim(net: &Net, id: &str) -> Option<Value> {
    net.remote_ref(&format!("refs/ork/claims/{id}"))?;
    Some(common::json(&net.remote_git(&[
        "show",
        &format!("refs/ork/claims/{id}:claim.json"),
    ])))
}

/// The time a claim was last renewed.
fn renewed_at(claim: &Value) -> chrono::DateTime<chrono::Utc> {
    claim["renewed_at"].as_str().unwrap().parse().unwrap()
}

#[test]
fn three_machines_work_through_one_queue_and_land_every_trak_on_the_remote_main() {
    let net = Net::new(&queued_work(""));
    let c = Machine::machine(&net.remote, MACHINE_C);
    let machines = [&net.a, &net.b, &c];
    // Each run writes a file of its own trak and takes a moment, so the machines overlap.
    let run = json!({"work": [{
        "run": "echo \"$ORK_TRAK\" > \"done-$ORK_TRAK.txt\"",
        "hang": 1,
        "result": {"type": "artifact", "content": "done"}
    }]});
    for m in machines {
        m.set_plan(run.clone());
    }
    let ids: Vec<String> = (1..=12)
        .map(|n| net.a.new_trak(&format!("Task {n}"), &["--no-run"]).0)
        .collect();
    for id in &ids {
        assert!(
            net.remote_ref(&format!("refs/heads/ork/{id}")).is_some(),
            "{id} was shared"
        );
    }

    let mut cleanup = Cleanup {
        cmdlines: machines
            .iter()
            .flat_map(|m| ids.iter().map(|id| resume_cmdline(m, id)))
            .collect(),
        children: Vec::new(),
    };
    for m in machines {
        let log = m.plan.with_extension("run.log");
        cleanup
            .children
            .push(spawn_ork(m, &["run", "--watch", "-j", "2"], &log));
    }
    let logs = || {
        machines
            .iter()
            .map(|m| std::fs::read_to_string(m.plan.with_extension("run.log")).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    // Generous: twelve runs of three machines on a loaded 2-core machine. On a timeout, say
    // where each trak stands and what the runs printed.
    let deadline = std::time::Instant::now() + Duration::from_secs(480);
    while !ids.iter().all(|id| remote_status(&net, id) == "done") {
        if std::time::Instant::now() > deadline {
            let statuses: Vec<String> = ids
                .iter()
                .map(|id| format!("{id}: {}", remote_status(&net, id)))
                .collect();
            panic!(
                "not all twelve traks done:\n{}\n{}",
                statuses.join("\n"),
                logs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The last runs release their claims and end.
    wait_until(Duration::from_secs(60), "the runs to end", || {
        cleanup.cmdlines.iter().all(|cmd| pids(cmd).is_empty())
    });
    for child in &mut cleanup.children {
        child.kill().unwrap();
        child.wait().unwrap();
    }

    // Every stage ran exactly once, over at least two machines.
    let runs: Vec<u32> = machines.iter().map(|m| m.runs("work")).collect();
    assert_eq!(
        runs.iter().sum::<u32>(),
        12,
        "runs per machine: {runs:?}\n{}",
        logs()
    );
    assert!(
        runs.iter().filter(|n| **n > 0).count() >= 2,
        "runs per machine: {runs:?}"
    );
    // The remote's main holds all twelve merges and every trak's file.
    let merges = lines(&net.remote_git(&["log", "--merges", "--format=%s", "main"]));
    assert_eq!(merges.len(), 12, "{merges:?}");
    let files = net.remote.tree_files("main");
    for id in &ids {
        assert!(files.contains(&format!("done-{id}.txt")), "{id}: {files:?}");
        let started = net.remote_git(&[
            "log",
            "--format=%(trailers:key=Ork-Event,valueonly)",
            &format!("refs/heads/ork/{id}"),
        ]);
        assert_eq!(
            started
                .lines()
                .filter(|l| l.trim() == "stage_started")
                .count(),
            1,
            "{id}: {started}\n{}\n{}",
            net.remote_git(&["log", "--format=%s%n%b", &format!("refs/heads/ork/{id}")]),
            logs()
        );
    }
    // Every machine's main fast-forwards to it.
    let remote_main = net.remote_ref("main").unwrap();
    for m in machines {
        m.git(&["fetch", "-q"]);
        m.git(&["merge", "--ff-only", "-q", "origin/main"]);
        assert_eq!(m.rev("main"), Some(remote_main.clone()), "{}", m.label());
    }
}

#[test]
fn a_killed_machine_keeps_its_claim_until_the_lease_passes_then_another_takes_over() {
    let lease = chrono::Duration::seconds(5);
    let (net, sleep, mut cleanup) = a_hangs_b_finishes(&queued_work("lease = \"5s\""), 9000);
    let (a, b) = (&net.a, &net.b);

    // A claims the trak and runs its stage; the start and the claim are on the remote
    // before the agent runs.
    cleanup.children.push(spawn_ork(
        a,
        &["trak", "new", "Abandoned job"],
        &a.plan.with_extension("log"),
    ));
    wait_until(Duration::from_secs(30), "A's agent", || {
        !pids(&sleep).is_empty()
    });
    let id = a.repo.trak_branches()[0]
        .trim_start_matches("ork/")
        .to_string();
    assert_eq!(remote_status(&net, &id), "running");
    let claim = remote_claim(&net, &id).expect("A's claim on the remote");
    assert_eq!(claim["machine"], RECORDED_A, "{claim}");
    assert_eq!(claim["released"], false, "{claim}");
    // The claim is one commit moved in place, out of the trak's history.
    let claim_ref = format!("refs/ork/claims/{id}");
    assert_eq!(net.remote_git(&["rev-list", "--count", &claim_ref]), "1");
    assert!(
        !net.remote_git(&["log", "--format=%s", &format!("refs/heads/ork/{id}")])
            .contains("claim"),
        "no claim in the trak's history"
    );
    // The heartbeat renews it while the agent runs.
    let first = renewed_at(&claim);
    wait_until(Duration::from_secs(30), "a heartbeat", || {
        remote_claim(&net, &id).is_some_and(|c| renewed_at(&c) > first)
    });

    // kill -9 of A's ork, and of its agent.
    let mut child = cleanup.children.pop().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    kill_groups(&sleep);
    let last = renewed_at(&remote_claim(&net, &id).unwrap());

    // Before the lease passes, B leaves it: ork run has nothing to do, ork resume says who
    // holds it; B's status names the claim.
    let out = b.ork_ok(&["run"]);
    let err = b.left_to_another(&["resume", &id]);
    let before_lease = chrono::Utc::now() < last + lease;
    assert!(before_lease, "B took longer than the lease to look");
    assert!(out.contains("Nothing more to run."), "{out}");
    assert!(!out.contains(&format!("{id}: running")), "{out}");
    assert!(err.contains(&format!("claimed by {RECORDED_A}")), "{err}");
    assert!(err.contains("--take-over"), "{err}");
    assert_eq!(b.runs("work"), 0);
    let trak = b.trak(&id);
    assert_eq!(trak["claim"]["machine"], RECORDED_A, "{trak:#}");
    assert_eq!(trak["claim"]["stale"], false, "{trak:#}");
    let table = b.ork_ok(&["status", "--all"]);
    assert!(
        status_row(&table, &id).contains(&format!("running ({RECORDED_A} since")),
        "{table}"
    );

    // Once the lease has passed since the last heartbeat, the claim shows stale, and B's
    // `ork run` takes the stage over and finishes it.
    wait_until(Duration::from_secs(30), "the lease to pass", || {
        chrono::Utc::now() > last + lease + chrono::Duration::milliseconds(200)
    });
    assert_eq!(b.trak(&id)["claim"]["stale"], true);
    let show = b.ork_ok(&["show", &id]);
    assert!(show.contains("stale"), "{show}");
    let out = b.ork_ok(&["run"]);
    wait_until(Duration::from_secs(60), "B to finish the trak", || {
        remote_status(&net, &id) == "done"
    });
    assert_eq!(b.runs("work"), 1, "{out}");
    let (started, machines) = b.recorded_by(&id, "stage_started");
    assert_eq!(machines, [RECORDED_A, RECORDED_B], "{started:?}");
    let claim = remote_claim(&net, &id).unwrap();
    assert_eq!(
        (claim["machine"].as_str(), claim["released"].as_bool()),
        (Some(RECORDED_B), Some(true)),
        "{claim}"
    );
    drop(cleanup);
    wait_until(Duration::from_secs(5), "the agents to be gone", || {
        pids(&sleep).is_empty()
    });
}

#[test]
fn a_machine_whose_trak_is_taken_over_stops_its_agent_and_shares_nothing_of_that_run() {
    let (net, sleep, mut cleanup) = a_hangs_b_finishes(&queued_work("lease = \"3s\""), 5000);
    let (a, b) = (&net.a, &net.b);
    let log = a.plan.with_extension("log");
    cleanup
        .children
        .push(spawn_ork(a, &["trak", "new", "Contested job"], &log));
    wait_until(Duration::from_secs(30), "A's agent", || {
        !pids(&sleep).is_empty()
    });
    let id = a.repo.trak_branches()[0]
        .trim_start_matches("ork/")
        .to_string();

    // A lives and renews its claim; B takes the trak over anyway and finishes it. (A
    // heartbeat landing between B's fetch and its push makes B lose that race: then again.)
    b.ork_ok(&["sync"]);
    let mut tries = 0;
    loop {
        let out = b.ork(&["resume", &id, "--take-over"]);
        if out.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        tries += 1;
        assert!(
            tries < 5 && err.contains("claimed trak") && err.contains("first"),
            "{err}"
        );
    }
    assert_eq!(remote_status(&net, &id), "done");

    // A's heartbeat sees the claim moved: its agent is killed, its ork ends with an info, not
    // an error, and tells the user what became of its copy.
    let mut child = cleanup.children.pop().unwrap();
    wait_until(Duration::from_secs(30), "A's ork to stop", || {
        child.try_wait().unwrap().is_some()
    });
    let status = child.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(
        said.contains(&format!(
            "info: another machine took trak {id} over on origin while this machine ran it; the \
             run here was stopped and this machine's copy is reset to the remote's (what it \
             recorded since is in `git reflog ork/{id}`)"
        )),
        "{said}"
    );
    assert!(pids(&sleep).is_empty(), "A's agent still runs");

    // Nothing of A's stopped run is on the remote: one start by A, one by B, B's result.
    let (started, machines) = b.recorded_by(&id, "stage_started");
    assert_eq!(machines, [RECORDED_A, RECORDED_B], "{started:?}");
    let finished = b.events_of(&id, "stage_finished");
    assert!(
        finished.iter().all(|e| e["machine"] == RECORDED_B) && finished.len() == 1,
        "{finished:?}"
    );
    // A's copy is the remote's: a sync there brings no conflict and changes nothing.
    let remote_tip = net.remote_git(&["rev-parse", &format!("refs/heads/ork/{id}")]);
    a.ork_ok(&["sync"]);
    assert_eq!(
        a.rev(&format!("ork/{id}")).as_deref(),
        Some(remote_tip.trim())
    );
    assert_eq!(a.trak(&id)["status"], "done");
}

#[test]
fn a_run_longer_than_the_lease_is_never_taken_over_while_its_machine_lives() {
    let lease = chrono::Duration::seconds(3);
    let net = Net::new(&queued_work("lease = \"3s\""));
    let (a, b) = (&net.a, &net.b);
    // Three leases long.
    a.set_plan(
        json!({"work": [{"hang": 9, "result": {"type": "artifact", "content": "done on A"}}]}),
    );
    b.set_plan(json!({"work": [artifact("done on B")]}));
    let mut cleanup = Cleanup {
        cmdlines: Vec::new(),
        children: Vec::new(),
    };
    cleanup.children.push(spawn_ork(
        a,
        &["trak", "new", "Long job"],
        &a.plan.with_extension("log"),
    ));
    let id = wait_for_event(a, "stage_started");
    cleanup.cmdlines.push(resume_cmdline(b, &id));
    wait_until(Duration::from_secs(30), "A's claim", || {
        remote_claim(&net, &id).is_some()
    });
    let since: chrono::DateTime<chrono::Utc> = remote_claim(&net, &id).unwrap()["since"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // B watches the queue all along.
    let b_log = b.plan.with_extension("run.log");
    cleanup
        .children
        .push(spawn_ork(b, &["run", "--watch"], &b_log));

    // Past the lease from the claim's start, B still cannot take it: the heartbeat holds it.
    wait_until(
        Duration::from_secs(30),
        "more than a lease of running",
        || chrono::Utc::now() > since + lease + chrono::Duration::seconds(1),
    );
    wait_until(
        Duration::from_secs(60),
        "B's watch to fetch the trak",
        || b.rev(&format!("origin/ork/{id}")).is_some(),
    );
    let err = b.left_to_another(&["resume", &id]);
    assert!(err.contains(&format!("claimed by {RECORDED_A}")), "{err}");

    // A finishes it; B never ran it.
    let mut a_run = cleanup.children.remove(0);
    let status = a_run.wait().unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(a.plan.with_extension("log")).unwrap()
    );
    assert_eq!(remote_status(&net, &id), "done");
    // Give B's watch a round after A's release to be sure it does nothing with it.
    let remote_main = net.remote_ref("main").unwrap();
    wait_until(
        Duration::from_secs(30),
        "B to fetch the released claim",
        || b.rev("origin/main") == Some(remote_main.clone()),
    );
    drop(cleanup);
    assert_eq!(a.runs("work"), 1);
    assert_eq!(
        b.runs("work"),
        0,
        "{}",
        std::fs::read_to_string(&b_log).unwrap()
    );
    let started = a.events_of(&id, "stage_started");
    assert_eq!(started.len(), 1, "{started:?}");
}

/// Two traks made on A and worked on there, each writing `file` with its own id (so they
/// conflict when `file` is the same), approved on A and B respectively, each waiting to be
/// merged; their ids.
fn two_traks_waiting_to_land(net: &Net, file_a: &str, file_b: &str) -> (String, String) {
    let (a, b) = (&net.a, &net.b);
    let write = |file: &str| {
        json!([{"run": format!("echo \"$ORK_TRAK\" > {file}"),
                "result": {"type": "artifact", "content": "done"}}])
    };
    a.set_plan(json!({"work": write(file_a)}));
    let (first, _) = a.new_trak("First", &[]);
    a.set_plan(json!({"work": write(file_b)}));
    let (second, _) = a.new_trak("Second", &[]);
    a.ork_ok(&["approve", &first, "--no-run"]);
    b.git(&["fetch", "-q"]);
    b.ork_ok(&["approve", &second, "--no-run"]);
    a.assert_at(&first, "integrating", "work");
    b.assert_at(&second, "integrating", "work");
    (first, second)
}

/// Runs `ork integrate` of `first` on A and of `second` on B at the same moment; asserts both
/// commands succeeded.
fn integrate_at_once(net: &Net, first: &str, second: &str) {
    let (a, b) = (&net.a, &net.b);
    let a_log = a.plan.with_extension("integrate.log");
    let b_log = b.plan.with_extension("integrate.log");
    let mut cleanup = Cleanup {
        cmdlines: Vec::new(),
        children: vec![
            spawn_ork(a, &["integrate", first], &a_log),
            spawn_ork(b, &["integrate", second], &b_log),
        ],
    };
    for (child, log) in cleanup.children.iter_mut().zip([&a_log, &b_log]) {
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{}",
            std::fs::read_to_string(log).unwrap()
        );
    }
}

#[test]
fn two_machines_integrating_at_once_both_land_on_the_remote_main() {
    let net = Net::new(&workflow(
        "[sync]\nauto = true\n",
        &[stage("work", "worker.md", "summary", "review = \"human\"")],
    ));
    let (a, b) = (&net.a, &net.b);
    let (first, second) = two_traks_waiting_to_land(&net, "first.txt", "second.txt");
    let before = net.remote_ref("main").unwrap();

    integrate_at_once(&net, &first, &second);

    // Both merges are on the remote's main, one after the other, with both traks' files.
    let merges = lines(&net.remote_git(&[
        "log",
        "--merges",
        "--first-parent",
        "--format=%(trailers:key=Ork-Trak,valueonly)",
        "main",
    ]));
    let mut landed: Vec<String> = merges.iter().map(|l| l.trim().to_string()).collect();
    landed.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(landed, expected);
    assert_eq!(
        net.remote_git(&[
            "rev-list",
            "--count",
            "--first-parent",
            &format!("{before}..main")
        ]),
        "2"
    );
    let files = net.remote.tree_files("main");
    assert!(files.contains(&"first.txt".to_string()), "{files:?}");
    assert!(files.contains(&"second.txt".to_string()), "{files:?}");
    assert!(
        !files.iter().any(|f| f.starts_with(".orkestra/traks/")),
        "no record folder on main: {files:?}"
    );
    // Each machine's main followed what it landed; both reach the remote's by fast-forward.
    for m in [a, b] {
        m.git(&["fetch", "-q"]);
        m.git(&["merge", "--ff-only", "-q", "origin/main"]);
        assert_eq!(m.rev("main"), net.remote_ref("main"), "{}", m.label());
    }
    for id in [&first, &second] {
        assert_eq!(remote_status(&net, id), "done");
    }
}

#[test]
fn a_trak_that_conflicts_with_what_another_machine_landed_goes_to_on_conflict() {
    let net = Net::new(&workflow(
        "[sync]\nauto = true\n",
        &[stage("work", "worker.md", "summary", "review = \"human\"")],
    ));
    let (a, b) = (&net.a, &net.b);
    let (first, second) = two_traks_waiting_to_land(&net, "shared.txt", "shared.txt");

    integrate_at_once(&net, &first, &second);

    // One landed; the other was sent back to its on_conflict stage (work), which ran again
    // and waits for review; the remote's main holds only the first to land.
    b.git(&["fetch", "-q"]);
    let done: Vec<&String> = [&first, &second]
        .into_iter()
        .filter(|id| remote_status(&net, id) == "done")
        .collect();
    assert_eq!(done.len(), 1, "exactly one landed");
    let (landed, sent_back) = if done[0] == &first {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let m = if sent_back == &first { a } else { b };
    let rejected = m.events_of(sent_back, "rejected");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["by"], "integration", "{rejected:?}");
    assert_eq!(rejected[0]["route_to"], "work", "{rejected:?}");
    assert!(
        rejected[0]["feedback"]
            .as_str()
            .unwrap()
            .contains("shared.txt"),
        "{rejected:?}"
    );
    m.assert_at(sent_back, "awaiting_review", "work");
    assert_eq!(
        net.remote_git(&["show", "main:shared.txt"]),
        landed.as_str(),
        "main holds the landed trak's version"
    );
}

// ---------------------------------------------------------------------------------------------
// Subtraks on two machines
// ---------------------------------------------------------------------------------------------

/// A breakdown stage whose parts run the `part` flow, then the parent's work.
fn breakdown_then_work() -> String {
    breakdown_then_work_with("")
}

/// [`breakdown_then_work`] with `extra` TOML (a `[sync]` table).
fn breakdown_then_work_with(extra: &str) -> String {
    let parts = format!(
        "{extra}\n[flows.part]\n\n[[flows.part.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n"
    );
    workflow(
        &parts,
        &[
            stage(
                "breakdown",
                "breakdown.md",
                "breakdown",
                "review = \"human\"\nsubtraks = { flow = \"part\" }",
            ),
            stage("work", "worker.md", "summary", "review = \"auto\""),
        ],
    )
}

#[test]
fn a_subtrak_runs_on_a_second_clone_while_another_runs_on_the_first() {
    let net = Net::new(&breakdown_then_work());
    let area = net.remote.agents_area();
    let (x_started, y_started) = (area.join("x-started"), area.join("y-started"));
    let parts = json!([
        {"key": "x", "title": "Part x", "description": "x", "depends_on": []},
        {"key": "y", "title": "Part y", "description": "y", "depends_on": []},
    ]);
    // Each part waits until the other has started: they run at the same time, one per machine.
    net.a.set_plan_with_subtraks(
        json!({"breakdown": [{"result": {"type": "breakdown", "content": "Two parts", "subtraks": parts}}],
               "work": [artifact("joined")]}),
        json!({"x": {"work": [{"touch": [x_started], "wait_for": [y_started], "write": {"x.txt": "x\n"},
                               "result": {"type": "artifact", "content": "x summary"}}]}}),
    );
    net.b.set_plan_with_subtraks(
        json!({}),
        json!({"y": {"work": [{"touch": [y_started], "wait_for": [x_started], "write": {"y.txt": "y\n"},
                               "result": {"type": "artifact", "content": "y summary"}}]}}),
    );
    let (id, _) = net.a.new_trak("Split across machines", &[]);
    net.a.ork_ok(&["approve", &id, "--no-run"]);
    let (x, y) = (format!("{id}.x"), format!("{id}.y"));
    net.a.assert_at(&id, "subtraks", "breakdown");
    net.a.sync();
    net.b.sync();
    net.b.assert_at(&y, "queued", "work");

    let log = area.join("b-resume.log");
    let mut cleanup = Cleanup {
        cmdlines: Vec::new(),
        children: vec![spawn_ork(&net.b, &["resume", &y], &log)],
    };
    let out = net.a.ork_ok(&["resume", &x]);
    assert!(
        out.contains(&format!("Its parent {id} waits on 1 more subtrak")),
        "{out}"
    );
    let status = cleanup.children[0].wait().unwrap();
    let b_out = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "machine b: {b_out}");
    net.b.assert_at(&y, "done", "work");
    net.a.assert_at(&x, "done", "work");

    // After a sync each side sees the other's part merged into the parent's branch.
    net.b.sync();
    net.a.sync();
    assert_eq!(net.a.trak(&id)["progress"], json!({"done": 2, "total": 2}));
    let out = net.a.ork_ok(&["resume", &id]);
    assert!(out.contains("2 subtrak(s) merged"), "{out}");
    net.a.assert_at(&id, "done", "work");
    let files = net.a.files("main");
    for file in ["x.txt", "y.txt"] {
        assert!(files.contains(&file.to_string()), "{file}: {files:?}");
    }
    assert!(
        !files.iter().any(|f| f.starts_with(".orkestra/traks/")),
        "{files:?}"
    );
    let prompt = net.a.prompt("work", 1);
    assert!(
        prompt.contains("x summary") && prompt.contains("y summary"),
        "{prompt}"
    );
}

#[test]
fn a_parent_leaves_a_subtrak_that_another_machine_runs_to_it() {
    let hang = unique_seconds(6000);
    let sleep = format!("sleep {hang}");
    let net = Net::new(&breakdown_then_work_with(
        "[sync]\nauto = true\nlease = \"5s\"\n",
    ));
    let parts = json!([
        {"key": "x", "title": "Part x", "description": "x", "depends_on": []},
        {"key": "y", "title": "Part y", "description": "y", "depends_on": []},
    ]);
    net.a.set_plan_with_subtraks(
        json!({"breakdown": [{"result": {"type": "breakdown", "content": "Two parts", "subtraks": parts}}]}),
        json!({"x": {"work": [artifact("x summary")]}}),
    );
    net.b
        .set_plan_with_subtraks(json!({}), json!({"y": {"work": [{"hang": hang}]}}));
    let (id, _) = net.a.new_trak("Split across machines", &[]);
    net.a.ork_ok(&["approve", &id, "--no-run"]);
    net.a.sync();
    net.b.sync();
    let y = format!("{id}.y");

    // B's run of subtrak y holds its claim while its agent works.
    let log = net.remote.root.parent().unwrap().join("b-y.log");
    let cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: vec![spawn_ork(&net.b, &["resume", &y], &log)],
    };
    wait_until(Duration::from_secs(30), "B's agent on y", || {
        !pids(&sleep).is_empty()
    });

    // A drives the parent: it runs x, leaves y to B and says so; it never starts y itself.
    let out = net.a.ork_ok(&["resume", &id]);
    assert!(
        out.contains(&format!("running on another machine: y on {RECORDED_B}")),
        "{out}"
    );
    assert!(!out.contains(&format!("subtrak {y} starts")), "{out}");
    assert!(!out.contains(&format!("subtrak {y} stopped")), "{out}");
    assert_eq!(net.a.runs("y.work"), 0);
    net.a.assert_at(&format!("{id}.x"), "done", "work");
    net.a.assert_at(&id, "subtraks", "breakdown");
    drop(cleanup);
}

#[test]
fn a_conflict_a_sync_brings_runs_the_notify_command_on_both_machines() {
    let told = tempfile::tempdir().unwrap();
    let log = told.path().join("told.log");
    let notify = format!(
        "[notify]\ncommand = [\"sh\", \"-c\", \"echo \\\"$ORK_TRAK $ORK_STATUS\\\" >> {}\"]\n",
        log.display()
    );
    let net = Net::new(&plan_and_work_with(&notify));
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"planning": [artifact("# Plan")]}));
    let (id, _) = a.new_trak("Decide twice", &[]);
    a.sync();
    b.sync();
    // From the same state, A approves and B rejects; neither run goes on.
    a.ork_ok(&["approve", &id, "--no-run"]);
    b.ork_ok(&["reject", &id, "--no-run", "-m", "redo"]);
    let told_now = || std::fs::read_to_string(&log).unwrap_or_default();
    let conflicts = || {
        told_now()
            .lines()
            .filter(|l| *l == format!("{id} conflict"))
            .count()
    };
    assert_eq!(conflicts(), 0, "{}", told_now());
    a.sync();
    // B's sync joins both histories into a conflict: B's user is told.
    b.sync();
    b.assert_at(&id, "conflict", "planning");
    assert_eq!(conflicts(), 1, "{}", told_now());
    // A's sync brings the join: A's user is told too.
    a.sync();
    a.assert_at(&id, "conflict", "planning");
    assert_eq!(conflicts(), 2, "{}", told_now());
    // A sync that moves nothing tells no one again.
    a.sync();
    assert_eq!(conflicts(), 2, "{}", told_now());
}

#[test]
fn a_take_over_after_a_killed_machine_starts_from_its_last_checkpoint() {
    let lease = chrono::Duration::seconds(5);
    let workflow = format!("checkpoint = \"1s\"\n{}", queued_work("lease = \"5s\""));
    let (net, sleep, mut cleanup) = a_hangs_b_finishes(&workflow, 9500);
    let hang: u32 = sleep.trim_start_matches("sleep ").parse().unwrap();
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"work": [{"write": {"half.txt": "written on A\n"}, "hang": hang}]}));
    cleanup.children.push(spawn_ork(
        a,
        &["trak", "new", "Long job"],
        &a.plan.with_extension("log"),
    ));
    wait_until(Duration::from_secs(30), "A's agent", || {
        !pids(&sleep).is_empty()
    });
    let id = a.repo.trak_branches()[0]
        .trim_start_matches("ork/")
        .to_string();
    // The checkpoint reaches the remote with a heartbeat of A's claim.
    let wip = format!("refs/ork/wip/{id}");
    wait_until(
        Duration::from_secs(30),
        "A's checkpoint on the remote",
        || {
            net.remote
                .git_output(&["rev-parse", "--verify", "-q", &wip])
                .status
                .success()
        },
    );
    let mut child = cleanup.children.pop().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    kill_groups(&sleep);
    let last = renewed_at(&remote_claim(&net, &id).unwrap());
    wait_until(Duration::from_secs(30), "the lease to pass", || {
        chrono::Utc::now() > last + lease + chrono::Duration::milliseconds(200)
    });

    // B takes it over, in a worktree of its own that gets A's files, and is told so.
    b.ork_ok(&["run"]);
    wait_until(Duration::from_secs(60), "B to finish the trak", || {
        remote_status(&net, &id) == "done"
    });
    let prompt = b.prompt("work", 1);
    assert!(prompt.contains("was cut off"), "{prompt}");
    assert!(prompt.contains("- half.txt"), "{prompt}");
    assert_eq!(
        net.remote_git(&["show", "main:half.txt"]),
        "written on A",
        "A's work landed through B"
    );
    drop(cleanup);
}

#[test]
fn a_machine_whose_trak_is_taken_over_keeps_its_runs_files_in_a_checkpoint_before_the_reset() {
    // Checkpoints an hour apart: only the one taken before the reset can hold A's file.
    let workflow = format!("checkpoint = \"1h\"\n{}", queued_work("lease = \"3s\""));
    let (net, sleep, mut cleanup) = a_hangs_b_finishes(&workflow, 10500);
    let hang: u32 = sleep.trim_start_matches("sleep ").parse().unwrap();
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"work": [{"write": {"half.txt": "written on A\n"}, "hang": hang}]}));
    let log = a.plan.with_extension("log");
    cleanup
        .children
        .push(spawn_ork(a, &["trak", "new", "Contested job"], &log));
    wait_until(Duration::from_secs(30), "A's agent", || {
        !pids(&sleep).is_empty()
    });
    let id = a.repo.trak_branches()[0]
        .trim_start_matches("ork/")
        .to_string();
    let wip = format!("refs/ork/wip/{id}");
    assert_eq!(
        a.rev(&wip),
        None,
        "no checkpoint yet: the interval is an hour"
    );

    b.ork_ok(&["sync"]);
    let mut tries = 0;
    while !b.ork(&["resume", &id, "--take-over"]).status.success() {
        tries += 1;
        assert!(tries < 5, "B could not take the trak over");
    }
    assert_eq!(remote_status(&net, &id), "done");
    let mut child = cleanup.children.pop().unwrap();
    wait_until(Duration::from_secs(30), "A's ork to stop", || {
        child.try_wait().unwrap().is_some()
    });
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3), "{said}");

    // A's copy is reset to the remote's; the file its stopped run wrote is kept, and it says
    // where.
    assert!(said.contains("is reset to the remote's"), "{said}");
    assert_eq!(
        a.repo.git(&["show", &format!("{wip}:half.txt")]),
        "written on A",
        "{said}"
    );
    assert!(said.contains("kept in its checkpoint"), "{said}");
    let story = a.repo.git(&["log", "--format=%s", &format!("ork/{id}")]);
    assert!(!story.contains("checkpoint"), "{story}");
}
