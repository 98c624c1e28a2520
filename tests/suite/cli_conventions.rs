//! The command line's conventions: shell completions and man pages generated from the same
//! clap definitions the parser uses, working outside any repository.

use crate::common;

use common::{Repo, stdout, success};

/// Every visible command, as `ork --help` lists them.
fn commands(repo: &Repo) -> Vec<String> {
    let help = repo.ork_ok(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn zsh_completions_start_with_compdef_and_know_every_command() {
    let repo = Repo::plain_dir();
    let script = repo.ork_ok(&["completions", "zsh"]);
    assert!(
        script.starts_with("#compdef ork"),
        "{}",
        &script[..80.min(script.len())]
    );
    for command in commands(&repo) {
        assert!(script.contains(&command), "zsh completions lack {command}");
    }
}

#[test]
fn bash_accepts_the_completion_script_and_completes_commands() {
    let repo = Repo::plain_dir();
    let script = repo.ork_ok(&["completions", "bash"]);
    let path = repo.root.join("ork.bash");
    std::fs::write(&path, script).unwrap();
    // Load it the way a user's shell does, then ask bash to complete `ork ap`.
    let probe = format!(
        "source {}; COMP_WORDS=(ork ap); COMP_CWORD=1; COMP_LINE='ork ap'; COMP_POINT=6; \
         _ork ork ap ork; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = repo
        .command("bash", &repo.root)
        .args(["-c", &probe])
        .output()
        .unwrap();
    let replies = success(&out, "bash completing `ork ap`");
    assert_eq!(replies.trim(), "approve");
}

#[test]
fn every_shell_gets_a_script() {
    let repo = Repo::plain_dir();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = repo.ork_ok(&["completions", shell]);
        assert!(
            script.contains("approve"),
            "{shell} completions lack approve"
        );
    }
    let out = repo.ork(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(common::stderr(&out).contains("possible values"));
}

#[test]
fn the_man_page_starts_with_th_and_lists_every_command() {
    let repo = Repo::plain_dir();
    let page = repo.ork_ok(&["man"]);
    assert!(
        page.starts_with(".TH ork 1"),
        "{}",
        &page[..80.min(page.len())]
    );
    for command in commands(&repo) {
        assert!(
            page.contains(&format!("ork\\-{command}")),
            "man page lacks {command}"
        );
    }
}

#[test]
fn a_command_has_its_own_page_with_its_flags() {
    let repo = Repo::plain_dir();
    let page = repo.ork_ok(&["man", "approve"]);
    assert!(
        page.starts_with(".TH ork-approve 1  \"ork-approve 0."),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(
        page.contains("detach"),
        "the approve page documents --detach"
    );
    let out = repo.ork(&["man", "aprove"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(common::stderr(&out).contains("ork has no command \"aprove\""));
}
