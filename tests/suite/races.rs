//! End to end: a stage races several attempts (the fake agent scripted per attempt by
//! `ORK_RACE`), each in its own worktree through the gate on its own; a judge or a person picks
//! among those that pass, and only the winner's code reaches the base.

use crate::common;

use serde_json::{Value, json};

use common::sandbox::{FAKE_AGENT, fake_agent};
use common::{RunsOrk, Sandbox};

/// The `feature` flow with one stage, `work`, racing three attempts of the fake agent behind
/// the gate `test -f ok.txt`; `review` and `judge` as given (a judge is an agent `judge`
/// running the fake agent too).
fn workflow(review: &str, judge: bool) -> String {
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

/// The three racers: 1 never writes ok.txt (its gate fails on both its attempts), 2 and 3 pass.
fn racers() -> Value {
    json!({
        "1": {"work": [run(json!({"one.txt": "one\n"}), "one's way", 0.25)]},
        "2": {"work": [run(json!({"ok.txt": "", "two.txt": "two\n"}), "two's way", 0.25)]},
        "3": {"work": [run(json!({"ok.txt": "", "three.txt": "three\n"}), "three's way", 0.25)]},
    })
}

impl Sandbox {
    fn set_race_plan(&self, races: Value) {
        let plan = json!({"dir": self.agent_dir, "stages": {}, "races": races});
        std::fs::write(&self.plan, plan.to_string()).unwrap();
    }
}

#[test]
fn three_racers_one_fails_the_gate_and_the_judge_picks_the_second() {
    let sandbox = Sandbox::new(&workflow("auto", true), json!({}));
    let mut races = racers();
    races["judge"] = json!({"work": [{"result": {"type": "pick", "winner": 2,
        "content": "Attempt 2 is the smaller change.",
        "usage": {"input_tokens": 50, "output_tokens": 5, "cost_usd": 0.1}}}]});
    sandbox.set_race_plan(races);

    let (id, out) = sandbox.new_trak("Add a greeting", &[]);
    assert!(out.contains("a race of 3 attempts"), "{out}");
    assert!(out.contains("[race-2 fake]"), "{out}");
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
