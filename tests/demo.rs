//! `ork demo` runs a whole flow in a repository of its own, with no model and no network.

use std::process::Command;

#[test]
fn the_demo_runs_a_whole_flow_and_leaves_a_repository_to_explore() {
    let sandbox = tempfile::tempdir().unwrap();
    let home = sandbox.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ork"))
        .arg("demo")
        .env("TMPDIR", sandbox.path())
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every step a user would see.
    for step in [
        "planning: waiting for review",
        "$ ork approve",
        "breakdown: approved",
        "[script] work: attempt 1",
        "[docs] work: attempt 1",
        "2 subtrak(s) merged",
        "gate failed",
        "FAIL: sh greet.sh printed 'Helo, world!'",
        "work: attempt 2",
        "gate passed",
        "$ ork reject",
        "review: approved",
        "integrated into main",
        "$ git log --graph --oneline main",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    // The repository it names holds the merged work, without the trak's record.
    let dir = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("cd "))
        .expect("the demo says where its repository is");
    assert!(dir.starts_with(sandbox.path().canonicalize().unwrap().to_str().unwrap()));
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", &home)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let files = git(&["ls-tree", "-r", "--name-only", "main"]);
    assert!(files.lines().any(|f| f == "greet.sh"), "{files}");
    assert!(files.lines().any(|f| f == "docs/usage.md"), "{files}");
    assert!(!files.contains(".orkestra/traks/"), "{files}");
    assert_eq!(
        git(&["show", "main:greet.sh"]),
        "#!/bin/sh\nNAME=${1:-world}\necho \"Hello, $NAME!\"\n"
    );
    // The merge keeps the trak's history reachable from main.
    let parents = git(&["log", "-1", "--format=%P", "main"]);
    assert_eq!(parents.split_whitespace().count(), 2, "{parents}");
    assert!(!git(&["notes", "--ref=orkestra", "list"]).trim().is_empty());
}
