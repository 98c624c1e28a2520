//! End to end: what an agent with a shell plants in the repository does not run in ork's own
//! git processes (docs/design.md rule 12).

mod common;

use std::path::Path;

use serde_json::json;

use common::review_flow::{ReviewFlow, artifact};

/// Hooks that leave a mark in `marks` when git runs them, and an fs-monitor that does too.
fn plant_hooks(s: &ReviewFlow, marks: &Path) {
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
    let s = ReviewFlow::new(
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
    let id = s.new_trak("Add login", &[]);
    s.ork(&["approve", &id]);
    s.ork(&["approve", &id]);
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
