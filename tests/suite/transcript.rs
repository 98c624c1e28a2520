//! An agent's session started on one machine is resumed on another: Claude Code's transcript,
//! Codex's rollout and OpenCode's exported session travel with the trak.

use crate::common;

use std::path::{Path, PathBuf};

use common::{Net, RunsOrk, Sandbox};

/// Two clones of a bare remote, A and B, each with its own home, and a workflow whose `work`
/// stage runs the stand-in for one agent CLI (`kind`). A runs the stage (a new session), syncs;
/// B rejects, so the stage runs again there resuming the session: it must find it. Returns B,
/// the trak's id and the session.
fn session_resumed_on_b(kind: &str, fake: &str) -> (Sandbox, String, String) {
    let program = format!("{}/fixtures/agents/{fake}", env!("CARGO_MANIFEST_DIR"));
    let Net { a, b, .. } = Net::new(&format!(
        "[agents.cli]\nkind = \"{kind}\"\ncommand = [\"{program}\"]\ntimeout = \"20s\"\n\
         [flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"cli\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n"
    ));

    let (id, _) = a.new_trak("Talk it through", &[]);
    let artifact = format!("ork/{id}:.orkestra/traks/{id}/artifacts/summary.md");
    let first = a.git(&["show", &artifact]);
    let session = first
        .trim()
        .strip_prefix("session ")
        .and_then(|s| s.strip_suffix(", turn 1"))
        .unwrap_or_else(|| panic!("unexpected answer: {first}"))
        .to_string();
    a.ork_ok(&["sync"]);
    let kept = a.git(&[
        "ls-tree",
        "-r",
        "--name-only",
        &format!("refs/ork/logs/{id}"),
    ]);
    assert!(
        kept.lines()
            .any(|l| l.starts_with(&format!("sessions/{session}/"))),
        "the session is kept on the log ref:\n{kept}"
    );

    // B has never seen this session; the reject runs work again there, resuming it.
    // `ork init` makes a plain fetch bring the logs ref, where the session travels.
    b.ork_ok(&["init"]);
    b.git(&["fetch", "-q"]);
    b.ork_ok(&["reject", &id, "-m", "Go on"]);
    let second = b.git(&["show", &artifact]);
    assert_eq!(second.trim(), format!("session {session}, turn 2"));
    (b, id, session)
}

#[test]
fn a_claude_session_is_resumed_on_another_machine() {
    let (b, id, session) = session_resumed_on_b("claude", "fake-claude");
    let restored = ork_transcript_dir(b.repo.home(), &b.repo.worktree_path(&id));
    assert!(restored.join(format!("{session}.jsonl")).is_file());
}

#[test]
fn a_codex_thread_is_resumed_on_another_machine() {
    let (b, _, thread) = session_resumed_on_b("codex", "fake-codex");
    // Put back under ~/.codex/sessions at the path it had on A (YYYY/MM/DD/rollout-…).
    let sessions = b.repo.home().join(".codex/sessions");
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
    let (b, id, session) = session_resumed_on_b("opencode", "fake-opencode");
    // Imported into B's OpenCode database, for B's worktree.
    let db = std::fs::read_to_string(
        b.repo
            .home()
            .join(".local/share/opencode/fake-opencode.db.json"),
    )
    .unwrap();
    let db: serde_json::Value = serde_json::from_str(&db).unwrap();
    assert_eq!(
        db[&session]["info"]["directory"],
        b.repo.worktree_path(&id).display().to_string()
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
