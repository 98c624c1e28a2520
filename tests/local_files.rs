//! Files listed in `.orkestra/worktree.include` (secrets, local settings) reach every worktree
//! but never a commit.

use std::process::Command;

#[test]
fn included_local_files_are_never_committed() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .current_dir(&repo)
            .env("HOME", &root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .env("FAKE_AGENT_PLAN", root.join("plan.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run("git", &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "x\n").unwrap();
    run("git", &["add", "README"]);
    run("git", &["commit", "-q", "-m", "first"]);
    run(env!("CARGO_BIN_EXE_ork"), &["init"]);
    let agent = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-agent");
    std::fs::write(
        repo.join(".orkestra/workflow.toml"),
        format!(
            "[agents.fake]\nkind = \"command\"\ncommand = [\"{agent}\"]\ntimeout = \"20s\"\n\
             [flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n"
        ),
    )
    .unwrap();
    std::fs::write(repo.join(".orkestra/worktree.include"), ".env\n").unwrap();
    run("git", &["add", "-A"]);
    run("git", &["commit", "-q", "-m", "init"]);
    // Not ignored by git: only worktree.include keeps it out of commits.
    std::fs::write(repo.join(".env"), "API_KEY=hunter2hunter2\n").unwrap();
    let plan = serde_json::json!({
        "dir": root.join("agent"),
        "stages": {"work": [{"write": {"code.txt": "done", ".env": "API_KEY=changed-by-agent\n"},
                             "result": {"type": "artifact", "content": "ok"}}]}
    });
    std::fs::write(root.join("plan.json"), plan.to_string()).unwrap();

    let out = run(env!("CARGO_BIN_EXE_ork"), &["trak", "new", "Use the key"]);
    assert!(out.contains("waiting for review"), "{out}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("Created trak "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let files = run(
        "git",
        &["ls-tree", "-r", "--name-only", &format!("ork/{id}")],
    );
    assert!(files.lines().any(|f| f == "code.txt"), "{files}");
    assert!(!files.lines().any(|f| f == ".env"), "{files}");
    let worktree = repo.join(".orkestra/worktrees").join(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join(".env")).unwrap(),
        "API_KEY=changed-by-agent\n"
    );
}
