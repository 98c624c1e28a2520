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

#[test]
fn hidden_commands_are_in_no_completion_script() {
    let repo = Repo::plain_dir();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = repo.ork_ok(&["completions", shell]);
        assert!(
            !script.contains("demo-agent") && !script.contains("demo_agent"),
            "{shell} completions offer the hidden demo-agent"
        );
        assert!(script.contains("demo"), "{shell} completions lack demo");
    }
}

/// What `ork` offers for the last of `words` (`ork show ""`), asked as the script that
/// `COMPLETE=bash ork` registers asks it at each TAB: the words after `--`, the index of the
/// one being completed in `_CLAP_COMPLETE_INDEX`.
fn offered(repo: &Repo, dir: &std::path::Path, words: &[&str]) -> Vec<String> {
    let mut args = vec!["--"];
    args.extend_from_slice(words);
    let out = repo
        .ork_command(dir, &args)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .env("_CLAP_IFS", "\n")
        .output()
        .unwrap();
    let text = success(&out, &format!("COMPLETE=bash ork -- {}", words.join(" ")));
    text.lines().map(str::to_string).collect()
}

#[test]
fn the_shell_completes_trak_ids_and_flow_names_from_the_repository() {
    let repo = Repo::initialized();
    let login = repo.new_trak(&["Add login"]);
    let crash = repo.new_trak(&["--flow", "fix", "Fix crash"]);

    let ids = offered(&repo, &repo.root, &["ork", "show", ""]);
    assert!(ids.contains(&login) && ids.contains(&crash), "{ids:?}");
    assert_eq!(
        offered(&repo, &repo.root, &["ork", "approve", "fix-"]),
        [crash.as_str()]
    );
    assert_eq!(
        offered(&repo, &repo.root, &["ork", "trak", "drop", "add"]),
        [login.as_str()]
    );
    // From elsewhere, with -C.
    let elsewhere = repo.sibling("elsewhere");
    let root = repo.root.to_str().unwrap();
    let ids = offered(&repo, &elsewhere.root, &["ork", "-C", root, "logs", ""]);
    assert!(ids.contains(&login), "{ids:?}");
    // Outside a repository: none, and no error.
    assert_eq!(
        offered(&repo, &elsewhere.root, &["ork", "show", "a"]),
        Vec::<String>::new()
    );

    let flows = offered(&repo, &repo.root, &["ork", "trak", "new", "--flow", ""]);
    for flow in ["feature", "fix", "quick"] {
        assert!(flows.contains(&flow.to_string()), "{flows:?}");
    }

    // Commands, without the hidden one.
    let commands = offered(&repo, &repo.root, &["ork", "de"]);
    assert_eq!(commands, ["demo"], "{commands:?}");
    let all = offered(&repo, &repo.root, &["ork", ""]);
    assert!(all.contains(&"approve".to_string()), "{all:?}");
    assert!(!all.iter().any(|c| c == "demo-agent"), "{all:?}");
}

#[test]
fn bash_loads_the_dynamic_registration_and_completes_an_id() {
    let repo = Repo::initialized();
    let login = repo.new_trak(&["Add login"]);
    let out = repo
        .ork_command(&repo.root, &[])
        .env("COMPLETE", "bash")
        .output()
        .unwrap();
    let script = success(&out, "COMPLETE=bash ork");
    let path = repo.root.join("ork-dynamic.bash");
    std::fs::write(&path, script).unwrap();
    // As a shell does at `ork show ad<TAB>`: the registered function, with bash's variables.
    let probe = format!(
        "source {}; COMP_WORDS=(ork show ad); COMP_CWORD=2; COMP_TYPE=9; \
         _clap_complete_ork ork ad show; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = repo
        .command("bash", &repo.root)
        .args(["-c", &probe])
        .output()
        .unwrap();
    let replies = success(&out, "bash completing `ork show ad`");
    assert_eq!(replies.trim(), login);
}

#[test]
fn man_dir_writes_a_page_per_command_that_the_top_page_names() {
    let repo = Repo::plain_dir();
    let out = repo.ork_ok(&["man", "--dir", "tmp/man1"]);
    assert!(out.contains("man pages to tmp/man1"), "{out}");
    let dir = repo.root.join("tmp/man1");
    let top = std::fs::read_to_string(dir.join("ork.1")).unwrap();
    assert!(top.starts_with(".TH ork 1"), "{}", &top[..80]);
    let synopsis = top
        .lines()
        .skip_while(|l| *l != ".SH SYNOPSIS")
        .nth(1)
        .unwrap();
    assert!(
        synopsis.contains("[\\fB\\-C\\fR \\fIDIR\\fR]"),
        "the synopsis shows -C DIR: {synopsis}"
    );
    let see_also = top
        .lines()
        .skip_while(|l| *l != ".SH \"SEE ALSO\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no SEE ALSO in ork.1"));
    let new = std::fs::read_to_string(dir.join("ork-trak-new.1")).unwrap();
    assert!(new.starts_with(".TH ork-trak-new 1"), "{}", &new[..80]);
    assert!(
        new.contains("\\fIDIR\\fR") && new.contains("<\\fITITLE\\fR>"),
        "{new}"
    );
    for command in commands(&repo) {
        let page = format!("ork-{command}.1");
        assert!(dir.join(&page).exists(), "no {page}");
        assert!(
            see_also.contains(&format!("\\fBork\\-{command}\\fR(1)")),
            "SEE ALSO lacks {command}: {see_also}"
        );
    }
    assert!(
        see_also.contains("\\fBork\\-trak\\-new\\fR(1)"),
        "{see_also}"
    );
    assert!(!dir.join("ork-demo-agent.1").exists());
    assert!(!dir.join("ork-help.1").exists());
    // One command's page, as named or as typed.
    assert_eq!(repo.ork_ok(&["man", "trak-new"]), new);
    assert_eq!(repo.ork_ok(&["man", "trak new"]), new);
}
