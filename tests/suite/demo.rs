//! `ork demo` runs a whole flow in a repository of its own, with no model and no network.

use crate::common;

use std::path::Path;

use common::{Repo, success};

#[test]
fn the_demo_runs_a_whole_flow_and_leaves_a_repository_to_explore() {
    // Outside any repository, with no git user name set.
    let sandbox = Repo::plain_dir();
    let base = sandbox.root.parent().unwrap();
    let output = sandbox
        .ork_command(&sandbox.root, &["demo"])
        .env("TMPDIR", base)
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_COMMITTER_NAME")
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
        "breakdown: waiting for review",
        "[script] work: attempt 1",
        "[docs] work: attempt 1",
        "2 subtrak(s) merged",
        "gate failed",
        "FAIL: sh greet.sh printed 'Helo, world!'",
        "work: attempt 2",
        "gate passed",
        "$ ork reject",
        "review: approved",
        "compound: approved",
        "integrated into main",
        "$ git log --oneline main",
        "When you are done: rm -rf ",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    assert!(!stdout.contains(" stopped: "), "no part stopped:\n{stdout}");
    // The repository it names holds the merged work, without the trak's record.
    let dir = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("cd "))
        .expect("the demo says where its repository is");
    assert!(dir.starts_with(base.to_str().unwrap()));
    let git = |args: &[&str]| {
        let out = sandbox.command("git", Path::new(dir)).args(args).output();
        success(&out.unwrap(), &format!("git {args:?}"))
    };
    let files = git(&["ls-tree", "-r", "--name-only", "main"]);
    assert!(files.lines().any(|f| f == "greet.sh"), "{files}");
    assert!(files.lines().any(|f| f == "docs/usage.md"), "{files}");
    assert!(!files.contains(".orkestra/traks/"), "{files}");
    assert_eq!(
        git(&["show", "main:greet.sh"]),
        "#!/bin/sh\nNAME=${1:-world}\necho \"Hello, $NAME!\"\n"
    );
    // One commit of code on main, as a person would write it; the story stays on the trak.
    let parents = git(&["log", "-1", "--format=%P", "main"]);
    assert_eq!(parents.split_whitespace().count(), 1, "{parents}");
    let subjects = git(&["log", "--format=%s", "main"]);
    assert_eq!(
        subjects.lines().collect::<Vec<_>>(),
        [
            "Add a greeting script",
            "A tiny project, with ork's workflow"
        ]
    );
    let body = git(&["log", "-1", "--format=%b", "main"]);
    assert!(body.contains("greets by name"), "{body}");
    // The flows are the ones `ork init` writes.
    let workflow = git(&["show", "main:.orkestra/workflow.toml"]);
    assert!(workflow.contains("[flows.subtrak]") && workflow.contains("default_agent = \"demo\""));
    assert!(!git(&["notes", "--ref=orkestra", "list"]).trim().is_empty());
}
