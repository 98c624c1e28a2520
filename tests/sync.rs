//! End to end: two machines working on the same traks through a shared bare remote, with the
//! built `ork` binary and `fixtures/agents/fake-agent` as a `command` agent. Each machine is a
//! clone with its own home folder, `ORK_MACHINE` and fake-agent plan: the handoff of a trak from
//! one machine to the other, conflicting decisions and `ork resolve`, gate notes from both
//! machines, agent logs, claims on running stages and `--take-over`, a push the remote refused
//! because it moved, an unreachable remote, and the refspecs `ork init` configures.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use common::{
    AUTHOR, Cleanup, EMAIL, Repo, created_id, kill_groups, lines, output_within, pids, stdout,
    success, unique_seconds, wait_until,
};

/// How long one `ork` command may take before the test fails (and kills it).
const ORK_LIMIT: Duration = Duration::from_secs(30);

/// The fake agent, by absolute path.
const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-agent");

const MACHINE_A: &str = "machine-a";
const MACHINE_B: &str = "machine-b";
/// The names events, trailers and log files record for `MACHINE_A` and `MACHINE_B`: ork keeps
/// ASCII letters and digits and turns everything else into `_` (docs/data-model.md).
const RECORDED_A: &str = "machine_a";
const RECORDED_B: &str = "machine_b";

// ---------------------------------------------------------------------------------------------
// Workflows and plans
// ---------------------------------------------------------------------------------------------

/// A workflow with one agent, `fake` (the fake agent), `extra` top-level tables (such as
/// `[sync]`), and one flow, `feature`, made of `stages`.
fn workflow(extra: &str, stages: &[String]) -> String {
    format!(
        "default_flow = \"feature\"\n\n\
         [agents.fake]\nkind = \"command\"\ncommand = [\"{FAKE_AGENT}\"]\ntimeout = \"60s\"\n\n\
         {extra}\n\
         [flows.feature]\ndescription = \"A test flow\"\n\n\
         {}\n\
         [flows.feature.integration]\nstrategy = \"merge\"\non_conflict = \"work\"\n",
        stages.concat()
    )
}

/// One `[[flows.feature.stages]]` table run by the fake agent; `extra` holds more keys (TOML).
fn stage(name: &str, prompt: &str, artifact: &str, extra: &str) -> String {
    format!(
        "[[flows.feature.stages]]\nname = \"{name}\"\nagent = \"fake\"\nprompt = \"{prompt}\"\nartifact = \"{artifact}\"\n{extra}\n"
    )
}

/// Planning, then work, each waiting for a human.
fn plan_and_work() -> String {
    workflow(
        "",
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

/// A run of the fake agent that writes `content` as an artifact result.
fn artifact(content: &str) -> Value {
    json!({"result": {"type": "artifact", "content": content}})
}

// ---------------------------------------------------------------------------------------------
// Machines
// ---------------------------------------------------------------------------------------------

/// One machine: a clone of the remote with its own home folder, machine name and fake-agent plan.
struct Machine {
    repo: Repo,
    name: &'static str,
    plan: PathBuf,
    agent_dir: PathBuf,
}

impl Machine {
    /// A clone of the bare repository `remote` in the sandbox folder `folder`.
    fn clone_of(remote: &Repo, folder: &str, name: &'static str) -> Machine {
        let repo = remote.sibling_with_home(folder);
        let url = remote.root.display().to_string();
        repo.git(&["clone", "-q", &url, "."]);
        let base = remote.root.parent().unwrap();
        let machine = Machine {
            plan: base.join(format!("{folder}-plan.json")),
            agent_dir: base.join(format!("{folder}-agent")),
            repo,
            name,
        };
        machine.set_plan(json!({}));
        machine
    }

    /// Replaces the fake agent's plan on this machine (its run counters are kept).
    fn set_plan(&self, stages: Value) {
        let plan = json!({"dir": self.agent_dir, "stages": stages});
        std::fs::write(&self.plan, plan.to_string()).unwrap();
    }

    fn ork_command(&self, args: &[&str]) -> Command {
        let mut command = self.repo.ork_command(&self.repo.root, args);
        command
            .env("ORK_MACHINE", self.name)
            .env("FAKE_AGENT_PLAN", &self.plan);
        command
    }

    /// Runs `ork args` on this machine; fails the test if it does not finish in time.
    fn ork(&self, args: &[&str]) -> Output {
        output_within(
            &mut self.ork_command(args),
            ORK_LIMIT,
            &format!("{}: ork {}", self.name, args.join(" ")),
        )
    }

    /// Runs `ork args`, asserts it succeeded, and returns its stdout.
    fn ork_ok(&self, args: &[&str]) -> String {
        success(
            &self.ork(args),
            &format!("{}: ork {}", self.name, args.join(" ")),
        )
    }

    /// Runs `ork args`, asserts it failed as an ork error, and returns its stderr.
    fn ork_err(&self, args: &[&str]) -> String {
        common::ork_error(
            &self.ork(args),
            &format!("{}: ork {}", self.name, args.join(" ")),
        )
    }

    /// `ork sync`, asserted to succeed; its stdout.
    fn sync(&self) -> String {
        self.ork_ok(&["sync"])
    }

    fn git(&self, args: &[&str]) -> String {
        self.repo.git(args)
    }

    /// `ork trak new TITLE args…`: the new trak's id and the command's stdout.
    fn new_trak(&self, title: &str, args: &[&str]) -> (String, String) {
        let mut full = vec!["trak", "new", title];
        full.extend_from_slice(args);
        let out = self.ork_ok(&full);
        (created_id(&out), out)
    }

    /// The trak's entry in `ork status --all --json`.
    fn trak(&self, id: &str) -> Value {
        let status = common::json(&self.ork_ok(&["status", "--all", "--json"]));
        status["traks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("{}: no trak {id} in:\n{status:#}", self.name))
            .clone()
    }

    /// Asserts the trak is `status` at `stage` on this machine.
    fn assert_at(&self, id: &str, status: &str, stage: &str) {
        let trak = self.trak(id);
        assert_eq!(
            (trak["status"].as_str(), trak["stage"].as_str()),
            (Some(status), Some(stage)),
            "{}: {trak:#}\n{}",
            self.name,
            self.ork_ok(&["log", id])
        );
    }

    /// `ork show ID --json`.
    fn show_json(&self, id: &str) -> Value {
        common::json(&self.ork_ok(&["show", id, "--json"]))
    }

    /// The trak's events (`ork log --json`), oldest first.
    fn events(&self, id: &str) -> Vec<Value> {
        let log = common::json(&self.ork_ok(&["log", id, "--json"]));
        log.as_array().unwrap().clone()
    }

    /// The trak's events of type `kind`.
    fn events_of(&self, id: &str, kind: &str) -> Vec<Value> {
        self.events(id)
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    /// How many times the fake agent ran `stage` on this machine.
    fn runs(&self, stage: &str) -> u32 {
        common::fake_agent_runs(&self.agent_dir, stage)
    }

    /// The prompt of the `n`-th run of `stage` on this machine.
    fn prompt(&self, stage: &str, n: u32) -> String {
        common::fake_agent_prompt(&self.agent_dir, stage, n)
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
        let log = self.git(&[
            "log",
            "--format=%H %(trailers:key=Ork-Event,valueonly,separator=)",
            &format!("ork/{id}"),
        ]);
        log.lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(_, e)| e.trim() == "stage_finished")
            .map(|(h, _)| h.to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{}: no stage_finished commit on ork/{id}:\n{log}",
                    self.name
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

/// A bare remote and two clones of it, `a` (which set the project up) and `b`.
struct Net {
    remote: Repo,
    a: Machine,
    b: Machine,
}

impl Net {
    /// The remote, then machine A: a first commit, `ork init`'s files with `workflow` as the
    /// workflow, committed and pushed; then machine B, a clone of that.
    fn new(workflow: &str) -> Net {
        let remote = Repo::plain_dir();
        remote.git(&["init", "-q", "--bare", "-b", "main"]);
        let a = Machine::clone_of(&remote, "machine-a", MACHINE_A);
        a.git(&["symbolic-ref", "HEAD", "refs/heads/main"]);
        a.repo.write("README.md", "# Project\n");
        a.repo.commit_all("First commit");
        a.ork_ok(&["init"]);
        a.repo.write(".orkestra/workflow.toml", workflow);
        a.repo.commit_all("Set up ork");
        a.git(&["push", "-q", "-u", "origin", "main"]);
        let b = Machine::clone_of(&remote, "machine-b", MACHINE_B);
        Net { remote, a, b }
    }

    /// Runs `git args` in the bare remote.
    fn remote_git(&self, args: &[&str]) -> String {
        self.remote.git(args)
    }

    /// The remote's ref `name`, if it has it.
    fn remote_ref(&self, name: &str) -> Option<String> {
        let out = self
            .remote
            .git_output(&["rev-parse", "--verify", "-q", name]);
        out.status
            .success()
            .then(|| stdout(&out).trim().to_string())
    }
}

/// The row of `ork status`'s table for trak `id`.
fn status_row(table: &str, id: &str) -> String {
    table
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no row for {id}:\n{table}"))
        .to_string()
}

/// Starts `ork args` on `machine` in the background, its output in `log`.
fn spawn_ork(machine: &Machine, args: &[&str], log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    machine
        .ork_command(args)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("starting ork")
}

/// Waits until machine `m` has exactly one trak branch whose tip records `event`; its id.
fn wait_for_event(m: &Machine, event: &str) -> String {
    let mut id = String::new();
    wait_until(
        Duration::from_secs(15),
        &format!("a trak at {event} on {}", m.name),
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
        assert!(logs.contains("PLANNING-ON-A"), "{}: {logs}", m.name);
        assert!(logs.contains("WORKING-ON-B"), "{}: {logs}", m.name);
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
        assert_eq!(trak["status"], "conflict", "{}: {trak:#}", m.name);
        let show = m.ork_ok(&["show", &id]);
        assert!(show.contains("conflict"), "{show}");
        assert!(show.contains(&approved_id), "{}: {show}", m.name);
        assert!(show.contains(&rejected_id), "{}: {show}", m.name);
        assert!(show.contains("ork resolve"), "{}: {show}", m.name);
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
        assert_eq!(conflicting, expected, "{}", m.name);
        let files = m.files(&format!("ork/{id}"));
        for event in [&approved_id, &rejected_id] {
            let file = format!("{events_dir}/{event}.json");
            assert!(files.contains(&file), "{}: no {file} in {files:?}", m.name);
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
            m.name
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
        assert_eq!(resolved.len(), 1, "{}", m.name);
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
        assert_eq!(m.annotated(), both, "{}'s notes", m.name);
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
        assert_eq!(m.annotated(), both, "{}'s notes after a prune", m.name);
        assert_eq!(m.all_refs(), refs, "{}: the prune changed refs", m.name);
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
    let started = b.events_of(&id, "stage_started");
    let machines: Vec<&str> = started
        .iter()
        .map(|e| e["machine"].as_str().unwrap())
        .collect();
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
    let hang = unique_seconds(8000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let net = Net::new(&work_only("[sync]\nlease = \"1s\"\n"));
    let (a, b) = (&net.a, &net.b);
    a.set_plan(json!({"work": [{"hang": hang}]}));
    b.set_plan(json!({"work": [artifact("done on B")]}));

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
    // A's push (a reference-transaction hook of A's runs B's `ork sync`, once).
    let base = net.remote.root.parent().unwrap();
    let marker = base.join("hook-ran");
    let hook_log = base.join("hook-sync.log");
    let hook = format!(
        "#!/bin/sh\n\
         cat > /dev/null\n\
         [ \"$1\" = committed ] || exit 0\n\
         [ -e {marker} ] && exit 0\n\
         : > {marker}\n\
         env -i PATH=\"$PATH\" HOME={home} XDG_CONFIG_HOME={home}/.config GIT_CONFIG_NOSYSTEM=1 \
         GIT_TERMINAL_PROMPT=0 GIT_AUTHOR_NAME='{AUTHOR}' GIT_AUTHOR_EMAIL='{EMAIL}' \
         GIT_COMMITTER_NAME='{AUTHOR}' GIT_COMMITTER_EMAIL='{EMAIL}' ORK_MACHINE={MACHINE_B} LC_ALL=C \
         {ork} -C {b_root} sync > {log} 2>&1\n\
         exit 0\n",
        marker = quoted(&marker),
        home = quoted(b.repo.home()),
        ork = quoted(Path::new(env!("CARGO_BIN_EXE_ork"))),
        b_root = quoted(&b.repo.root),
        log = quoted(&hook_log),
    );
    let hook_path = a.repo.root.join(".git/hooks/reference-transaction");
    std::fs::write(&hook_path, hook).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook_path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let out = a.sync();
    std::fs::remove_file(&hook_path).unwrap();
    assert!(marker.exists(), "the hook never ran; A's sync said:\n{out}");
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
    ];
    let default_spec = "+refs/heads/*:refs/remotes/origin/*";

    // A ran `ork init` with origin configured (Net::new); running it again adds nothing.
    let specs = |m: &Machine, remote: &str| {
        lines(&m.git(&["config", "--get-all", &format!("remote.{remote}.fetch")]))
    };
    assert_eq!(
        specs(a, "origin"),
        [default_spec, ork_specs[0], ork_specs[1]]
    );
    a.ork_ok(&["init"]);
    assert_eq!(
        specs(a, "origin"),
        [default_spec, ork_specs[0], ork_specs[1]]
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
        [default_spec, ork_specs[0], ork_specs[1]]
    );
    assert_eq!(
        specs(b, "backup"),
        [
            "+refs/heads/*:refs/remotes/backup/*",
            "+refs/notes/orkestra*:refs/notes/remotes/backup/orkestra*",
            "+refs/ork/logs/*:refs/ork/remotes/backup/logs/*",
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
// Subtraks on two machines
// ---------------------------------------------------------------------------------------------

/// A breakdown stage whose parts run the `part` flow, then the parent's work.
fn breakdown_then_work() -> String {
    let parts = "[flows.part]\n\n[[flows.part.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n";
    workflow(
        parts,
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

/// The fake agent's plan on `m`: its `stages`, and each subtrak's by key.
fn set_subtrak_plan(m: &Machine, stages: Value, subtraks: Value) {
    let plan = json!({"dir": m.agent_dir, "stages": stages, "subtraks": subtraks});
    std::fs::write(&m.plan, plan.to_string()).unwrap();
}

#[test]
fn a_subtrak_runs_on_a_second_clone_while_another_runs_on_the_first() {
    let net = Net::new(&breakdown_then_work());
    let base = net.remote.root.parent().unwrap();
    let (x_started, y_started) = (base.join("x-started"), base.join("y-started"));
    let parts = json!([
        {"key": "x", "title": "Part x", "description": "x", "depends_on": []},
        {"key": "y", "title": "Part y", "description": "y", "depends_on": []},
    ]);
    // Each part waits until the other has started: they run at the same time, one per machine.
    set_subtrak_plan(
        &net.a,
        json!({"breakdown": [{"result": {"type": "breakdown", "content": "Two parts", "subtraks": parts}}],
               "work": [artifact("joined")]}),
        json!({"x": {"work": [{"touch": [x_started], "wait_for": [y_started], "write": {"x.txt": "x\n"},
                               "result": {"type": "artifact", "content": "x summary"}}]}}),
    );
    set_subtrak_plan(
        &net.b,
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

    let log = base.join("b-resume.log");
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
