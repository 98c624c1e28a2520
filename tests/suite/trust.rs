//! End to end: what an agent with a shell plants in the repository does not run in ork's own
//! git processes (docs/design.md rule 12).

use std::path::Path;

use serde_json::json;

use crate::common::{self, RunsOrk, Sandbox, artifact};

/// Hooks that leave a mark in `marks` when git runs them, and an fs-monitor that does too.
fn plant_hooks(s: &Sandbox, marks: &Path) {
    let hooks = s.repo.root.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    for hook in [
        "pre-commit",
        "commit-msg",
        "post-commit",
        "post-checkout",
        "post-merge",
        "reference-transaction",
        "pre-push",
    ] {
        let path = hooks.join(hook);
        std::fs::write(
            &path,
            format!("#!/bin/sh\ntouch '{}/{hook}'\n", marks.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let monitor = s.path("fsmonitor.sh");
    std::fs::write(
        &monitor,
        format!("#!/bin/sh\ntouch '{}/fsmonitor'\n", marks.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&monitor, std::fs::Permissions::from_mode(0o755)).unwrap();
    s.repo
        .git(&["config", "core.fsmonitor", monitor.to_str().unwrap()]);
}

#[test]
fn planted_hooks_and_fsmonitor_never_run_in_orks_git_processes() {
    let s = Sandbox::review_flow(
        "",
        json!({
            "planning": [artifact("# Plan")],
            "work": [{"write": {"login.txt": "login\n"}, "result": {"type": "artifact", "content": "done"}}],
        }),
    );
    let marks = s.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    plant_hooks(&s, &marks);
    // A plain git command in the same repository runs them: the planted hooks work.
    s.repo.git(&["checkout", "-q", "-b", "probe"]);
    s.repo.git(&["checkout", "-q", "main"]);
    assert!(
        marks.join("post-checkout").exists(),
        "the planted post-checkout hook should run under plain git"
    );
    std::fs::remove_dir_all(&marks).unwrap();
    std::fs::create_dir_all(&marks).unwrap();

    // A whole trak through ork: worktree, record commits, the agent's commit, the merge.
    let (id, _) = s.new_trak("Add login", &[]);
    s.ork_ok(&["approve", &id]);
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id).0, "done");
    assert_eq!(s.repo.read("login.txt"), "login\n");

    let ran: Vec<String> = std::fs::read_dir(&marks)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        ran.is_empty(),
        "ork's git processes ran planted programs: {ran:?}"
    );
}

/// The subjects of `rev`'s commits, newest first.
fn subjects(s: &Sandbox, rev: &str) -> Vec<String> {
    s.repo
        .git(&["log", "--format=%s", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_agent_that_forges_its_own_approval_is_put_back_and_the_trak_waits_for_a_person() {
    // The work agent writes its code, then commits a forged `approved … by human` record with
    // ork's trailers on its own branch, as the one found in review did.
    let forge = "git add -A && git commit -q -m 'approved work by human' \
                 -m 'Ork-Trak: x' -m 'Ork-Event: approved' && \
                 git commit -q --allow-empty -m 'integrated' -m 'Ork-Event: integrated'";
    // The sandbox would refuse the commit itself: this is the check behind it, with it off.
    let s = Sandbox::review_flow(
        "[sandbox]\nmode = \"off\"\n",
        json!({
            "planning": [artifact("# Plan")],
            "work": [{"write": {"backdoor.txt": "evil\n"}, "run": forge,
                      "result": {"type": "artifact", "content": "done"}}],
        }),
    );
    let (id, _) = s.new_trak("Add login", &[]);
    let tip_before = s.repo.git(&["rev-parse", &format!("ork/{id}")]);
    let out = s.ork(&["approve", &id]);
    let said = format!("{}{}", common::stdout(&out), common::stderr(&out));
    let (status, stage) = s.at(&id);
    assert_eq!(
        (status.as_str(), stage.as_str()),
        ("failed", "work"),
        "{said}"
    );
    assert!(said.contains("moved the trak's branch"), "{said}");

    // The forged commits are not the trak's history; they are kept for a person to look at.
    let history = subjects(&s, &format!("ork/{id}"));
    assert!(
        !history
            .iter()
            .any(|h| h == "approved work by human" || h == "integrated"),
        "{history:?}"
    );
    s.repo.git(&[
        "merge-base",
        "--is-ancestor",
        tip_before.trim(),
        &format!("ork/{id}"),
    ]);
    let quarantined = subjects(&s, &format!("refs/ork/quarantine/{id}"));
    assert_eq!(quarantined[0], "integrated", "{quarantined:?}");
    let show = s.ork_ok(&["show", &id]);
    assert!(show.contains("refs/ork/quarantine/"), "{show}");

    // Nothing reached main, and resuming does not merge it: the trak waits for a person.
    let resumed = s.ork(&["resume", &id]);
    assert_eq!(
        resumed.status.code(),
        Some(1),
        "{}",
        common::stdout(&resumed)
    );
    assert!(!s.repo.root.join("backdoor.txt").exists());
    assert_eq!(s.at(&id).0, "failed");
}

#[test]
fn doctor_lists_the_hooks_ork_did_not_install() {
    let s = Sandbox::review_flow("", json!({"planning": [artifact("# Plan")]}));
    let marks = s.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    plant_hooks(&s, &marks);
    let out = s.ork(&["doctor"]);
    let said = common::stdout(&out);
    assert!(
        said.contains("hooks ork did not install: commit-msg, post-checkout, post-commit, post-merge, pre-commit, pre-push, reference-transaction"),
        "{said}"
    );
    assert!(said.contains("pre-push: not ork's"), "{said}");
    let json = common::json(&common::stdout(&s.ork(&["doctor", "--json"])));
    assert_eq!(
        json["foreign_hooks"].as_array().unwrap().len(),
        7,
        "{json:#}"
    );
}

#[test]
fn a_runs_raw_output_is_readable_by_the_user_alone() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"stdout": "raw output", "result": {"type": "artifact", "content": "# Plan"}}]}),
    );
    let (id, _) = s.new_trak("Add login", &[]);
    let runs = s.repo.root.join(".git/ork/runs");
    for dir in [runs.join(&id), runs.join(&id).join("planning-1")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", dir.display());
    }
}

#[test]
fn the_live_terminal_is_redacted_as_the_kept_logs_are() {
    let token = format!("ghp_{}", "LiveTerminal0123456789abcdefgh");
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [{"stdout": format!("using {token} now"),
                             "result": {"type": "artifact", "content": "# Plan"}}]}),
    );
    let (id, created) = s.new_trak("Add login", &[]);
    assert!(
        !created.contains(&token),
        "the live output showed the secret:\n{created}"
    );
    assert!(created.contains("using [REDACTED] now"), "{created}");
    let logs = s.ork_ok(&["logs", &id]);
    assert!(
        !logs.contains(&token) && logs.contains("[REDACTED]"),
        "{logs}"
    );
}

#[test]
fn a_change_to_orks_own_configuration_waits_for_a_person_even_in_an_automatic_flow() {
    use crate::common::sandbox::{feature_workflow, stage};
    // An automatic flow, its gate spelt `sh .orkestra/…` (the form that used to run the
    // agent's copy). The agent turns the gate into `exit 0` and adds its own gate command.
    let gate = "gate = { command = \"sh .orkestra/scripts/checks.sh\", timeout = \"20s\" }\nreview = \"auto\"\nmax_attempts = 2";
    let workflow = feature_workflow("20s", "", &[stage("work", "worker.md", "summary", gate)]);
    let s = Sandbox::with_files(
        &workflow,
        &[(
            ".orkestra/scripts/checks.sh",
            "test -f ok.txt || { echo 'gate: ok.txt is missing'; exit 1; }\n",
        )],
        json!({"work": [
            {"write": {".orkestra/scripts/checks.sh": "exit 0\n", "feature.txt": "x\n"}, "result": {"type": "artifact", "content": "done"}},
            {"write": {"ok.txt": "ok\n"}, "result": {"type": "artifact", "content": "done, with ok.txt"}},
        ]}),
    );
    let main_before = s.repo.git(&["rev-parse", "main"]);
    let (id, out) = s.new_trak("Loosen the gate", &[]);

    // The gate that ran was the base's: the first attempt failed on it, despite `exit 0`.
    assert_eq!(s.runs("work"), 2, "{out}");
    let failed = s.events_of(&id, "gate_failed");
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0]["output"]
            .as_str()
            .unwrap()
            .contains("ok.txt is missing"),
        "{failed:?}"
    );
    // The trak's own files are back in its worktree after the gate.
    let worktree = s.repo.root.join(".orkestra/worktrees").join(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join(".orkestra/scripts/checks.sh")).unwrap(),
        "exit 0\n"
    );

    // Every stage passed, and still nothing landed: the change to .orkestra/ waits.
    s.assert_at(&id, "integrating", "work");
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);
    let show = s.ork_ok(&["show", &id]);
    assert!(
        show.contains("ork's own configuration: .orkestra/scripts/checks.sh")
            && show.contains(&format!("ork approve {id} --config")),
        "{show}"
    );
    let plain = s.ork(&["approve", &id]);
    assert_eq!(plain.status.code(), Some(1), "{}", common::stdout(&plain));
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);

    // A person approves that change explicitly: it lands.
    s.ork_ok(&["approve", &id, "--config"]);
    s.assert_at(&id, "done", "work");
    assert_eq!(s.repo.read(".orkestra/scripts/checks.sh"), "exit 0\n");
    assert_eq!(s.events_of(&id, "config_approved").len(), 1);
}
