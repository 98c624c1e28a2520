//! End to end: with `[trust] sign`, a person's decisions are signed with their SSH key through
//! git's own format; with `[trust] verify`, ork acts on no decision an allowed key did not sign
//! (docs/security.md, Signed decisions).

use std::process::Command;

use serde_json::json;

use crate::common::{self, RunsOrk, Sandbox, artifact};

const TRUST: &str = "[trust]\nsign = true\nverify = true\n";

/// A review flow whose decisions are signed and verified, with an SSH key made for the test,
/// named in git's `user.signingkey` and in the committed `.orkestra/allowed_signers`.
fn signed_sandbox() -> Sandbox {
    let s = Sandbox::review_flow(
        TRUST,
        json!({
            "planning": [artifact("# Plan")],
            "work": [{"write": {"login.txt": "login\n"}, "result": {"type": "artifact", "content": "done"}}],
        }),
    );
    let key = s.path("decider");
    let public = new_key(&key);
    s.repo.write(
        ".orkestra/allowed_signers",
        &format!("decider@example.com {public}"),
    );
    s.repo.commit_all("allow the decider's key");
    s.repo
        .git(&["config", "user.signingkey", key.to_str().unwrap()]);
    s
}

/// `git log`'s signature check of `rev` (`G`: good and trusted), against the allowed signers.
fn signature_status(s: &Sandbox, rev: &str) -> String {
    let allowed = s.repo.root.join(".orkestra/allowed_signers");
    s.repo.git(&[
        "-c",
        "gpg.format=ssh",
        "-c",
        &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
        "log",
        "-1",
        "--format=%G?",
        rev,
    ])
}

#[test]
fn a_persons_decisions_are_signed_and_verified_and_the_trak_lands() {
    let s = signed_sandbox();
    let (id, _) = s.new_trak("Add login", &["--budget", "5"]);
    s.ork_ok(&["approve", &id]);
    let approval = s.repo.git(&[
        "log",
        "--format=%H",
        "--grep=^ork: Approve planning",
        &format!("ork/{id}"),
    ]);
    assert_eq!(signature_status(&s, approval.trim()), "G");
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id).0, "done");
    assert_eq!(s.repo.read("login.txt"), "login\n");
}

#[test]
fn an_unsigned_decision_is_refused_with_the_commit_named() {
    let s = signed_sandbox();
    let (id, _) = s.new_trak("Add login", &[]);
    // A decision made without signing (what a forger without the key can make): the workflow
    // in the main checkout says `sign = false` for one command.
    let workflow = s.repo.read(".orkestra/workflow.toml");
    s.repo.write(
        ".orkestra/workflow.toml",
        &workflow.replace("sign = true", "sign = false"),
    );
    let out = s.ork(&["approve", &id, "--no-run"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    s.repo.write(".orkestra/workflow.toml", &workflow);
    let forged = s.repo.git(&["rev-parse", &format!("ork/{id}")]);
    assert_eq!(signature_status(&s, &forged), "N");

    let err = s.ork_err(&["resume", &id]);
    assert!(
        err.contains("not signed by a key in .orkestra/allowed_signers"),
        "{err}"
    );
    assert!(err.contains(forged.trim()), "{err}");
    assert_eq!(s.runs("work"), 0, "nothing ran on the unsigned approval");
}

/// An SSH key made for the test at `path`; its public half.
fn new_key(path: &std::path::Path) -> String {
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "decider", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

#[test]
fn a_signed_decision_verifies_on_a_second_clone_and_a_forged_one_fetched_is_refused_there() {
    use crate::common::Net;
    use crate::common::sandbox::{feature_workflow, stage};
    let net = Net::new(&feature_workflow(
        "60s",
        TRUST,
        &[
            stage("planning", "planner.md", "plan", "review = \"human\""),
            stage("work", "worker.md", "summary", "review = \"human\""),
        ],
    ));
    let (a, b) = (&net.a, &net.b);
    // Only A holds the key; the allowed signers reach both machines with main.
    let public = new_key(&a.path("decider"));
    a.repo.write(
        ".orkestra/allowed_signers",
        &format!("decider@example.com {public}"),
    );
    a.repo.commit_all("allow the decider's key");
    a.git(&["push", "-q", "origin", "main"]);
    a.git(&[
        "config",
        "user.signingkey",
        a.path("decider").to_str().unwrap(),
    ]);
    b.git(&["pull", "-q"]);
    a.set_plan(json!({"planning": [artifact("# Plan")]}));
    b.set_plan(json!({"work": [{"write": {"login.txt": "login\n"}, "result": {"type": "artifact", "content": "done"}}]}));

    // A approves the plan, signed, and shares it; B verifies it and works.
    let (id, _) = a.new_trak("Add login", &[]);
    a.ork_ok(&["approve", &id, "--no-run"]);
    a.ork_ok(&["sync"]);
    b.git(&["fetch", "-q"]);
    let out = b.ork_ok(&["resume", &id]);
    assert_eq!(b.runs("work"), 1, "{out}");
    b.assert_at(&id, "awaiting_review", "work");

    // B has no key: its approval can only be unsigned (as a forger's). Shared, A refuses it.
    let workflow = b.repo.read(".orkestra/workflow.toml");
    b.repo.write(
        ".orkestra/workflow.toml",
        &workflow.replace("sign = true", "sign = false"),
    );
    b.ork_ok(&["approve", &id, "--no-run"]);
    b.repo.write(".orkestra/workflow.toml", &workflow);
    b.ork_ok(&["sync"]);
    let forged = b.git(&["rev-parse", &format!("ork/{id}")]);
    a.git(&["fetch", "-q"]);
    let err = a.ork_err(&["resume", &id]);
    assert!(
        err.contains("not signed by a key in .orkestra/allowed_signers"),
        "{err}"
    );
    assert!(err.contains(forged.trim()), "{err}");
    assert!(
        !a.repo.root.join("login.txt").exists(),
        "nothing merged on A"
    );
}

#[test]
fn a_restore_is_a_signed_decision_and_the_trak_runs_on_verified() {
    let s = signed_sandbox();
    let (id, _) = s.new_trak("Add login", &[]);
    s.ork_ok(&["trak", "drop", &id]);
    s.ork_ok(&["trak", "restore", &id]);
    let restore = s.repo.git(&[
        "log",
        "--format=%H",
        "--grep=^ork: Restore the trak",
        &format!("ork/{id}"),
    ]);
    assert_eq!(signature_status(&s, restore.trim()), "G");
    s.ork_ok(&["approve", &id]);
    s.ork_ok(&["approve", &id]);
    assert_eq!(s.at(&id).0, "done");
}
