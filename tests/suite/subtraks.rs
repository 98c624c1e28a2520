//! End to end: a breakdown stage splits a trak into subtraks that run by their dependencies,
//! independent ones at once, each merging into the parent's branch; the parent then goes on.
//! The fake agent (fixtures/agents/fake-agent) is scripted per subtrak by its key.

use crate::common;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use common::sandbox::fake_agent;
use common::{Cleanup, RunsOrk, Sandbox, artifact, pids, wait_until};

/// The `feature` flow: a human-reviewed breakdown whose parts run the `part` flow, then the
/// parent's own `work`. `setup` is the worktree setup command, if any.
fn workflow(part_extra: &str, setup: Option<&str>) -> String {
    let setup = setup.map_or(String::new(), |s| format!("[worktree]\nsetup = {s:?}\n\n"));
    format!(
        "default_flow = \"feature\"\n\n{setup}{}\n\
         [flows.feature]\n\n\
         [[flows.feature.stages]]\nname = \"breakdown\"\nagent = \"fake\"\nprompt = \"breakdown.md\"\nartifact = \"breakdown\"\nreview = \"human\"\n\
         subtraks = {{ flow = \"part\", parallel = 3 }}\n\n\
         [[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n\n\
         [flows.part]\n\n\
         [[flows.part.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n{part_extra}\n",
        fake_agent("30s")
    )
}

/// A part of a breakdown.
fn part(key: &str, depends_on: &[&str]) -> Value {
    json!({"key": key, "title": format!("Part {key}"), "description": format!("Build the {key} part."), "depends_on": depends_on})
}

/// A breakdown stage's run answering with `parts`.
fn breakdown(parts: Vec<Value>) -> Value {
    json!({"result": {"type": "breakdown", "content": "How the work splits.", "subtraks": parts}})
}

impl Sandbox {
    /// A file in the sandbox for the fake agent to touch or wait for.
    fn marker(&self, name: &str) -> String {
        self.repo.agents_area().join(name).display().to_string()
    }

    /// The subtrak branches of `parent` (`ork/<parent>.*`).
    fn subtrak_branches(&self, parent: &str) -> Vec<String> {
        self.repo
            .trak_branches()
            .into_iter()
            .filter(|b| b.starts_with(&format!("ork/{parent}.")))
            .collect()
    }
}

/// The position of `line` in the run log.
fn position(log: &[String], line: &str) -> usize {
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no `{line}` in the run log:\n{}", log.join("\n")))
}

#[test]
fn three_parts_run_by_their_dependencies_and_merge_into_the_parent() {
    let sandbox = Sandbox::new(&workflow("", None), json!({}));
    let (db_started, ui_started) = (sandbox.marker("db-started"), sandbox.marker("ui-started"));
    sandbox.set_plan_with_subtraks(
        json!({
            "breakdown": [breakdown(vec![part("db", &[]), part("ui", &[]), part("api", &["db"])])],
            "work": [{"write": {"glue.txt": "glue\n"}, "result": {"type": "artifact", "content": "joined"}}],
        }),
        json!({
            // db and ui each wait until the other has started: they can only both finish if
            // they run at the same time.
            "db": {"work": [{"touch": [db_started], "wait_for": [ui_started],
                             "write": {"db.txt": "db\n"}, "result": {"type": "artifact", "content": "db summary"}}]},
            "ui": {"work": [{"touch": [ui_started], "wait_for": [db_started],
                             "write": {"ui.txt": "ui\n"}, "result": {"type": "artifact", "content": "ui summary"}}]},
            "api": {"work": [{"run": "cp db.txt api-saw-db.txt", "write": {"api.txt": "api\n"},
                              "result": {"type": "artifact", "content": "api summary"}}]},
        }),
    );
    let (id, _) = sandbox.new_trak("Add OAuth login", &[]);
    sandbox.assert_at(&id, "awaiting_review", "breakdown");
    let show = sandbox.ork_ok(&["show", &id]);
    assert!(show.contains("breakdown 3 part(s) proposed"), "{show}");
    assert!(show.contains("api: Part api (after db)"), "{show}");
    let artifact = sandbox.repo.git(&[
        "show",
        &format!("ork/{id}:.orkestra/traks/{id}/artifacts/breakdown.md"),
    ]);
    assert!(
        artifact.contains("- **api**: Part api (after db)"),
        "{artifact}"
    );

    let out = sandbox.ork_ok(&["approve", &id]);
    // Each line of a subtrak's output names its part.
    assert!(out.contains("[db] work: attempt 1"), "{out}");
    assert!(out.contains("[api] brings in ork/"), "{out}");

    // db and ui overlapped (each waited for the other); api started after db ended and merged.
    let log = sandbox.run_log();
    assert!(position(&log, "db.work start 1") < position(&log, "ui.work end 1"));
    assert!(position(&log, "ui.work start 1") < position(&log, "db.work end 1"));
    assert!(position(&log, "db.work end 1") < position(&log, "api.work start 1"));
    assert!(position(&log, "api.work end 1") < position(&log, "work start 1"));
    // The parent's next stage was told what every part did.
    let prompt = sandbox.prompt("work", 1);
    for summary in ["db summary", "ui summary", "api summary"] {
        assert!(prompt.contains(summary), "{summary} missing:\n{prompt}");
    }
    assert!(prompt.contains("subtrak api \"Part api\""), "{prompt}");

    // Everything is merged into main, and main holds no record folder.
    sandbox.assert_at(&id, "done", "work");
    let files = sandbox.repo.tree_files("main");
    for file in ["db.txt", "ui.txt", "api.txt", "glue.txt"] {
        assert!(
            files.contains(&file.to_string()),
            "{file} not on main: {files:?}"
        );
    }
    assert_eq!(sandbox.repo.git(&["show", "main:api-saw-db.txt"]), "db");
    assert!(
        !files.iter().any(|f| f.starts_with(".orkestra/traks/")),
        "{files:?}"
    );

    // The parent lists its subtraks in breakdown order; each names its parent and key.
    let parent = sandbox.trak(&id);
    let ids: Vec<String> = ["db", "ui", "api"]
        .iter()
        .map(|k| format!("{id}.{k}"))
        .collect();
    assert_eq!(parent["subtraks"], json!(ids));
    assert_eq!(parent["progress"], json!({"done": 3, "total": 3}));
    for (key, sub) in ["db", "ui", "api"].iter().zip(&ids) {
        let trak = sandbox.trak(sub);
        assert_eq!(trak["parent"], id.as_str());
        assert_eq!(trak["key"], *key);
        assert_eq!(trak["base"], format!("ork/{id}"));
        assert_eq!(trak["status"], "done");
        assert_eq!(sandbox.events_of(sub, "created").len(), 1);
    }
    // The tree in `ork status --all`: the subtraks indented under their parent.
    let table = sandbox.ork_ok(&["status", "--all"]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert!(rows[0].starts_with(&id), "{table}");
    assert!(rows[1].starts_with(&format!("└ {id}.db")), "{table}");
    assert!(rows[3].starts_with(&format!("└ {id}.api")), "{table}");
}

#[test]
fn breakdowns_with_a_cycle_an_unknown_dependency_or_duplicate_keys_go_back_to_the_agent() {
    let sandbox = Sandbox::new(&workflow("", None), json!({}));
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [
            breakdown(vec![part("a", &["c"]), part("b", &["a"]), part("c", &["b"])]),
            breakdown(vec![part("a", &[]), part("b", &["nope"])]),
            breakdown(vec![part("a", &[]), part("a", &[])]),
        ]}),
        json!({}),
    );
    let (id, _) = sandbox.new_trak("Split badly", &[]);
    assert_eq!(sandbox.runs("breakdown"), 3);
    let second = sandbox.prompt("breakdown", 2);
    assert!(
        second.contains("the dependencies go in a circle: a → c → b → a"),
        "{second}"
    );
    let third = sandbox.prompt("breakdown", 3);
    assert!(
        third.contains("part \"b\" depends on \"nope\", which is not a part of this breakdown"),
        "{third}"
    );
    // The third attempt was the last: the trak waits, saying why.
    sandbox.assert_at(&id, "failed", "breakdown");
    let trak = sandbox.trak(&id);
    let note = trak["note"].as_str().unwrap();
    assert!(note.contains("two parts have the key \"a\""), "{note}");
    assert_eq!(sandbox.subtrak_branches(&id), Vec::<String>::new());
    assert!(trak.get("subtraks").is_none(), "{trak:#}");
}

#[test]
fn a_rejected_breakdown_runs_again_and_one_part_is_no_split() {
    let sandbox = Sandbox::new(&workflow("", None), json!({}));
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [
            breakdown(vec![part("ui", &[]), part("api", &[])]),
            breakdown(vec![part("all", &[])]),
        ]}),
        json!({}),
    );
    let (id, _) = sandbox.new_trak("Small change", &[]);
    // Rejected while it waits for review: nothing is made, the breakdown runs again.
    sandbox.ork_ok(&["reject", &id, "-m", "too small to split"]);
    assert_eq!(sandbox.subtrak_branches(&id), Vec::<String>::new());
    let again = sandbox.prompt("breakdown", 2);
    assert!(again.contains("too small to split"), "{again}");
    sandbox.assert_at(&id, "awaiting_review", "breakdown");
    sandbox.ork_ok(&["approve", &id]);
    sandbox.assert_at(&id, "done", "work");
    assert_eq!(sandbox.subtrak_branches(&id), Vec::<String>::new());
    // The parent's work was told the one part's description.
    let prompt = sandbox.prompt("work", 1);
    assert!(prompt.contains("Build the all part."), "{prompt}");
}

#[test]
fn a_failed_subtrak_keeps_the_parent_waiting_until_the_breakdown_is_rejected() {
    let sandbox = Sandbox::new(&workflow("max_attempts = 1", None), json!({}));
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [
            breakdown(vec![part("good", &[]), part("bad", &[])]),
            breakdown(vec![part("whole", &[])]),
        ]}),
        json!({
            "good": {"work": [{"write": {"good.txt": "good\n"}, "result": {"type": "artifact", "content": "good summary"}}]},
            "bad": {"work": [{"exit": 1}]},
        }),
    );
    let (id, _) = sandbox.new_trak("Two parts", &[]);
    let out = sandbox.ork_ok(&["approve", &id]);
    assert!(out.contains("waiting on subtraks (1/2 done)"), "{out}");
    let (good, bad) = (format!("{id}.good"), format!("{id}.bad"));
    sandbox.assert_at(&id, "subtraks", "breakdown");
    sandbox.assert_at(&bad, "failed", "work");
    assert_eq!(
        sandbox.trak(&id)["progress"],
        json!({"done": 1, "total": 2})
    );

    // status and show say what waits, and what to do.
    let table = sandbox.ork_ok(&["status"]);
    let parent_row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(
        parent_row.contains("waiting on subtraks 1/2 done"),
        "{table}"
    );
    assert!(table.contains(&format!("└ {bad}")), "{table}");
    let show = sandbox.ork_ok(&["show", &id]);
    assert!(show.contains("subtraks  1/2 done"), "{show}");
    assert!(show.contains(&format!("ork retry {bad}")), "{show}");
    assert!(show.contains(&format!("ork trak drop {bad}")), "{show}");

    // Resuming the parent does not run the failed part again.
    sandbox.ork_ok(&["resume", &id]);
    assert_eq!(sandbox.runs("bad.work"), 1);

    // Rejecting the breakdown drops the open subtrak (its branch stays) and splits again.
    sandbox.ork_ok(&["reject", &id, "-m", "do it in one piece"]);
    sandbox.assert_at(&bad, "dropped", "work");
    assert!(
        sandbox
            .subtrak_branches(&id)
            .contains(&format!("ork/{bad}"))
    );
    sandbox.assert_at(&good, "done", "work");
    let again = sandbox.prompt("breakdown", 2);
    assert!(again.contains("do it in one piece"), "{again}");
    sandbox.assert_at(&id, "awaiting_review", "breakdown");
    sandbox.ork_ok(&["approve", &id]);
    sandbox.assert_at(&id, "done", "work");
}

#[test]
fn a_dropped_subtrak_lets_the_parent_go_on_and_its_next_stage_is_told() {
    let sandbox = Sandbox::new(&workflow("max_attempts = 1", None), json!({}));
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [breakdown(vec![part("good", &[]), part("bad", &[]), part("after", &["bad"])])]}),
        json!({
            "good": {"work": [artifact("good summary")]},
            "bad": {"work": [{"exit": 1}]},
            "after": {"work": [artifact("after summary")]},
        }),
    );
    let (id, _) = sandbox.new_trak("Drop one", &[]);
    sandbox.ork_ok(&["approve", &id]);
    let bad = format!("{id}.bad");
    sandbox.assert_at(&bad, "failed", "work");
    // Dropping it carries the parent on: the part that depended on it runs, then the parent.
    sandbox.ork_ok(&["trak", "drop", &bad, "-m", "not needed"]);
    sandbox.ork_ok(&["resume", &id]);
    sandbox.assert_at(&id, "done", "work");
    assert_eq!(sandbox.runs("after.work"), 1);
    let prompt = sandbox.prompt("work", 1);
    assert!(prompt.contains("subtrak bad \"Part bad\""), "{prompt}");
    assert!(prompt.contains("This part was dropped"), "{prompt}");
}

#[test]
fn a_crash_while_making_subtraks_is_completed_by_resume_without_duplicates() {
    let sandbox = Sandbox::new("", json!({}));
    let hang = sandbox.marker("hang");
    // The second subtrak's worktree setup hangs while the marker exists.
    let setup = format!("case \"$(pwd)\" in *.b) if [ -f {hang} ]; then sleep 3600; fi;; esac");
    sandbox.repo.write(
        ".orkestra/workflow.toml",
        &crate::common::agents_area_writable(
            &workflow("", Some(&setup)),
            &sandbox.repo.agents_area(),
        ),
    );
    sandbox.repo.commit_all("Hang on b");
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [breakdown(vec![part("a", &[]), part("b", &[]), part("c", &["a"])])]}),
        json!({}),
    );
    let (id, _) = sandbox.new_trak("Crash while splitting", &[]);
    std::fs::write(&hang, "").unwrap();
    let mut cleanup = Cleanup {
        cmdlines: vec!["sleep 3600".into()],
        children: Vec::new(),
    };
    let child = sandbox
        .ork_command(&["approve", &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    cleanup.children.push(child);
    let b = format!("{id}.b");
    wait_until(Duration::from_secs(20), "the setup of b to hang", || {
        !common::pids("sleep 3600").is_empty()
    });
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    common::kill_groups("sleep 3600");
    wait_until(Duration::from_secs(10), "ork to be gone", || {
        !common::alive(pid)
    });
    // Half-way: a and b exist, c does not.
    let made = sandbox.subtrak_branches(&id);
    assert_eq!(made, vec![format!("ork/{id}.a"), format!("ork/{b}")]);
    sandbox.assert_at(&id, "subtraks", "breakdown");

    std::fs::remove_file(&hang).unwrap();
    sandbox.ork_ok(&["resume", &id]);
    sandbox.assert_at(&id, "done", "work");
    let all: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|k| format!("ork/{id}.{k}"))
        .collect();
    assert_eq!(sandbox.subtrak_branches(&id), all);
    for key in ["a", "b", "c"] {
        let sub = format!("{id}.{key}");
        assert_eq!(sandbox.events_of(&sub, "created").len(), 1, "{sub}");
        sandbox.assert_at(&sub, "done", "work");
    }
}

#[test]
fn a_subtrak_whose_merge_conflicts_goes_back_to_its_on_conflict_stage() {
    let sandbox = Sandbox::new(&workflow("", None), json!({}));
    let (a_started, b_started) = (sandbox.marker("a-started"), sandbox.marker("b-started"));
    // Both parts change the same file at the same time: the second to merge conflicts, and
    // resolves the merge ork starts in its worktree.
    let runs = |key: &str, mine: &str, theirs: &str| {
        json!({"work": [
            {"touch": [mine], "wait_for": [theirs], "write": {"same.txt": format!("{key}\n")},
             "result": {"type": "artifact", "content": format!("{key} wrote same.txt")}},
            {"run": "grep -q '<<<<<<<' same.txt && printf 'merged\\n' > same.txt",
             "result": {"type": "artifact", "content": "merged"}},
        ]})
    };
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [breakdown(vec![part("a", &[]), part("b", &[])])]}),
        json!({"a": runs("a", &a_started, &b_started), "b": runs("b", &b_started, &a_started)}),
    );
    let (id, _) = sandbox.new_trak("Clash", &[]);
    sandbox.ork_ok(&["approve", &id]);
    sandbox.assert_at(&id, "done", "work");
    let (a_runs, b_runs) = (sandbox.runs("a.work"), sandbox.runs("b.work"));
    assert_eq!(a_runs + b_runs, 3, "one part ran again after its conflict");
    let second = if a_runs == 2 { "a" } else { "b" };
    let prompt = sandbox.prompt(&format!("{second}.work"), 2);
    assert!(
        prompt.contains("conflicts in") && prompt.contains("same.txt"),
        "{prompt}"
    );
    assert!(
        prompt.contains(&format!("ork has started merging ork/{id}")),
        "{prompt}"
    );
    assert_eq!(sandbox.repo.git(&["show", "main:same.txt"]), "merged");
}

#[test]
fn human_gates_inside_subtraks_wait_and_the_last_approval_carries_the_parent_on() {
    // The parts' work waits for a human (the last `review` in the file is the part flow's).
    let text = workflow("", None);
    let auto = "review = \"auto\"";
    let at = text.rfind(auto).unwrap();
    let text = format!(
        "{}review = \"human\"{}",
        &text[..at],
        &text[at + auto.len()..]
    );
    let sandbox = Sandbox::new(&text, json!({}));
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [breakdown(vec![part("a", &[]), part("b", &[])])]}),
        json!({"a": {"work": [artifact("a done")]}, "b": {"work": [artifact("b done")]}}),
    );
    let (id, _) = sandbox.new_trak("Reviewed parts", &[]);
    let out = sandbox.ork_ok(&["approve", &id]);
    assert!(out.contains("waiting on subtraks (0/2 done)"), "{out}");
    let (a, b) = (format!("{id}.a"), format!("{id}.b"));
    sandbox.assert_at(&a, "awaiting_review", "work");
    sandbox.assert_at(&b, "awaiting_review", "work");

    let out = sandbox.ork_ok(&["approve", &a]);
    assert!(
        out.contains(&format!("Its parent {id} waits on 1 more subtrak")),
        "{out}"
    );
    sandbox.assert_at(&id, "subtraks", "breakdown");
    // The last one carries the parent on to its next stage and into main.
    sandbox.ork_ok(&["approve", &b]);
    sandbox.assert_at(&id, "done", "work");
    assert_eq!(sandbox.runs("work"), 1, "the parent's own work ran once");
}

#[test]
fn a_subtrak_run_on_its_own_waits_for_its_dependencies() {
    let sandbox = Sandbox::new(&workflow("", None), json!({}));
    sandbox.set_plan_with_subtraks(
        json!({"breakdown": [breakdown(vec![part("db", &[]), part("api", &["db"])])]}),
        json!({"db": {"work": [artifact("db done")]}, "api": {"work": [artifact("api done")]}}),
    );
    let (id, _) = sandbox.new_trak("Ordered parts", &[]);
    sandbox.ork_ok(&["approve", &id, "--no-run"]);
    let api = format!("{id}.api");
    let err = common::ork_error(&sandbox.ork(&["resume", &api]), "ork resume api");
    assert!(
        err.contains(&format!(
            "subtrak {api} starts once db is merged into ork/{id}"
        )),
        "{err}"
    );
    assert_eq!(sandbox.runs("api.work"), 0);
    sandbox.assert_at(&api, "queued", "work");
    // Once db is merged, api starts from the parent's branch with db's code.
    sandbox.ork_ok(&["resume", &format!("{id}.db")]);
    let out = sandbox.ork_ok(&["resume", &api]);
    assert!(
        out.contains(&format!("brings in ork/{id} (with db)")),
        "{out}"
    );
    sandbox.assert_at(&id, "done", "work");
}

/// A usage line of the `command` contract: what one model turn spent.
fn turn(usd: f64) -> String {
    format!(r#"{{"ork_usage": {{"input_tokens": 1000, "output_tokens": 100, "cost_usd": {usd}}}}}"#)
}

#[test]
fn subtraks_spend_the_parents_budget_the_one_crossing_it_stops_and_the_others_start_nothing() {
    let hang = common::unique_seconds(15000);
    let sleep = format!("sleep {hang}");
    let _cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    // One subtrak at a time, so which one crosses the budget is known.
    let sandbox = Sandbox::new(
        &workflow("", None).replace("parallel = 3", "parallel = 1"),
        json!({}),
    );
    let done = |text: &str| json!({"type": "artifact", "content": text});
    let b_turns = [turn(0.3), turn(0.3)].join("\n");
    sandbox.set_plan_with_subtraks(
        json!({
            "breakdown": [breakdown(vec![part("a", &[]), part("b", &["a"]), part("c", &["a"])])],
            "work": [{"write": {"glue.txt": "glue\n"}, "result": done("joined")}],
        }),
        json!({
            "a": {"work": [{"write": {"a.txt": "a\n"},
                           "result": {"type": "artifact", "content": "a", "usage": {"cost_usd": 0.6}}}]},
            // b's second turn brings the tree past $1: it is stopped there, mid-run.
            "b": {"work": [
                {"write": {"b-half.txt": "b\n"}, "stdout": b_turns, "hang": hang},
                {"write": {"b.txt": "b\n"}, "result": done("b")},
            ]},
            "c": {"work": [{"write": {"c.txt": "c\n"}, "result": done("c")}]},
        }),
    );
    let (id, _) = sandbox.new_trak("Split spend", &["--budget", "1"]);
    sandbox.assert_at(&id, "awaiting_review", "breakdown");
    let out = sandbox.ork_ok(&["approve", &id]);

    let (a, b, c) = (format!("{id}.a"), format!("{id}.b"), format!("{id}.c"));
    assert_eq!(sandbox.at(&a).0, "done", "{out}");
    assert_eq!(sandbox.at(&b).0, "failed", "{out}");
    assert!(pids(&sleep).is_empty(), "b's agent is stopped");
    assert!(
        out.contains(&format!(
            "stopped at the budget of trak {id} (a parent of this subtrak) ($1.00): spent $1.20"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("to go on: ork approve {id} --budget <more>")),
        "{out}"
    );
    // c, ready after a, started no run: the parent's budget was spent.
    assert_eq!(sandbox.runs("c.work"), 0, "{out}");
    assert_eq!(sandbox.at(&c).0, "failed", "{out}");
    assert_eq!(sandbox.at(&id).0, "subtraks", "the parent waits: {out}");
    let show = sandbox.ork_ok(&["show", &b]);
    assert!(
        show.contains(&format!(
            "its parent {id} (spend counted over its tree) reached its budget"
        )),
        "{show}"
    );

    // Raising the parent's budget lets both go on; b resumes where it stopped.
    let out = sandbox.ork_ok(&["approve", &id, "--budget", "5"]);
    assert!(
        out.contains(&format!(
            "subtrak {b}: the budget of {id} was raised; it goes on"
        )),
        "{out}"
    );
    assert_eq!(sandbox.runs("b.work"), 2, "{out}");
    assert_eq!(sandbox.runs("c.work"), 1, "{out}");
    sandbox.assert_at(&id, "done", "work");
    let files = sandbox.repo.tree_files("main");
    for file in ["a.txt", "b-half.txt", "b.txt", "c.txt", "glue.txt"] {
        assert!(files.contains(&file.to_string()), "{file}: {files:?}");
    }
}
