//! End to end: `ork init`, `ork trak new`, `ork status`, `ork show` and `ork log` against real
//! git repositories, checked through both ork's output and git's view of the repository.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::{MACHINE, Repo, all_files, created_id, json, lines, status_row, success};

const DEFAULT_FILES: &[&str] = &[
    ".orkestra/workflow.toml",
    ".orkestra/agents/planner.md",
    ".orkestra/agents/breakdown.md",
    ".orkestra/agents/worker.md",
    ".orkestra/agents/compound.md",
    ".orkestra/agents/reviewer.md",
    ".orkestra/agents/judge.md",
    ".orkestra/scripts/checks.sh",
    ".orkestra/.gitignore",
    ".orkestra/worktree.include",
];

/// The trak's record files on its branch, relative to `.orkestra/traks/<id>/`.
fn record_files(repo: &Repo, id: &str) -> Vec<String> {
    let dir = format!(".orkestra/traks/{id}/");
    repo.tree_files(&format!("ork/{id}"))
        .into_iter()
        .filter_map(|f| f.strip_prefix(&dir).map(str::to_string))
        .collect()
}

#[test]
fn init_is_idempotent_and_force_restores_edits() {
    let repo = Repo::new();
    let out = repo.ork_ok(&["init"]);
    for file in DEFAULT_FILES {
        assert!(repo.root.join(file).is_file(), "{file} missing");
        assert!(out.contains(&format!("created   {file}")), "{file}:\n{out}");
    }
    assert!(out.contains("Wrote 10 file(s)"), "{out}");
    assert!(repo.read(".orkestra/.gitignore").contains("worktrees/"));

    let checks = repo.root.join(".orkestra/scripts/checks.sh");
    let mode = std::fs::metadata(&checks).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "checks.sh mode {mode:o}");
    let ran = repo.command(&checks, &repo.root).output().unwrap();
    success(&ran, "checks.sh");

    // A second run writes nothing.
    let before: Vec<_> = DEFAULT_FILES
        .iter()
        .map(|f| {
            let path = repo.root.join(f);
            (
                std::fs::read(&path).unwrap(),
                std::fs::metadata(&path).unwrap().modified().unwrap(),
            )
        })
        .collect();
    let out = repo.ork_ok(&["init"]);
    assert!(out.contains("Nothing to do"), "{out}");
    for (file, (contents, modified)) in DEFAULT_FILES.iter().zip(&before) {
        let path = repo.root.join(file);
        assert_eq!(&std::fs::read(&path).unwrap(), contents, "{file}");
        assert_eq!(
            &std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified,
            "{file} was rewritten"
        );
    }

    // The user's edit is kept, and --force restores the default.
    let default_workflow = repo.read(".orkestra/workflow.toml");
    let edited = format!("{default_workflow}\n# my edit\n");
    repo.write(".orkestra/workflow.toml", &edited);
    let out = repo.ork_ok(&["init"]);
    assert!(out.contains("kept"), "{out}");
    assert!(out.contains("differs from the default"), "{out}");
    assert_eq!(repo.read(".orkestra/workflow.toml"), edited);

    let out = repo.ork_ok(&["init", "--force"]);
    assert!(out.contains("rewrote   .orkestra/workflow.toml"), "{out}");
    assert_eq!(repo.read(".orkestra/workflow.toml"), default_workflow);
    // --force leaves files that match the default alone.
    assert!(
        out.contains("unchanged .orkestra/agents/planner.md"),
        "{out}"
    );
}

#[test]
fn the_user_sequence_creates_a_trak_in_git() {
    let repo = Repo::new();
    repo.ork_ok(&["init"]);
    let main_tip = repo.git(&["rev-parse", "main"]);

    // Work in progress in the main checkout: none of it may reach the trak.
    repo.write("README.md", "# Project\nuncommitted edit\n");
    repo.write("staged.txt", "staged, not committed\n");
    repo.git(&["add", "staged.txt"]);
    repo.write("notes.txt", "untracked\n");

    let out = repo.ork_ok(&[
        "trak",
        "new",
        "--no-run",
        "--flow",
        "feature",
        "Add OAuth login",
        "-d",
        "Users sign in with GitHub",
    ]);
    let id = created_id(&out);
    assert!(id.starts_with("add-oauth-login-"), "{id}");
    let branch = format!("ork/{id}");
    let worktree = repo.worktree_path(&id);
    assert!(out.contains(&format!("branch    {branch}")), "{out}");
    assert!(out.contains(&worktree.display().to_string()), "{out}");
    assert!(out.contains("queued at planning"), "{out}");

    // ork status
    let status = repo.ork_ok(&["status"]);
    let header = status.lines().next().unwrap();
    for column in ["ID", "TITLE", "FLOW", "STAGE", "STATUS"] {
        assert!(header.contains(column), "{status}");
    }
    assert!(!header.contains("WHERE"), "only local traks:\n{status}");
    let row = status_row(&status, &id);
    for cell in ["Add OAuth login", "feature", "planning", "queued"] {
        assert!(row.contains(cell), "{cell} missing in {row}");
    }

    // ork show / ork log with a prefix
    let show = repo.ork_ok(&["show", "add-oauth"]);
    assert!(
        show.starts_with(&format!("{id}  Add OAuth login")),
        "{show}"
    );
    assert!(show.contains("Users sign in with GitHub"), "{show}");
    assert!(show.contains("[planning]"), "{show}");
    assert!(show.contains("queued"), "{show}");
    assert!(show.contains("base      main"), "{show}");
    let log = repo.ork_ok(&["log", "add-oauth"]);
    assert_eq!(lines(&log).len(), 1, "{log}");
    assert!(log.contains("created"), "{log}");
    assert!(log.contains(MACHINE), "{log}");
    assert!(
        log.contains("Create trak \"Add OAuth login\" (feature)"),
        "{log}"
    );

    // The commit: subject and trailers.
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", &branch]),
        "ork: Create trak \"Add OAuth login\" (feature)"
    );
    assert_eq!(repo.trailer(&branch, "Ork-Trak"), id);
    assert_eq!(repo.trailer(&branch, "Ork-Event"), "created");
    assert_eq!(repo.trailer(&branch, "Ork-Stage"), "planning");
    assert_eq!(repo.trailer(&branch, "Ork-Flow"), "feature");
    assert_eq!(repo.trailer(&branch, "Ork-Machine"), MACHINE);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%an <%ae>", &branch]),
        format!("{} <{}>", common::AUTHOR, common::EMAIL)
    );

    // One commit on top of main's tip; main itself did not move.
    assert_eq!(repo.git(&["rev-parse", &format!("{branch}^")]), main_tip);
    assert_eq!(
        repo.git(&["rev-list", "--count", &format!("main..{branch}")]),
        "1"
    );
    assert_eq!(repo.git(&["rev-parse", "main"]), main_tip);
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main");

    // The worktree is registered on the trak's branch.
    let worktrees = repo.worktrees();
    assert_eq!(worktrees.len(), 2, "{worktrees:?}");
    assert!(
        worktrees.contains(&(worktree.clone(), Some(format!("refs/heads/{branch}")))),
        "{worktrees:?}"
    );

    // The record on the branch: description, state and exactly one event.
    let mut record = record_files(&repo, &id);
    record.sort();
    assert_eq!(record.len(), 3, "{record:?}");
    assert_eq!(record[0], "description.md");
    assert!(
        record[1].starts_with("events/") && record[1].ends_with(".json"),
        "{record:?}"
    );
    assert!(
        record[1].contains(&format!("-{MACHINE}-")),
        "event file named after the machine: {record:?}"
    );
    assert_eq!(record[2], "state.json");
    let description = repo.git(&[
        "show",
        &format!("{branch}:.orkestra/traks/{id}/description.md"),
    ]);
    assert_eq!(description, "Users sign in with GitHub");
    let state = json(&repo.git(&["show", &format!("{branch}:.orkestra/traks/{id}/state.json")]));
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["stage"], "planning");
    assert_eq!(state["status"], "queued");
    assert_eq!(state["events"], 1);

    // Nothing uncommitted from the main checkout reached the branch or the worktree.
    let mut expected = vec!["README.md".to_string()];
    expected.extend(
        ["description.md", &record[1], "state.json"]
            .iter()
            .map(|f| format!(".orkestra/traks/{id}/{f}")),
    );
    expected.sort();
    assert_eq!(repo.tree_files(&branch), expected);
    assert_eq!(
        std::fs::read_to_string(worktree.join("README.md")).unwrap(),
        "# Project\n"
    );
    assert_eq!(all_files(&worktree), expected);
    // The main checkout is as the user left it.
    assert_eq!(repo.read("README.md"), "# Project\nuncommitted edit\n");
    assert_eq!(repo.read("notes.txt"), "untracked\n");
    assert_eq!(
        repo.git(&["diff", "--cached", "--name-only"]),
        "staged.txt",
        "the user's index is untouched"
    );
    // The trak's worktree is clean.
    assert_eq!(repo.git_in(&worktree, &["status", "--porcelain"]), "");
}

#[test]
fn the_description_can_come_from_stdin() {
    let repo = Repo::initialized();
    let text = "Line one\n\nLine three with `code`\n";
    let out = repo.ork_with_stdin(&["trak", "new", "--no-run", "From stdin", "-d", "-"], text);
    let id = created_id(&success(&out, "ork trak new -d -"));
    let show = repo.ork_ok(&["show", &id]);
    assert!(
        show.contains("Line one\n\nLine three with `code`"),
        "{show}"
    );
    let stored = repo.git(&[
        "show",
        &format!("ork/{id}:.orkestra/traks/{id}/description.md"),
    ]);
    assert_eq!(stored, "Line one\n\nLine three with `code`");
    let shown = json(&repo.ork_ok(&["show", &id, "--json"]));
    assert_eq!(shown["description"], text);
}

#[test]
fn show_and_log_default_to_the_worktrees_trak() {
    let repo = Repo::initialized();
    let id = repo.new_trak(&["Add OAuth login", "-d", "Users sign in with GitHub"]);
    let other = repo.new_trak(&["Something else"]);
    let worktree = repo.worktree_path(&id);
    let wt = worktree.to_str().unwrap();

    // With -C, from the main checkout.
    let show = repo.ork_ok(&["-C", wt, "show"]);
    assert!(
        show.starts_with(&format!("{id}  Add OAuth login")),
        "{show}"
    );
    assert!(show.contains("Users sign in with GitHub"), "{show}");
    let log = repo.ork_ok(&["-C", wt, "log"]);
    assert!(log.contains("Create trak \"Add OAuth login\""), "{log}");

    // Started inside the worktree, and in a folder below its root.
    let show = success(&repo.ork_in(&worktree, &["show"]), "ork show");
    assert!(show.starts_with(&format!("{id}  ")), "{show}");
    let deeper = worktree.join(".orkestra/traks").join(&id);
    let log = success(&repo.ork_in(&deeper, &["log", "--json"]), "ork log");
    let events = json(&log);
    assert_eq!(events.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(events[0]["title"], "Add OAuth login");

    // An explicit id still wins inside a worktree.
    let show = success(&repo.ork_in(&worktree, &["show", &other]), "ork show");
    assert!(
        show.starts_with(&format!("{other}  Something else")),
        "{show}"
    );

    // A trak made from inside a worktree still starts from main and lives in the main checkout.
    let out = success(
        &repo.ork_in(&worktree, &["trak", "new", "--no-run", "Nested"]),
        "ork trak new",
    );
    let nested = created_id(&out);
    assert_eq!(
        repo.git(&["rev-parse", &format!("ork/{nested}^")]),
        repo.git(&["rev-parse", "main"])
    );
    assert!(repo.worktree_path(&nested).is_dir());
    assert!(!worktree.join(".orkestra/worktrees").join(&nested).exists());
    let state = json(&repo.ork_ok(&["show", &nested, "--json"]));
    assert_eq!(state["base"], "main");
}

#[test]
fn concurrent_trak_new_with_one_title_makes_two_traks() {
    let repo = Repo::initialized();
    let spawn = || {
        repo.ork_command(&repo.root, &["trak", "new", "--no-run", "Same title"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let a = success(&a.wait_with_output().unwrap(), "first ork trak new");
    let b = success(&b.wait_with_output().unwrap(), "second ork trak new");
    let (a, b) = (created_id(&a), created_id(&b));
    assert_ne!(a, b);

    let status = repo.ork_ok(&["status"]);
    for id in [&a, &b] {
        assert!(status_row(&status, id).contains("Same title"), "{status}");
        assert!(repo.worktree_path(id).join("README.md").is_file(), "{id}");
        let show = repo.ork_ok(&["show", id]);
        assert!(show.contains("events    1"), "{show}");
    }
    let mut branches = repo.trak_branches();
    branches.sort();
    let mut expected = vec![format!("ork/{a}"), format!("ork/{b}")];
    expected.sort();
    assert_eq!(branches, expected);
    let worktrees = repo.worktrees();
    assert_eq!(worktrees.len(), 3, "{worktrees:?}");
    for id in [&a, &b] {
        assert!(
            worktrees.contains(&(repo.worktree_path(id), Some(format!("refs/heads/ork/{id}")))),
            "{worktrees:?}"
        );
    }
}

/// Many `ork trak new` at once: every one must succeed (git worktree creation must not trip over
/// another process's half-made worktree).
#[test]
fn many_concurrent_trak_new_all_succeed() {
    const N: usize = 8;
    let repo = Repo::initialized();
    let children: Vec<_> = (0..N)
        .map(|_| {
            repo.ork_command(&repo.root, &["trak", "new", "--no-run", "Same title"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    // Whatever failed cleaned up after itself: every branch has exactly one worktree.
    let branches = repo.trak_branches().len();
    assert_eq!(repo.worktrees().len(), branches + 1);
    assert_eq!(repo.worktree_dirs().len(), branches);
    assert_eq!(
        common::dir_entries(&repo.root.join(".git/worktrees")).len(),
        branches
    );
    let failures: Vec<String> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(common::stderr)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {N} concurrent `ork trak new` failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let mut ids: Vec<String> = outputs
        .iter()
        .map(|o| created_id(&common::stdout(o)))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "{ids:?}");
    let status = repo.ork_ok(&["status"]);
    for id in &ids {
        assert!(status_row(&status, id).contains("Same title"), "{status}");
        assert!(repo.worktree_path(id).join("README.md").is_file(), "{id}");
    }
    assert_eq!(repo.worktrees().len(), N + 1);
}

#[test]
fn json_output_has_the_documented_shape() {
    let repo = Repo::initialized();
    assert_eq!(
        json(&repo.ork_ok(&["status", "--json"])),
        serde_json::json!({ "traks": [] })
    );
    assert!(repo.ork_ok(&["status"]).contains("No traks"));

    let id = repo.new_trak(&["Add OAuth login", "-d", "Users sign in with GitHub"]);
    let status = json(&repo.ork_ok(&["status", "--json"]));
    let traks = status["traks"].as_array().expect("traks is an array");
    assert_eq!(traks.len(), 1, "{status}");
    let trak = &traks[0];
    for key in [
        "id",
        "title",
        "flow",
        "stage",
        "status",
        "attempt",
        "base",
        "branch",
        "remote",
        "worktree",
        "created_at",
        "updated_at",
        "tip",
    ] {
        assert!(trak.get(key).is_some(), "no {key} in {trak}");
    }
    assert_eq!(trak["id"], id.as_str());
    assert_eq!(trak["title"], "Add OAuth login");
    assert_eq!(trak["flow"], "feature");
    assert_eq!(trak["stage"], "planning");
    assert_eq!(trak["status"], "queued");
    assert_eq!(trak["attempt"], 0);
    assert_eq!(trak["base"], "main");
    assert_eq!(trak["branch"], format!("ork/{id}").as_str());
    assert!(trak["remote"].is_null(), "{trak}");
    assert_eq!(
        trak["worktree"],
        repo.worktree_path(&id).to_str().unwrap(),
        "{trak}"
    );
    assert!(trak["created_at"].is_string(), "{trak}");
    assert_eq!(trak["updated_at"], trak["created_at"]);
    assert_eq!(
        trak["tip"],
        repo.git(&["rev-parse", &format!("ork/{id}")]).as_str()
    );

    let show = json(&repo.ork_ok(&["show", "add", "--json"]));
    assert_eq!(show["id"], id.as_str());
    assert_eq!(show["status"], "queued");
    assert_eq!(show["description"], "Users sign in with GitHub\n");
    assert_eq!(
        show["stages"],
        serde_json::json!(["planning", "breakdown", "work", "review", "compound"])
    );
    assert_eq!(show["events"], 1);
    assert_eq!(show["tip"], trak["tip"]);

    let log = json(&repo.ork_ok(&["log", "add", "--json"]));
    let events = log.as_array().expect("log --json is an array");
    assert_eq!(events.len(), 1, "{log}");
    let event = &events[0];
    assert_eq!(event["type"], "created");
    assert_eq!(event["v"], 1);
    assert_eq!(event["machine"], MACHINE);
    assert_eq!(event["title"], "Add OAuth login");
    assert_eq!(event["flow"], "feature");
    assert_eq!(event["base"], "main");
    assert!(event["at"].is_string(), "{event}");
    let event_id = event["id"].as_str().expect("id is a string");
    assert!(
        repo.tree_files(&format!("ork/{id}"))
            .contains(&format!(".orkestra/traks/{id}/events/{event_id}.json")),
        "the event's file is named after its id"
    );
}

#[test]
fn traks_on_a_remote_are_listed_with_where() {
    let a = Repo::initialized();
    a.commit_all("Add .orkestra");
    let origin = a.add_origin("origin.git");
    let url = origin.root.to_str().unwrap();
    let b = a.sibling("b");
    a.git_in(&b.root, &["clone", "-q", url, "."]);
    assert!(b.ork_ok(&["status"]).contains("No traks"));

    let id = a.new_trak(&["Remote work", "-d", "Made on machine A"]);
    a.git(&["push", "-q", "origin", &format!("ork/{id}")]);
    b.git(&["fetch", "-q"]);
    assert_eq!(
        b.git(&[
            "for-each-ref",
            "--format=%(refname)",
            "refs/remotes/origin/ork/"
        ]),
        format!("refs/remotes/origin/ork/{id}")
    );

    let status = b.ork_ok(&["status"]);
    let header = status.lines().next().unwrap();
    assert!(header.contains("WHERE"), "{status}");
    let row = status_row(&status, &id);
    assert!(row.contains("Remote work"), "{row}");
    assert!(row.trim_end().ends_with("origin"), "{row}");

    let listed = json(&b.ork_ok(&["status", "--json"]));
    let trak = &listed["traks"][0];
    assert_eq!(trak["id"], id.as_str());
    assert_eq!(trak["remote"], "origin");
    assert_eq!(trak["branch"], format!("origin/ork/{id}").as_str());
    assert!(trak["worktree"].is_null(), "no worktree on B: {trak}");
    assert_eq!(listed["traks"].as_array().unwrap().len(), 1);

    let prefix = &id[..8];
    let show = b.ork_ok(&["show", prefix]);
    assert!(show.starts_with(&format!("{id}  Remote work")), "{show}");
    assert!(show.contains("Made on machine A"), "{show}");
    assert!(show.contains(&format!("origin/ork/{id}")), "{show}");
    let log = b.ork_ok(&["log", prefix]);
    assert!(log.contains("Create trak \"Remote work\""), "{log}");

    // On A, the local branch hides its remote-tracking copy: one row, no WHERE column.
    a.git(&["fetch", "-q"]);
    let status = a.ork_ok(&["status"]);
    assert!(
        !status.lines().next().unwrap().contains("WHERE"),
        "{status}"
    );
    assert_eq!(status.matches(&id).count(), 1, "{status}");
}

#[test]
fn worktree_include_copies_untracked_files() {
    let repo = Repo::initialized();
    repo.write(".gitignore", ".env\n*.local\n");
    repo.commit_all("Add .orkestra and .gitignore");
    repo.write(".orkestra/worktree.include", "# secrets\n.env\n");
    repo.write(".env", "API_KEY=secret-42\n");
    repo.write("other.local", "not listed\n");
    assert_eq!(repo.git(&["check-ignore", ".env"]), ".env");

    let id = repo.new_trak(&["Needs secrets"]);
    let worktree = repo.worktree_path(&id);
    assert_eq!(
        std::fs::read_to_string(worktree.join(".env")).unwrap(),
        "API_KEY=secret-42\n"
    );
    assert!(!worktree.join("other.local").exists());
    assert!(
        !repo
            .tree_files(&format!("ork/{id}"))
            .contains(&".env".to_string()),
        "copied files are not committed"
    );
    // Ignored in the worktree too, so it stays clean.
    assert_eq!(repo.git_in(&worktree, &["status", "--porcelain"]), "");
}

#[test]
fn the_worktree_setup_command_runs_in_the_new_worktree() {
    let repo = Repo::initialized();
    let workflow = repo.read(".orkestra/workflow.toml");
    repo.write(
        ".orkestra/workflow.toml",
        &format!("{workflow}\n[worktree]\nsetup = \"touch setup-ran\"\n"),
    );
    repo.commit_all("Add .orkestra");

    let id = repo.new_trak(&["Set up"]);
    assert!(repo.worktree_path(&id).join("setup-ran").is_file());
    assert!(!repo.root.join("setup-ran").exists());
    // The main checkout sees neither the worktree nor anything else new.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_failing_setup_command_leaves_nothing_behind() {
    let repo = Repo::initialized();
    let workflow = repo.read(".orkestra/workflow.toml");
    repo.write(
        ".orkestra/workflow.toml",
        &format!("{workflow}\n[worktree]\nsetup = \"echo broken >&2; exit 3\"\n"),
    );
    repo.commit_all("Add .orkestra");
    let main_tip = repo.git(&["rev-parse", "main"]);

    let err = repo.ork_err(&["trak", "new", "--no-run", "Broken setup"]);
    assert!(err.contains("echo broken >&2; exit 3"), "{err}");
    assert!(err.contains("broken\n"), "{err}");
    assert!(err.contains("exit code 3"), "{err}");
    assert!(err.contains("was not created"), "{err}");
    repo.assert_no_trak_left();
    assert_eq!(repo.git(&["rev-parse", "main"]), main_tip);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(repo.ork_ok(&["status"]).contains("No traks"));
}

#[test]
fn init_from_a_subfolder_writes_at_the_repository_root() {
    let repo = Repo::new();
    repo.write("src/lib.rs", "\n");
    repo.commit_all("Add src");
    let out = common::success(&repo.ork_in(&repo.root.join("src"), &["init"]), "ork init");
    assert!(out.contains("Wrote 10 file(s)"), "{out}");
    for file in DEFAULT_FILES {
        assert!(repo.root.join(file).is_file(), "{file} missing");
    }
    assert!(!repo.root.join("src/.orkestra").exists());
}

#[test]
fn base_picks_the_branch_to_start_from() {
    let repo = Repo::initialized();
    repo.commit_all("Add .orkestra");
    repo.git(&["branch", "develop"]);
    repo.git(&["checkout", "-q", "develop"]);
    repo.write("dev.txt", "only on develop\n");
    repo.commit_all("Work on develop");
    repo.git(&["checkout", "-q", "main"]);
    let develop_tip = repo.git(&["rev-parse", "develop"]);
    let main_tip = repo.git(&["rev-parse", "main"]);

    let id = repo.new_trak(&["--base", "develop", "On develop"]);
    assert_eq!(repo.git(&["rev-parse", &format!("ork/{id}^")]), develop_tip);
    assert!(repo.worktree_path(&id).join("dev.txt").is_file());
    let shown = json(&repo.ork_ok(&["show", &id, "--json"]));
    assert_eq!(shown["base"], "develop");
    assert_eq!(repo.git(&["rev-parse", "main"]), main_tip);
    assert_eq!(repo.git(&["rev-parse", "develop"]), develop_tip);
    assert_eq!(repo.git(&["symbolic-ref", "--short", "HEAD"]), "main");

    // Without --base, the main checkout's current branch is the base.
    let id = repo.new_trak(&["On main"]);
    assert_eq!(repo.git(&["rev-parse", &format!("ork/{id}^")]), main_tip);
    let shown = json(&repo.ork_ok(&["show", &id, "--json"]));
    assert_eq!(shown["base"], "main");
}

/// A user's branch whose name merely contains `/ork/` (here `team/ork/notes` on origin) is not
/// a trak: `ork status` must still list the real traks.
#[test]
fn remote_branches_that_only_contain_ork_in_their_name_are_not_traks() {
    let a = Repo::initialized();
    a.commit_all("Add .orkestra");
    let origin = a.sibling("origin.git");
    a.git_in(&origin.root, &["init", "-q", "--bare", "-b", "main"]);
    let url = origin.root.to_str().unwrap();
    a.git(&["remote", "add", "origin", url]);
    let id = a.new_trak(&["Real trak"]);
    a.git(&["branch", "team/ork/notes", "main"]);
    a.git(&[
        "push",
        "-q",
        "origin",
        "main",
        &format!("ork/{id}"),
        "team/ork/notes",
    ]);
    let b = a.sibling("b");
    a.git_in(&b.root, &["clone", "-q", url, "."]);
    assert!(!b.git(&["branch", "-r"]).is_empty());

    let status = b.ork_ok(&["status"]);
    assert!(status_row(&status, &id).contains("Real trak"), "{status}");
    assert!(!status.contains("notes"), "{status}");
    let listed = json(&b.ork_ok(&["status", "--json"]));
    assert_eq!(listed["traks"].as_array().unwrap().len(), 1, "{listed}");

    // On A, where the same branch is only a remote-tracking copy after a fetch.
    a.git(&["fetch", "-q", "origin"]);
    let status = a.ork_ok(&["status"]);
    assert!(status_row(&status, &id).contains("Real trak"), "{status}");
}

#[test]
fn a_local_ork_branch_that_is_not_a_trak_is_ignored() {
    let repo = Repo::initialized();
    let id = repo.new_trak(&["Real trak"]);
    repo.git(&["branch", "ork/manual", "main"]);
    let status = repo.ork_ok(&["status"]);
    assert!(status_row(&status, &id).contains("Real trak"), "{status}");
    assert!(!status.contains("manual"), "{status}");
    let err = repo.ork_err(&["show", "manual"]);
    assert!(
        err.contains("no trak matches") || err.contains("not an ork trak"),
        "{err}"
    );
}

#[test]
fn titles_are_one_line() {
    let repo = Repo::initialized();
    let id = repo.new_trak(&["Fix   the\nlogin  page"]);
    let shown = json(&repo.ork_ok(&["show", &id, "--json"]));
    assert_eq!(shown["title"], "Fix the login page");
    let subject = repo.git(&["log", "-1", "--format=%s", &format!("ork/{id}")]);
    assert_eq!(
        subject.trim(),
        "ork: Create trak \"Fix the login page\" (feature)"
    );
}

#[test]
fn a_machine_without_a_git_identity_can_create_traks() {
    let repo = Repo::initialized();
    let output = repo
        .ork_command(&repo.root, &["trak", "new", "--no-run", "No identity"])
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .output()
        .unwrap();
    let out = success(&output, "trak new without identity");
    let id = created_id(&out);
    let author = repo.git(&["log", "-1", "--format=%an <%ae>", &format!("ork/{id}")]);
    assert_eq!(author.trim(), "ork <ork@localhost>");
}

#[test]
fn status_says_how_many_finished_traks_all_would_list() {
    use common::sandbox::{feature_workflow, stage};
    use common::{RunsOrk, Sandbox, artifact};
    let s = Sandbox::new(
        &feature_workflow(
            "20s",
            "",
            &[stage("work", "worker.md", "summary", "review = \"auto\"")],
        ),
        serde_json::json!({"work": [artifact("done")]}),
    );
    let (done, _) = s.new_trak("Finished one", &[]);
    s.assert_status(&done, "done");
    let out = s.ork_ok(&["status"]);
    assert_eq!(
        out.trim(),
        "No unfinished traks; 1 finished trak(s) not listed: ork status --all lists them"
    );
    // Under a table of unfinished traks, the same count follows it.
    let (queued, _) = s.new_trak("Still to do", &["--no-run"]);
    let out = s.ork_ok(&["status"]);
    assert!(status_row(&out, &queued).contains("queued"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("1 finished trak(s) not listed: ork status --all lists them"),
        "{out}"
    );
    assert!(s.ork_ok(&["status", "--all"]).contains(&done));
}
