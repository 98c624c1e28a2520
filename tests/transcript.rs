//! A Claude Code session started on one machine is resumed on another: its transcript travels
//! with the trak.

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

#[test]
fn a_claude_session_is_resumed_on_another_machine() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    let remote = root.join("remote.git");
    let (a, b) = (machine(&root, "a"), machine(&root, "b"));
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
    let claude = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-claude");
    std::fs::write(
        a.dir.join(".orkestra/workflow.toml"),
        format!(
            "[agents.claude]\nkind = \"claude\"\ncommand = [\"{claude}\"]\ntimeout = \"20s\"\n\
             [flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"claude\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n"
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
    let branch = format!("ork/{id}");
    let artifact = format!("{branch}:.orkestra/traks/{id}/artifacts/summary.md");
    let first = a.run("git", &["show", &artifact]);
    let session = first
        .trim()
        .strip_prefix("session ")
        .and_then(|s| s.strip_suffix(", turn 1"))
        .unwrap_or_else(|| panic!("unexpected answer: {first}"))
        .to_string();
    a.ork(&["sync"]);

    // B has never seen this session; the reject runs work again there, resuming it.
    // `ork init` makes a plain fetch bring the logs ref, where the transcript travels.
    b.ork(&["init"]);
    b.run("git", &["fetch", "-q"]);
    b.ork(&["reject", &id, "-m", "Go on"]);
    let second = b.run("git", &["show", &artifact]);
    assert_eq!(second.trim(), format!("session {session}, turn 2"));
    let restored = ork_transcript_dir(&b.home, &b.dir.join(".orkestra/worktrees").join(&id));
    assert!(restored.join(format!("{session}.jsonl")).is_file());
}

fn ork_transcript_dir(home: &Path, cwd: &Path) -> PathBuf {
    let slug: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    home.join(".claude/projects").join(slug)
}
