//! End to end: flows of stages run by the built `ork` binary against real temporary
//! repositories, with `fixtures/agents/fake-agent` as a `command` agent scripted per test:
//! human gates, gate scripts and their notes, reviewer verdicts, questions, retries, timeouts,
//! crashes of `ork` itself, integration (clean, conflicting, into a dirty checkout), logs,
//! diffs, usage, and background runs.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::sandbox::{FAKE_AGENT, feature_workflow, stage};
use common::{
    Cleanup, RunsOrk, Sandbox, alive, artifact, created_id, lines, output_within, pids, stdout,
    success, unique_seconds, wait_until,
};

// ---------------------------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------------------------

/// A workflow with one agent, `fake` (the fake agent, under `agent_timeout`), and one flow,
/// `feature`, made of `stages`; merge conflicts go back to its `work` stage.
fn workflow(agent_timeout: &str, stages: &[String]) -> String {
    feature_workflow(agent_timeout, "", stages)
}

/// The `feature` flow: a human-reviewed plan, gated and human-reviewed work,
/// and a reviewer agent whose rejection goes back to work.
fn feature_flow(gate: &str) -> String {
    workflow(
        "20s",
        &[
            stage("planning", "planner.md", "plan", "review = \"human\""),
            stage(
                "work",
                "worker.md",
                "summary",
                &format!("gate = {{ command = {gate:?}, timeout = \"20s\" }}\nmax_attempts = 3"),
            ),
            stage(
                "review",
                "reviewer.md",
                "verdict",
                "verdict = true\non_reject = \"work\"\nreview = \"auto\"",
            ),
        ],
    )
}

/// A flow with one `work` stage with the given extra keys.
/// `workflow` run with `[sandbox] mode = "report"`: agents unconfined, for the tests of what
/// ork finds after an agent wrote where the sandbox would have refused it.
fn unconfined(workflow: &str) -> String {
    format!("{workflow}\n[sandbox]\nmode = \"report\"\n")
}

fn work_flow(agent_timeout: &str, extra: &str) -> String {
    workflow(
        agent_timeout,
        &[stage("work", "worker.md", "summary", extra)],
    )
}

impl Sandbox {
    /// The repository's `git status --porcelain` lines, sorted.
    fn porcelain(&self) -> Vec<String> {
        let out = self.repo.git_output(&["status", "--porcelain"]);
        let mut list = lines(&stdout(&out));
        list.sort();
        list
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The whole feature flow
// ---------------------------------------------------------------------------------------------

#[test]
fn the_feature_flow_runs_from_plan_to_integration() {
    let gate = "test -f ok.txt || { echo 'gate says: ok.txt is missing'; exit 1; }";
    let s = Sandbox::new(
        &feature_flow(gate),
        json!({
            "planning": [{"stdout": "# Plan\n1. add a login page"}],
            "work": [
                {"write": {"login.rs": "fn login() {}\n"},
                 "result": {"type": "artifact", "content": "Added login.rs", "session_id": "sess-w1"}},
                {"write": {"ok.txt": "ok\n"}, "result": {"type": "artifact", "content": "Added ok.txt"}},
                {"write": {"cookie.rs": "// httpOnly\n"}, "result": {"type": "artifact", "content": "Cookie is httpOnly"}},
                {"write": {"logout_test.rs": "#[test] fn logout() {}\n"},
                 "result": {"type": "artifact", "content": "Tested logout"}},
            ],
            "review": [
                {"result": {"type": "verdict", "decision": "reject", "content": "Add a test for logout"}},
                {"result": {"type": "verdict", "decision": "approve", "content": "Looks good"}},
            ],
        }),
    );
    let main_before = s.repo.git(&["rev-parse", "main"]);

    // Planning runs and waits for a human.
    let (id, out) = s.new_trak("Add login", &["-d", "Users sign in with GitHub"]);
    s.assert_at(&id, "awaiting_review", "planning");
    assert_eq!(s.runs("planning"), 1);
    assert_eq!(s.runs("work"), 0, "work must wait for the plan's approval");
    assert!(out.contains(&format!("ork approve {id}")), "{out}");
    let planning_prompt = s.prompt("planning", 1);
    assert!(planning_prompt.contains("Add login"), "{planning_prompt}");
    assert!(
        planning_prompt.contains("Users sign in with GitHub"),
        "{planning_prompt}"
    );

    // Approving the plan runs work: the gate fails once, its output goes back to the agent.
    let out = s.ork_ok(&["approve", &id]);
    assert_eq!(s.runs("work"), 2, "{out}");
    s.assert_at(&id, "awaiting_review", "work");
    let first = s.prompt("work", 1);
    assert!(first.contains("1. add a login page"), "the plan: {first}");
    assert!(!first.contains("gate says"), "{first}");
    let second = s.prompt("work", 2);
    assert!(
        second.contains("gate says: ok.txt is missing"),
        "gate output in the retry's prompt:\n{second}"
    );
    assert!(second.contains("1. add a login page"), "{second}");

    // The run's environment is the documented one.
    let worktree = s.repo.worktree_path(&id);
    let env1 = s.agent_env("work", 1);
    let env2 = s.agent_env("work", 2);
    assert_eq!(env1["ORK_ATTEMPT"], "1");
    assert_eq!(env2["ORK_ATTEMPT"], "2");
    for env in [&env1, &env2] {
        assert_eq!(env["ORK_TRAK"], id);
        assert_eq!(env["ORK_STAGE"], "work");
        assert_eq!(env["ORK_ARTIFACT"], "summary");
        assert_eq!(env["ORK_BASE_BRANCH"], "main");
        assert_eq!(Path::new(&env["ORK_WORKTREE"]), worktree);
        assert!(env.contains_key("ORK_OUTPUT"), "{env:?}");
        let prompt_file = Path::new(&env["ORK_PROMPT_FILE"]);
        assert!(prompt_file.is_absolute(), "{env:?}");
    }
    assert!(!env1.contains_key("ORK_SESSION"), "{env1:?}");
    assert_eq!(
        env2.get("ORK_SESSION").map(String::as_str),
        Some("sess-w1"),
        "the retry resumes the first run's session: {env2:?}"
    );
    let planning_env = s.agent_env("planning", 1);
    assert_eq!(planning_env["ORK_ARTIFACT"], "plan");
    assert_eq!(planning_env["ORK_ATTEMPT"], "1");

    // A human rejection runs work again with the feedback.
    s.ork_ok(&["reject", &id, "-m", "keep the session cookie httpOnly"]);
    assert_eq!(s.runs("work"), 3);
    let third = s.prompt("work", 3);
    assert!(
        third.contains("keep the session cookie httpOnly"),
        "rejection feedback in the prompt:\n{third}"
    );
    assert!(
        !third.contains("gate says"),
        "old feedback is gone:\n{third}"
    );
    s.assert_at(&id, "awaiting_review", "work");

    // Approving work runs the reviewer, who rejects: back to work with the review.
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.runs("review"), 1);
    assert_eq!(s.runs("work"), 4);
    let fourth = s.prompt("work", 4);
    assert!(
        fourth.contains("Add a test for logout"),
        "the review in the prompt:\n{fourth}"
    );
    s.assert_at(&id, "awaiting_review", "work");
    let review_env = s.agent_env("review", 1);
    assert_eq!(review_env["ORK_STAGE"], "review");
    assert_eq!(review_env["ORK_ARTIFACT"], "verdict");
    let review_prompt = s.prompt("review", 1);
    assert!(
        review_prompt.contains("Cookie is httpOnly"),
        "{review_prompt}"
    );

    // The reviewer approves and the trak is integrated.
    let tip_before = s.repo.git(&["rev-parse", &format!("ork/{id}")]);
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.runs("review"), 2);
    assert_eq!(s.runs("work"), 4);
    s.assert_at(&id, "done", "review");

    let files = s.repo.tree_files("main");
    for file in [
        "login.rs",
        "ok.txt",
        "cookie.rs",
        "logout_test.rs",
        "README.md",
        ".orkestra/workflow.toml",
    ] {
        assert!(files.contains(&file.to_string()), "{file} in {files:?}");
    }
    assert!(
        files.iter().all(|f| !f.starts_with(".orkestra/traks/")),
        "the record stays out of main: {files:?}"
    );
    // main is checked out: its files are there.
    assert_eq!(s.repo.read("cookie.rs"), "// httpOnly\n");
    assert!(
        !s.repo.root.join(".orkestra/traks").exists(),
        "no record folder in the main checkout"
    );

    // Every trak commit is reachable from main; the merge has the trak as second parent.
    let ancestor = s
        .repo
        .git_output(&["merge-base", "--is-ancestor", &tip_before, "main"]);
    assert!(ancestor.status.success(), "{tip_before} is not in main");
    let parents = s.repo.git(&["log", "-1", "--format=%P", "main"]);
    let parents: Vec<&str> = parents.split(' ').collect();
    assert_eq!(parents.len(), 2, "a merge commit: {parents:?}");
    assert_eq!(parents[0], main_before);
    let trak_tip = s.repo.git(&["rev-parse", &format!("ork/{id}")]);
    let integrated_event = s.repo.git(&["rev-parse", &format!("ork/{id}^")]);
    assert_eq!(
        parents[1], integrated_event,
        "the trak's tip before the `integrated` event"
    );
    assert_eq!(s.repo.trailer(&trak_tip, "Ork-Event"), "integrated");
    assert_eq!(s.repo.trailer("main", "Ork-Trak"), id);
    assert_eq!(s.repo.trailer("main", "Ork-Trak-Tip"), parents[1]);
    for commit in s.event_commits(&id, "stage_finished") {
        let reached = s
            .repo
            .git_output(&["merge-base", "--is-ancestor", &commit, "main"]);
        assert!(reached.status.success(), "{commit} is not in main");
    }

    // The worktree is gone.
    assert_eq!(s.repo.worktrees().len(), 1, "{:?}", s.repo.worktrees());
    assert!(!worktree.exists(), "{}", worktree.display());
    assert!(s.porcelain().is_empty(), "{:?}", s.porcelain());
}

// ---------------------------------------------------------------------------------------------
// 2. Gate results as notes
// ---------------------------------------------------------------------------------------------

#[test]
fn gate_results_are_notes_on_the_commits_they_checked() {
    let gate = "test -f ok.txt || { echo 'no ok.txt yet'; exit 1; }";
    let s = Sandbox::new(
        &work_flow(
            "20s",
            &format!("gate = {{ command = {gate:?}, timeout = \"20s\" }}\nmax_attempts = 3"),
        ),
        json!({"work": [
            artifact("first try"),
            {"write": {"ok.txt": "ok\n"}, "result": {"type": "artifact", "content": "second try"}},
        ]}),
    );
    let (id, _) = s.new_trak("Gated work", &[]);
    s.assert_at(&id, "awaiting_review", "work");

    let finished = s.event_commits(&id, "stage_finished");
    assert_eq!(finished.len(), 2, "{finished:?}");
    let note = |commit: &str| -> Vec<Value> {
        s.repo
            .git(&["notes", "--ref=orkestra", "show", commit])
            .lines()
            .map(common::json)
            .collect()
    };
    let failed = note(&finished[0]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["passed"], false, "{failed:?}");
    assert_eq!(failed[0]["kind"], "gate");
    assert_eq!(failed[0]["stage"], "work");
    assert_eq!(failed[0]["attempt"], 1);
    assert_eq!(failed[0]["command"], gate);
    assert!(
        failed[0]["output"]
            .as_str()
            .unwrap()
            .contains("no ok.txt yet"),
        "{failed:?}"
    );
    let passed = note(&finished[1]);
    assert_eq!(passed.len(), 1, "{passed:?}");
    assert_eq!(passed[0]["passed"], true, "{passed:?}");
    assert_eq!(passed[0]["attempt"], 2);
    // The commit the gate passed holds the file it checked.
    let files = s.repo.tree_files(&finished[1]);
    assert!(files.contains(&"ok.txt".to_string()), "{files:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Questions
// ---------------------------------------------------------------------------------------------

#[test]
fn questions_wait_for_an_answer_that_reaches_the_next_run() {
    let s = Sandbox::new(
        &workflow(
            "20s",
            &[
                stage("planning", "planner.md", "plan", ""),
                stage("work", "worker.md", "summary", ""),
            ],
        ),
        json!({"planning": [
            {"result": {"type": "questions", "questions": [
                {"question": "Which OAuth provider?", "options": ["GitHub", "Google"]}]}},
            artifact("# Plan\nUse GitHub OAuth"),
        ]}),
    );
    let (id, out) = s.new_trak("Add OAuth login", &[]);
    assert!(out.contains("Which OAuth provider?"), "{out}");
    s.assert_at(&id, "awaiting_answer", "planning");

    let show = s.ork_ok(&["show", &id]);
    assert!(
        show.contains("Which OAuth provider?"),
        "`ork show` lists the open question:\n{show}"
    );
    assert!(show.contains("GitHub"), "{show}");

    s.ork_ok(&["answer", &id, "-m", "Use GitHub"]);
    assert_eq!(s.runs("planning"), 2);
    let prompt = s.prompt("planning", 2);
    assert!(
        prompt.contains("Use GitHub"),
        "the answer in the prompt:\n{prompt}"
    );
    s.assert_at(&id, "awaiting_review", "planning");
}

#[test]
fn a_stage_timeout_overrides_the_agents() {
    let s = Sandbox::new(
        &workflow(
            "20s",
            &[
                stage(
                    "planning",
                    "planner.md",
                    "plan",
                    "timeout = \"7m\"\nreview = \"auto\"",
                ),
                stage("work", "worker.md", "summary", ""),
            ],
        ),
        json!({}),
    );
    let (_, out) = s.new_trak("Add OAuth login", &[]);
    assert!(out.contains("planning: attempt 1 with fake (7m)"), "{out}");
    assert!(out.contains("work: attempt 1 with fake (20s)"), "{out}");
}

#[test]
fn the_third_prompt_of_a_stage_holds_both_rounds_of_answers() {
    let ask = |question: &str| json!({"result": {"type": "questions", "questions": [{"question": question}]}});
    let s = Sandbox::new(
        &workflow(
            "20s",
            &[
                stage("planning", "planner.md", "plan", ""),
                stage("work", "worker.md", "summary", ""),
            ],
        ),
        json!({"planning": [
            ask("Which OAuth provider?"),
            ask("Which scopes?"),
            artifact("# Plan\nGitHub, read:user"),
        ]}),
    );
    let (id, _) = s.new_trak("Add OAuth login", &[]);
    s.ork_ok(&["answer", &id, "-m", "Use GitHub"]);
    s.assert_at(&id, "awaiting_answer", "planning");
    s.ork_ok(&["answer", &id, "-m", "Only read:user"]);
    assert_eq!(s.runs("planning"), 3);
    // The command agent resumes no session: only the prompt can tell it the first answer.
    let prompt = s.prompt("planning", 3);
    let first = prompt.find("Which OAuth provider?").expect(&prompt);
    let first_answer = prompt.find("Use GitHub").expect(&prompt);
    let second = prompt.find("Which scopes?").expect(&prompt);
    let second_answer = prompt.find("Only read:user").expect(&prompt);
    assert!(
        first < first_answer && first_answer < second && second < second_answer,
        "both rounds, in order:\n{prompt}"
    );
    s.assert_at(&id, "awaiting_review", "planning");
}

// ---------------------------------------------------------------------------------------------
// 4. Retries exhausted, then `ork retry`
// ---------------------------------------------------------------------------------------------

#[test]
fn a_gate_that_keeps_failing_stops_the_trak_until_retry() {
    let gate = "echo 'lint: 3 errors in login.rs'; exit 1";
    let s = Sandbox::new(
        &work_flow(
            "20s",
            &format!("gate = {{ command = {gate:?}, timeout = \"20s\" }}\nmax_attempts = 2"),
        ),
        json!({"work": [artifact("tried")]}),
    );
    let (id, out) = s.new_trak("Lint everything", &[]);
    assert_eq!(s.runs("work"), 2, "{out}");
    s.assert_at(&id, "failed", "work");
    assert!(out.contains("lint: 3 errors in login.rs"), "{out}");
    assert!(out.contains(&format!("ork retry {id}")), "{out}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("lint: 3 errors in login.rs"), "{show}");
    assert!(
        show.contains("status    failed at work, attempt 2"),
        "{show}"
    );
    let failures = s.events_of(&id, "gate_failed");
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0]["retry"], true);
    assert_eq!(failures[1]["retry"], false);

    let out = s.ork_ok(&["retry", &id]);
    assert_eq!(s.runs("work"), 3, "a third run after `ork retry`:\n{out}");
    assert_eq!(s.agent_env("work", 3)["ORK_ATTEMPT"], "3");
    let prompt = s.prompt("work", 3);
    assert!(prompt.contains("lint: 3 errors in login.rs"), "{prompt}");
    // Its gate fails again, with no attempts left.
    s.assert_at(&id, "failed", "work");
    assert_eq!(s.events_of(&id, "gate_failed").len(), 3);
}

// ---------------------------------------------------------------------------------------------
// 5. A hanging agent
// ---------------------------------------------------------------------------------------------

#[test]
fn an_agent_past_its_timeout_is_killed_with_its_process_group() {
    let hang = unique_seconds(1000);
    let sleep = format!("sleep {hang}");
    let _cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    // The timeout leaves a loaded machine time to start the agent and its child; the
    // hang is far longer, so a run that ends at all was ended by the timeout.
    let s = Sandbox::new(&work_flow("8s", "max_attempts = 1"), json!({}));
    // The agent records its process id (the shell's parent) outside the repository.
    let pid_file = s.repo.agents_area().join("agent.pid");
    s.set_plan(json!({"work": [{
        "run": format!("echo $PPID > '{}'", pid_file.display()),
        "hang": hang,
    }]}));

    let start = Instant::now();
    let mut command = s.ork_command(&["trak", "new", "Hang forever"]);
    let run = std::thread::spawn(move || {
        output_within(&mut command, Duration::from_secs(90), "ork trak new")
    });
    wait_until(Duration::from_secs(60), "the agent's sleep", || {
        !pids(&sleep).is_empty()
    });
    let agent_pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let output = run.join().unwrap();
    let elapsed = start.elapsed();
    let out = success(&output, "ork trak new");
    assert!(
        elapsed < Duration::from_secs(u64::from(hang) / 4),
        "the run took {elapsed:?}, not cut short by the timeout:\n{out}"
    );
    assert!(out.contains("timed out"), "{out}");

    assert_eq!(
        pids(&sleep),
        Vec::<u32>::new(),
        "the agent's child lives on"
    );
    assert!(!alive(agent_pid), "the agent {agent_pid} lives on");

    let id = created_id(&out);
    s.assert_at(&id, "failed", "work");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("timed out"), "{show}");
    let finished = s.events_of(&id, "stage_finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["outcome"], "failed");
    assert!(
        finished[0]["error"].as_str().unwrap().contains("timed out"),
        "{finished:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Failing agents
// ---------------------------------------------------------------------------------------------

#[test]
fn failed_runs_say_why_and_retry_up_to_max_attempts() {
    let s = Sandbox::new(
        &work_flow("20s", "max_attempts = 2"),
        json!({"work": [
            {"stdout": "boom: cannot reach the model", "exit": 3},
            {"garbage": true},
            artifact("never reached"),
        ]}),
    );
    let (id, out) = s.new_trak("Fail twice", &[]);
    assert_eq!(s.runs("work"), 2, "max_attempts stops the retries:\n{out}");
    s.assert_at(&id, "failed", "work");
    assert!(out.contains("exit code 3"), "{out}");
    assert!(out.contains("is not valid JSON"), "{out}");

    let finished = s.events_of(&id, "stage_finished");
    assert_eq!(finished.len(), 2, "{finished:?}");
    assert!(finished.iter().all(|e| e["outcome"] == "failed"));
    let first = finished[0]["error"].as_str().unwrap();
    assert!(first.contains("exit code 3"), "{first}");
    assert!(first.contains("boom: cannot reach the model"), "{first}");
    assert_eq!(finished[0]["retry"], true);
    let second = finished[1]["error"].as_str().unwrap();
    assert!(second.contains("is not valid JSON"), "{second}");
    assert!(second.contains("$ORK_OUTPUT"), "{second}");
    assert_eq!(finished[1]["retry"], false);

    // The retry was told why the first run failed.
    let prompt = s.prompt("work", 2);
    assert!(prompt.contains("exit code 3"), "{prompt}");
    assert_eq!(s.agent_env("work", 2)["ORK_ATTEMPT"], "2");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("is not valid JSON"), "{show}");
}

// ---------------------------------------------------------------------------------------------
// 7. kill -9 of ork mid-stage
// ---------------------------------------------------------------------------------------------

#[test]
fn a_killed_ork_leaves_an_interrupted_trak_that_resume_finishes() {
    let hang = unique_seconds(2000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = Sandbox::new(
        &work_flow("30s", ""),
        json!({"work": [
            {"write": {"partial.txt": "half done\n"}, "hang": hang},
            {"write": {"done.txt": "all done\n"}, "result": {"type": "artifact", "content": "Finished"}},
        ]}),
    );
    let log = std::fs::File::create(s.path("ork.log")).unwrap();
    let child = s
        .ork_command(&["trak", "new", "Crash me"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    cleanup.children.push(child);
    let worktrees = s.repo.root.join(".orkestra/worktrees");
    let mut id = String::new();
    wait_until(
        Duration::from_secs(10),
        "partial.txt in the worktree",
        || {
            for name in common::dir_entries(&worktrees) {
                if worktrees.join(&name).join("partial.txt").exists() {
                    id = name;
                    return true;
                }
            }
            false
        },
    );
    wait_until(Duration::from_secs(10), "the agent's sleep", || {
        !pids(&sleep).is_empty()
    });

    // kill -9 ork, not the agent.
    let mut child = cleanup.children.pop().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let table = s.ork_ok(&["status"]);
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no row for {id}:\n{table}"));
    assert!(row.contains("interrupted"), "{table}");
    let trak = s.trak(&id);
    assert_eq!(trak["interrupted"], true, "{trak:#}");
    assert_eq!(trak["status"], "running", "{trak:#}");
    let worktree = s.repo.worktree_path(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("partial.txt")).unwrap(),
        "half done\n"
    );

    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("interrupted"), "{out}");
    assert_eq!(s.runs("work"), 2);
    s.assert_at(&id, "awaiting_review", "work");
    assert_eq!(s.trak(&id)["interrupted"], false);
    // The interrupted run's changes are committed with the resumed run's.
    let finished = s.event_commits(&id, "stage_finished");
    assert_eq!(finished.len(), 1, "{finished:?}");
    let changed = lines(&s.repo.git(&[
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        &finished[0],
    ]));
    assert!(changed.contains(&"partial.txt".to_string()), "{changed:?}");
    assert!(changed.contains(&"done.txt".to_string()), "{changed:?}");
    // The same attempt ran again.
    assert_eq!(s.agent_env("work", 2)["ORK_ATTEMPT"], "1");
    let status = s.repo.git_in(&worktree, &["status", "--porcelain"]);
    assert_eq!(status, "", "the worktree is clean");
    drop(cleanup);
    // A killed process takes a moment to go.
    wait_until(Duration::from_secs(5), "the agents to be gone", || {
        pids(&sleep).is_empty()
    });
}

#[test]
fn ctrl_c_stops_the_agent_group_and_leaves_an_interrupted_trak() {
    let hang = unique_seconds(11000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = Sandbox::new(
        &work_flow("30s", ""),
        json!({"work": [{"write": {"partial.txt": "half\n"}, "hang": hang}]}),
    );
    let log = std::fs::File::create(s.path("ork.log")).unwrap();
    let child = s
        .ork_command(&["trak", "new", "Interrupt me"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let ork_pid = child.id();
    cleanup.children.push(child);
    wait_until(Duration::from_secs(10), "the agent's sleep", || {
        !pids(&sleep).is_empty()
    });

    // What Ctrl-C sends to the foreground ork.
    let sent = std::process::Command::new("kill")
        .args(["-INT", &ork_pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut child = cleanup.children.pop().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "ork exits with 130 on Ctrl-C");
    wait_until(
        Duration::from_secs(5),
        "the agent's group to be gone",
        || pids(&sleep).is_empty(),
    );
    let output = std::fs::read_to_string(s.path("ork.log")).unwrap();
    assert!(output.contains("interrupted"), "{output}");

    let table = s.ork_ok(&["status"]);
    assert!(table.contains("interrupted"), "{table}");
    drop(cleanup);
}

// ---------------------------------------------------------------------------------------------
// 8. A merge conflict during integration
// ---------------------------------------------------------------------------------------------

/// A trak whose first `work` run sets `config.txt`'s timeout to 30 while main, after the trak
/// was created, sets the same line to 20: its integration conflicts, and the second run
/// (`resolution`, an agent's run that should end at 25) resolves it. The sandbox, the trak's id
/// and main's commit before the trak ran.
fn timeout_conflict(resolution: Value) -> (Sandbox, String, String) {
    timeout_conflict_in(&work_flow("20s", "review = \"auto\""), resolution)
}

/// [`timeout_conflict`] under `workflow`.
fn timeout_conflict_in(workflow: &str, resolution: Value) -> (Sandbox, String, String) {
    let s = Sandbox::with_files(
        workflow,
        &[("config.txt", "name = app\ntimeout = 10\n")],
        json!({"work": [
            {"write": {"config.txt": "name = app\ntimeout = 30\n"}, "result": {"type": "artifact", "content": "timeout 30"}},
            resolution,
        ]}),
    );
    let (id, _) = s.new_trak("Raise the timeout", &["--no-run"]);
    s.repo.write("config.txt", "name = app\ntimeout = 20\n");
    s.repo.commit_all("Timeout 20");
    let main_before = s.repo.git(&["rev-parse", "main"]);
    (s, id, main_before)
}

#[test]
fn a_merge_conflict_sends_the_trak_back_to_work_until_it_merges() {
    // As the feedback says: ork has started the merge, the agent resolves the file; ork
    // commits the merge. What the agent found is kept beside its records.
    let (s, id, main_before) = timeout_conflict(json!(
        {"run": "cp config.txt \"$(dirname \"$FAKE_AGENT_PLAN\")/agents/found.txt\"; printf 'name = app\\ntimeout = 25\\n' > config.txt",
         "result": {"type": "artifact", "content": "merged main, timeout 25"}}
    ));

    let out = s.ork_ok(&["resume", &id]);
    assert_eq!(s.runs("work"), 2, "{out}");
    let rejected = s.events_of(&id, "rejected");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["by"], "integration");
    assert_eq!(rejected[0]["route_to"], "work");
    let prompt = s.prompt("work", 2);
    assert!(
        prompt.contains("config.txt"),
        "the conflicted file in the feedback:\n{prompt}"
    );
    assert!(prompt.contains("conflict"), "{prompt}");
    let found = std::fs::read_to_string(s.repo.agents_area().join("found.txt")).unwrap();
    assert!(
        found.contains("<<<<<<<") && found.contains("timeout = 20"),
        "the agent should start from git's conflict markers:\n{found}"
    );

    s.assert_at(&id, "done", "work");
    assert_eq!(
        s.repo.git(&["show", "main:config.txt"]),
        "name = app\ntimeout = 25"
    );
    assert_eq!(s.repo.read("config.txt"), "name = app\ntimeout = 25\n");
    let parents = s.repo.git(&["log", "-1", "--format=%P", "main"]);
    assert!(parents.starts_with(&main_before), "{parents}");
    assert!(s.porcelain().is_empty(), "{:?}", s.porcelain());
}

#[test]
fn an_agent_that_commits_its_own_merge_resolution_integrates() {
    // Commits the merge itself (keeping its side), then edits the result: possible only
    // unconfined (`report`), and what ork does with such a commit is what is tested here.
    let (s, id, main_before) = timeout_conflict_in(
        &unconfined(&work_flow("20s", "review = \"auto\"")),
        json!(
            {"run": "git merge --abort && git merge -q -s ours main -m 'Merge main' && printf 'name = app\\ntimeout = 25\\n' > config.txt",
             "result": {"type": "artifact", "content": "merged main, timeout 25"}}
        ),
    );

    let out = s.ork_ok(&["resume", &id]);
    assert_eq!(s.runs("work"), 2, "{out}");
    s.assert_at(&id, "done", "work");
    assert_eq!(
        s.repo.git(&["show", "main:config.txt"]),
        "name = app\ntimeout = 25"
    );
    let merge = s.repo.git(&["log", "-1", "--format=%P", "main"]);
    assert!(merge.starts_with(&main_before), "{merge}");
    // The agent's own commit never becomes history (docs/design.md rule 12): ork's commit
    // takes it in, names it in its body, and is the merge of main in its place.
    let agent_merge = s
        .repo
        .git(&["log", "--format=%H", "--grep=^Merge main$", "main"]);
    assert!(agent_merge.is_empty(), "{agent_merge}");
    let taken = s.repo.git(&[
        "log",
        "--format=%P",
        "--grep=^  Merge main$",
        &format!("ork/{id}"),
    ]);
    assert_eq!(lines(&taken).len(), 1, "{taken}");
    assert_eq!(taken.split_whitespace().count(), 2, "a merge: {taken}");
}

// ---------------------------------------------------------------------------------------------
// 9. Integrating into a checkout with uncommitted changes
// ---------------------------------------------------------------------------------------------

#[test]
fn integration_keeps_unrelated_uncommitted_changes_of_the_base_checkout() {
    let s = Sandbox::with_files(
        &work_flow("20s", "review = \"auto\""),
        &[("app.txt", "app v1\n")],
        json!({"work": [{"write": {"feature.txt": "the feature\n"},
                         "result": {"type": "artifact", "content": "Added the feature"}}]}),
    );
    let (id, _) = s.new_trak("Add the feature", &["--no-run"]);
    // The user's work in progress in the main checkout.
    s.repo.write("app.txt", "app v1\nmy edit\n");
    s.repo.write("notes.txt", "untracked notes\n");
    s.repo.write("staged.txt", "staged, not committed\n");
    s.repo.git(&["add", "staged.txt"]);
    let before = s.porcelain();
    assert_eq!(before, [" M app.txt", "?? notes.txt", "A  staged.txt"]);

    s.ork_ok(&["resume", &id]);
    s.assert_at(&id, "done", "work");
    assert_eq!(s.repo.read("feature.txt"), "the feature\n");
    assert!(
        s.repo
            .tree_files("main")
            .contains(&"feature.txt".to_string())
    );
    // Everything of the user's is still there, as it was.
    assert_eq!(s.porcelain(), before);
    assert_eq!(s.repo.read("app.txt"), "app v1\nmy edit\n");
    assert_eq!(s.repo.read("notes.txt"), "untracked notes\n");
    assert_eq!(s.repo.read("staged.txt"), "staged, not committed\n");
    assert_eq!(
        s.repo.git(&["diff", "--cached", "--name-only"]),
        "staged.txt"
    );
    assert_eq!(
        s.repo.git(&["show", ":staged.txt"]),
        "staged, not committed"
    );
    assert_eq!(s.repo.git(&["show", "main:app.txt"]), "app v1");
}

#[test]
fn integration_waits_for_uncommitted_changes_in_its_way() {
    let s = Sandbox::with_files(
        &work_flow("20s", "review = \"auto\""),
        &[("shared.txt", "line 1\n")],
        json!({"work": [{"write": {"shared.txt": "line 1\ntrak line\n"},
                         "result": {"type": "artifact", "content": "Changed shared.txt"}}]}),
    );
    let (id, _) = s.new_trak("Change shared", &["--no-run"]);
    s.repo.write("shared.txt", "line 1\nuser line\n");
    let main_before = s.repo.git(&["rev-parse", "main"]);

    let out = s.ork_ok(&["resume", &id]);
    s.assert_at(&id, "integrating", "work");
    let note = s.trak(&id)["note"].as_str().unwrap_or_default().to_string();
    assert!(note.contains("shared.txt"), "the note says why:\n{note}");
    assert!(note.contains("ork integrate"), "{note}");
    assert!(out.contains("shared.txt"), "{out}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("shared.txt"), "{show}");
    // Nothing of the user's moved.
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);
    assert_eq!(s.repo.read("shared.txt"), "line 1\nuser line\n");
    assert_eq!(s.porcelain(), [" M shared.txt"]);

    assert_eq!(s.events_of(&id, "integration_blocked").len(), 1);

    // Asking again while the change is still there changes nothing (a second later, too).
    std::thread::sleep(Duration::from_millis(1100));
    s.ork_ok(&["integrate", &id]);
    s.assert_at(&id, "integrating", "work");
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);
    assert_eq!(
        s.events_of(&id, "integration_blocked").len(),
        1,
        "the same reason is recorded once"
    );

    // Once the change is stashed, `ork integrate` finishes.
    s.repo.git(&["stash", "-q"]);
    s.ork_ok(&["integrate", &id]);
    s.assert_at(&id, "done", "work");
    assert_eq!(s.repo.read("shared.txt"), "line 1\ntrak line\n");
    assert_eq!(
        s.repo.git(&["show", "main:shared.txt"]),
        "line 1\ntrak line"
    );
    let parents = s.repo.git(&["log", "-1", "--format=%P", "main"]);
    assert!(parents.starts_with(&main_before), "{parents}");
    assert_eq!(s.trak(&id)["note"], Value::Null);
    // The user's change is in the stash, untouched.
    assert_eq!(
        s.repo.git(&["show", "stash@{0}:shared.txt"]),
        "line 1\nuser line"
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Logs, redaction, artifact diffs, usage
// ---------------------------------------------------------------------------------------------

#[test]
fn a_secret_in_a_title_stays_out_of_the_branch_name_and_the_history() {
    let token = format!("ghp_{}", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789");
    let s = Sandbox::new(&work_flow("20s", ""), json!({"work": [artifact("done")]}));
    let (id, _) = s.new_trak(&format!("Deploy with {token}"), &["--no-run"]);
    assert!(id.starts_with("deploy-with-redacted-"), "{id}");
    let lowered = token.to_ascii_lowercase();
    let branches = s.repo.git(&["for-each-ref", "--format=%(refname)"]);
    assert!(
        !branches.to_ascii_lowercase().contains(&lowered),
        "{branches}"
    );
    let history = s.repo.git(&["log", "--format=%B", &format!("ork/{id}")]);
    assert!(!history.contains(&token), "{history}");
    assert_eq!(s.trak(&id)["title"], "Deploy with [REDACTED]");
}

#[test]
fn logs_show_the_agent_output_with_secrets_redacted() {
    let token = format!("sk-ant-api03-{}", "abcdefghijklmnopqrstuvwxyzABCD");
    let s = Sandbox::new(
        &work_flow("20s", ""),
        json!({"work": [
            {"stdout": "building the login page", "result": {"type": "artifact", "content": "first"}},
            {"stdout": format!("second run output\nusing key {token} now"),
             "result": {"type": "artifact", "content": "second"}},
        ]}),
    );
    let (id, _) = s.new_trak("Log things", &[]);
    s.ork_ok(&["reject", &id, "-m", "again"]);
    assert_eq!(s.runs("work"), 2);
    s.assert_at(&id, "awaiting_review", "work");

    let logs = s.ork_ok(&["logs", &id]);
    assert!(logs.contains("second run output"), "{logs}");
    assert!(logs.contains("using key [REDACTED] now"), "{logs}");
    assert!(!logs.contains("sk-ant-"), "{logs}");

    let reference = format!("refs/ork/logs/{id}");
    let shown = s.repo.git(&["show", &reference]);
    assert!(shown.contains("using key [REDACTED] now"), "{shown}");
    assert!(!shown.contains("sk-ant-"), "{shown}");
    let history = s.repo.git(&["log", "-p", &reference]);
    assert!(history.contains("building the login page"), "{history}");
    assert!(!history.contains("sk-ant-"), "{history}");
    let grep = s.repo.git_output(&["grep", "-c", "sk-ant-", &reference]);
    assert_eq!(
        grep.status.code(),
        Some(1),
        "no stored log holds the token:\n{}",
        stdout(&grep)
    );
}

/// Everything a repository holds that leaves the machine: every ref's history with its
/// patches, and the notes.
fn everything_in_git(s: &Sandbox) -> String {
    let history = s.repo.git(&["log", "-p", "--all"]);
    let notes: String = s
        .repo
        .git(&["notes", "--ref=orkestra", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|commit| s.repo.git(&["notes", "--ref=orkestra", "show", commit]))
        .collect();
    let shown = s.repo.git(&["log", "--all", "--notes=orkestra"]);
    format!("{history}\n{notes}\n{shown}")
}

#[test]
fn artifacts_questions_answers_and_feedback_reach_git_redacted() {
    let asked = format!("ghp_{}", "QuestionToken0123456789abcd");
    let answered = format!("xoxb-{}", "AnswerToken0123456789abcd");
    let rejected = format!("sk-proj-{}", "FeedbackToken0123456789ab");
    let in_artifact = format!("sk-ant-api03-{}", "ArtifactToken0123456789ab");
    let s = Sandbox::new(
        &work_flow("20s", ""),
        json!({"work": [
            {"result": {"type": "questions",
                        "questions": [{"question": format!("Use {asked} here?")}]}},
            {"result": {"type": "artifact",
                        "content": format!("Done; the key is {in_artifact}.")}},
        ]}),
    );
    let (id, _) = s.new_trak("Keep secrets", &[]);
    s.assert_at(&id, "awaiting_answer", "work");
    s.ork_ok(&["answer", &id, "-m", &format!("no, use {answered}")]);
    s.assert_at(&id, "awaiting_review", "work");
    s.ork_ok(&["reject", &id, "-m", &format!("rotate {rejected} first")]);
    s.assert_at(&id, "awaiting_review", "work");

    let artifact = s.repo.git(&[
        "show",
        &format!("ork/{id}:.orkestra/traks/{id}/artifacts/summary.md"),
    ]);
    assert_eq!(artifact.trim(), "Done; the key is [REDACTED].");
    let stored = everything_in_git(&s);
    for token in [&asked, &answered, &rejected, &in_artifact] {
        assert!(
            !stored.contains(token.as_str()),
            "{token} in git:\n{stored}"
        );
    }
    let events = serde_json::to_string(&s.events(&id)).unwrap();
    assert!(events.contains("no, use [REDACTED]"), "{events}");
    assert!(events.contains("rotate [REDACTED] first"), "{events}");
    assert!(events.contains("Use [REDACTED] here?"), "{events}");
}

#[test]
fn a_gates_output_holding_a_token_is_redacted_in_its_note_and_event() {
    let token = format!("AKIA{}", "GATEOUTPUT012345");
    // Made at run time: the workflow on main must not hold the token itself.
    let gate = "echo \"deploying with AKIA$(echo GATEOUTPUT012345)\"; exit 1";
    let s = Sandbox::new(
        &work_flow(
            "20s",
            &format!("gate = {{ command = {gate:?}, timeout = \"20s\" }}\nmax_attempts = 1"),
        ),
        json!({"work": [artifact("tried")]}),
    );
    let (id, _) = s.new_trak("Deploy", &[]);
    s.assert_at(&id, "failed", "work");
    let failed = s.events_of(&id, "gate_failed");
    let output = failed[0]["output"].as_str().unwrap();
    assert!(output.contains("deploying with [REDACTED]"), "{output}");
    let finished = s.event_commits(&id, "stage_finished");
    let note = s
        .repo
        .git(&["notes", "--ref=orkestra", "show", &finished[0]]);
    assert!(note.contains("deploying with [REDACTED]"), "{note}");
    let stored = everything_in_git(&s);
    assert!(!stored.contains(&token), "token in git:\n{stored}");
}

/// A private key as an agent might write one into the code.
fn private_key() -> String {
    format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----\n",
        "MIIEowIBAAKCAQEAsecretbodyLINEone0123456789abcdefABCDEF",
        "sEcReTbOdYlInEtWo0123456789abcdefABCDEFghijklmnopQRSTUV"
    )
}

#[test]
fn a_change_adding_a_private_key_is_not_committed_until_a_human_allows_it() {
    let s = Sandbox::new(
        &work_flow("20s", "max_attempts = 3"),
        json!({"work": [
            {"write": {"app.txt": "fine\n", "deploy/key.pem": format!("# deploy key\n{}", private_key())},
             "result": {"type": "artifact", "content": "added the deploy key"}},
            artifact("kept the key, as allowed"),
        ]}),
    );
    let (id, out) = s.new_trak("Deploy key", &[]);
    // The run fails, naming file and line, and does not run again by itself.
    s.assert_at(&id, "failed", "work");
    assert_eq!(s.runs("work"), 1, "no automatic retry:\n{out}");
    assert!(
        out.contains("deploy/key.pem:2: private-key -----BEGIN RSA PRIVATE KEY-----"),
        "{out}"
    );
    assert!(
        out.contains(&format!("ork retry {id} --allow-secret")),
        "{out}"
    );
    assert!(!out.contains("secretbodyLINEone"), "{out}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("deploy/key.pem:2"), "{show}");
    // Nothing of the change is committed on any ref; it waits in the worktree.
    let stored = everything_in_git(&s);
    assert!(
        !stored.contains("secretbodyLINEone"),
        "key in git:\n{stored}"
    );
    assert!(
        !stored.contains("sEcReTbOdYlInEtWo"),
        "key in git:\n{stored}"
    );
    let tree = s.repo.tree_files(&format!("ork/{id}"));
    assert!(
        !tree.iter().any(|f| f == "app.txt" || f == "deploy/key.pem"),
        "{tree:?}"
    );
    let worktree = s.repo.worktree_path(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("deploy/key.pem")).unwrap(),
        format!("# deploy key\n{}", private_key())
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("app.txt")).unwrap(),
        "fine\n"
    );

    // A plain retry runs the agent again; the key is still there, so it stops again.
    let out = s.ork_ok(&["retry", &id]);
    assert_eq!(s.runs("work"), 2, "{out}");
    s.assert_at(&id, "failed", "work");
    assert!(out.contains("deploy/key.pem:2"), "{out}");

    // Allowed knowingly: committed, and the trak goes on.
    let out = s.ork_ok(&["retry", &id, "--allow-secret"]);
    assert_eq!(s.runs("work"), 3, "{out}");
    s.assert_at(&id, "awaiting_review", "work");
    let committed = s.repo.git(&["show", &format!("ork/{id}:deploy/key.pem")]);
    assert!(committed.contains("secretbodyLINEone"), "{committed}");
    let retried = s.events_of(&id, "retried");
    assert_eq!(retried[1]["allow_secrets"], true, "{retried:?}");
}

#[test]
fn a_token_the_agent_commits_itself_is_taken_off_the_branch() {
    let token = format!("github_pat_{}", "AgentCommittedToken0123456789");
    let s = Sandbox::new(
        &work_flow("20s", ""),
        json!({"work": [
            {"write": {"config.env": format!("TOKEN={token}\n")},
             "run": "git add -A && git commit -q -m 'add config'",
             "result": {"type": "artifact", "content": "configured"}},
        ]}),
    );
    let (id, out) = s.new_trak("Configure", &[]);
    s.assert_at(&id, "failed", "work");
    assert!(
        out.contains("config.env:1: github-token github… (40 characters)"),
        "{out}"
    );
    let stored = everything_in_git(&s);
    assert!(!stored.contains(&token), "token on a ref:\n{stored}");
    let worktree = s.repo.worktree_path(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("config.env")).unwrap(),
        format!("TOKEN={token}\n")
    );
    let status = s.repo.git_in(&worktree, &["status", "--porcelain"]);
    assert_eq!(status.trim(), "?? config.env");
}

#[test]
fn secrets_listed_in_the_allow_file_of_the_main_checkout_are_committed() {
    let token = format!("sk_test_{}", "FixtureStripeKey0123456789");
    let s = Sandbox::with_files(
        &work_flow("20s", ""),
        &[(
            ".orkestra/secrets.allow",
            "# test fixtures\ntests/stripe.txt:1\n",
        )],
        json!({"work": [
            {"write": {"tests/stripe.txt": format!("{token}\n{token}\n")},
             "result": {"type": "artifact", "content": "fixtures"}},
            {"write": {"tests/stripe.txt": format!("{token}\n")},
             "result": {"type": "artifact", "content": "one fixture"}},
        ]}),
    );
    let (id, out) = s.new_trak("Fixtures", &[]);
    // Line 1 is allowed, line 2 is not.
    s.assert_at(&id, "failed", "work");
    assert!(
        out.contains("tests/stripe.txt:2: stripe-key sk_tes… (34 characters)"),
        "{out}"
    );
    assert!(!out.contains("tests/stripe.txt:1"), "{out}");
    s.ork_ok(&["retry", &id]);
    s.assert_at(&id, "awaiting_review", "work");
    let committed = s.repo.git(&["show", &format!("ork/{id}:tests/stripe.txt")]);
    assert_eq!(committed.trim(), token);
}

#[test]
fn logs_of_a_stage_that_runs_again_as_attempt_1_are_all_kept() {
    // A reviewing stage that sends the work back to itself: it runs twice as attempt 1, at
    // once, in one `ork` command. Several traks, each started as a second begins, so that
    // the two runs of one of them end within the same second.
    const TRAKS: usize = 4;
    let runs: Vec<Value> = (1..=TRAKS * 2)
        .map(|n| {
            let decision = if n % 2 == 1 { "reject" } else { "approve" };
            json!({"stdout": format!("work run {n}"),
                   "result": {"type": "verdict", "decision": decision, "content": decision}})
        })
        .collect();
    let s = Sandbox::new(
        &work_flow("20s", "verdict = true\nreview = \"auto\""),
        json!({ "work": runs }),
    );
    for k in 0..TRAKS {
        let (id, _) = s.new_trak(&format!("Log twice {k}"), &["--no-run"]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        std::thread::sleep(
            Duration::from_millis(1010)
                - Duration::from_nanos(now.subsec_nanos().into()).min(Duration::from_millis(1000)),
        );
        let out = s.ork_ok(&["resume", &id]);
        s.assert_at(&id, "done", "work");
        assert_eq!(s.runs("work"), 2 * k as u32 + 2, "{out}");
        let finished: Vec<String> = s
            .events_of(&id, "stage_finished")
            .iter()
            .map(|e| format!("attempt {} at {}", e["attempt"], e["at"]))
            .collect();
        let files = s.repo.git(&[
            "ls-tree",
            "-r",
            "--name-only",
            &format!("refs/ork/logs/{id}"),
        ]);
        let logs = s.ork_ok(&["logs", &id, "--stage", "work"]);
        for n in [2 * k + 1, 2 * k + 2] {
            assert!(
                logs.contains(&format!("work run {n}\n"))
                    || logs.ends_with(&format!("work run {n}")),
                "both runs ({finished:?}) keep their log; stored: {files:?}\n{logs}"
            );
        }
    }
}

#[test]
fn artifact_diffs_and_usage_add_up_across_runs() {
    let usage = json!({"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.25});
    let s = Sandbox::new(
        &work_flow("20s", ""),
        json!({"work": [
            {"result": {"type": "artifact", "content": "Summary\n\nfirst version\n", "usage": usage}},
            {"result": {"type": "artifact", "content": "Summary\n\nsecond version\n", "usage": usage}},
        ]}),
    );
    let (id, _) = s.new_trak("Diff things", &[]);
    let diff = s.ork_ok(&["diff", &id, "--stage", "work"]);
    assert!(
        diff.contains("first version"),
        "one version so far:\n{diff}"
    );
    s.ork_ok(&["reject", &id, "-m", "again"]);
    assert_eq!(s.runs("work"), 2);

    let diff = s.ork_ok(&["diff", &id, "--stage", "work"]);
    assert!(diff.contains("-first version"), "{diff}");
    assert!(diff.contains("+second version"), "{diff}");
    assert!(diff.contains(" Summary"), "{diff}");

    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("200 in / 40 out tokens, $0.5000"), "{show}");
    let trak = s.trak(&id);
    assert_eq!(trak["usage"]["input_tokens"], 200, "{trak:#}");
    assert_eq!(trak["usage"]["output_tokens"], 40, "{trak:#}");
    assert!(
        (trak["usage"]["cost_usd"].as_f64().unwrap() - 0.5).abs() < 1e-9,
        "{trak:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// 11. --detach
// ---------------------------------------------------------------------------------------------

#[test]
fn a_detached_trak_runs_in_the_background() {
    let s = Sandbox::new(
        &work_flow("20s", ""),
        json!({"work": [{"hang": 4, "write": {"bg.txt": "background\n"},
                         "result": {"type": "artifact", "content": "done in the background"}}]}),
    );
    let start = Instant::now();
    let (id, out) = s.new_trak("In the background", &["--detach"]);
    let returned = start.elapsed();
    assert!(
        returned < Duration::from_secs(3),
        "`--detach` waited for the agent ({returned:?}):\n{out}"
    );
    assert!(out.contains("runs in the background"), "{out}");
    assert!(out.contains(&format!("ork logs {id} -f")), "{out}");

    wait_until(Duration::from_secs(20), "awaiting review", || {
        s.status(&id) == "awaiting_review"
    });
    assert_eq!(s.runs("work"), 1);
    let files = s.repo.tree_files(&format!("ork/{id}"));
    assert!(files.contains(&"bg.txt".to_string()), "{files:?}");
    let drive_log = s.repo.root.join(format!(".git/ork/runs/{id}/drive.log"));
    wait_until(Duration::from_secs(5), "the background log", || {
        std::fs::read_to_string(&drive_log).is_ok_and(|l| l.contains("awaiting review"))
    });
}

// ---------------------------------------------------------------------------------------------
// 12. ork run --jobs
// ---------------------------------------------------------------------------------------------

#[test]
fn run_jobs_runs_every_queued_trak_a_few_at_a_time() {
    let s = Sandbox::new(&work_flow("20s", ""), json!({}));
    // Each run notes how many runs are under way at its start.
    let running = s.repo.agents_area().join("running");
    let counts = s.repo.agents_area().join("counts");
    std::fs::create_dir_all(&running).unwrap();
    s.set_plan(json!({"work": [{
        "run": format!(
            "touch '{r}/'\"$ORK_TRAK\"; ls '{r}' | wc -l >> '{c}'; sleep 1.5; rm '{r}/'\"$ORK_TRAK\"",
            r = running.display(),
            c = counts.display()
        ),
        "result": {"type": "artifact", "content": "done"},
    }]}));
    let ids: Vec<String> = ["First", "Second", "Third"]
        .iter()
        .map(|title| s.new_trak(title, &["--no-run"]).0)
        .collect();
    for id in &ids {
        s.assert_at(id, "queued", "work");
    }

    let out = s.ork_ok(&["run", "--jobs", "2"]);
    for id in &ids {
        s.assert_at(id, "awaiting_review", "work");
        assert!(out.contains(&format!("{id}: running work")), "{out}");
    }
    assert!(out.contains("Nothing more to run."), "{out}");
    let counts: Vec<u32> = lines(&std::fs::read_to_string(&counts).unwrap())
        .iter()
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_eq!(
        counts.iter().max(),
        Some(&2),
        "two at a time, never more: {counts:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The record folder is ork's, whatever the agent does to it
// ---------------------------------------------------------------------------------------------

#[test]
fn an_agent_that_deletes_the_record_folder_loses_nothing() {
    let s = Sandbox::new(
        &workflow(
            "20s",
            &[
                stage("planning", "planner.md", "plan", ""),
                stage("work", "worker.md", "summary", ""),
            ],
        ),
        json!({
            "planning": [artifact("# Plan")],
            "work": [{"run": "rm -rf .orkestra/traks && mkdir -p .orkestra/traks/junk && echo x > .orkestra/traks/junk/f",
                      "write": {"code.txt": "done\n"},
                      "result": {"type": "artifact", "content": "Done"}}],
        }),
    );
    let (id, _) = s.new_trak("Careless agent", &[]);
    s.ork_ok(&["approve", &id]);
    s.assert_at(&id, "awaiting_review", "work");
    let branch = format!("ork/{id}");
    let files = s.repo.tree_files(&branch);
    let record = format!(".orkestra/traks/{id}/");
    assert!(files.iter().any(|f| f == "code.txt"), "{files:?}");
    assert!(
        files
            .iter()
            .any(|f| *f == format!("{record}artifacts/plan.md")),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.contains("traks/junk")), "{files:?}");
    // Every event is still there, and the state read back is the fold of them.
    let events = files
        .iter()
        .filter(|f| f.starts_with(&format!("{record}events/")))
        .count();
    let show = common::json(&s.ork_ok(&["show", &id, "--json"]));
    assert_eq!(
        show["events"].as_u64().unwrap() as usize,
        events,
        "{show:#}"
    );
    assert_eq!(
        s.repo
            .git_in(&s.repo.worktree_path(&id), &["status", "--porcelain"]),
        ""
    );
}

#[test]
fn an_agent_that_cannot_start_fails_the_stage_once_with_the_fix() {
    let wf = workflow(
        "20s",
        &[stage("work", "worker.md", "summary", "max_attempts = 3")],
    )
    .replace(FAKE_AGENT, "/nonexistent/agent-program");
    let s = Sandbox::new(&wf, json!({}));
    // Recorded to run (`trak new` itself would refuse before creating anything), then run.
    let (id, _) = s.new_trak("No such agent", &["--no-run"]);
    let out = common::stdout(&s.ork(&["resume", &id]));
    assert!(out.contains("fix agent \"fake\""), "{out}");
    s.assert_at(&id, "failed", "work");
    // Starting it again would not mend it: one failed run, no retries.
    assert_eq!(s.events_of(&id, "stage_finished").len(), 1);
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("/nonexistent/agent-program"), "{show}");
    assert!(show.contains("ork retry"), "{show}");
}

#[test]
fn the_gate_script_runs_from_the_main_checkout_not_the_agents_copy() {
    let s = Sandbox::new(
        &workflow(
            "20s",
            &[stage(
                "work",
                "worker.md",
                "summary",
                "gate = { command = \".orkestra/scripts/checks.sh\", timeout = \"20s\" }\nmax_attempts = 1",
            )],
        ),
        // The agent "fixes" the checks instead of the code.
        json!({"work": [{"write": {".orkestra/scripts/checks.sh": "#!/bin/sh\nexit 0\n"},
                         "result": {"type": "artifact", "content": "All green"}}]}),
    );
    s.repo.write(
        ".orkestra/scripts/checks.sh",
        "#!/bin/sh\necho 'the real checks fail'\nexit 1\n",
    );
    s.repo.commit_all("Real checks");
    let (id, out) = s.new_trak("Cheat the gate", &[]);
    assert!(out.contains("the real checks fail"), "{out}");
    s.assert_at(&id, "failed", "work");
}

#[test]
fn a_dropped_trak_keeps_its_history_and_leaves_the_list() {
    let s = Sandbox::new(
        &workflow("20s", &[stage("work", "worker.md", "summary", "")]),
        json!({}),
    );
    let (id, _) = s.new_trak("Not needed after all", &["--no-run"]);
    let worktree = s.repo.worktree_path(&id);
    std::fs::write(worktree.join("scratch.txt"), "unsaved\n").unwrap();

    let err = s.ork_err(&["trak", "drop", &id, "-m", "superseded"]);
    assert!(
        err.contains("uncommitted changes") && err.contains("scratch.txt"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(worktree.exists());

    let out = s.ork_ok(&["trak", "drop", &id, "-m", "superseded", "--force"]);
    assert!(out.contains("dropped"), "{out}");
    assert!(!worktree.exists());
    assert!(!s.ork_ok(&["status"]).contains(&id));
    let all = s.ork_ok(&["status", "--all"]);
    assert!(all.contains(&id) && all.contains("dropped"), "{all}");
    assert_eq!(s.events_of(&id, "dropped").len(), 1);
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("superseded"), "{show}");
    // The branch and its history stay.
    assert!(
        !s.repo
            .git(&["log", "--oneline", &format!("ork/{id}")])
            .is_empty()
    );
    let again = s.ork_err(&["trak", "drop", &id]);
    assert!(again.contains("already dropped"), "{again}");
}

// ---------------------------------------------------------------------------------------------
// Isolation: every process in its worktree, and escapes named
// ---------------------------------------------------------------------------------------------

#[test]
fn agents_and_gates_run_in_the_worktree_with_pwd_and_no_oldpwd() {
    let s = Sandbox::new(
        &work_flow(
            "20s",
            "gate = { command = \"printf '%s\\\\n' \\\"$PWD\\\" \\\"$(pwd)\\\" \\\"${OLDPWD-unset}\\\" > ../../../../agents/gate.env\" }",
        ),
        json!({"work": [artifact("done")]}),
    );
    // Started from a shell whose PWD and OLDPWD name the main checkout and somewhere else.
    let mut command = s.ork_command(&["trak", "new", "Where am I"]);
    command
        .env("PWD", &s.repo.root)
        .env("OLDPWD", s.path("elsewhere"));
    let out = success(
        &output_within(&mut command, s.limit(), "ork trak new"),
        "ork trak new",
    );
    let id = created_id(&out);
    let worktree = s.repo.worktree_path(&id).display().to_string();
    let env = s.agent_env("work", 1);
    assert_eq!(env["PWD"], worktree, "{env:?}");
    assert_eq!(env["CWD"], worktree, "{env:?}");
    assert_eq!(env["ORK_WORKTREE"], worktree, "{env:?}");
    assert!(!env.contains_key("OLDPWD"), "{env:?}");
    let gate = std::fs::read_to_string(s.repo.agents_area().join("gate.env")).unwrap();
    assert_eq!(gate, format!("{worktree}\n{worktree}\nunset\n"));
}

/// The `outside_changes` of the trak's only `stage_finished` event, as (where, path, change).
fn outside_changes(s: &Sandbox, id: &str) -> Vec<(String, String, String)> {
    let finished = s.events_of(id, "stage_finished");
    assert_eq!(finished.len(), 1, "{finished:#?}");
    let mut list: Vec<(String, String, String)> = finished[0]["outside_changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no outside_changes in {:#}", finished[0]))
        .iter()
        .map(|c| {
            (
                c["trak"].as_str().unwrap_or("main").to_string(),
                c["path"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

fn triple(place: &str, path: &str, change: &str) -> (String, String, String) {
    (place.to_string(), path.to_string(), change.to_string())
}

#[test]
fn files_an_agent_changes_in_the_main_checkout_are_named_and_left_alone() {
    let main = "$ORK_WORKTREE/../../..";
    // Unconfined (`report`): under `enforce` these writes are refused (tests/suite/sandbox.rs).
    let s = Sandbox::new(
        &unconfined(&work_flow("20s", "")),
        json!({"work": [{
            "run": format!("echo escaped > {main}/x; echo again >> {main}/dirty.txt; rm {main}/README.md"),
            "result": {"type": "artifact", "content": "done"}
        }]}),
    );
    // Dirty before the run: one file the agent changes again, one it leaves.
    s.repo.write("dirty.txt", "mine\n");
    s.repo.write("untouched.txt", "mine too\n");
    let head = s.repo.git(&["rev-parse", "HEAD"]);
    let (id, out) = s.new_trak("Escape", &[]);
    s.assert_at(&id, "awaiting_review", "work");

    for named in [
        "x (new, main checkout)",
        "dirty.txt (modified, main checkout)",
        "README.md (deleted, main checkout)",
    ] {
        assert!(out.contains(named), "{named} in:\n{out}");
    }
    assert!(out.contains("outside the trak's worktree"), "{out}");
    assert!(!out.contains("untouched.txt"), "{out}");
    assert_eq!(
        outside_changes(&s, &id),
        vec![
            triple("main", "README.md", "deleted"),
            triple("main", "dirty.txt", "modified"),
            triple("main", "x", "new"),
        ]
    );
    let show = s.ork_ok(&["show", &id]);
    assert!(
        show.contains("outside   work attempt 1 changed x (new, main checkout)"),
        "{show}"
    );
    let shown = common::json(&s.ork_ok(&["show", &id, "--json"]));
    let listed = shown["outside_changes"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{shown:#}");
    assert!(
        listed
            .iter()
            .any(|c| c["path"] == "x" && c["change"] == "new" && c["stage"] == "work"),
        "{shown:#}"
    );

    // Left as the run left them: not committed, not reverted, not deleted.
    assert_eq!(s.repo.read("x"), "escaped\n");
    assert_eq!(s.repo.read("dirty.txt"), "mine\nagain\n");
    assert!(!s.repo.root.join("README.md").exists());
    assert_eq!(s.repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(s.repo.git(&["log", "--all", "--format=%H", "--", "x"]), "");
    assert!(
        !s.repo
            .tree_files(&format!("ork/{id}"))
            .contains(&"x".to_string())
    );
}

#[test]
fn a_checkout_ork_merges_into_during_a_run_is_not_taken_for_the_runs_writes() {
    let s = Sandbox::new(
        &unconfined(&work_flow("20s", "")),
        json!({"work": [artifact("a")]}),
    );
    let (resting, _) = s.new_trak("Resting", &[]);
    s.assert_at(&resting, "awaiting_review", "work");
    // While the next trak's agent runs, ork merges into the resting trak's checkout, as a
    // subtrak's integration into its parent's does: under its merge lock, files first (its
    // branch would move last). Here a stand-in holds the lock and writes the file.
    let started = s.agent_dir.join("started");
    let merging = s.agent_dir.join("merging");
    let lock = s
        .repo
        .root
        .join(format!(".git/ork/merge/ork/{resting}.lock"));
    let merged = s.repo.worktree_path(&resting).join("merged.txt");
    let script = format!(
        "import fcntl, os, time\n\
         while not os.path.exists({started:?}): time.sleep(0.02)\n\
         os.makedirs(os.path.dirname({lock:?}), exist_ok=True)\n\
         f = open({lock:?}, 'a')\n\
         fcntl.flock(f, fcntl.LOCK_EX)\n\
         open({merged:?}, 'w').write('merged\\n')\n\
         open({merging:?}, 'w').close()\n\
         time.sleep(60)\n"
    );
    let mut holder = Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .expect("python3");
    s.set_plan(json!({"work": [{
        "touch": [started], "wait_for": [merging],
        "result": {"type": "artifact", "content": "done"}
    }]}));
    let (id, out) = s.new_trak("Beside a merge", &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    s.assert_at(&id, "awaiting_review", "work");
    assert!(!out.contains("merged.txt"), "{out}");
    assert!(s.events_of(&resting, "planted").is_empty(), "{out}");
}

#[test]
fn files_an_agent_changes_in_another_traks_worktree_are_named_and_left_alone() {
    let s = Sandbox::new(
        &unconfined(&work_flow("20s", "")),
        json!({"work": [artifact("a")]}),
    );
    let (resting, _) = s.new_trak("Resting", &[]);
    s.assert_at(&resting, "awaiting_review", "work");
    let other = format!("$ORK_WORKTREE/../{resting}");
    s.set_plan(json!({"work": [artifact("a"), {
        "run": format!("echo hacked >> {other}/README.md; echo planted > {other}/planted.txt"),
        "result": {"type": "artifact", "content": "done"}
    }]}));
    let (id, out) = s.new_trak("Trespass", &[]);
    assert!(
        out.contains(&format!("README.md (modified, trak {resting})")),
        "{out}"
    );
    assert!(
        out.contains(&format!("planted.txt (new, trak {resting})")),
        "{out}"
    );
    assert_eq!(
        outside_changes(&s, &id),
        vec![
            triple(&resting, "README.md", "modified"),
            triple(&resting, "planted.txt", "new"),
        ]
    );
    let show = s.ork_ok(&["show", &id]);
    assert!(
        show.contains(&format!("planted.txt (new, trak {resting})")),
        "{show}"
    );
    // The resting trak's own record says nothing, and nothing was committed anywhere.
    assert!(
        s.events_of(&resting, "stage_finished")[0]
            .get("outside_changes")
            .is_none()
    );
    let worktree = s.repo.worktree_path(&resting);
    assert_eq!(
        std::fs::read_to_string(worktree.join("planted.txt")).unwrap(),
        "planted\n"
    );
    assert!(
        std::fs::read_to_string(worktree.join("README.md"))
            .unwrap()
            .ends_with("hacked\n")
    );
    assert_eq!(
        s.repo
            .git(&["log", "--all", "--format=%H", "--", "planted.txt"]),
        ""
    );
    let trespasser = s.repo.tree_files(&format!("ork/{id}"));
    assert!(!trespasser.contains(&"planted.txt".to_string()));
}

// ---------------------------------------------------------------------------------------------
// Bounded output: whatever an agent prints, ork and the repository stay small
// ---------------------------------------------------------------------------------------------

/// Runs `ork args` to completion, and returns its output and its peak memory (VmHWM, in KiB)
/// as /proc saw it while it ran.
fn ork_with_peak_memory(s: &Sandbox, args: &[&str]) -> (Output, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = s
        .ork_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut pipe = pipe;
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let start = Instant::now();
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("ork {} did not finish within 120s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, peak)
}

/// The sizes of the blobs in `rev`'s tree under `path`, by file.
fn blob_sizes(s: &Sandbox, rev: &str, path: &str) -> Vec<(String, u64)> {
    lines(&s.repo.git(&["ls-tree", "-r", "-l", rev, "--", path]))
        .iter()
        .map(|l| {
            let (meta, name) = l.split_once('\t').unwrap();
            let size = meta.split_whitespace().nth(3).unwrap().parse().unwrap();
            (name.to_string(), size)
        })
        .collect()
}

/// What `git count-objects -v` counts, loose and packed, in KiB.
fn object_kib(s: &Sandbox) -> u64 {
    let counts = s.repo.git(&["count-objects", "-v"]);
    counts
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| *k == "size" || *k == "size-pack")
        .map(|(_, v)| v.trim().parse::<u64>().unwrap())
        .sum()
}

const MIB: u64 = 1 << 20;

#[test]
fn a_run_waits_out_a_lock_held_for_an_instant_but_not_a_running_process() {
    let s = Sandbox::new(
        &work_flow("20s", "review = \"human\""),
        json!({"work": [artifact("done")]}),
    );
    let (id, _) = s.new_trak("Locked", &["--no-run"]);
    let lock = s.repo.root.join(format!(".git/ork/run/{id}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let hold = |seconds: &str| {
        use std::os::unix::process::CommandExt;
        // Its own process group, so the sleep holding the lock can be killed with it.
        let child = Command::new("flock")
            .arg(&lock)
            .args(["sleep", seconds])
            .process_group(0)
            .spawn()
            .expect("running flock");
        wait_until(Duration::from_secs(10), "flock to hold the lock", || {
            !Command::new("flock")
                .args(["-n"])
                .arg(&lock)
                .arg("true")
                .status()
                .unwrap()
                .success()
        });
        child
    };

    // Held for an instant (as `ork status` does to see whether a run lives): the run waits.
    let mut brief = hold("0.2");
    s.ork_ok(&["resume", &id]);
    s.assert_at(&id, "awaiting_review", "work");
    brief.wait().unwrap();

    // Held on: another process runs the trak, and ork says so.
    s.ork_ok(&["reject", &id, "-m", "again", "--no-run"]);
    let seconds = unique_seconds(4000).to_string();
    let mut long = hold(&seconds);
    let out = s.ork(&["resume", &id]);
    common::kill_groups(&format!("sleep {seconds}"));
    let _ = long.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is being run by another ork process"), "{err}");
}

#[test]
fn questions_of_any_size_leave_the_event_small() {
    let huge = "Which one? ".repeat(9_000);
    let questions: Vec<Value> = (0..20)
        .map(|n| json!({"question": format!("{n}. {huge}"), "options": [huge.clone(), "no"]}))
        .collect();
    let s = Sandbox::new(
        &work_flow("60s", "review = \"auto\""),
        json!({"work": [{"result": {"type": "questions", "questions": questions}}]}),
    );
    let (id, _) = s.new_trak("Ask at length", &[]);
    s.assert_at(&id, "awaiting_answer", "work");
    // 20 questions of 100 KB, each with an option as long (4 MB, within what ork reads of
    // $ORK_OUTPUT): the event keeps about 1 MiB.
    for (file, size) in blob_sizes(&s, &format!("ork/{id}"), ".orkestra") {
        assert!(size < MIB + 64 * 1024, "{file} is {size} bytes");
    }
    let show = s.ork_ok(&["show", &id]);
    assert!(
        show.contains("0. Which one? Which one?"),
        "{}",
        &show[..300]
    );
    assert!(
        show.contains("more question(s) were left out"),
        "the user is told"
    );
}

#[test]
fn a_cli_result_line_longer_than_ork_keeps_fails_the_run_saying_why() {
    // A stand-in for Claude Code whose one result line (3 MB) is longer than what ork
    // keeps of it with a 64 KiB artifact limit (a 1 MiB head and a 2 × 64 KiB + 1 MiB tail).
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("big-claude");
    std::fs::write(
        &cli,
        r#"#!/usr/bin/env python3
import sys
sys.stdout.write('{"type":"result","subtype":"success","result":"' + "a" * 3000000 + '"}\n')
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let workflow = format!(
        "default_flow = \"feature\"\n\n[limits]\nartifact = \"64KiB\"\n\n\
         [agents.big]\nkind = \"claude\"\ncommand = [{:?}]\ntimeout = \"60s\"\n\n\
         [flows.feature]\n\n[[flows.feature.stages]]\nname = \"work\"\nagent = \"big\"\n\
         prompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n",
        cli.display().to_string()
    );
    let s = Sandbox::new(&workflow, json!({}));
    let out = s.ork(&["trak", "new", "Answer at length"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let id = s.repo.trak_branches()[0]
        .trim_start_matches("ork/")
        .to_string();
    s.assert_at(&id, "failed", "work");
    let note = s.trak(&id)["note"].as_str().unwrap_or_default().to_string();
    for words in [
        "without a result",
        "it printed 2.9 MiB on stdout",
        "ork keeps its last 1.1 MiB",
        "[limits] artifact",
    ] {
        assert!(
            note.contains(words),
            "{words:?} not in the note:\n{note}\n{said}"
        );
    }
}

#[test]
fn an_agent_printing_200_mb_leaves_ork_and_the_repository_small() {
    let s = Sandbox::new(&work_flow("120s", ""), json!({"work": [{"flood": 200}]}));
    let before = object_kib(&s);
    let (out, peak_kib) = ork_with_peak_memory(&s, &["trak", "new", "Flood"]);
    let stdout = success(&out, "ork trak new");
    let id = created_id(&stdout);
    s.assert_at(&id, "awaiting_review", "work");
    eprintln!("ork's peak memory: {} MiB", peak_kib / 1024);
    assert!(
        peak_kib < 150 * 1024,
        "ork's peak memory was {} MiB for 200 MiB of agent output",
        peak_kib / 1024
    );
    // The terminal got the start of it and a line saying the rest is not shown.
    assert!(
        (out.stdout.len() as u64) < 3 * MIB,
        "{} bytes on stdout",
        out.stdout.len()
    );
    assert!(
        stdout.contains("the rest is not shown live"),
        "{}",
        &stdout[stdout.len() - 2000..]
    );

    // Its stdout was the artifact: cut at 1 MiB, saying how much more there was and where.
    let artifact = s.repo.git(&[
        "show",
        &format!("ork/{id}:.orkestra/traks/{id}/artifacts/summary.md"),
    ]);
    assert!(
        artifact.starts_with("flooding the terminal"),
        "{}",
        &artifact[..100]
    );
    let marker = artifact.lines().last().unwrap();
    assert!(
        marker.starts_with("[ork: cut at 1023.5 KiB: 199"),
        "{marker}"
    );
    assert!(marker.contains("MiB more were left out"), "{marker}");
    assert!(
        marker.contains(&format!("ork logs {id} --stage work")),
        "{marker}"
    );
    for (file, size) in blob_sizes(&s, &format!("ork/{id}"), ".orkestra") {
        assert!(size < MIB + 4096, "{file} is {size} bytes");
    }
    // The log keeps the tail, within its cap.
    let logs = blob_sizes(&s, &format!("refs/ork/logs/{id}"), ".");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].1 <= MIB + 4096, "{logs:?}");
    let log = s.ork_ok(&["logs", &id]);
    assert!(log.contains("of output cut here]"), "{}", &log[..500]);
    // Everything ork wrote to git, compressed, is far below what the agent printed.
    let grown = object_kib(&s) - before;
    assert!(grown < 4 * 1024, "the objects grew by {grown} KiB");
    let runs = s.repo.root.join(format!(".git/ork/runs/{id}"));
    let live: u64 = common::all_files(&runs)
        .iter()
        .map(|f| std::fs::metadata(runs.join(f)).unwrap().len())
        .sum();
    assert!(live < 2 * MIB, "{live} bytes under {}", runs.display());

    // Done: its runtime folder goes.
    s.ork_ok(&["approve", &id]);
    s.assert_at(&id, "done", "work");
    assert!(!runs.exists(), "{} is left", runs.display());
}

#[test]
fn an_artifact_over_its_cap_is_cut_with_a_marker() {
    let big = "word ".repeat(40_000);
    let s = Sandbox::new(
        &format!("{}\n[limits]\nartifact = \"64KiB\"\n", work_flow("20s", "")),
        json!({"work": [{"result": {"type": "artifact", "content": big}}]}),
    );
    let (id, _) = s.new_trak("Verbose", &[]);
    s.assert_at(&id, "awaiting_review", "work");
    let artifact = s.repo.git(&[
        "show",
        &format!("ork/{id}:.orkestra/traks/{id}/artifacts/summary.md"),
    ]);
    assert!(artifact.starts_with("word word"), "{}", &artifact[..50]);
    assert!(artifact.len() < 65 * 1024, "{} bytes", artifact.len());
    let marker = artifact.lines().last().unwrap();
    assert!(marker.starts_with("[ork: cut at 64 KiB:"), "{marker}");
    assert!(marker.contains("KiB more were left out"), "{marker}");
    assert!(
        marker.contains(&format!("ork logs {id} --stage work")),
        "{marker}"
    );
}

/// Whether `bytes` are UTF-8 text with no control character but newline and tab.
fn only_text(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    match text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        Some(c) => Err(format!("{c:?} in:\n{text:?}")),
        None => Ok(()),
    }
}

#[test]
fn binary_and_escape_sequences_never_reach_the_terminal() {
    use base64_free::encode;
    let raw: &[u8] = b"\x1b[31mred\x1b[0m nul\x00 bell\x07 bad\xff\xfe utf8 \x1b]0;pwned\x07title\r\n\x1b[2Jcleared\tdone\n\x9b\x01\x02\x03end";
    let s = Sandbox::new(
        &work_flow("20s", "max_attempts = 1"),
        json!({"work": [{
            "bytes": encode(raw),
            "run": "printf 'err \\033[1mbold\\033[0m\\a\\000x\\n' >&2",
            "result": {"type": "failed", "error": "broke \u{1b}[5mblinking\u{7}"}
        }]}),
    );
    let out = s.ork(&["trak", "new", "Raw bytes"]);
    only_text(&out.stdout).unwrap();
    only_text(&out.stderr).unwrap();
    let shown = stdout(&out);
    assert!(
        shown.contains("red nul bell bad\u{fffd}\u{fffd} utf8 title"),
        "{shown}"
    );
    assert!(shown.contains("cleared\tdone"), "{shown}");
    assert!(shown.contains("err bold"), "{shown}");
    assert!(shown.contains("broke blinking"), "{shown}");
    let id = created_id(&shown);
    s.assert_at(&id, "failed", "work");
    let logs = s.ork(&["logs", &id]);
    only_text(&logs.stdout).unwrap();
    assert!(stdout(&logs).contains("cleared\tdone"), "{}", stdout(&logs));

    // Dropped: its runtime folder goes too.
    let runs = s.repo.root.join(format!(".git/ork/runs/{id}"));
    assert!(runs.exists());
    s.ork_ok(&["trak", "drop", &id, "-m", "noise", "--force"]);
    assert!(!runs.exists(), "{} is left", runs.display());
}

/// Base64 without a dependency: the fake agent decodes it.
mod base64_free {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
        out
    }
}
