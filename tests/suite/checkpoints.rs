//! End to end: an agent's work is checkpointed while it runs (`refs/ork/wip/<id>`, never on
//! the trak's branch), and a run after a cut-off one starts from it.

use crate::common;

use std::time::Duration;

use serde_json::json;

use common::sandbox::{feature_workflow, stage};
use common::{Cleanup, RunsOrk, Sandbox, pids, unique_seconds, wait_until};

/// A work stage whose first run writes two files (one holding a secret) and hangs, checkpointed
/// every second; its second run finishes.
fn cut_short(hang: u32) -> Sandbox {
    let key = "AKIA".to_string() + "QWERTYUIOPASDFGH";
    let workflow = feature_workflow(
        "60s",
        "",
        &[stage("work", "worker.md", "summary", "review = \"auto\"")],
    );
    Sandbox::new(
        &format!("checkpoint = \"1s\"\n{workflow}"),
        json!({"work": [
            {"write": {"half.txt": "half of the work\n", "creds.env": format!("AWS_ACCESS_KEY_ID={key}\n")}, "hang": hang},
            {"write": {"rest.txt": "the rest\n"}, "result": {"type": "artifact", "content": "done"}},
        ]}),
    )
}

/// Starts the trak, waits for its checkpoint, then kills ork and its agent with SIGKILL.
fn start_and_kill(s: &Sandbox, sleep: &str) -> String {
    let (id, _) = s.new_trak("Long job", &["--no-run"]);
    let mut resume = s.ork_command(&["resume", &id]);
    let mut child = resume.spawn().unwrap();
    let wip = format!("refs/ork/wip/{id}");
    wait_until(Duration::from_secs(20), "a checkpoint", || {
        s.repo
            .git_output(&["rev-parse", "--verify", "-q", &wip])
            .status
            .success()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    common::kill_groups(sleep);
    wait_until(Duration::from_secs(5), "the agent gone", || {
        pids(sleep).is_empty()
    });
    id
}

#[test]
fn a_run_killed_mid_way_is_checkpointed_and_the_next_run_starts_from_it_on_a_fresh_worktree() {
    let hang = unique_seconds(15000);
    let sleep = format!("sleep {hang}");
    let _cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = cut_short(hang);
    let id = start_and_kill(&s, &sleep);
    let wip = format!("refs/ork/wip/{id}");

    // The checkpoint holds the work, not the secret, and is not on the trak's branch.
    let files = s.repo.tree_files(&wip);
    assert!(files.contains(&"half.txt".to_string()), "{files:?}");
    assert!(!files.contains(&"creds.env".to_string()), "{files:?}");
    let message = s.repo.git(&["log", "-1", "--format=%B", &wip]);
    assert!(
        message.contains("Left out") && message.contains("creds.env"),
        "{message}"
    );
    let story = s.repo.git(&["log", "--format=%s", &format!("ork/{id}")]);
    assert!(!story.contains("checkpoint"), "{story}");
    assert!(
        !s.repo
            .git(&["log", "--format=%s", "main"])
            .contains("checkpoint")
    );

    // As on a machine that never had the worktree: it is gone, made again, and given the files.
    let worktree = s.repo.worktree_path(&id);
    std::fs::remove_dir_all(&worktree).unwrap();
    s.repo.git(&["worktree", "prune"]);
    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("back from checkpoint"), "{out}");
    let prompt = s.prompt("work", 2);
    assert!(prompt.contains("was cut off"), "{prompt}");
    assert!(prompt.contains("- half.txt"), "{prompt}");
    s.assert_status(&id, "done");
    assert_eq!(s.repo.git(&["show", "main:half.txt"]), "half of the work");
    assert_eq!(s.repo.git(&["show", "main:rest.txt"]), "the rest");
    // Its work recorded, the checkpoint is gone.
    assert!(
        !s.repo
            .git_output(&["rev-parse", "--verify", "-q", &wip])
            .status
            .success()
    );
}

#[test]
fn ork_resume_on_the_same_machine_keeps_the_worktrees_files_and_names_them_in_the_prompt() {
    let hang = unique_seconds(15500);
    let sleep = format!("sleep {hang}");
    let _cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = cut_short(hang);
    let id = start_and_kill(&s, &sleep);
    let worktree = s.repo.worktree_path(&id);
    std::fs::write(worktree.join("half.txt"), "half, and a bit more\n").unwrap();
    // The secret stays here too (ork would refuse to commit it): a person takes it out.
    std::fs::remove_file(worktree.join("creds.env")).unwrap();

    let out = s.ork_ok(&["resume", &id]);
    assert!(
        !out.contains("back from checkpoint"),
        "the worktree's own files are newer: {out}"
    );
    assert!(s.prompt("work", 2).contains("- half.txt"));
    s.assert_status(&id, "done");
    assert_eq!(
        s.repo.git(&["show", "main:half.txt"]),
        "half, and a bit more"
    );
}

#[test]
fn a_forced_drop_keeps_the_worktrees_unsaved_changes_in_a_checkpoint() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"result": {"type": "artifact", "content": "# Plan"}}]}),
    );
    let (id, _) = s.new_trak("Half done", &[]);
    let worktree = s.repo.worktree_path(&id);
    std::fs::write(worktree.join("notes.txt"), "my own notes\n").unwrap();
    let err = s.ork_err(&["trak", "drop", &id]);
    assert!(
        err.contains("uncommitted changes") && err.contains("--force"),
        "{err}"
    );
    assert!(worktree.exists());

    s.ork_ok(&["trak", "drop", &id, "--force"]);
    assert!(!worktree.exists());
    let wip = format!("refs/ork/wip/{id}");
    assert_eq!(
        s.repo.git(&["show", &format!("{wip}:notes.txt")]),
        "my own notes",
        "the unsaved file is kept"
    );
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("1 file(s) not on the branch, kept"), "{show}");
    let shown = common::json(&s.ork_ok(&["show", &id, "--json"]));
    let checkpoint = &shown["checkpoint"];
    assert_eq!(checkpoint["files"], json!(["notes.txt"]), "{shown:#}");
    assert_eq!(
        checkpoint["commit"].as_str(),
        Some(s.repo.git(&["rev-parse", &wip]).trim())
    );
    let taken: chrono::DateTime<chrono::Utc> =
        checkpoint["taken_at"].as_str().unwrap().parse().unwrap();
    assert!(taken <= chrono::Utc::now());
}

#[test]
fn checkpoints_taken_during_a_run_that_finishes_leave_no_trace_and_change_nothing_it_records() {
    let workflow = feature_workflow(
        "60s",
        "",
        &[stage("work", "worker.md", "summary", "review = \"auto\"")],
    );
    let s = Sandbox::new(
        &format!("checkpoint = \"1s\"\n{workflow}"),
        // The agent waits (up to 10 s) until it sees its own checkpoint taken, then finishes.
        json!({"work": [{"write": {"a.txt": "a\n"},
            "run": "for i in $(seq 100); do git rev-parse -q --verify \"refs/ork/wip/$ORK_TRAK\" >/dev/null && echo yes > saw-checkpoint.txt && break; sleep 0.1; done",
            "result": {"type": "artifact", "content": "done"}}]}),
    );
    let (id, out) = s.new_trak("Slow but fine", &[]);
    assert_eq!(
        s.repo.git(&["show", "main:saw-checkpoint.txt"]),
        "yes",
        "{out}"
    );
    s.assert_status(&id, "done");
    assert!(!out.contains("changed the repository"), "{out}");
    assert_eq!(s.repo.git(&["show", "main:a.txt"]), "a");
    let wip = format!("refs/ork/wip/{id}");
    assert!(
        !s.repo
            .git_output(&["rev-parse", "--verify", "-q", &wip])
            .status
            .success()
    );
}

/// Stop means stop, and loses nothing: SIGTERM between two checkpoint intervals (one an hour)
/// freezes the agent, takes one last checkpoint holding the file it wrote a moment before,
/// and ork ends; the next run starts from that checkpoint.
#[test]
fn an_interrupt_between_checkpoints_takes_one_last_checkpoint_and_ork_resume_starts_from_it() {
    let hang = unique_seconds(16000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let workflow = feature_workflow(
        "60s",
        "",
        &[stage("work", "worker.md", "summary", "review = \"auto\"")],
    );
    let s = Sandbox::new(
        &format!("checkpoint = \"1h\"\n{workflow}"),
        json!({"work": [
            // It forges its trak's record too: a checkpoint never holds that folder.
            {"write": {"early.txt": "early\n"}, "run": "echo forged > \".orkestra/traks/$ORK_TRAK/state.json\"; echo just before > late.txt", "hang": hang},
            {"write": {"rest.txt": "the rest\n"}, "result": {"type": "artifact", "content": "done"}},
        ]}),
    );
    let (id, _) = s.new_trak("Stop me", &["--no-run"]);
    let worktree = s.repo.worktree_path(&id);
    let log = std::fs::File::create(s.path("ork.log")).unwrap();
    let child = s
        .ork_command(&["resume", &id])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let ork_pid = child.id();
    cleanup.children.push(child);
    wait_until(Duration::from_secs(20), "the agent's late file", || {
        !pids(&sleep).is_empty() && worktree.join("late.txt").exists()
    });
    let wip = format!("refs/ork/wip/{id}");
    let has_wip = || {
        s.repo
            .git_output(&["rev-parse", "--verify", "-q", &wip])
            .status
            .success()
    };
    assert!(!has_wip(), "no checkpoint yet: the interval is an hour");

    let sent = std::process::Command::new("kill")
        .args(["-TERM", &ork_pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut child = cleanup.children.pop().unwrap();
    let mut ended = None;
    wait_until(Duration::from_secs(5), "ork to end on SIGTERM", || {
        ended = child.try_wait().unwrap();
        ended.is_some()
    });
    assert_eq!(ended.unwrap().code(), Some(130));
    wait_until(Duration::from_secs(5), "the agent gone", || {
        pids(&sleep).is_empty()
    });

    // The last checkpoint holds both files, the one written just before the signal too.
    assert!(
        has_wip(),
        "{}",
        std::fs::read_to_string(s.path("ork.log")).unwrap()
    );
    assert_eq!(
        s.repo.git(&["show", &format!("{wip}:late.txt")]),
        "just before"
    );
    assert_eq!(s.repo.git(&["show", &format!("{wip}:early.txt")]), "early");
    let state = format!(".orkestra/traks/{id}/state.json");
    assert_eq!(
        s.repo.git(&["show", &format!("{wip}:{state}")]),
        s.repo.git(&["show", &format!("ork/{id}:{state}")]),
        "the record in the checkpoint is the branch's, not the agent's"
    );
    assert_eq!(
        s.repo
            .git(&["diff-tree", "-r", "--name-only", &format!("ork/{id}"), &wip])
            .lines()
            .collect::<Vec<_>>(),
        ["early.txt", "late.txt"]
    );
    let story = s.repo.git(&["log", "--format=%s", &format!("ork/{id}")]);
    assert!(!story.contains("checkpoint"), "{story}");

    // A worktree made again (as on a machine that never had it) starts from the checkpoint.
    std::fs::remove_dir_all(&worktree).unwrap();
    s.repo.git(&["worktree", "prune"]);
    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("back from checkpoint"), "{out}");
    let prompt = s.prompt("work", 2);
    assert!(prompt.contains("- late.txt"), "{prompt}");
    s.assert_status(&id, "done");
    assert_eq!(s.repo.git(&["show", "main:late.txt"]), "just before");
    assert_eq!(s.repo.git(&["show", "main:rest.txt"]), "the rest");
}

#[test]
fn a_dropped_trak_is_restored_with_its_unsaved_changes_and_runs_on() {
    let s = Sandbox::review_flow(
        "",
        json!({
            "planning": [{"result": {"type": "artifact", "content": "# Plan"}}],
            "work": [{"write": {"code.txt": "code\n"}, "result": {"type": "artifact", "content": "done"}}],
        }),
    );
    let (id, _) = s.new_trak("Half done", &[]);
    let worktree = s.repo.worktree_path(&id);
    std::fs::write(worktree.join("notes.txt"), "my own notes\n").unwrap();
    let err = s.ork_err(&["trak", "restore", &id]);
    assert!(
        err.contains(&format!("cannot restore trak {id}: it is awaiting review")),
        "{err}"
    );

    let out = s.ork_ok(&["trak", "drop", &id, "--force", "-m", "not now"]);
    assert!(out.contains(&format!("ork trak restore {id}")), "{out}");
    assert!(!worktree.exists());
    // An agent inside a run cannot bring it back: that is a person's decision.
    let inside = s
        .ork_command(&["trak", "restore", &id])
        .env("ORK_TRAK", "some-other-trak")
        .output()
        .unwrap();
    let err = common::ork_error(&inside, "restore inside a run");
    assert!(err.contains("decisions are a person's"), "{err}");
    s.assert_status(&id, "dropped");

    let out = s.ork_ok(&["trak", "restore", &id]);
    assert!(out.contains("1 unsaved file(s) back"), "{out}");
    assert!(out.contains("notes.txt"), "{out}");
    assert_eq!(
        std::fs::read_to_string(worktree.join("notes.txt")).unwrap(),
        "my own notes\n"
    );
    s.assert_status(&id, "awaiting_review");
    let subject = s
        .repo
        .git(&["log", "-1", "--format=%s", &format!("ork/{id}")]);
    assert!(
        subject.contains("Restore the trak with 1 unsaved file(s)"),
        "{subject}"
    );
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("1 file(s) not on the branch, kept"), "{show}");

    // It runs on from where it stood, the restored file with it.
    s.ork_ok(&["approve", &id]);
    s.assert_status(&id, "awaiting_review");
    assert_eq!(s.trak(&id)["stage"], "work");
    assert_eq!(
        s.repo.git(&["show", &format!("ork/{id}:notes.txt")]),
        "my own notes"
    );
    assert_eq!(s.repo.git(&["show", &format!("ork/{id}:code.txt")]), "code");
    assert_eq!(s.repo.git_in(&worktree, &["status", "--porcelain"]), "");
}

#[test]
fn a_restore_is_refused_when_there_is_nothing_to_bring_back() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"result": {"type": "artifact", "content": "# Plan"}}]}),
    );
    let (id, _) = s.new_trak("Gone for good", &[]);
    std::fs::write(s.repo.worktree_path(&id).join("notes.txt"), "notes\n").unwrap();
    s.ork_ok(&["trak", "drop", &id, "--force"]);
    s.repo.git(&["branch", "-D", &format!("ork/{id}")]);
    let err = s.ork_err(&["trak", "restore", &id]);
    assert!(
        err.contains(&format!("its branch ork/{id} is gone"))
            && err.contains(&format!("refs/ork/wip/{id}")),
        "{err}"
    );
    assert!(!s.repo.worktree_path(&id).exists());
}

/// A file a checkpoint cannot hold (a known secret) is never deleted with the worktree: a
/// forced drop records the drop and keeps the folder, saying why; a restore finds it there.
#[test]
fn a_forced_drop_keeps_a_worktree_holding_what_no_checkpoint_can_keep() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"result": {"type": "artifact", "content": "# Plan"}}]}),
    );
    let (id, _) = s.new_trak("Holds a key", &[]);
    let worktree = s.repo.worktree_path(&id);
    let key = "AKIA".to_string() + "QWERTYUIOPASDFGH";
    std::fs::write(
        worktree.join("creds.env"),
        format!("AWS_ACCESS_KEY_ID={key}\n"),
    )
    .unwrap();
    std::fs::write(worktree.join("notes.txt"), "my own notes\n").unwrap();
    let err = s.ork_err(&["trak", "drop", &id, "--force"]);
    assert!(
        err.contains("its worktree") && err.contains("was kept") && err.contains("creds.env"),
        "{err}"
    );
    assert!(worktree.join("creds.env").exists());
    s.assert_status(&id, "dropped");

    s.ork_ok(&["trak", "restore", &id, "--no-run"]);
    s.assert_status(&id, "awaiting_review");
    assert!(worktree.join("creds.env").exists());
    assert_eq!(
        std::fs::read_to_string(worktree.join("notes.txt")).unwrap(),
        "my own notes\n"
    );
}

/// A folder where the worktree should be that git does not know (its registration pruned, a
/// checkout a crash left half-made) is moved aside with what it holds, never deleted.
#[test]
fn a_folder_git_does_not_know_as_the_worktree_is_moved_aside_not_deleted() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"result": {"type": "artifact", "content": "# Plan"}}]}),
    );
    let (id, _) = s.new_trak("Pruned", &["--no-run"]);
    let worktree = s.repo.worktree_path(&id);
    if worktree.exists() {
        s.repo
            .git(&["worktree", "remove", "--force", worktree.to_str().unwrap()]);
    }
    std::fs::create_dir_all(&worktree).unwrap();
    std::fs::write(worktree.join("notes.txt"), "written where git lost track\n").unwrap();

    let out = s.ork_ok(&["resume", &id]);
    assert!(out.contains("moved aside"), "{out}");
    s.assert_status(&id, "awaiting_review");
    let aside = s.repo.root.join(".git/ork/set-aside");
    let kept: Vec<_> = std::fs::read_dir(&aside)
        .unwrap()
        .map(|e| e.unwrap().path().join("notes.txt"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read_to_string(&kept[0]).unwrap(),
        "written where git lost track\n"
    );
}
