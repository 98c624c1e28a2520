//! `ork hooks install`: a plain `git push` of an ork branch carries its notes and logs too.

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, home: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .env("FAKE_AGENT_PLAN", home.join("plan.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_plain_push_of_a_trak_carries_its_notes_and_logs() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    let (remote, repo) = (root.join("remote.git"), root.join("repo"));
    std::fs::create_dir_all(&repo).unwrap();
    let ork = env!("CARGO_BIN_EXE_ork");
    run(
        &root,
        &root,
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
    run(&repo, &root, "git", &["init", "-q", "-b", "main"]);
    run(
        &repo,
        &root,
        "git",
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    std::fs::write(repo.join("README"), "x\n").unwrap();
    run(&repo, &root, "git", &["add", "README"]);
    run(&repo, &root, "git", &["commit", "-q", "-m", "first"]);
    run(&repo, &root, ork, &["init"]);
    let agent = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-agent");
    std::fs::write(
        repo.join(".orkestra/workflow.toml"),
        format!(
            "[agents.fake]\nkind = \"command\"\ncommand = [\"{agent}\"]\ntimeout = \"20s\"\n\
             [flows.f]\n[[flows.f.stages]]\nname = \"work\"\nagent = \"fake\"\nprompt = \"worker.md\"\n\
             artifact = \"summary\"\ngate = {{ command = \"true\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("plan.json"),
        format!(
            "{{\"dir\": \"{}\", \"stages\": {{}}}}",
            root.join("agent").display()
        ),
    )
    .unwrap();
    run(&repo, &root, "git", &["add", "-A"]);
    run(&repo, &root, "git", &["commit", "-q", "-m", "workflow"]);
    run(&repo, &root, "git", &["push", "-q", "origin", "main"]);

    let out = run(&repo, &root, ork, &["hooks", "install"]);
    assert!(out.contains("installed"), "{out}");
    let again = run(&repo, &root, ork, &["hooks", "install"]);
    assert!(again.contains("unchanged"), "{again}");

    let out = run(&repo, &root, ork, &["trak", "new", "Gated work"]);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("Created trak "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    run(
        &repo,
        &root,
        "git",
        &["push", "-q", "origin", &format!("ork/{id}")],
    );

    let remote_refs = run(
        &remote,
        &root,
        "git",
        &["for-each-ref", "--format=%(refname)"],
    );
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
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().canonicalize().unwrap();
    run(&root, &root, "git", &["init", "-q", "-b", "main"]);
    run(
        &root,
        &root,
        "git",
        &["commit", "-q", "--allow-empty", "-m", "first"],
    );
    let hook = root.join(".git/hooks/pre-push");
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let ork = env!("CARGO_BIN_EXE_ork");
    let out = Command::new(ork)
        .args(["hooks", "install"])
        .current_dir(&root)
        .env("HOME", &root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists and is not ork's") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    let out = run(&root, &root, ork, &["hooks", "install", "--force"]);
    assert!(out.contains("replaced"), "{out}");
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("ork's pre-push hook")
    );
}
