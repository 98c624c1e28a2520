//! Files listed in `.orkestra/worktree.include` (secrets, local settings) reach every worktree
//! but never a commit.

use crate::common;

use serde_json::json;

use common::sandbox::fake_agent;
use common::{RunsOrk, Sandbox};

#[test]
fn included_local_files_are_never_committed() {
    let workflow = format!(
        "{}[flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\nartifact = \"summary\"\n",
        fake_agent("20s")
    );
    let s = Sandbox::with_files(
        &workflow,
        &[(".orkestra/worktree.include", ".env\n")],
        json!({"work": [{"write": {"code.txt": "done", ".env": "API_KEY=changed-by-agent\n"},
                         "result": {"type": "artifact", "content": "ok"}}]}),
    );
    // Not ignored by git: only worktree.include keeps it out of commits.
    s.repo.write(".env", "API_KEY=hunter2hunter2\n");

    let (id, out) = s.new_trak("Use the key", &[]);
    assert!(out.contains("waiting for review"), "{out}");
    let files = s.repo.tree_files(&format!("ork/{id}"));
    assert!(files.iter().any(|f| f == "code.txt"), "{files:?}");
    assert!(!files.iter().any(|f| f == ".env"), "{files:?}");
    assert_eq!(
        s.repo.read(&format!(".orkestra/worktrees/{id}/.env")),
        "API_KEY=changed-by-agent\n"
    );
}
