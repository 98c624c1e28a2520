//! End to end: nothing runs without a bound (docs/design.md rule 13): rejection rounds stop at
//! their cap, and a signal always stops ork, whatever its output is connected to.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::sandbox::{feature_workflow, stage};
use crate::common::{Cleanup, RunsOrk, Sandbox, pids, unique_seconds, wait_until};

#[test]
fn sigterm_stops_ork_even_when_its_output_pipe_is_closed() {
    let hang = unique_seconds(12000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = Sandbox::new(
        &feature_workflow("30s", "", &[stage("work", "worker.md", "summary", "")]),
        json!({"work": [{"write": {"partial.txt": "half\n"}, "hang": hang}]}),
    );
    // `ork trak new … 2>&1 | head -1`: both streams into one pipe whose reader reads a line
    // and goes away.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut command = s.ork_command(&["trak", "new", "Stop me"]);
    command.stdout(writer.try_clone().unwrap()).stderr(writer);
    let child = command.spawn().unwrap();
    // Only the child holds the writing end now.
    drop(command);
    let ork_pid = child.id();
    let mut out = BufReader::new(reader);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    cleanup.children.push(child);
    wait_until(Duration::from_secs(10), "the agent's sleep", || {
        !pids(&sleep).is_empty()
    });
    // The reader is gone while the agent runs: ork's next write meets a closed pipe.
    drop(out);

    let sent = std::process::Command::new("kill")
        .args(["-TERM", &ork_pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut child = cleanup.children.pop().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            panic!("ork still runs 2 s after SIGTERM with its output pipe closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    wait_until(
        Duration::from_secs(5),
        "the agent's group to be gone",
        || pids(&sleep).is_empty(),
    );
    let table = s.ork_ok(&["status"]);
    assert!(table.contains("interrupted"), "{table}");
    drop(cleanup);
}

/// A reviewer that rejects every time, in a flow where both stages are automatic.
fn rejecting_reviewer() -> serde_json::Value {
    json!({
        "work": [{"write": {"code.txt": "code\n"}, "result": {"type": "artifact", "content": "done"}}],
        "review": [{"result": {"type": "verdict", "decision": "reject", "content": "Still not good"}}],
    })
}

/// Work then review, the reviewer sending the work back to `on_reject` (the built-in `fix`
/// shape when it is "work"), `rounds` the review stage's extra keys.
fn review_loop(on_reject: &str, rounds: &str) -> String {
    feature_workflow(
        "20s",
        "",
        &[
            stage("work", "worker.md", "summary", "review = \"auto\""),
            stage(
                "review",
                "reviewer.md",
                "verdict",
                &format!(
                    "verdict = true\non_reject = \"{on_reject}\"\nreview = \"auto\"\n{rounds}"
                ),
            ),
        ],
    )
}

#[test]
fn an_always_rejecting_reviewer_stops_after_max_rounds_and_the_trak_waits() {
    let s = Sandbox::new(&review_loop("work", ""), rejecting_reviewer());
    let (id, out) = s.new_trak("Loop", &[]);

    // Three rounds back (the default), then the fourth rejection waits for a person.
    assert_eq!((s.runs("work"), s.runs("review")), (4, 4), "{out}");
    assert_eq!(
        s.at(&id),
        ("awaiting_review".to_string(), "review".to_string())
    );
    assert!(out.contains("max_rounds"), "{out}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("rejected 3 time(s)"), "{show}");
    assert!(
        show.contains("Still not good"),
        "the last verdict is shown: {show}"
    );
    let json = crate::common::json(&s.ork_ok(&["show", &id, "--json"]));
    assert_eq!(json["rounds"]["review"], 3, "{json:#}");

    // A person sends it back with their own words: the reviewer gets its rounds again.
    s.ork_ok(&["reject", &id, "-m", "try the other way"]);
    assert_eq!((s.runs("work"), s.runs("review")), (8, 8));
    assert_eq!(s.at(&id).0, "awaiting_review");
}

#[test]
fn a_reviewer_routing_to_its_own_stage_is_capped_too() {
    let s = Sandbox::new(
        &review_loop("review", "max_rounds = 2"),
        rejecting_reviewer(),
    );
    let (id, out) = s.new_trak("Self loop", &[]);
    assert_eq!((s.runs("work"), s.runs("review")), (1, 3), "{out}");
    assert_eq!(
        s.at(&id),
        ("awaiting_review".to_string(), "review".to_string())
    );
    // The person accepts the work as it is: it lands.
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id).0, "done");
}

#[test]
fn max_rounds_of_zero_is_refused_with_where_and_what_to_do() {
    let s = Sandbox::new(&review_loop("work", "max_rounds = 0"), rejecting_reviewer());
    let err = s.ork_err(&["trak", "new", "Unbounded"]);
    assert!(err.contains("max_rounds must be at least 1"), "{err}");
    assert!(err.contains("workflow.toml"), "{err}");
    assert_eq!(s.runs("work"), 0);
}

/// A usage line of the `command` contract: what one model turn spent.
fn turn(usd: f64) -> String {
    format!(r#"{{"ork_usage": {{"input_tokens": 1000, "output_tokens": 100, "cost_usd": {usd}}}}}"#)
}

#[test]
fn a_budget_stops_the_agent_mid_run_and_raising_it_goes_on() {
    let hang = unique_seconds(13000);
    let sleep = format!("sleep {hang}");
    let _cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let turns = [turn(0.4), turn(0.4), turn(0.4), turn(0.4)].join("\n");
    let s = Sandbox::new(
        &feature_workflow(
            "60s",
            "",
            &[stage("work", "worker.md", "summary", "review = \"auto\"")],
        ),
        json!({"work": [
            {"write": {"half.txt": "half\n"}, "stdout": turns, "hang": hang},
            {"write": {"done.txt": "done\n"}, "result": {"type": "artifact", "content": "done"}},
        ]}),
    );
    let started = Instant::now();
    let (id, out) = s.new_trak("Spend", &["--budget", "1"]);

    // Stopped at the turn that crossed $1 (the third), long before the agent's sleep ends.
    assert!(started.elapsed() < Duration::from_secs(20), "{out}");
    assert!(pids(&sleep).is_empty(), "the agent's group is stopped");
    assert_eq!(
        s.at(&id),
        ("failed".to_string(), "work".to_string()),
        "{out}"
    );
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("reached its budget: spent $1.20"), "{show}");
    assert!(show.contains("of $1.00"), "{show}");
    // The way on is a raised budget: a retry would stop again.
    assert!(
        out.contains(&format!(
            "Next: Raise the budget it stopped at: ork approve {id} --budget"
        )),
        "{out}"
    );
    // What the stopped run wrote waits in the worktree, uncommitted.
    assert!(s.repo.worktree_path(&id).join("half.txt").exists());

    // Resuming does not get past it; raising the budget does.
    let resumed = s.ork(&["resume", &id]);
    assert_eq!(resumed.status.code(), Some(1));
    assert_eq!(s.runs("work"), 1);
    s.ork_ok(&["approve", &id, "--budget", "5"]);
    assert_eq!(s.runs("work"), 2);
    assert_eq!(s.at(&id).0, "done");
    assert_eq!(s.repo.read("half.txt"), "half\n");
    assert_eq!(s.repo.read("done.txt"), "done\n");
    let show = s.ork_ok(&["show", &id]);
    assert!(
        show.contains("budget    trak: $1.20 spent of $5.00"),
        "{show}"
    );
    let json = crate::common::json(&s.ork_ok(&["show", &id, "--json"]));
    let cost = json["usage"]["cost_usd"].as_f64().unwrap_or(-1.0);
    assert!((cost - 1.2).abs() < 1e-9, "{json:#}");
}

#[test]
fn a_stage_budget_already_spent_starts_no_run() {
    let s = Sandbox::new(
        &feature_workflow(
            "20s",
            "",
            &[stage(
                "work",
                "worker.md",
                "summary",
                "review = \"human\"\nbudget = { usd = 0.5 }",
            )],
        ),
        json!({"work": [{"stdout": turn(0.6), "result": {"type": "artifact", "content": "done"}}]}),
    );
    let (id, _) = s.new_trak("Spend", &[]);
    // The first run crossed it on its only turn and was stopped there.
    assert_eq!(s.at(&id).0, "failed");
    let out = s.ork(&["retry", &id]);
    assert_eq!(
        s.runs("work"),
        1,
        "no run starts past the budget: {}",
        crate::common::stdout(&out)
    );
    assert_eq!(s.at(&id).0, "failed");
}

#[test]
fn a_stalled_agent_is_ended_and_its_stage_runs_again() {
    let hang = unique_seconds(14000);
    let sleep = format!("sleep {hang}");
    let _cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = Sandbox::new(
        &feature_workflow(
            "60s",
            "",
            &[stage(
                "work",
                "worker.md",
                "summary",
                "review = \"auto\"\nstall = \"2s\"\nmax_attempts = 2",
            )],
        ),
        json!({"work": [
            {"stdout": "thinking", "hang": hang},
            {"write": {"done.txt": "done\n"}, "result": {"type": "artifact", "content": "done"}},
        ]}),
    );
    let started = Instant::now();
    let (id, out) = s.new_trak("Stall", &[]);
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    assert!(pids(&sleep).is_empty(), "the stalled agent's group is gone");
    assert_eq!(s.runs("work"), 2, "{out}");
    assert_eq!(s.at(&id).0, "done", "{out}");
    let log = s.ork_ok(&["log", &id]);
    assert!(
        log.contains("stalled") || out.contains("stalled"),
        "{out}\n{log}"
    );
    assert!(
        s.prompt("work", 2).contains("stalled"),
        "the retry is told why"
    );
}

#[test]
fn two_clones_share_a_daily_budget_once_their_spend_reaches_it_neither_starts_a_run() {
    let net = crate::common::Net::new(&feature_workflow(
        "60s",
        "[budget]\nper_day = { usd = 1 }\n\n[sync]\nauto = true\n",
        &[stage("work", "worker.md", "summary", "review = \"auto\"")],
    ));
    let (a, b) = (&net.a, &net.b);
    let spends = |usd: f64, text: &str| {
        json!({"work": [
            {"write": {format!("{text}.txt"): "x\n"},
             "result": {"type": "artifact", "content": text, "usage": {"cost_usd": usd}}},
            {"write": {format!("{text}-2.txt"): "x\n"}, "result": {"type": "artifact", "content": text}},
        ]})
    };
    a.set_plan(spends(0.6, "on-a"));
    b.set_plan(spends(0.5, "on-b"));

    // $0.60 on A, then $0.50 on B: each ran, as the day's spend was under $1 when it started.
    let (first, _) = a.new_trak("First on A", &[]);
    assert_eq!(a.at(&first).0, "done");
    b.git(&["fetch", "-q"]);
    let (second, _) = b.new_trak("First on B", &[]);
    assert_eq!(b.at(&second).0, "done");
    assert_eq!((a.runs("work"), b.runs("work")), (1, 1));

    // $1.10 spent between them: neither machine starts another run.
    for (machine, title) in [(a, "Second on A"), (b, "Second on B")] {
        let (id, out) = machine.new_trak(title, &[]);
        assert!(
            out.contains("not started: the repository's budget for today is spent ($1.10"),
            "{out}"
        );
        assert!(out.contains("raise [budget] per_day"), "{out}");
        assert_eq!(machine.at(&id).0, "queued", "{out}");
    }
    assert_eq!((a.runs("work"), b.runs("work")), (1, 1));
    let status = a.ork_ok(&["status"]);
    assert!(
        status.contains(
            "Spent today (UTC), every trak on every machine: $1.10 and 0 tokens of $1.00"
        ),
        "{status}"
    );
    // Each trak's spend is a column of its own.
    let all = a.ork_ok(&["status", "--all"]);
    let row = all
        .lines()
        .find(|l| l.starts_with(&first))
        .unwrap_or_default();
    assert!(all.contains("SPENT") && row.contains("$0.60"), "{all}");
    let json = crate::common::json(&a.ork_ok(&["status", "--json"]));
    let today = json["today"]["spent"]["cost_usd"].as_f64().unwrap_or(-1.0);
    assert!((today - 1.1).abs() < 1e-9, "{json:#}");
}

#[test]
fn tokens_reported_without_a_cost_are_priced_by_the_workflows_table_and_count_in_the_budget() {
    let tokens = |n: u64| json!({"input_tokens": n, "output_tokens": 0});
    let s = Sandbox::new(
        &feature_workflow(
            "60s",
            "[prices]\n\"house-model\" = { input = 2.0, output = 8.0 }\n",
            &[stage(
                "work",
                "worker.md",
                "summary",
                "review = \"human\"\nmodel = \"house-model-1\"\nbudget = { usd = 3 }",
            )],
        ),
        json!({"work": [
            {"result": {"type": "artifact", "content": "one", "usage": tokens(1_000_000)}},
            {"result": {"type": "artifact", "content": "two", "usage": tokens(500_000)}},
            {"result": {"type": "artifact", "content": "three"}},
        ]}),
    );
    let (id, _) = s.new_trak("Priced", &[]);
    let json = crate::common::json(&s.ork_ok(&["show", &id, "--json"]));
    let cost = json["usage"]["cost_usd"].as_f64().unwrap_or(-1.0);
    assert!(
        (cost - 2.0).abs() < 1e-9,
        "a million input tokens at $2: {json:#}"
    );
    // $3 after the second run: the stage's budget lets no third start.
    s.ork_ok(&["reject", &id, "-m", "again"]);
    let out = s.ork(&["reject", &id, "-m", "once more"]);
    let text = crate::common::stdout(&out) + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(s.runs("work"), 2, "{text}");
    assert!(
        text.contains("stopped at the budget of stage work ($3.00): spent $3.00"),
        "{text}"
    );
}

#[test]
fn a_negative_price_is_refused_with_where_and_what_to_do() {
    let s = Sandbox::new(
        &feature_workflow(
            "60s",
            "[prices]\n\"gpt-5\" = { input = -1.0, output = 8.0 }\n",
            &[stage("work", "worker.md", "summary", "review = \"human\"")],
        ),
        json!({}),
    );
    let out = s.ork(&["trak", "new", "Anything"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("workflow.toml:"), "{err}");
    assert!(
        err.contains("the price of \"gpt-5\" must name a model and be at least $0"),
        "{err}"
    );
}
