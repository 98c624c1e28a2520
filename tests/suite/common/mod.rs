//! Helpers for the end-to-end tests: real git repositories in temporary folders, driven through
//! the built `ork` binary and the `git` binary, with an environment that ignores the machine's
//! own git configuration.

pub mod review_flow;
pub mod runs_ork;
pub mod sandbox;

pub use runs_ork::RunsOrk;
pub use sandbox::{Net, Sandbox, artifact};

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The name every spawned process records its events under.
pub const MACHINE: &str = "testbox";
pub const AUTHOR: &str = "Ork Tester";
pub const EMAIL: &str = "tester@example.com";

/// Variables a surrounding git process (a hook, say) may have set, which would point our git
/// commands at the wrong repository.
const GIT_LOCATION_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_GLOBAL",
];

/// What ork sets for an agent's run: the suite may itself run inside a trak, and ork refuses
/// decisions there (docs/mcp.md); a test that wants them sets them itself.
const AGENT_RUN_VARS: &[&str] = &[
    "ORK_TRAK",
    "ORK_STAGE",
    "ORK_ATTEMPT",
    "ORK_ARTIFACT",
    "ORK_WORKTREE",
    "ORK_BASE_BRANCH",
    "ORK_PARENT",
    "ORK_SUBTRAK",
];

/// A folder in a test's temporary sandbox (a repository or not), with helpers to run `ork` and
/// `git` in it. Folders made with [`Repo::sibling`] share the sandbox, which is deleted when the
/// last of them is dropped.
pub struct Repo {
    /// The folder, canonicalized (ork prints canonical paths).
    pub root: PathBuf,
    home: PathBuf,
    _sandbox: Rc<TempDir>,
}

impl Repo {
    /// A repository on branch `main` with one commit holding `README.md`.
    pub fn new() -> Repo {
        let repo = Repo::plain_dir();
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("README.md", "# Project\n");
        repo.git(&["add", "README.md"]);
        repo.git(&["commit", "-q", "-m", "First commit"]);
        repo
    }

    /// A repository where `ork init` has run (its files are left uncommitted).
    pub fn initialized() -> Repo {
        let repo = Repo::new();
        repo.ork_ok(&["init"]);
        repo
    }

    /// [`Repo::initialized`] with `workflow` as `.orkestra/workflow.toml` and `files`, all
    /// committed on `main` ("Set up ork"): where every fake-agent sandbox starts.
    pub fn set_up(workflow: &str, files: &[(&str, &str)]) -> Repo {
        let repo = Repo::initialized();
        repo.write(
            ".orkestra/workflow.toml",
            &agents_area_writable(workflow, &repo.agents_area()),
        );
        for (path, contents) in files {
            repo.write(path, contents);
        }
        repo.commit_all("Set up ork");
        repo
    }

    /// Where the fake agents of this sandbox keep their records and markers (one folder for
    /// every machine of a sandbox).
    pub fn agents_area(&self) -> PathBuf {
        self.root.parent().unwrap().join("agents")
    }

    /// An empty folder that is not a git repository.
    pub fn plain_dir() -> Repo {
        let sandbox = tempfile::tempdir().expect("creating a temporary folder");
        let base = sandbox.path().canonicalize().unwrap();
        let home = base.join("home");
        let root = base.join("repo");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        Repo {
            root,
            home,
            _sandbox: Rc::new(sandbox),
        }
    }

    /// Another folder `name` in the same sandbox (created empty).
    pub fn sibling(&self, name: &str) -> Repo {
        let root = self.root.parent().unwrap().join(name);
        std::fs::create_dir_all(&root).unwrap();
        Repo {
            root,
            home: self.home.clone(),
            _sandbox: Rc::clone(&self._sandbox),
        }
    }

    /// Another folder `name` in the same sandbox, like [`Repo::sibling`], whose commands run
    /// with a home folder of their own, `<name>-home`: another user, or another machine.
    pub fn sibling_with_home(&self, name: &str) -> Repo {
        let mut repo = self.sibling(name);
        repo.home = self.root.parent().unwrap().join(format!("{name}-home"));
        std::fs::create_dir_all(&repo.home).unwrap();
        repo
    }

    /// The home folder the commands of this folder run with.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A command for `program` running in `dir`, with the test environment.
    pub fn command(&self, program: impl AsRef<OsStr>, dir: &Path) -> Command {
        let mut command = Command::new(program);
        command.current_dir(dir);
        for var in GIT_LOCATION_VARS.iter().chain(AGENT_RUN_VARS) {
            command.env_remove(var);
        }
        // Agent CLIs and their stand-ins keep their sessions under the sandbox's home.
        command
            .env_remove("CODEX_HOME")
            .env_remove("XDG_DATA_HOME")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", AUTHOR)
            .env("GIT_AUTHOR_EMAIL", EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR)
            .env("GIT_COMMITTER_EMAIL", EMAIL)
            .env("ORK_MACHINE", MACHINE)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        command
    }

    /// An `ork` command with `args`, running in `dir`.
    pub fn ork_command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = self.command(env!("CARGO_BIN_EXE_ork"), dir);
        command.args(args);
        command
    }

    /// Runs `ork args` in the repository.
    pub fn ork(&self, args: &[&str]) -> Output {
        self.ork_in(&self.root, args)
    }

    /// Runs `ork args` in `dir`.
    pub fn ork_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.ork_command(dir, args)
            .output()
            .expect("running the ork binary")
    }

    /// Runs `ork args` in the repository with `input` on standard input.
    pub fn ork_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .ork_command(&self.root, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running the ork binary");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `ork args` in the repository, asserts it succeeded, and returns its stdout.
    pub fn ork_ok(&self, args: &[&str]) -> String {
        success(&self.ork(args), &format!("ork {}", args.join(" ")))
    }

    /// Runs `ork args` in the repository, asserts it failed as an ork error (exit code 1, no
    /// panic, nothing on stdout), and returns its stderr.
    pub fn ork_err(&self, args: &[&str]) -> String {
        ork_error(&self.ork(args), &format!("ork {}", args.join(" ")))
    }

    /// `ork trak new args`: asserts it succeeded and returns the new trak's id.
    pub fn new_trak(&self, args: &[&str]) -> String {
        let mut full = vec!["trak", "new", "--no-run"];
        full.extend_from_slice(args);
        created_id(&self.ork_ok(&full))
    }

    /// Runs `git args` in the repository, asserts it succeeded, and returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    /// Runs `git args` in `dir`, asserts it succeeded, and returns its trimmed stdout.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let output = self
            .command("git", dir)
            .args(args)
            .output()
            .expect("running git");
        success(&output, &format!("git {}", args.join(" ")))
            .trim_end()
            .to_string()
    }

    /// Runs `git args` in the repository, whatever its outcome.
    pub fn git_output(&self, args: &[&str]) -> Output {
        self.command("git", &self.root)
            .args(args)
            .output()
            .expect("running git")
    }

    /// Writes `contents` to `rel` (creating folders).
    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// The contents of `rel`.
    pub fn read(&self, rel: &str) -> String {
        let path = self.root.join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// A bare repository `name` beside this one, added as its remote `origin`, with `main`
    /// pushed to it.
    pub fn add_origin(&self, name: &str) -> Repo {
        let remote = self.sibling(name);
        remote.git(&["init", "-q", "--bare", "-b", "main"]);
        self.git(&["remote", "add", "origin", remote.root.to_str().unwrap()]);
        self.git(&["push", "-q", "origin", "main"]);
        remote
    }

    /// Stages everything and commits it.
    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Where ork puts trak `id`'s worktree.
    pub fn worktree_path(&self, id: &str) -> PathBuf {
        self.root.join(".orkestra/worktrees").join(id)
    }

    /// The short names of the local `ork/*` branches.
    pub fn trak_branches(&self) -> Vec<String> {
        lines(&self.git(&[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/ork/",
        ]))
    }

    /// `git worktree list --porcelain` as (path, branch) pairs, the main worktree first.
    pub fn worktrees(&self) -> Vec<(PathBuf, Option<String>)> {
        let text = self.git(&["worktree", "list", "--porcelain"]);
        let mut list = Vec::new();
        for block in text.split("\n\n") {
            let mut path = None;
            let mut branch = None;
            for line in block.lines() {
                if let Some(p) = line.strip_prefix("worktree ") {
                    path = Some(PathBuf::from(p));
                } else if let Some(b) = line.strip_prefix("branch ") {
                    branch = Some(b.to_string());
                }
            }
            if let Some(path) = path {
                list.push((path, branch));
            }
        }
        list
    }

    /// The entries of `.orkestra/worktrees/` (empty when the folder does not exist).
    pub fn worktree_dirs(&self) -> Vec<String> {
        dir_entries(&self.root.join(".orkestra/worktrees"))
    }

    /// Asserts that no trak exists: no `ork/*` branch, no linked worktree, no worktree folder.
    pub fn assert_no_trak_left(&self) {
        assert_eq!(self.trak_branches(), Vec::<String>::new(), "ork/* branches");
        let worktrees = self.worktrees();
        assert_eq!(worktrees.len(), 1, "worktrees: {worktrees:?}");
        assert_eq!(
            self.worktree_dirs(),
            Vec::<String>::new(),
            "worktree folders"
        );
        let admin = self.root.join(".git/worktrees");
        assert_eq!(dir_entries(&admin), Vec::<String>::new(), ".git/worktrees");
    }

    /// One value of a trailer of `rev`'s commit message.
    pub fn trailer(&self, rev: &str, key: &str) -> String {
        self.git(&[
            "log",
            "-1",
            &format!("--format=%(trailers:key={key},valueonly)"),
            rev,
        ])
        .trim()
        .to_string()
    }

    /// The files in `rev`'s tree.
    pub fn tree_files(&self, rev: &str) -> Vec<String> {
        lines(&self.git(&["ls-tree", "-r", "--name-only", rev]))
    }
}

/// Asserts `output` is a success and returns its stdout.
pub fn success(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
    assert_no_panic(output, what);
    stdout(output)
}

/// Asserts `output` is an ork error (exit code 1, a message, no panic) and returns its stderr.
pub fn ork_error(output: &Output, what: &str) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{what}: expected exit code 1\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
    assert_no_panic(output, what);
    let err = stderr(output);
    assert!(
        err.starts_with("error: "),
        "{what}: stderr should start with `error: `:\n{err}"
    );
    err
}

/// Asserts `output` is a command-line usage error (clap's exit code 2) and returns its stderr.
pub fn usage_error(output: &Output, what: &str) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "{what}: expected exit code 2\nstdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
    assert_no_panic(output, what);
    stderr(output)
}

pub fn assert_no_panic(output: &Output, what: &str) {
    let err = stderr(output);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{what} panicked:\n{err}");
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The id in `ork trak new`'s first line, `Created trak <id> (<flow>)`.
pub fn created_id(stdout: &str) -> String {
    let first = stdout.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("Created trak ")
        .unwrap_or_else(|| panic!("unexpected `ork trak new` output:\n{stdout}"));
    rest.split_whitespace().next().unwrap().to_string()
}

/// The non-empty lines of `text`.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The sorted names in folder `dir`; empty when it does not exist.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file under `dir` (relative paths, sorted), skipping `.git`.
pub fn all_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Runs `command` to completion with its output captured, like [`Command::output`], but kills
/// it and fails the test if it runs longer than `limit`: a hung command must not hang the tests.
pub fn output_within(command: &mut Command, limit: std::time::Duration, what: &str) -> Output {
    use std::io::Read;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let out = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
            let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            let tail: Vec<&str> = out.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "{what} did not finish within {limit:?} and was killed\nstdout (last lines):\n{}\nstderr:\n{err}",
                tail.join("\n")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Parses `text` as JSON, with the text in the failure message.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Trak `id`'s entry in the output of `ork status --all --json`; `whose` names the machine or
/// sandbox in the failure message.
pub fn status_entry(status_json: &str, id: &str, whose: &str) -> serde_json::Value {
    let status = json(status_json);
    status["traks"]
        .as_array()
        .expect("traks is an array")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{whose}: no trak {id} in:\n{status:#}"))
        .clone()
}

/// The row of `ork status`'s table for trak `id`.
pub fn status_row(table: &str, id: &str) -> String {
    table
        .lines()
        .find(|l| l.starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no row for {id}:\n{table}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Processes: waiting for them, and killing what a test leaves running
// ---------------------------------------------------------------------------------------------

/// Waits up to `timeout` for `ready`, panicking with `what` if it never is.
pub fn wait_until(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A number of seconds for an agent to hang, from `base`, that no concurrently running test
/// process uses (its `sleep` is told apart by its command line). Each test takes its own
/// `base`, a multiple of 1000 no other test uses, so that no two ranges overlap.
pub fn unique_seconds(base: u32) -> u32 {
    base + std::process::id() % 1000
}

/// The ids of processes whose whole command line is `cmdline`.
pub fn pids(cmdline: &str) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", "-x", cmdline])
        .output()
        .expect("running pgrep");
    lines(&stdout(&out))
        .iter()
        .map(|p| p.trim().parse().unwrap())
        .collect()
}

/// The process group of process `pid`, if it still exists.
pub fn pgid(pid: u32) -> Option<u32> {
    let out = Command::new("ps")
        .args(["-o", "pgid=", "-p", &pid.to_string()])
        .output()
        .expect("running ps");
    stdout(&out).trim().parse().ok()
}

/// Whether process `pid` still runs (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim().starts_with('Z'))
    })
}

/// SIGKILLs the process groups of the processes whose command line is `cmdline` (never this
/// test's own group).
pub fn kill_groups(cmdline: &str) {
    let own = pgid(std::process::id());
    for pid in pids(cmdline) {
        if let Some(group) = pgid(pid).filter(|g| *g > 1 && Some(*g) != own) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
        }
    }
}

/// Kills what a test may leave running, even when it fails: the process groups of processes
/// with a command line, and child processes.
pub struct Cleanup {
    pub cmdlines: Vec<String>,
    pub children: Vec<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for cmdline in &self.cmdlines {
            kill_groups(cmdline);
        }
    }
}

/// `workflow` with `[sandbox] writable` naming `area`, unless it has a `[sandbox]` table of
/// its own: the fake agent keeps its counters and markers outside the worktree, as a real CLI
/// keeps its state in its own folders, and ork's sandbox lets it write only there.
pub fn agents_area_writable(workflow: &str, area: &Path) -> String {
    if workflow.contains("[sandbox]") {
        return workflow.to_string();
    }
    format!(
        "{workflow}\n[sandbox]\nwritable = [\"{}\"]\n",
        area.display()
    )
}
