//! End to end: work taken in from GitHub Issues (the stand-in `gh`, `fixtures/gh/gh`, keeping
//! issues, comments and permissions in a JSON file as GitHub would) and from a tracker's own
//! programs (`[intake.command]`): one trak per issue however many machines look, routing by
//! label, one status comment edited in place, `/ork` commands only from people with write
//! access, and an issue's close and its trak's merge going both ways.

use serde_json::{Value, json};

use crate::common;
use common::sandbox::{Net, fake_agent};
use common::{RunsOrk, Sandbox};

/// The fake agent; `feature` (work with a human review) is the default flow, `fix` (work,
/// automatic) is where `bug` issues go; issues labelled `ork` are taken in.
fn workflow(extra: &str) -> String {
    format!(
        "default_flow = \"feature\"\n{extra}\n{}\n\
         [intake.github]\nlabel = \"ork\"\n\n\
         [[intake.route]]\nlabels = [\"bug\"]\nflow = \"fix\"\n\n\
         [flows.feature]\n[[flows.feature.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"human\"\n\
         [flows.feature.integration]\nstrategy = \"merge\"\non_conflict = \"work\"\n\n\
         [flows.fix]\n[[flows.fix.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\nreview = \"auto\"\n\
         [flows.fix.integration]\nstrategy = \"merge\"\non_conflict = \"work\"\n",
        fake_agent("20s")
    )
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn issue(number: u64, title: &str, body: &str, labels: &[&str]) -> Value {
    json!({"number": number, "title": title, "body": body, "labels": labels,
           "author": "alice", "state": "OPEN", "updatedAt": now(), "comments": []})
}

/// GitHub as the stand-in keeps it: three issues, two for ork (the second a bug that depends
/// on the first), alice with write access, mallory with read.
fn github() -> Value {
    json!({
        "logged_in": true, "prs": {}, "viewer": "ork-bot",
        "permissions": {"alice": "write", "mallory": "read"},
        "issues": {
            "1": issue(1, "Add a greeting", "Print hello.", &["ork"]),
            "2": issue(2, "Fix the farewell", "It says bye twice.\nDepends on #1.", &["ork", "bug", "priority:1"]),
            "3": issue(3, "Not for ork", "Someone else's.", &["question"]),
        }
    })
}

/// A person (or anyone) commenting on issue `number`.
fn comment(s: &Sandbox, number: u64, author: &str, body: &str) {
    let mut gh = s.gh();
    let next = gh["next_comment"].as_u64().unwrap_or(1000) + 1;
    let issue = &mut gh["issues"][number.to_string()];
    let issue_comments = issue["comments"].as_array_mut().unwrap();
    issue_comments.push(
        json!({"author": author, "body": body, "id": format!("IC_{next}"),
                               "databaseId": next, "createdAt": now()}),
    );
    issue["updatedAt"] = json!(now());
    gh["next_comment"] = json!(next);
    s.set_gh(gh);
}

/// The comments on issue `number` by `author`.
fn comments_by(s: &Sandbox, number: u64, author: &str) -> Vec<String> {
    s.gh()["issues"][number.to_string()]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["author"] == author)
        .map(|c| c["body"].as_str().unwrap().to_string())
        .collect()
}

fn status_of(s: &Sandbox, id: &str) -> Value {
    common::status_entry(&s.ork_ok(&["status", "--all", "--json"]), id, "trak")
}

#[test]
fn issues_become_traks_once_and_the_issue_tells_the_story_both_ways() {
    let s = Sandbox::new(
        &workflow(""),
        json!({"work": [
            {"result": {"type": "artifact", "content": "Said hello."}},
            {"result": {"type": "artifact", "content": "Said hello, with tabs."}}
        ]}),
    )
    .with_gh();
    s.set_gh(github());

    let out = s.ork_ok(&["intake"]);
    assert!(out.contains("issue-1: taken in from #1"), "{out}");
    assert!(out.contains("issue-2: taken in from #2"), "{out}");
    assert!(
        !out.contains("issue-3"),
        "an issue without the label stays out: {out}"
    );
    let again = s.ork_ok(&["intake"]);
    assert!(
        !again.contains("taken in"),
        "a second pass makes nothing: {again}"
    );
    assert_eq!(
        s.repo.trak_branches().len(),
        2,
        "{:?}",
        s.repo.trak_branches()
    );

    // Routing: the bug's flow, its priority label and its dependency.
    let bug = status_of(&s, "issue-2");
    assert_eq!(bug["flow"], "fix", "{bug}");
    assert_eq!(bug["priority"], 1, "{bug}");
    assert_eq!(bug["after"], json!(["issue-1"]), "{bug}");
    let show = s.ork_ok(&["show", "issue-1"]);
    assert!(
        show.contains("Print hello."),
        "the issue's body is the description: {show}"
    );

    // One status comment per issue, edited in place as the trak moves.
    assert_eq!(comments_by(&s, 1, "ork-bot").len(), 1);
    s.ork_ok(&["resume", "issue-1"]);
    s.ork_ok(&["intake"]);
    let status = comments_by(&s, 1, "ork-bot");
    assert_eq!(status.len(), 1, "edited, not a second comment: {status:?}");
    assert!(status[0].contains("awaiting review"), "{}", status[0]);
    assert!(
        status[0].contains("Said hello."),
        "the artifact to review: {}",
        status[0]
    );
    assert!(status[0].contains("/ork approve"), "{}", status[0]);

    // Someone without write access, and ork's own login (which an agent here would share),
    // are refused with one reply each; nothing moves.
    comment(&s, 1, "mallory", "/ork approve");
    comment(&s, 1, "ork-bot", "/ork approve");
    let out = s.ork_ok(&["intake"]);
    assert!(out.contains("refused"), "{out}");
    s.ork_ok(&["intake"]);
    assert_eq!(status_of(&s, "issue-1")["status"], "awaiting_review");
    let replies: Vec<String> = comments_by(&s, 1, "ork-bot")
        .into_iter()
        .filter(|c| c.contains("was not done"))
        .collect();
    assert_eq!(
        replies.len(),
        2,
        "one reply per refused comment: {replies:?}"
    );
    assert!(
        replies
            .iter()
            .any(|r| r.contains("@mallory has no write access")),
        "{replies:?}"
    );

    // A person with write access rejects with feedback, then approves: acted on once each.
    comment(&s, 1, "alice", "/ork reject use tabs\nand keep it short");
    s.ork_ok(&["intake"]);
    let log = s.git(&["log", "--format=%B", "ork/issue-1"]);
    assert!(
        log.contains("use tabs"),
        "the feedback is in the trak's story: {log}"
    );
    s.ork_ok(&["resume", "issue-1"]);
    comment(&s, 1, "alice", "/ork approve");
    s.ork_ok(&["intake"]);
    s.ork_ok(&["intake"]);
    assert_eq!(s.event_commits("issue-1", "rejected").len(), 1);
    assert_eq!(s.event_commits("issue-1", "comment_read").len(), 4);
    s.ork_ok(&["resume", "issue-1"]);
    assert_eq!(status_of(&s, "issue-1")["status"], "done");

    // The merge closes the issue, its status saying where the work went.
    let out = s.ork_ok(&["intake"]);
    assert!(out.contains("issue-1: merged, #1 closed"), "{out}");
    assert_eq!(s.gh()["issues"]["1"]["state"], "CLOSED");
    assert!(comments_by(&s, 1, "ork-bot")[0].contains("Merged into `main`"));

    // An edited issue updates the description; a person closing one drops its trak.
    let mut gh = s.gh();
    gh["issues"]["2"]["body"] = json!("It says bye three times now.");
    gh["issues"]["2"]["updatedAt"] = json!(now());
    s.set_gh(gh);
    s.ork_ok(&["intake"]);
    assert!(s.ork_ok(&["show", "issue-2"]).contains("three times"));
    let mut gh = s.gh();
    gh["issues"]["2"]["state"] = json!("CLOSED");
    s.set_gh(gh);
    let out = s.ork_ok(&["intake"]);
    assert!(out.contains("issue-2: dropped, #2 was closed"), "{out}");
    assert_eq!(status_of(&s, "issue-2")["status"], "dropped");
    assert!(
        s.git(&["branch", "--list", "ork/issue-2"])
            .contains("ork/issue-2")
    );
}

#[test]
fn two_machines_taking_in_at_once_make_one_trak_per_issue_and_act_on_a_comment_once() {
    let Net { remote, a, b } = Net::new(&workflow("[sync]\nqueue = true\n"));
    let gh_state = a.path("github.json");
    let a = a.with_gh_at(gh_state.clone());
    let b = b.with_gh_at(gh_state);
    let remote_git = |args: &[&str]| remote.git(args);
    a.set_gh(github());
    a.set_plan(json!({"work": [{"result": {"type": "artifact", "content": "Said hello."}}]}));

    let both = |what: &str| {
        let mut first = a.ork_command(&["intake"]).spawn().unwrap();
        let second = common::output_within(&mut b.ork_command(&["intake"]), b.limit(), what);
        assert!(first.wait().unwrap().success(), "{what} on machine A");
        common::success(&second, what);
    };
    both("both machines taking in");
    both("both machines again");
    let on_remote = remote_git(&["for-each-ref", "--format=%(refname)", "refs/heads/ork/"]);
    assert_eq!(
        on_remote.lines().collect::<Vec<_>>(),
        ["refs/heads/ork/issue-1", "refs/heads/ork/issue-2"],
        "one trak per issue on the remote"
    );
    assert_eq!(comments_by(&a, 1, "ork-bot").len(), 1, "one status comment");

    a.ork_ok(&["resume", "issue-1"]);
    a.ork_ok(&["sync"]);
    comment(&a, 1, "alice", "/ork reject say it twice");
    both("both machines reading one comment");
    both("both machines once more");
    let read = remote_git(&[
        "log",
        "--format=%(trailers:key=Ork-Event,valueonly)",
        "ork/issue-1",
    ]);
    assert_eq!(
        read.lines().filter(|l| l.trim() == "comment_read").count(),
        1,
        "{read}"
    );
    assert_eq!(
        read.lines().filter(|l| l.trim() == "rejected").count(),
        1,
        "{read}"
    );
}

#[test]
fn a_trackers_own_programs_bring_tasks_in_and_hear_each_status_under_the_watch() {
    let list = "#!/bin/sh\necho '{\"key\": \"LIN-7\", \"title\": \"Rename the flag\", \"body\": \"Call it --quiet.\", \"labels\": [\"bug\"], \"url\": \"https://linear.app/acme/issue/LIN-7\"}'\n";
    let update =
        "#!/bin/sh\n{ printf '%s ' \"$1\"; cat; echo; } >> \"$(dirname \"$0\")/../updates.log\"\n";
    let extra = "[intake]\nevery = \"1s\"\n[intake.command]\nlist = [\"sh\", \"scripts/list\"]\nupdate = [\"sh\", \"scripts/update\"]\n";
    let s = Sandbox::with_files(
        &workflow(extra).replace("[intake.github]\nlabel = \"ork\"\n", ""),
        &[("scripts/list", list), ("scripts/update", update)],
        json!({"work": [{"result": {"type": "artifact", "content": "Renamed."}}]}),
    );
    let mut watch = s.ork_command(&["run", "--watch"]).spawn().unwrap();
    let updates = s.repo.root.join("updates.log");
    common::wait_until(
        std::time::Duration::from_secs(60),
        "the task's trak merged",
        || std::fs::read_to_string(&updates).is_ok_and(|log| log.contains("\"status\":\"done\"")),
    );
    let _ = watch.kill();
    let _ = watch.wait();
    let trak = status_of(&s, "task-lin-7");
    assert_eq!(trak["flow"], "fix", "routed by its label: {trak}");
    assert_eq!(trak["status"], "done", "{trak}");
    let log = std::fs::read_to_string(&updates).unwrap();
    assert!(
        log.starts_with("LIN-7 {"),
        "update gets the key and JSON: {log}"
    );
    assert!(
        s.ork_ok(&["show", "task-lin-7"])
            .contains("Call it --quiet.")
    );
}

#[test]
fn a_bad_route_no_tracker_or_an_agent_inside_a_run_are_refused_with_what_to_do() {
    let s = Sandbox::new(
        &workflow("").replace("flow = \"fix\"", "flow = \"fixx\""),
        json!({}),
    );
    let err = s.ork_err(&["intake"]);
    assert!(err.contains("workflow.toml:"), "{err}");
    assert!(err.contains("\"fixx\" that does not exist"), "{err}");
    let ok = Sandbox::new(&workflow(""), json!({})).with_gh();
    ok.set_gh(github());
    let inside = ok
        .ork_command(&["intake"])
        .env("ORK_TRAK", "issue-1")
        .output()
        .unwrap();
    let err = common::ork_error(&inside, "ork intake inside a run");
    assert!(err.contains("cannot take in work"), "{err}");
    assert!(ok.repo.trak_branches().is_empty(), "nothing was taken in");
    let plain = Sandbox::new(
        &workflow("").replace("[intake.github]\nlabel = \"ork\"\n", ""),
        json!({}),
    );
    let err = plain.ork_err(&["intake"]);
    assert!(err.contains("no tracker is configured"), "{err}");
    assert!(err.contains("[intake.github]"), "{err}");
}

#[test]
fn a_command_on_the_issues_pull_request_is_taken_and_never_read_as_changes_asked() {
    let pr_flow = workflow("")
        .replace("review = \"human\"", "review = \"auto\"")
        .replacen(
            "[flows.feature.integration]\nstrategy = \"merge\"",
            "[flows.feature.integration]\nstrategy = \"pr\"\non_changes = \"work\"\nmerge = \"squash\"",
            1,
        );
    let s = Sandbox::new(
        &pr_flow,
        json!({"work": [{"result": {"type": "artifact", "content": "Said hello."}}]}),
    )
    .with_remote()
    .with_gh();
    let mut gh = github();
    gh["issues"]
        .as_object_mut()
        .unwrap()
        .retain(|number, _| number == "1");
    s.set_gh(gh);
    s.ork_ok(&["intake"]);
    s.ork_ok(&["resume", "issue-1"]);
    assert_eq!(status_of(&s, "issue-1")["status"], "in_review");
    let pr = s.gh()["prs"]["ork-pr/issue-1"].clone();
    assert!(pr["body"].as_str().unwrap().contains("Closes #1"), "{pr}");

    let mut gh = s.gh();
    gh["prs"]["ork-pr/issue-1"]["comments"] = json!([{
        "id": "IC_PR1", "author": {"login": "alice"}, "createdAt": now(),
        "body": "/ork note also update the changelog",
        "url": "https://github.com/acme/app/pull/1#issuecomment-77", "viewerDidAuthor": false
    }]);
    s.set_gh(gh);
    let out = s.ork_ok(&["intake"]);
    assert!(
        out.contains("issue-1: /ork note also update the changelog by @alice"),
        "{out}"
    );
    assert!(comments_by(&s, 1, "ork-bot")[0].contains("https://github.com/acme/app/pull/1"));
    s.ork_ok(&["resume", "issue-1"]);
    assert!(
        s.event_commits("issue-1", "pr_changes_requested")
            .is_empty(),
        "a command is not review feedback"
    );
    assert_eq!(s.event_commits("issue-1", "noted").len(), 1);
    s.ork_ok(&["intake"]);
    assert_eq!(
        s.event_commits("issue-1", "comment_read").len(),
        1,
        "read once"
    );
}

const LINEAR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intake");

/// docs/intake.md's Linear programs, as the docs print them, against a scripted Linear API:
/// labelled issues in, one comment per issue out, edited as the trak moves.
#[test]
fn the_documented_linear_programs_bring_issues_in_and_keep_one_comment_each() {
    let list = std::fs::read_to_string(format!("{LINEAR}/linear-list")).unwrap();
    let update = std::fs::read_to_string(format!("{LINEAR}/linear-update")).unwrap();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/intake.md")).unwrap();
    assert!(
        doc.contains(&list) && doc.contains(&update),
        "docs/intake.md prints the programs the test runs"
    );

    let extra = "[intake.command]\nlist = [\"scripts/linear-list\"]\nupdate = [\"scripts/linear-update\"]\n";
    let workflow = workflow(extra)
        .replace("[intake.github]\nlabel = \"ork\"\n", "")
        .replace("labels = [\"bug\"]", "labels = [\"Bug\"]");
    let s = Sandbox::with_files(
        &workflow,
        &[
            ("scripts/linear-list", &list),
            ("scripts/linear-update", &update),
        ],
        json!({"work": [{"result": {"type": "artifact", "content": "Fixed the flag."}}]}),
    );
    for script in ["scripts/linear-list", "scripts/linear-update"] {
        use std::os::unix::fs::PermissionsExt;
        let path = s.repo.root.join(script);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let state = s.path("linear.json");
    let issue = |id: &str, key: &str, labels: &[&str], state: &str| {
        json!({"id": id, "identifier": key, "title": format!("Issue {key}"),
               "description": format!("What {key} asks."), "url": format!("https://linear.app/acme/issue/{key}"),
               "labels": labels, "state": state, "comments": []})
    };
    std::fs::write(
        &state,
        json!({"key": "lin_api_test", "issues": [
            issue("uuid-12", "ENG-12", &["ork", "Bug"], "started"),
            issue("uuid-13", "ENG-13", &["ork"], "completed"),
            issue("uuid-14", "ENG-14", &["design"], "unstarted"),
        ]})
        .to_string(),
    )
    .unwrap();
    let mut api = std::process::Command::new(format!("{LINEAR}/linear-api"))
        .env("LINEAR_STATE", &state)
        .spawn()
        .unwrap();
    let port_file = s.path("linear.json.port");
    common::wait_until(
        std::time::Duration::from_secs(20),
        "the scripted Linear API",
        || port_file.exists(),
    );
    let url = format!(
        "http://127.0.0.1:{}/graphql",
        std::fs::read_to_string(&port_file).unwrap()
    );
    let s = s.with_env("LINEAR_API_URL", &url);
    let comments = || -> Vec<String> {
        let linear = common::json(&std::fs::read_to_string(&state).unwrap());
        linear["issues"][0]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["body"].as_str().unwrap().to_string())
            .collect()
    };

    let refused = s
        .ork_command(&["intake"])
        .env("LINEAR_API_KEY", "lin_api_wrong")
        .output()
        .unwrap();
    let err = common::ork_error(&refused, "ork intake with a bad key");
    assert!(
        err.contains("Linear said: Authentication required"),
        "{err}"
    );

    let s = s.with_env("LINEAR_API_KEY", "lin_api_test");
    let out = s.ork_ok(&["intake"]);
    assert!(out.contains("task-eng-12: taken in from ENG-12"), "{out}");
    assert!(
        !out.contains("eng-13") && !out.contains("eng-14"),
        "done and unlabelled stay out: {out}"
    );
    assert_eq!(status_of(&s, "task-eng-12")["flow"], "fix");
    assert!(
        s.ork_ok(&["show", "task-eng-12"])
            .contains("What ENG-12 asks.")
    );
    let first = comments();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].starts_with("**ork** status: trak `task-eng-12` is queued"),
        "{}",
        first[0]
    );

    s.ork_ok(&["resume", "task-eng-12"]);
    s.ork_ok(&["intake"]);
    let now = comments();
    let _ = api.kill();
    let _ = api.wait();
    assert_eq!(now.len(), 1, "edited in place: {now:?}");
    assert!(now[0].contains("is done"), "{}", now[0]);
    assert!(now[0].contains("Merged into `main`"), "{}", now[0]);
}

/// The issue's whole story with two clones watching one remote and one GitHub: three labelled
/// issues become three traks, each once, the bug in `fix`; a reader's `/ork approve` is refused
/// with one reply, a collaborator's approves once; the merged trak's issue closes; an issue
/// closed by hand drops its trak.
#[test]
fn two_clones_watching_take_each_issue_in_once_and_carry_each_comment_out_once() {
    let Net { remote, a, b } = Net::new(&workflow(
        "[sync]\nqueue = true\n[intake]\nevery = \"1s\"\n",
    ));
    let gh_state = a.path("github.json");
    let a = a.with_gh_at(gh_state.clone());
    let b = b.with_gh_at(gh_state);
    let mut gh = github();
    gh["issues"]["3"] = issue(3, "Add a wave", "Wave at the end.", &["ork"]);
    a.set_gh(gh);
    let plan = json!({"work": [{"result": {"type": "artifact", "content": "Done it."}}]});
    a.set_plan(plan.clone());
    b.set_plan(plan);
    let mut watchers: Vec<std::process::Child> = [&a, &b]
        .iter()
        .map(|machine| {
            machine
                .ork_command(&["run", "--watch"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let limit = std::time::Duration::from_secs(90);
    let issue_state = |number: &str| {
        a.gh()["issues"][number]["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let waits = |number: u64| {
        comments_by(&a, number, "ork-bot")
            .first()
            .is_some_and(|c| c.contains("awaiting review"))
    };

    common::wait_until(limit, "the bug's trak merged and its issue closed", || {
        issue_state("2") == "CLOSED"
    });
    common::wait_until(limit, "both features waiting for review", || {
        waits(1) && waits(3)
    });
    let branches = remote.git(&["for-each-ref", "--format=%(refname)", "refs/heads/ork/"]);
    assert_eq!(
        branches.lines().collect::<Vec<_>>(),
        [
            "refs/heads/ork/issue-1",
            "refs/heads/ork/issue-2",
            "refs/heads/ork/issue-3"
        ]
    );
    for number in [1, 2, 3] {
        assert_eq!(
            comments_by(&a, number, "ork-bot").len(),
            1,
            "one status comment on #{number}"
        );
    }

    comment(&a, 1, "mallory", "/ork approve");
    let replied = |who: &str| {
        comments_by(&a, 1, "ork-bot")
            .iter()
            .filter(|c| c.contains(&format!("@{who} has no write access")))
            .count()
    };
    common::wait_until(limit, "a reply to mallory", || replied("mallory") == 1);
    comment(&a, 1, "alice", "/ork approve");
    common::wait_until(limit, "issue 1 merged and closed", || {
        issue_state("1") == "CLOSED"
    });
    assert_eq!(replied("mallory"), 1, "one reply, however many passes");
    let events = remote.git(&[
        "log",
        "--format=%(trailers:key=Ork-Event,valueonly)",
        "ork/issue-1",
    ]);
    let count = |event: &str| events.lines().filter(|l| l.trim() == event).count();
    assert_eq!(count("comment_read"), 2, "each comment read once: {events}");
    assert_eq!(count("approved"), 1, "approved once: {events}");

    let mut gh = a.gh();
    gh["issues"]["3"]["state"] = json!("CLOSED");
    a.set_gh(gh);
    common::wait_until(limit, "issue 3's trak dropped on the remote", || {
        remote
            .git(&[
                "log",
                "-1",
                "--format=%(trailers:key=Ork-Event,valueonly)",
                "ork/issue-3",
            ])
            .trim()
            == "dropped"
    });
    for watcher in &mut watchers {
        let _ = watcher.kill();
        let _ = watcher.wait();
    }
    let merged = remote.git(&["log", "--format=%s", "main"]);
    assert!(
        merged.contains("Add a greeting") && merged.contains("Fix the farewell"),
        "{merged}"
    );
    assert!(!merged.contains("Add a wave"), "{merged}");
}
