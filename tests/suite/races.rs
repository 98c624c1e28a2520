//! End to end: a stage races several attempts (the fake agent scripted per attempt by
//! `ORK_RACE`), each in its own worktree through the gate on its own; a judge or a person picks
//! among those that pass, and only the winner's code reaches the base.

use crate::common;

use serde_json::{Value, json};

use common::sandbox::{FAKE_AGENT, fake_agent, spawn_ork};
use common::{RunsOrk, Sandbox};

/// The `feature` flow with one stage, `work`, racing three attempts of the fake agent behind
/// the gate `test -f ok.txt`; `review` and `judge` as given (a judge is an agent `judge`
/// running the fake agent too).
pub(crate) fn workflow(review: &str, judge: bool) -> String {
    let judge_key = if judge { ", judge = \"judge\"" } else { "" };
    format!(
        "default_flow = \"feature\"\n\n{}\n\
         [agents.judge]\nkind = \"command\"\ncommand = [\"{FAKE_AGENT}\"]\ntimeout = \"30s\"\n\n\
         [flows.feature]\n\n\
         [[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n\
         review = \"{review}\"\nmax_attempts = 2\n\
         gate = {{ command = \"test -f ok.txt\", timeout = \"20s\" }}\n\
         race = {{ agents = [\"fake\"], n = 3{judge_key} }}\n",
        fake_agent("30s")
    )
}

/// A run that writes `files` and answers with `summary`, having spent `cost` dollars.
fn run(files: Value, summary: &str, cost: f64) -> Value {
    json!({"write": files, "result": {"type": "artifact", "content": summary,
           "usage": {"input_tokens": 100, "output_tokens": 10, "cost_usd": cost}}})
}

/// `run` reporting the agent's session `id`.
fn with_session(mut run: Value, id: &str) -> Value {
    run["result"]["session_id"] = json!(id);
    run
}

/// The three racers: 1 never writes ok.txt (its gate fails on both its attempts), 2 and 3 pass.
pub(crate) fn racers() -> Value {
    json!({
        "1": {"work": [with_session(run(json!({"one.txt": "one\n"}), "one's way", 0.25), "s-one")]},
        "2": {"work": [with_session(run(json!({"ok.txt": "", "two.txt": "two\n"}), "two's way", 0.25), "s-two")]},
        "3": {"work": [run(json!({"ok.txt": "", "three.txt": "three\n"}), "three's way", 0.25)]},
    })
}

impl Sandbox {
    pub(crate) fn set_race_plan(&self, races: Value) {
        let plan = json!({"dir": self.agent_dir, "stages": {}, "races": races});
        std::fs::write(&self.plan, plan.to_string()).unwrap();
    }
}

#[test]
fn three_racers_one_fails_the_gate_and_the_judge_picks_the_second() {
    let sandbox = Sandbox::new(&workflow("auto", true), json!({}));
    let mut races = racers();
    races["judge"] = json!({"work": [{"stdout": "weighing two attempts", "result": {"type": "pick", "winner": 2,
        "content": "Attempt 2 is the smaller change.",
        "usage": {"input_tokens": 50, "output_tokens": 5, "cost_usd": 0.1}}}]});
    sandbox.set_race_plan(races);

    let (id, out) = sandbox.new_trak("Add a greeting", &[]);
    assert!(out.contains("a race of 3 attempts"), "{out}");
    assert!(out.contains("[race-2 fake]"), "{out}");
    assert!(out.contains("[judge judge] weighing two attempts"), "{out}");
    sandbox.assert_at(&id, "done", "work");

    // Only the winner's code reached main.
    let files = sandbox.repo.tree_files("main");
    assert!(files.contains(&"two.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"one.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"three.txt".to_string()), "{files:?}");

    // Each racer ran in its own worktree, with its number; the failing one retried once.
    assert_eq!(sandbox.runs("race-1.work"), 2);
    assert_eq!(sandbox.runs("race-2.work"), 1);
    assert_eq!(sandbox.runs("race-3.work"), 1);
    // A racer's retry resumes its own session, never a rival's.
    assert!(
        !sandbox
            .agent_env("race-1.work", 1)
            .contains_key("ORK_SESSION")
    );
    assert_eq!(sandbox.agent_env("race-1.work", 2)["ORK_SESSION"], "s-one");
    let env = sandbox.agent_env("race-3.work", 1);
    assert_eq!(env["ORK_RACE"], "3");
    assert!(env["CWD"].contains(".race"), "{env:?}");
    // The judge saw both passing attempts' diffs and artifacts, not the failing one's.
    let prompt = sandbox.prompt("race-judge.work", 1);
    assert!(
        prompt.contains("## Attempt 2") && prompt.contains("two.txt"),
        "{prompt}"
    );
    assert!(prompt.contains("three's way"), "{prompt}");
    assert!(!prompt.contains("## Attempt 1"), "{prompt}");

    // Every attempt's cost counts: 2 runs of racer 1, one each of 2 and 3, and the judge.
    let show = common::json(&sandbox.ork_ok(&["show", &id, "--json"]));
    let race = &show["races"]["work"];
    assert_eq!(race["winner"], 2, "{race:#}");
    assert_eq!(race["picked_by"], "judge");
    assert_eq!(race["reason"], "Attempt 2 is the smaller change.");
    // The winner's session is the stage's now.
    let state = sandbox
        .repo
        .git(&["show", &format!("ork/{id}:.orkestra/traks/{id}/state.json")]);
    assert_eq!(common::json(&state)["sessions"]["work"], "s-two", "{state}");
    let gates: Vec<&str> = race["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["gate"].as_str().unwrap())
        .collect();
    assert_eq!(gates, ["failed", "passed", "passed"]);
    assert_eq!(race["attempts"][0]["runs"], 2);
    let total = sandbox.trak(&id)["usage"]["cost_usd"].as_f64().unwrap();
    assert!((total - 1.1).abs() < 1e-9, "total cost {total}: {show:#}");

    // The story names the winner; the losers stay as refs until the trak goes.
    let log = sandbox
        .repo
        .git(&["log", "--format=%s", &format!("ork/{id}")]);
    assert!(
        log.contains("Race work: attempt 2 (fake) wins, picked by the judge"),
        "{log}"
    );
    let text = sandbox.ork_ok(&["show", &id]);
    assert!(
        text.contains("2. fake: passed") && text.contains("← winner"),
        "{text}"
    );
    assert!(
        text.contains("why: Attempt 2 is the smaller change."),
        "{text}"
    );
    let refs = sandbox
        .repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/ork/race/"]);
    assert!(refs.is_empty(), "a merged trak keeps no race refs: {refs}");
    assert!(
        !sandbox
            .repo
            .root
            .join(".orkestra/worktrees/.race")
            .join(&id)
            .exists()
    );
}

#[test]
fn with_a_human_review_the_person_picks_the_winner() {
    let sandbox = Sandbox::new(&workflow("human", false), json!({}));
    sandbox.set_race_plan(racers());

    let (id, out) = sandbox.new_trak("Add a greeting", &[]);
    assert!(out.contains("a person picks: ork approve"), "{out}");
    sandbox.assert_at(&id, "awaiting_review", "work");

    // Two passed: a plain approve does not say which; a failed attempt cannot be picked.
    let err = sandbox.ork_err(&["approve", &id]);
    assert!(err.contains("2 attempts of the race passed"), "{err}");
    assert!(err.contains("--pick K (K one of 2, 3"), "{err}");
    let err = sandbox.ork_err(&["approve", &id, "--pick", "1"]);
    assert!(err.contains("attempt 1 of the race did not pass"), "{err}");
    // An agent inside a run cannot pick for the person.
    let refused = sandbox
        .repo
        .ork_command(&sandbox.repo.root, &["approve", &id, "--pick", "2"])
        .env("ORK_TRAK", &id)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(common::stderr(&refused).contains("decisions are a person's"));
    sandbox.assert_at(&id, "awaiting_review", "work");

    // Each attempt's change, side by side.
    let diff = sandbox.ork_ok(&["diff", &id, "--race"]);
    assert!(
        diff.contains("=== work: attempt 1 (fake), failed"),
        "{diff}"
    );
    assert!(
        diff.contains("one.txt") && diff.contains("three.txt"),
        "{diff}"
    );

    sandbox.ork_ok(&["approve", &id, "--pick", "3"]);
    sandbox.assert_at(&id, "done", "work");
    let files = sandbox.repo.tree_files("main");
    assert!(files.contains(&"three.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"two.txt".to_string()), "{files:?}");
    let show = common::json(&sandbox.ork_ok(&["show", &id, "--json"]));
    assert_eq!(show["races"]["work"]["winner"], 3);
    assert_eq!(show["races"]["work"]["picked_by"], "human");
    let total = sandbox.trak(&id)["usage"]["cost_usd"].as_f64().unwrap();
    assert!((total - 1.0).abs() < 1e-9, "total cost {total}");
}

#[test]
fn no_attempt_passing_fails_the_stage_and_a_retry_races_again() {
    let sandbox = Sandbox::new(&workflow("auto", true), json!({}));
    let lose = json!({"work": [run(json!({"x.txt": "x\n"}), "no luck", 0.0)]});
    sandbox.set_race_plan(json!({"1": lose, "2": lose, "3": lose}));

    let (id, _) = sandbox.new_trak("Add a greeting", &[]);
    sandbox.assert_at(&id, "failed", "work");
    let show = sandbox.ork_ok(&["show", &id]);
    assert!(show.contains("No attempt of the race passed"), "{show}");
    // The judge never ran: there was nothing to pick from.
    assert_eq!(sandbox.runs("race-judge.work"), 0);

    let mut races = racers();
    races["judge"] = json!({"work": [{"result": {"type": "pick", "winner": 3, "content": "3"}}]});
    sandbox.set_race_plan(races);
    sandbox.ork_ok(&["retry", &id]);
    sandbox.assert_at(&id, "done", "work");
    let files = sandbox.repo.tree_files("main");
    assert!(files.contains(&"three.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"x.txt".to_string()), "{files:?}");
}

#[test]
fn a_race_without_anyone_to_pick_is_refused_with_its_line() {
    let text = workflow("auto", false);
    let sandbox = Sandbox::new(&workflow("auto", true), json!({}));
    sandbox.repo.write(".orkestra/workflow.toml", &text);
    let err = sandbox.ork_err(&["trak", "new", "--no-run", "x"]);
    assert!(err.contains("workflow.toml:"), "{err}");
    assert!(err.contains("has no judge"), "{err}");
    assert!(err.contains("review = \"human\""), "{err}");
}

#[test]
fn a_race_run_on_one_machine_is_seen_and_picked_on_another() {
    let net = common::Net::new(&workflow("human", false));
    let (a, b) = (&net.a, &net.b);
    a.set_race_plan(racers());
    let (id, _) = a.new_trak("Add a greeting", &[]);
    a.assert_at(&id, "awaiting_review", "work");
    a.ork_ok(&["sync"]);
    assert!(
        net.remote_ref(&format!("refs/ork/race/{id}/work/2"))
            .is_some()
    );

    // B fetches the race: its events, and each attempt's code.
    b.ork_ok(&["sync"]);
    let diff = b.ork_ok(&["diff", &id, "--race"]);
    assert!(
        diff.contains("=== work: attempt 3 (fake), passed"),
        "{diff}"
    );
    assert!(diff.contains("three.txt"), "{diff}");

    // A person on B picks; the winner's code lands from there.
    b.ork_ok(&["approve", &id, "--pick", "3"]);
    b.assert_at(&id, "done", "work");
    b.ork_ok(&["sync"]);
    net.remote_git(&["cat-file", "-e", "main:three.txt"]);
    let out = net.remote.git_output(&["cat-file", "-e", "main:two.txt"]);
    assert!(!out.status.success(), "only the winner's code lands");
}

#[test]
fn a_racer_cannot_write_into_its_rivals_work_nor_move_their_refs() {
    let sandbox = Sandbox::new(&workflow("human", false), json!({}));
    let mut races = racers();
    // Racer 1 tries to plant a file in racer 2's worktree and in the trak's own, and to point
    // racer 2's ref at its own commit: its sandbox holds only its own worktree.
    let tries = [
        ("rival worktree", "echo evil > ../work-2/evil.txt"),
        (
            "trak worktree",
            "echo evil > \"$ORK_WORKTREE/../../../$ORK_TRAK/evil.txt\"",
        ),
        (
            "rival ref",
            "git update-ref \"refs/ork/race/$ORK_TRAK/work/2\" HEAD",
        ),
    ];
    let script: Vec<String> = tries
        .iter()
        .map(|(name, command)| {
            format!("if ( {command} ) >/dev/null 2>&1; then echo '{name}: ok'; else echo '{name}: refused'; fi >> tried.txt")
        })
        .collect();
    races["1"] = json!({"work": [{"run": script.join("\n"),
        "result": {"type": "artifact", "content": "sneaky"}}]});
    sandbox.set_race_plan(races);

    let (id, _) = sandbox.new_trak("Add a greeting", &[]);
    sandbox.assert_at(&id, "awaiting_review", "work");
    let tried = sandbox
        .repo
        .git(&["show", &format!("refs/ork/race/{id}/work/1:tried.txt")]);
    // Its two runs (its gate failed the first) tried the same, and were refused the same.
    let lines = common::lines(&tried);
    let once = [
        "rival worktree: refused",
        "trak worktree: refused",
        "rival ref: refused",
    ];
    assert_eq!(lines, [once, once].concat(), "{tried}");
    let rival = sandbox.repo.git(&[
        "ls-tree",
        "-r",
        "--name-only",
        &format!("refs/ork/race/{id}/work/2"),
    ]);
    assert!(!rival.contains("evil.txt"), "{rival}");

    sandbox.ork_ok(&["approve", &id, "--pick", "2"]);
    sandbox.assert_at(&id, "done", "work");
    let files = sandbox.repo.tree_files("main");
    assert!(files.contains(&"two.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"evil.txt".to_string()), "{files:?}");
}

/// The `feature` flow with one stage, `breakdown`, whose parts (flow `part`) race `n` attempts of
/// the fake agent at their stage `work`, a judge picking.
fn breakdown_racing(n: u32) -> String {
    format!(
        "default_flow = \"feature\"\n\n{}\n\
         [agents.judge]\nkind = \"command\"\ncommand = [\"{FAKE_AGENT}\"]\ntimeout = \"30s\"\n\n\
         [flows.feature]\n\n\
         [[flows.feature.stages]]\nname = \"breakdown\"\nagent = \"fake\"\nprompt = \"breakdown.md\"\nartifact = \"breakdown\"\n\
         review = \"auto\"\nsubtraks = {{ flow = \"part\", parallel = 2 }}\n\n\
         [flows.part]\n\n\
         [[flows.part.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n\
         review = \"auto\"\nrace = {{ agents = [\"fake\"], n = {n}, judge = \"judge\" }}\n",
        fake_agent("30s")
    )
}

/// A part of a breakdown, `key`, depending on `after`.
fn part(key: &str, after: &[&str]) -> Value {
    json!({"key": key, "title": format!("Part {key}"), "description": "", "depends_on": after})
}

#[test]
fn the_parts_of_a_breakdown_race_their_own_stage() {
    let sandbox = Sandbox::new(&breakdown_racing(2), json!({}));
    // Each racer writes a file named after its part and its number: which won is in the tree.
    let racer = |no: u32| {
        json!({"work": [{"run": format!("echo {no} > \"$ORK_SUBTRAK-{no}.txt\""),
                         "result": {"type": "artifact", "content": format!("racer {no}")}}]})
    };
    let plan = json!({
        "dir": sandbox.agent_dir,
        "stages": {"breakdown": [{"result": {"type": "breakdown", "content": "Two parts.",
                                             "subtraks": [part("db", &[]), part("ui", &[])]}}]},
        "races": {"1": racer(1), "2": racer(2),
                  "judge": {"work": [{"result": {"type": "pick", "winner": 2, "content": "2"}}]}},
    });
    std::fs::write(&sandbox.plan, plan.to_string()).unwrap();

    let (id, out) = sandbox.new_trak("Add a greeting", &[]);
    assert!(out.contains("[db] work: a race of 2 attempts"), "{out}");
    sandbox.assert_at(&id, "done", "breakdown");
    let files = sandbox.repo.tree_files("main");
    for (file, there) in [
        ("db-2.txt", true),
        ("ui-2.txt", true),
        ("db-1.txt", false),
        ("ui-1.txt", false),
    ] {
        assert_eq!(
            files.contains(&file.to_string()),
            there,
            "{file}: {files:?}"
        );
    }
}

#[test]
fn a_judge_that_picks_a_failed_attempt_leaves_the_pick_to_a_person() {
    let sandbox = Sandbox::new(&workflow("auto", true), json!({}));
    let mut races = racers();
    races["judge"] = json!({"work": [{"result": {"type": "pick", "winner": 1, "content": "one"}}]});
    sandbox.set_race_plan(races);

    let (id, out) = sandbox.new_trak("Add a greeting", &[]);
    assert!(
        out.contains("it picked attempt 1, which is not one of those that passed (2, 3)"),
        "{out}"
    );
    sandbox.assert_at(&id, "awaiting_review", "work");
    sandbox.ork_ok(&["approve", &id, "--pick", "2"]);
    sandbox.assert_at(&id, "done", "work");
    assert!(
        sandbox
            .repo
            .tree_files("main")
            .contains(&"two.txt".to_string())
    );
}

/// [`workflow`] with the shared queue on (`[sync] auto`, with `sync` keys more) and a race of
/// two attempts, one at a time on each machine: a second machine has an attempt to run.
fn shared_race_workflow(sync: &str) -> String {
    workflow("human", false)
        .replace("n = 3", "n = 2, parallel = 1")
        .replacen(
            "[flows.feature]",
            &format!("[sync]\nauto = true\n{sync}\n\n[flows.feature]"),
            1,
        )
}

/// A run that writes `ok.txt` (the gate passes) and `file` saying `text`.
fn passing(file: &str, text: &str) -> Value {
    run(
        json!({"ok.txt": "", file: text}),
        &format!("wrote {file}"),
        0.25,
    )
}

/// How each attempt of the `work` race came out of its gate, in `ork show --json`.
fn attempt_gates(show: &Value) -> Vec<&str> {
    show["races"]["work"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["gate"].as_str().unwrap())
        .collect()
}

/// Machine A's plan for a race of two: attempt 1 waits for `marker` (another machine's doing)
/// before it passes; attempt 2, should A run it, passes writing "two on A".
fn first_waits_for(marker: &std::path::Path) -> Value {
    let mut waits = passing("one.txt", "one on A\n");
    waits["wait_for"] = json!([marker]);
    json!({"1": {"work": [waits]}, "2": {"work": [passing("two.txt", "two on A\n")]}})
}

/// Waits until the remote has `name`.
fn wait_for_remote_ref(net: &common::Net, name: &str) {
    common::wait_until(std::time::Duration::from_secs(60), name, || {
        net.remote_ref(name).is_some()
    });
}

/// The trak whose race's attempt `no` the remote has a claim of (waited for).
fn claimed_attempt(net: &common::Net, no: u32) -> String {
    let suffix = format!("@race/work/{no}");
    let found = || {
        let refs = net.remote_git(&["for-each-ref", "--format=%(refname)", "refs/ork/claims/"]);
        refs.lines()
            .find_map(|r| r.strip_suffix(suffix.as_str()))
            .map(|r| r.trim_start_matches("refs/ork/claims/").to_string())
    };
    common::wait_until(std::time::Duration::from_secs(60), &suffix, || {
        found().is_some()
    });
    found().unwrap()
}

/// Waits for `child` to end successfully; its log on failure.
fn wait_ok(mut child: std::process::Child, log: &std::path::Path) -> String {
    let status = child.wait().unwrap();
    let out = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "{status}: {out}");
    out
}

#[test]
fn two_machines_share_one_race_each_running_the_attempt_it_claimed() {
    let net = common::Net::new(&shared_race_workflow(""));
    let (a, b) = (&net.a, &net.b);
    // A's first attempt waits for B's, so that B finds the second attempt free to take.
    let marker = b.agent_dir.join("attempt-2-ran");
    a.set_race_plan(first_waits_for(&marker));
    let mut touches = passing("two.txt", "two on B\n");
    touches["touch"] = json!([marker]);
    b.set_race_plan(json!({"2": {"work": [touches]}}));

    let a_log = a.plan.with_extension("new.log");
    let driver = spawn_ork(a, &["trak", "new", "Add a greeting"], &a_log);
    let id = claimed_attempt(&net, 1);

    // B's `ork run` sees A's race with an attempt no machine holds, and runs it.
    let out = b.ork_ok(&["run"]);
    assert!(out.contains(&format!("{id}: running work")), "{out}");
    wait_for_remote_ref(&net, &format!("refs/ork/race/{id}/work/2"));
    let claim = net.remote_git(&[
        "show",
        &format!("refs/ork/claims/{id}@race/work/2:claim.json"),
    ]);
    let claim = common::json(&claim);
    assert_eq!(claim["machine"], "machine_b", "{claim:#}");
    assert_eq!(claim["released"], true, "{claim:#}");
    assert_eq!(b.runs("race-2.work"), 1);
    assert_eq!(b.runs("race-1.work"), 0, "B left A's attempt alone");
    // Nor made a ref of it here, which a sync could have pushed over what A shares.
    let refs = b
        .repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/ork/race/"]);
    assert_eq!(refs.trim(), format!("refs/ork/race/{id}/work/2"), "{refs}");

    // A records both attempts (B's from the remote) and waits for a person's pick.
    let out = wait_ok(driver, &a_log);
    assert!(out.contains("attempt 2 (fake) ran on machine_b"), "{out}");
    assert_eq!(a.runs("race-2.work"), 0, "A never ran attempt 2: {out}");
    a.assert_at(&id, "awaiting_review", "work");
    let show = common::json(&a.ork_ok(&["show", &id, "--json"]));
    let gates = attempt_gates(&show);
    assert_eq!(gates, ["passed", "passed"], "{show:#}");
    assert_eq!(show["races"]["work"]["attempts"][1]["machine"], "machine_b");
    let text = a.ork_ok(&["show", &id]);
    assert!(text.contains("1. fake: passed on machine_a"), "{text}");
    assert!(text.contains("2. fake: passed on machine_b"), "{text}");
    let total = a.trak(&id)["usage"]["cost_usd"].as_f64().unwrap();
    assert!(
        (total - 0.5).abs() < 1e-9,
        "both machines' runs count: {total}"
    );

    // B's attempt wins; its code lands, and the race leaves nothing on the remote.
    a.ork_ok(&["approve", &id, "--pick", "2"]);
    a.assert_at(&id, "done", "work");
    a.ork_ok(&["sync"]);
    assert_eq!(net.remote_git(&["show", "main:two.txt"]).trim(), "two on B");
    let left = net.remote_git(&["for-each-ref", "--format=%(refname)", "refs/ork/race/"]);
    assert!(left.is_empty(), "{left}");
    let claims = net.remote_git(&["for-each-ref", "--format=%(refname)", "refs/ork/claims/"]);
    assert!(!claims.contains("@race/"), "{claims}");
    b.ork_ok(&["sync"]);
    let here = b
        .repo
        .git(&["for-each-ref", "--format=%(refname)", "refs/ork/race/"]);
    assert!(here.is_empty(), "B forgets the finished race too: {here}");
}

#[test]
fn an_attempt_whose_machine_dies_is_run_by_the_driver_once_its_claim_runs_out() {
    let net = common::Net::new(&shared_race_workflow("lease = \"2s\""));
    let (a, b) = (&net.a, &net.b);
    let hang = common::unique_seconds(9100);
    // A's first attempt waits until B runs the second, then A finishes its own.
    let marker = b.agent_dir.join("attempt-2-started");
    a.set_race_plan(first_waits_for(&marker));
    b.set_race_plan(json!({"2": {"work": [{"touch": [marker], "hang": hang}]}}));
    let mut cleanup = common::Cleanup {
        cmdlines: vec![format!("sleep {hang}")],
        children: Vec::new(),
    };

    let a_log = a.plan.with_extension("new.log");
    let driver = spawn_ork(a, &["trak", "new", "Add a greeting"], &a_log);
    let id = claimed_attempt(&net, 1);
    b.ork_ok(&["sync"]);
    let b_log = b.plan.with_extension("resume.log");
    cleanup
        .children
        .push(spawn_ork(b, &["resume", &id], &b_log));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !marker.exists() {
        let said = std::fs::read_to_string(&b_log).unwrap_or_default();
        assert!(
            std::time::Instant::now() < deadline,
            "B's attempt never ran:\n{said}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // B dies with its agent: its claim of attempt 2 stops being renewed.
    for child in &mut cleanup.children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    common::kill_groups(&format!("sleep {hang}"));

    let out = wait_ok(driver, &a_log);
    assert_eq!(a.runs("race-2.work"), 1, "A ran attempt 2 itself: {out}");
    a.assert_at(&id, "awaiting_review", "work");
    let show = common::json(&a.ork_ok(&["show", &id, "--json"]));
    let gates = attempt_gates(&show);
    assert_eq!(gates, ["passed", "passed"], "{show:#}");
    a.ork_ok(&["approve", &id, "--pick", "2"]);
    a.ork_ok(&["sync"]);
    assert_eq!(net.remote_git(&["show", "main:two.txt"]).trim(), "two on A");
}

/// The run of racer `no` that streams `turns` model turns of $0.25 each, a second apart, once
/// all three racers are running (each touches its marker and waits for the others'), then
/// writes ok.txt (its gate passes) and answers having spent them.
fn streaming_racer(sandbox: &Sandbox, no: u32, turns: u32) -> Value {
    let marker = |k: u32| sandbox.agent_dir.join(format!("racing-{k}"));
    let turn = r#"{"ork_usage": {"input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.25}}"#;
    json!({
        "touch": [marker(no)],
        "wait_for": [marker(1), marker(2), marker(3)],
        "write": {"ok.txt": ""},
        "run": format!("for i in $(seq {turns}); do echo '{turn}'; sleep 1; done"),
        "result": {"type": "artifact", "content": format!("racer {no}"),
                   "usage": {"input_tokens": 1000, "output_tokens": 100,
                             "cost_usd": 0.25 * f64::from(turns)}},
    })
}

#[test]
fn racers_under_one_budget_count_each_others_spend_and_stop_together() {
    let sandbox = Sandbox::new(&workflow("human", false), json!({}));
    // Alone, each racer's $0.75 stays under the trak's $1; the three together cross it in their
    // second turns. Once it is raised, each passes at once for $0.10.
    let quick = run(json!({"ok.txt": ""}), "quick", 0.1);
    let racer = |no| json!({"work": [streaming_racer(&sandbox, no, 3), quick]});
    sandbox.set_race_plan(json!({"1": racer(1), "2": racer(2), "3": racer(3)}));

    let (id, out) = sandbox.new_trak("Add a greeting", &["--budget", "1"]);
    assert!(
        out.contains("no attempt of the race passed, and the budget is spent"),
        "{out}"
    );
    sandbox.assert_at(&id, "failed", "work");
    // Their sum is held to the budget: the turn that crossed it, and at most one more turn of
    // each rival, which sees it crossed at its next line.
    let spent = sandbox.trak(&id)["usage"]["cost_usd"].as_f64().unwrap();
    assert!((1.0..=1.75).contains(&spent), "spent ${spent}");
    let show = common::json(&sandbox.ork_ok(&["show", &id, "--json"]));
    for attempt in show["races"]["work"]["attempts"].as_array().unwrap() {
        assert_eq!(attempt["gate"], "failed", "{attempt:#}");
        let error = attempt["error"].as_str().unwrap_or_default();
        assert!(error.contains("the trak reached its budget"), "{attempt:#}");
    }
    for no in 1..=3 {
        assert_eq!(sandbox.runs(&format!("race-{no}.work")), 1);
        let attempt = format!("refs/ork/race/{id}/work/{no}");
        let log = sandbox.repo.git(&["log", "--format=%s", &attempt]);
        assert!(log.contains("budget"), "attempt {no}: {log}");
    }
    // The trak waits at its budget, as after any run stopped there.
    assert_eq!(sandbox.event_commits(&id, "budget_reached").len(), 1);
    let text = sandbox.ork_ok(&["show", &id]);
    assert!(text.contains("the trak reached its budget"), "{text}");

    // Raising it races again from the trak's tip, every run before counted.
    sandbox.ork_ok(&["approve", &id, "--budget", "5"]);
    sandbox.assert_at(&id, "awaiting_review", "work");
    for no in 1..=3 {
        assert_eq!(sandbox.runs(&format!("race-{no}.work")), 2);
    }
    let total = sandbox.trak(&id)["usage"]["cost_usd"].as_f64().unwrap();
    assert!((total - spent - 0.3).abs() < 1e-9, "total ${total}");
}

#[test]
fn a_judge_does_not_run_once_the_attempts_spent_the_budget_and_a_person_picks() {
    let sandbox = Sandbox::new(&workflow("auto", true), json!({}));
    // Each racer passes for $0.40: none is stopped, but together they spend the trak's $1.
    let pass = |no: u32| json!({"work": [run(json!({"ok.txt": ""}), &format!("racer {no}"), 0.4)]});
    let mut races = json!({"1": pass(1), "2": pass(2), "3": pass(3)});
    races["judge"] = json!({"work": [{"result": {"type": "pick", "winner": 2, "content": "2"}}]});
    sandbox.set_race_plan(races);

    let (id, out) = sandbox.new_trak("Add a greeting", &["--budget", "1"]);
    assert!(
        out.contains(
            "the judge could not pick: it did not run, as the trak reached its budget ($1.00)"
        ),
        "{out}"
    );
    assert_eq!(sandbox.runs("race-judge.work"), 0);
    sandbox.assert_at(&id, "awaiting_review", "work");
    // A person's pick costs nothing.
    sandbox.ork_ok(&["approve", &id, "--pick", "3"]);
    sandbox.assert_at(&id, "done", "work");
    let total = sandbox.trak(&id)["usage"]["cost_usd"].as_f64().unwrap();
    assert!((total - 1.2).abs() < 1e-9, "total ${total}");
}

#[test]
fn a_racing_part_counts_its_rivals_in_the_parents_budget_and_goes_on_when_it_is_raised() {
    let sandbox = Sandbox::new(&breakdown_racing(3), json!({}));
    let quick = run(json!({"ok.txt": ""}), "quick", 0.1);
    let racer = |no| json!({"work": [streaming_racer(&sandbox, no, 3), quick]});
    let plan = json!({
        "dir": sandbox.agent_dir,
        "stages": {"breakdown": [{"result": {"type": "breakdown", "content": "Two parts.",
                                             "subtraks": [part("db", &[]), part("ui", &["db"])]}}]},
        "races": {"1": racer(1), "2": racer(2), "3": racer(3),
                  "judge": {"work": [{"result": {"type": "pick", "winner": 2, "content": "2"}}]}},
    });
    std::fs::write(&sandbox.plan, plan.to_string()).unwrap();

    // The parent's $1 covers the part's three racers together: they stop at it.
    let (id, out) = sandbox.new_trak("Add a greeting", &["--budget", "1"]);
    let db = format!("{id}.db");
    assert!(
        out.contains(&format!(
            "stopped at the budget of trak {id} (a parent of this subtrak) ($1.00)"
        )),
        "{out}"
    );
    sandbox.assert_at(&db, "failed", "work");
    sandbox.assert_at(&id, "subtraks", "breakdown");
    let spent = sandbox.trak(&db)["usage"]["cost_usd"].as_f64().unwrap();
    assert!((1.0..=1.75).contains(&spent), "spent ${spent}: {out}");
    assert_eq!(sandbox.runs("race-judge.work"), 0);

    // ui, after db, starts nothing meanwhile.
    assert_eq!(sandbox.runs("race-2.work"), 1);

    // Raised, the part races again and its judge picks; then ui races.
    sandbox.ork_ok(&["approve", &id, "--budget", "5"]);
    sandbox.assert_at(&db, "done", "work");
    sandbox.assert_at(&format!("{id}.ui"), "done", "work");
    assert_eq!(sandbox.runs("race-2.work"), 3);
    assert_eq!(sandbox.runs("race-judge.work"), 2);
}

#[test]
fn a_shared_race_run_again_claims_its_attempts_afresh() {
    let net = common::Net::new(&shared_race_workflow(""));
    let a = &net.a;
    let fails = run(json!({"nope.txt": ""}), "no luck", 0.25);
    let racer = |file: &str| json!({"work": [fails.clone(), fails.clone(), passing(file, "ok\n")]});
    a.set_race_plan(json!({"1": racer("one.txt"), "2": racer("two.txt")}));
    let (id, out) = a.new_trak("Add a greeting", &[]);
    a.assert_at(&id, "failed", "work");
    assert!(out.contains("no attempt of the race passed"), "{out}");

    // The first race's attempt claims are released; the second race's are its own.
    let out = a.ork_ok(&["retry", &id]);
    a.assert_at(&id, "awaiting_review", "work");
    assert_eq!(a.runs("race-1.work"), 3, "{out}");
    assert_eq!(a.runs("race-2.work"), 3, "{out}");
    let show = common::json(&a.ork_ok(&["show", &id, "--json"]));
    assert_eq!(attempt_gates(&show), ["passed", "passed"], "{show:#}");
}

#[test]
fn a_helper_that_cannot_run_an_attempt_gives_it_back_at_once() {
    let net = common::Net::new(&shared_race_workflow(""));
    let (a, b) = (&net.a, &net.b);
    let marker = a.agent_dir.join("b-gave-up");
    a.set_race_plan(first_waits_for(&marker));
    // On B the attempts' worktrees cannot be made: their folder's place holds a file.
    let worktrees = b.repo.root.join(".orkestra/worktrees");
    std::fs::create_dir_all(&worktrees).unwrap();
    std::fs::write(worktrees.join(".race"), "in the way\n").unwrap();

    let a_log = a.plan.with_extension("new.log");
    let driver = spawn_ork(a, &["trak", "new", "Add a greeting"], &a_log);
    let id = claimed_attempt(&net, 1);
    b.ork_ok(&["sync"]);
    let err = b.ork_err(&["resume", &id]);
    assert!(
        err.contains("preparing the worktree of race attempt 2"),
        "{err}"
    );
    // Its claim is gone from the remote, not left to run out its lease (two hours here).
    assert!(
        net.remote_ref(&format!("refs/ork/claims/{id}@race/work/2"))
            .is_none(),
        "{err}"
    );

    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "").unwrap();
    let out = wait_ok(driver, &a_log);
    assert_eq!(a.runs("race-2.work"), 1, "A ran attempt 2 itself: {out}");
    a.assert_at(&id, "awaiting_review", "work");
}
