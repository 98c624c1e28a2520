//! An agent's session started on one machine is resumed on another: Claude Code's transcript,
//! Codex's rollout and OpenCode's exported session travel with the trak.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Machine {
    dir: PathBuf,
    home: PathBuf,
    name: &'static str,
}

impl Machine {
    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .env("HOME", &self.home)
            // Each machine's CLIs keep their sessions under its own home.
            .env_remove("CODEX_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", self.name)
            .env("GIT_AUTHOR_EMAIL", "m@m")
            .env("GIT_COMMITTER_NAME", self.name)
            .env("GIT_COMMITTER_EMAIL", "m@m")
            .env("ORK_MACHINE", self.name)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} on {}: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ork(&self, args: &[&str]) -> String {
        self.run(env!("CARGO_BIN_EXE_ork"), args)
    }
}

fn machine(root: &Path, name: &'static str) -> Machine {
    let home = root.join(format!("home-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(root.join(name)).unwrap();
    Machine {
        dir: root.join(name),
        home,
        name,
    }
}

/// Two clones of a bare remote, A and B, each with its own home, and a workflow whose `work`
/// stage runs the stand-in for one agent CLI (`kind`). A runs the stage (a new session), syncs;
/// B rejects, so the stage runs again there resuming the session: it must find it. Returns B,
/// the trak's id and the session.
fn session_resumed_on_b(root: &Path, kind: &str, fake: &str) -> (Machine, String, String) {
    let remote = root.join("remote.git");
    let (a, b) = (machine(root, "a"), machine(root, "b"));
    a.run(
        "git",
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    a.run(
        "git",
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            a.dir.to_str().unwrap(),
        ],
    );
    std::fs::write(a.dir.join("README"), "x\n").unwrap();
    a.run("git", &["add", "README"]);
    a.run("git", &["commit", "-q", "-m", "first"]);
    a.ork(&["init"]);
    let program = format!("{}/fixtures/agents/{fake}", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        a.dir.join(".orkestra/workflow.toml"),
        format!(
            "[agents.cli]\nkind = \"{kind}\"\ncommand = [\"{program}\"]\ntimeout = \"20s\"\n\
             [flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"cli\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n"
        ),
    )
    .unwrap();
    a.run("git", &["add", "-A"]);
    a.run("git", &["commit", "-q", "-m", "workflow"]);
    a.run("git", &["push", "-q", "origin", "main"]);
    b.run(
        "git",
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            b.dir.to_str().unwrap(),
        ],
    );

    let out = a.ork(&["trak", "new", "Talk it through"]);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("Created trak "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let artifact = format!("ork/{id}:.orkestra/traks/{id}/artifacts/summary.md");
    let first = a.run("git", &["show", &artifact]);
    let session = first
        .trim()
        .strip_prefix("session ")
        .and_then(|s| s.strip_suffix(", turn 1"))
        .unwrap_or_else(|| panic!("unexpected answer: {first}"))
        .to_string();
    a.ork(&["sync"]);
    let kept = a.run(
        "git",
        &[
            "ls-tree",
            "-r",
            "--name-only",
            &format!("refs/ork/logs/{id}"),
        ],
    );
    assert!(
        kept.lines()
            .any(|l| l.starts_with(&format!("sessions/{session}/"))),
        "the session is kept on the log ref:\n{kept}"
    );

    // B has never seen this session; the reject runs work again there, resuming it.
    // `ork init` makes a plain fetch bring the logs ref, where the session travels.
    b.ork(&["init"]);
    b.run("git", &["fetch", "-q"]);
    b.ork(&["reject", &id, "-m", "Go on"]);
    let second = b.run("git", &["show", &artifact]);
    assert_eq!(second.trim(), format!("session {session}, turn 2"));
    (b, id, session)
}

#[test]
fn a_claude_session_is_resumed_on_another_machine() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    let (b, id, session) = session_resumed_on_b(&root, "claude", "fake-claude");
    let restored = ork_transcript_dir(&b.home, &b.dir.join(".orkestra/worktrees").join(&id));
    assert!(restored.join(format!("{session}.jsonl")).is_file());
}

#[test]
fn a_codex_thread_is_resumed_on_another_machine() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    let (b, _, thread) = session_resumed_on_b(&root, "codex", "fake-codex");
    // Put back under ~/.codex/sessions at the path it had on A (YYYY/MM/DD/rollout-…).
    let sessions = b.home.join(".codex/sessions");
    let found: Vec<String> = walk(&sessions)
        .into_iter()
        .filter(|p| p.ends_with(&format!("-{thread}.jsonl")))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let rel = &found[0];
    assert!(
        rel.split('/').count() == 4 && rel.contains("/rollout-"),
        "{rel}"
    );
}

#[test]
fn an_opencode_session_is_resumed_on_another_machine() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    let (b, id, session) = session_resumed_on_b(&root, "opencode", "fake-opencode");
    // Imported into B's OpenCode database, for B's worktree.
    let db = std::fs::read_to_string(b.home.join(".local/share/opencode/fake-opencode.db.json"))
        .unwrap();
    let db: serde_json::Value = serde_json::from_str(&db).unwrap();
    assert_eq!(
        db[&session]["info"]["directory"],
        b.dir
            .join(".orkestra/worktrees")
            .join(&id)
            .display()
            .to_string()
    );
}

/// The files under `dir`, at any depth, relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            found.extend(walk(&path).into_iter().map(|p| format!("{name}/{p}")));
        } else {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

fn ork_transcript_dir(home: &Path, cwd: &Path) -> PathBuf {
    let slug: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    home.join(".claude/projects").join(slug)
}
