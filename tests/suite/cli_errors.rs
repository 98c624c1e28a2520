//! End to end: bad inputs get a clear message, the right exit code, no panic, and leave nothing
//! behind.

use crate::common;

use common::{Repo, all_files, dir_entries, usage_error};

/// Parses the `LINE:COLUMN` after `workflow.toml:` in `err`.
fn workflow_location(err: &str) -> (usize, usize) {
    let at = err
        .find("workflow.toml:")
        .unwrap_or_else(|| panic!("no workflow.toml:LINE:COLUMN in:\n{err}"));
    let rest = &err[at + "workflow.toml:".len()..];
    let mut parts = rest.splitn(3, ':');
    let line = parts.next().unwrap().parse();
    let column = parts.next().unwrap_or_default().parse();
    match (line, column) {
        (Ok(line), Ok(column)) => (line, column),
        _ => panic!("no workflow.toml:LINE:COLUMN in:\n{err}"),
    }
}

/// A committed, initialized repository whose workflow.toml is replaced by `workflow`.
fn repo_with_workflow(workflow: &str) -> Repo {
    let repo = Repo::initialized();
    repo.commit_all("Add .orkestra");
    repo.write(".orkestra/workflow.toml", workflow);
    repo
}

#[test]
fn outside_a_repository_ork_refuses_and_writes_nothing() {
    let dir = Repo::plain_dir();
    for args in [
        &["init"][..],
        &["status"],
        &["trak", "new", "--no-run", "Anything"],
        &["show", "x"],
        &["log"],
    ] {
        let err = dir.ork_err(args);
        assert!(err.contains("is not inside a git repository"), "{err}");
        assert!(err.contains("git init"), "{err}");
    }
    // Also through -C from elsewhere.
    let other = dir.sibling("elsewhere");
    let err = common::ork_error(
        &other.ork(&["-C", dir.root.to_str().unwrap(), "init"]),
        "ork -C <plain dir> init",
    );
    assert!(err.contains("is not inside a git repository"), "{err}");
    assert_eq!(all_files(&dir.root), Vec::<String>::new());
    assert_eq!(dir_entries(&dir.root), Vec::<String>::new());
}

#[test]
fn a_bare_repository_is_refused() {
    let bare = Repo::plain_dir();
    bare.git(&["init", "-q", "--bare", "-b", "main"]);
    let before = dir_entries(&bare.root);
    for args in [
        &["init"][..],
        &["status"],
        &["trak", "new", "--no-run", "Anything"],
    ] {
        let err = bare.ork_err(args);
        assert!(err.contains("is a bare repository"), "{err}");
        assert!(err.contains("git clone"), "{err}");
    }
    assert_eq!(dir_entries(&bare.root), before);
    assert!(!bare.root.join(".orkestra").exists());
    assert_eq!(
        bare.git(&["for-each-ref", "--format=%(refname)"]),
        "",
        "no refs were made"
    );
}

#[test]
fn a_repository_without_commits_takes_ork_init_and_refuses_a_trak_until_its_first_commit() {
    let repo = Repo::plain_dir();
    repo.git(&["init", "-q", "-b", "main"]);

    // `ork init` only writes files: no commit is needed, and doctor's advice is no circle.
    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(
        err.contains("has no commit yet") || err.contains("ork init"),
        "{err}"
    );
    assert_eq!(dir_entries(&repo.root), vec![".git".to_string()]);
    repo.ork_ok(&["init"]);
    assert!(repo.root.join(".orkestra/workflow.toml").is_file());
    std::fs::remove_dir_all(repo.root.join(".orkestra")).unwrap();

    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(
        err.contains("has no commit yet") || err.contains("ork init"),
        "{err}"
    );
    assert_eq!(dir_entries(&repo.root), vec![".git".to_string()]);

    // With the .orkestra/ files in place (copied from another repository), `trak new` says why.
    let donor = repo.sibling("donor");
    donor.git(&["init", "-q", "-b", "main"]);
    donor.git(&["commit", "-q", "--allow-empty", "-m", "init"]);
    donor.ork_ok(&["init"]);
    for file in all_files(&donor.root.join(".orkestra")) {
        let text = donor.read(&format!(".orkestra/{file}"));
        repo.write(&format!(".orkestra/{file}"), &text);
    }
    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(err.contains("has no commit yet"), "{err}");
    assert_eq!(
        repo.git(&["for-each-ref", "--format=%(refname)"]),
        "",
        "no refs were made"
    );
    assert_eq!(repo.worktree_dirs(), Vec::<String>::new());
    assert_eq!(
        dir_entries(&repo.root.join(".git/worktrees")),
        Vec::<String>::new()
    );
}

#[test]
fn a_workflow_syntax_error_shows_line_and_column() {
    let repo =
        repo_with_workflow("default_flow = \"feature\"\n\n[agents.claude]\nkind = = \"claude\"\n");
    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(err.contains(".orkestra/workflow.toml:"), "{err}");
    let (line, column) = workflow_location(&err);
    assert_eq!(line, 4, "{err}");
    assert!(column >= 1, "{err}");
    assert!(err.contains("fix:"), "{err}");
    repo.assert_no_trak_left();
    assert_eq!(
        repo.git(&["status", "--porcelain"]),
        " M .orkestra/workflow.toml"
    );
}

#[test]
fn an_unknown_workflow_key_is_named_with_its_line() {
    let repo = Repo::initialized();
    let default = repo.read(".orkestra/workflow.toml");
    // Put an unknown key into the [agents.claude] table, right after its `model` line.
    let mut lines: Vec<&str> = default.lines().collect();
    let model = lines
        .iter()
        .position(|l| l.starts_with("model = \"sonnet\""))
        .expect("the default workflow sets a model");
    lines.insert(model + 1, "temperature = \"hot\"");
    repo.write(".orkestra/workflow.toml", &(lines.join("\n") + "\n"));

    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(err.contains("temperature"), "{err}");
    assert!(err.contains("unknown field"), "{err}");
    assert_eq!(workflow_location(&err), (model + 2, 1), "{err}");
    repo.assert_no_trak_left();

    // A top-level unknown key too.
    repo.write(
        ".orkestra/workflow.toml",
        &format!("colour = \"red\"\n{default}"),
    );
    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(err.contains("colour"), "{err}");
    assert_eq!(workflow_location(&err), (1, 1), "{err}");
    repo.assert_no_trak_left();
}

#[test]
fn an_unknown_flow_lists_the_flows() {
    let repo = Repo::initialized();
    let err = repo.ork_err(&["trak", "new", "--no-run", "--flow", "nope", "Anything"]);
    assert!(err.contains("no flow named \"nope\""), "{err}");
    assert!(err.contains("feature, fix, quick"), "{err}");
    repo.assert_no_trak_left();
}

#[test]
fn an_empty_title_is_refused() {
    let repo = Repo::initialized();
    for title in ["", "   "] {
        let err = repo.ork_err(&["trak", "new", "--no-run", title]);
        assert!(err.contains("title is empty"), "{title:?}: {err}");
        assert!(err.contains("ork trak new \""), "{title:?}: {err}");
        repo.assert_no_trak_left();
    }
}

#[test]
fn a_missing_base_branch_is_refused() {
    let repo = Repo::initialized();
    let err = repo.ork_err(&["trak", "new", "--no-run", "--base", "nope", "Anything"]);
    assert!(
        err.contains("the base branch \"nope\" does not exist"),
        "{err}"
    );
    assert!(err.contains("--base"), "{err}");
    repo.assert_no_trak_left();
}

#[test]
fn an_unknown_id_lists_the_traks() {
    let repo = Repo::initialized();
    let err = repo.ork_err(&["show", "zzz"]);
    assert!(err.contains("no trak matches \"zzz\""), "{err}");
    assert!(err.contains("none yet"), "{err}");

    let a = repo.new_trak(&["Add login"]);
    let b = repo.new_trak(&["Fix crash"]);
    for command in ["show", "log"] {
        let err = repo.ork_err(&[command, "zzz"]);
        assert!(err.contains("no trak matches \"zzz\""), "{err}");
        assert!(err.contains(&a) && err.contains(&b), "{err}");
    }
    // Without an id outside any trak's worktree, ork asks which one.
    let err = repo.ork_err(&["show"]);
    assert!(err.contains("which trak?"), "{err}");
    assert!(err.contains(&a) && err.contains(&b), "{err}");
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates() {
    let repo = Repo::initialized();
    let login = repo.new_trak(&["Add login"]);
    let logout = repo.new_trak(&["Add logout"]);
    for command in ["show", "log"] {
        let err = repo.ork_err(&[command, "add"]);
        assert!(err.contains("\"add\" matches 2 traks"), "{err}");
        assert!(err.contains(&login) && err.contains(&logout), "{err}");
    }
    // A longer prefix picks one.
    let show = repo.ork_ok(&["show", "add-login"]);
    assert!(show.starts_with(&format!("{login}  Add login")), "{show}");
}

#[test]
fn trak_new_before_init_says_to_run_init() {
    let repo = Repo::new();
    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(err.contains("workflow.toml does not exist"), "{err}");
    assert!(err.contains("ork init"), "{err}");
    repo.assert_no_trak_left();
    assert!(!repo.root.join(".orkestra").exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn usage_errors_exit_with_code_2() {
    let repo = Repo::initialized();
    let err = usage_error(&repo.ork(&["trak", "new", "--no-run"]), "ork trak new");
    assert!(err.contains("<TITLE>"), "{err}");
    let err = usage_error(&repo.ork(&["status", "--bogus"]), "ork status --bogus");
    assert!(err.contains("--bogus"), "{err}");
    let err = usage_error(&repo.ork(&["frobnicate"]), "ork frobnicate");
    assert!(err.contains("frobnicate"), "{err}");
    repo.assert_no_trak_left();
}

#[test]
fn a_detached_head_needs_base() {
    let repo = Repo::initialized();
    repo.git(&["checkout", "-q", "--detach"]);
    let err = repo.ork_err(&["trak", "new", "--no-run", "Anything"]);
    assert!(err.contains("HEAD is detached"), "{err}");
    assert!(err.contains("--base"), "{err}");
    repo.assert_no_trak_left();
    let id = repo.new_trak(&["--base", "main", "Anything"]);
    assert_eq!(repo.trak_branches(), vec![format!("ork/{id}")]);
}
