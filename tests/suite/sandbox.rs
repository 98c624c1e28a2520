//! End to end: an agent (and its gate) with a shell, under ork's sandbox (docs/security.md),
//! tries every write outside its worktree that would let it touch what gates it.

use serde_json::json;

use crate::common::{RunsOrk, Sandbox, artifact};

/// A shell script that tries each `(name, command)` and writes `name: ok` or `name: refused`
/// to `tried.txt` in the worktree.
fn attempts(tries: &[(&str, String)]) -> String {
    tries
        .iter()
        .map(|(name, command)| {
            format!("if ( {command} ) >/dev/null 2>&1; then echo '{name}: ok'; else echo '{name}: refused'; fi >> tried.txt")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What an agent tries: reads that must work, and writes outside its worktree that must not.
fn escapes(s: &Sandbox) -> Vec<(&'static str, String)> {
    let root = s.repo.root.display().to_string();
    vec![
        ("git status", "git status --short".into()),
        ("git log", "git log -1 --format=%H".into()),
        ("git diff", "git diff HEAD".into()),
        ("tmpdir", "echo scratch > \"$TMPDIR/scratch\" && test -s \"$TMPDIR/scratch\"".into()),
        ("git commit", "git add -A && git commit -q -m sneaky".into()),
        ("move main", "git update-ref refs/heads/main HEAD".into()),
        (
            "plant hook",
            "echo 'touch /tmp/ork-hook-ran' > \"$(git rev-parse --git-common-dir)/hooks/post-merge\"".into(),
        ),
        ("git config", "git config --local core.fsmonitor /bin/true".into()),
        ("main checkout", format!("echo planted > '{root}/planted.txt'")),
        ("home", "echo planted > \"$HOME/planted.txt\"".into()),
        ("ssh agent", "test -n \"$SSH_AUTH_SOCK\"".into()),
    ]
}

fn tried(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn an_agent_under_the_sandbox_reads_the_repository_but_writes_only_its_worktree() {
    let s = Sandbox::review_flow("", json!({})).with_env("SSH_AUTH_SOCK", "/tmp/agent.sock");
    let script = attempts(&escapes(&s));
    s.set_plan(json!({
        "planning": [artifact("# Plan")],
        "work": [{"write": {"login.txt": "login\n"}, "run": script,
                  "result": {"type": "artifact", "content": "done"}}],
    }));
    let main_before = s.repo.git(&["rev-parse", "main"]);
    let (id, _) = s.new_trak("Add login", &[]);
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id), ("awaiting_review".into(), "work".into()));
    let worktree = s.repo.root.join(".orkestra/worktrees").join(&id);
    let said = tried(&std::fs::read_to_string(worktree.join("tried.txt")).unwrap());
    assert_eq!(
        said,
        [
            "git status: ok",
            "git log: ok",
            "git diff: ok",
            "tmpdir: ok",
            "git commit: refused",
            "move main: refused",
            "plant hook: refused",
            "git config: refused",
            "main checkout: refused",
            "home: refused",
            "ssh agent: refused",
        ]
    );
    // Nothing of it happened: main is where it was, no hook, no config, no planted files.
    assert_eq!(s.repo.git(&["rev-parse", "main"]), main_before);
    assert!(!s.repo.root.join(".git/hooks/post-merge").exists());
    assert!(!s.repo.root.join("planted.txt").exists());
    assert!(!s.repo.home().join("planted.txt").exists());
    let config = std::fs::read_to_string(s.repo.root.join(".git/config")).unwrap();
    assert!(!config.contains("fsmonitor"), "{config}");

    // The work is still the agent's to hand in: ork commits it, and the trak finishes.
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id).0, "done");
    assert_eq!(s.repo.read("login.txt"), "login\n");
}

#[test]
fn with_the_sandbox_off_the_same_writes_go_through() {
    // The counterpart that shows the refusals above come from the sandbox: the same agent,
    // `mode = "off"`, writes outside its worktree (only the harmless writes are tried here).
    let s = Sandbox::review_flow(
        "[sandbox]\nmode = \"off\"\n",
        json!({"planning": [artifact("# Plan")]}),
    )
    .with_env("SSH_AUTH_SOCK", "/tmp/agent.sock");
    let root = s.repo.root.display().to_string();
    let script = attempts(&[
        (
            "main checkout",
            format!("echo planted > '{root}/planted.txt'"),
        ),
        ("home", "echo planted > \"$HOME/planted.txt\"".into()),
        ("ssh agent", "test -n \"$SSH_AUTH_SOCK\"".into()),
    ]);
    s.set_plan(json!({
        "planning": [{"run": script, "result": {"type": "artifact", "content": "# Plan"}}],
    }));
    let (id, _) = s.new_trak("Add login", &[]);
    let worktree = s.repo.root.join(".orkestra/worktrees").join(&id);
    let said = tried(&std::fs::read_to_string(worktree.join("tried.txt")).unwrap());
    assert_eq!(said, ["main checkout: ok", "home: ok", "ssh agent: ok"]);
    assert!(s.repo.home().join("planted.txt").exists());
}

#[test]
fn a_gate_runs_under_the_same_sandbox() {
    let s = Sandbox::review_flow(
        "",
        json!({"planning": [artifact("# Plan")],
               "work": [{"write": {"login.txt": "login\n"}, "result": {"type": "artifact", "content": "done"}}]}),
    );
    // The gate (the worktree's code runs in it) tries to write the main checkout and $HOME.
    let root = s.repo.root.display().to_string();
    let gate = format!(
        "echo x > '{root}/gate-planted.txt'; echo x > \"$HOME/gate-planted.txt\"; git status --short >/dev/null"
    );
    s.repo.write(
        ".orkestra/scripts/checks.sh",
        &format!("#!/bin/sh\n{gate}\nexit 0\n"),
    );
    s.repo.git(&[
        "update-index",
        "--add",
        "--chmod=+x",
        ".orkestra/scripts/checks.sh",
    ]);
    let workflow = s.repo.read(".orkestra/workflow.toml").replace(
        "artifact = \"summary\"\nreview = \"human\"",
        "artifact = \"summary\"\nreview = \"human\"\ngate = { command = \".orkestra/scripts/checks.sh\", timeout = \"20s\" }",
    );
    s.repo.write(".orkestra/workflow.toml", &workflow);
    s.repo.commit_all("A gate");
    let (id, _) = s.new_trak("Add login", &[]);
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id), ("awaiting_review".into(), "work".into()));
    assert!(!s.repo.root.join("gate-planted.txt").exists());
    assert!(!s.repo.home().join("gate-planted.txt").exists());
}
