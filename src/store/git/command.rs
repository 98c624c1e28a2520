//! Running the `git` binary: `git_command`, the one place its `Command` is built (in the C
//! locale), `Git::run` for what gix must not do (see the module docs), and the calls that need
//! no opened repository (`git --version`; `git init`, `git config` and `git commit` for setting
//! up `ork demo`'s repository).

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

use super::Git;

/// The `git` binary, ready for its arguments: every `git` process ork starts is built here.
pub(super) fn git_command() -> Command {
    let mut command = git_command_as_configured();
    // No hook and no program a repository's config names runs in a git process ork starts
    // (docs/design.md rule 12): an agent with a shell can write `.git/hooks/*` or set
    // `core.fsmonitor`, and ork's own calls must not run what it planted. Given on the command
    // line, these win over every config file.
    command.args(
        UNTRUSTED_PROGRAMS_OFF
            .iter()
            .flat_map(|setting| ["-c", setting]),
    );
    command
}

/// The `git` binary with the repository's own settings, for the one question that needs them
/// and runs nothing: where the user's hooks are (`ork hooks install`, `ork doctor`).
pub(super) fn git_command_as_configured() -> Command {
    let mut command = Command::new("git");
    // ork reads what git prints, and matches some of its messages (a fetch that lost a lock
    // race to another process): git must answer in English whatever the user's locale.
    command.env("LC_ALL", "C");
    command
}

/// The settings every git process ork starts runs with: hooks looked for where there are none,
/// the file-system monitor off.
pub const UNTRUSTED_PROGRAMS_OFF: [&str; 2] = ["core.hooksPath=/dev/null", "core.fsmonitor=false"];

impl Git {
    /// Runs the `git` binary in `dir` for the operations gix must not do (see the module docs).
    pub fn run(&self, dir: &Path, args: &[&str]) -> Result<Output> {
        run_git(dir, args, None)
    }

    /// Runs the `git` binary in `dir` with `input` on its standard input.
    pub fn run_with_input(&self, dir: &Path, args: &[&str], input: &str) -> Result<Output> {
        run_git(dir, args, Some(input))
    }
}

/// `git --version`'s answer ("git version 2.47.1"): the binary ork runs for fetch, push and
/// worktrees.
pub fn version() -> Result<String> {
    let output = git_command()
        .arg("--version")
        .output()
        .context("running git --version: is git installed and on PATH?")?;
    if !output.status.success() {
        bail!(
            "git --version failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Creates a repository in `dir` with `main` as its first branch (`git init`).
pub fn init_repository(dir: &Path) -> Result<()> {
    run_git(dir, &["init", "-q", "-b", "main"], None).map(drop)
}

/// Sets `key` in the repository's own config (`git config key value`).
pub fn set_config(dir: &Path, key: &str, value: &str) -> Result<()> {
    run_git(dir, &["config", key, value], None).map(drop)
}

/// Commits everything in the worktree `dir` (`git add -A && git commit`).
pub fn commit_all(dir: &Path, message: &str) -> Result<()> {
    run_git(dir, &["add", "-A"], None)?;
    run_git(dir, &["commit", "-q", "-F", "-"], Some(message)).map(drop)
}

/// Runs the `git` binary in `dir`, feeding `input` to its standard input; fails with git's
/// own message when it fails.
fn run_git(dir: &Path, args: &[&str], input: Option<&str>) -> Result<Output> {
    run_git_with(dir, args, input, &[])
}

/// [`run_git`] with `env` set for the git process (a scratch `GIT_INDEX_FILE`, an identity).
pub(super) fn run_git_with(
    dir: &Path,
    args: &[&str],
    input: Option<&str>,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<Output> {
    use std::io::Write;
    let mut command = git_command();
    command.envs(env.iter().copied());
    let mut child = command
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running git {}", args.join(" ")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Some(text) = input {
        stdin.write_all(text.as_bytes()).context("writing to git")?;
    }
    drop(stdin);
    let output = child.wait_with_output().context("waiting for git")?;
    if !output.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn git_runs_in_the_c_locale() {
        let command = git_command();
        assert_eq!(command.get_program(), "git");
        let lc_all = command
            .get_envs()
            .find(|(name, _)| *name == "LC_ALL")
            .and_then(|(_, value)| value);
        assert_eq!(lc_all, Some(OsStr::new("C")));
    }

    #[test]
    fn git_runs_no_hook_and_no_fsmonitor() {
        let command = git_command();
        let args: Vec<&OsStr> = command.get_args().collect();
        for setting in UNTRUSTED_PROGRAMS_OFF {
            assert!(
                args.windows(2)
                    .any(|w| w == [OsStr::new("-c"), OsStr::new(setting)]),
                "{setting} missing from {args:?}"
            );
        }
    }
}
