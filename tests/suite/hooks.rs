//! `ork hooks install`: a plain `git push` of an ork branch carries its notes and logs too.

use crate::common;

use serde_json::json;

use common::sandbox::fake_agent;
use common::{Repo, RunsOrk, Sandbox};

#[test]
fn a_plain_push_of_a_trak_carries_its_notes_and_logs() {
    let workflow = format!(
        "{}[flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\n\
         artifact = \"summary\"\ngate = {{ command = \"true\" }}\n",
        fake_agent("20s")
    );
    let s = Sandbox::new(&workflow, json!({})).with_remote();

    let out = s.ork_ok(&["hooks", "install"]);
    assert!(out.contains("installed"), "{out}");
    let again = s.ork_ok(&["hooks", "install"]);
    assert!(again.contains("unchanged"), "{again}");

    let (id, _) = s.new_trak("Gated work", &[]);
    s.git(&["push", "-q", "origin", &format!("ork/{id}")]);

    let remote_refs = s.remote().git(&["for-each-ref", "--format=%(refname)"]);
    assert!(
        remote_refs.contains(&format!("refs/heads/ork/{id}")),
        "{remote_refs}"
    );
    assert!(remote_refs.contains("refs/notes/orkestra"), "{remote_refs}");
    assert!(
        remote_refs.contains(&format!("refs/ork/logs/{id}")),
        "{remote_refs}"
    );
}

#[test]
fn a_hook_that_is_not_orks_is_kept_unless_forced() {
    let repo = Repo::new();
    let hook = repo.root.join(".git/hooks/pre-push");
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let err = repo.ork_err(&["hooks", "install"]);
    assert!(
        err.contains("already exists and is not ork's") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    let out = repo.ork_ok(&["hooks", "install", "--force"]);
    assert!(out.contains("replaced"), "{out}");
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("ork's pre-push hook")
    );
}
