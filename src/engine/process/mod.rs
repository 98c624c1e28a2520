//! Running child processes for a trak: in its worktree, under a timeout, in their own process
//! group, line by line.

pub mod output;
pub mod runner;
pub mod sandbox;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::engine::process::output::{Bounded, printable};

/// Creates `dir` (and the folders above it that are missing) readable by the user alone: a
/// run's folder holds the agent's raw output, before any redaction.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    // A folder made by an earlier ork, before runs were private.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    if let Some(parent) = dir.parent() {
        let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Process groups of the children running now, each with the worktree it runs in, so an
/// interrupt can take them all down, and a trak lost to another machine its own.
static LIVE_GROUPS: std::sync::Mutex<Vec<(u32, PathBuf)>> = std::sync::Mutex::new(Vec::new());

/// On Ctrl-C, SIGTERM or SIGHUP, freezes every agent and gate process group this process
/// started, does the last work registered with [`on_interrupt`] (a checkpoint of each running
/// agent's worktree, bounded), kills the groups, runs `announce` (the front end says what happened: the library never writes to the
/// terminal), then exits with status 130 (docs/design.md rule 13: a signal always stops ork).
/// The trak stays recorded as running; the next `ork` command shows it as interrupted and
/// `ork resume` carries on. Whatever `announce` or the terminal's restore do — a write to a
/// closed pipe that panics, a poisoned lock — the process exits.
pub fn kill_children_on_interrupt(announce: fn()) {
    let _ = ctrlc::set_handler(move || {
        let groups = match LIVE_GROUPS.lock() {
            Ok(groups) => groups.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        // Frozen, not killed, while the last work is done: the files hold still, and no run
        // ends (and is recorded as failed) before ork exits.
        for (pgid, _) in &groups {
            signal_group(*pgid, nix::sys::signal::Signal::SIGSTOP);
        }
        run_last_work(LAST_WORK_PATIENCE);
        for (pgid, _) in groups {
            kill_group(pgid);
        }
        let _ = std::panic::catch_unwind(|| {
            if let Some(restore) = BEFORE_INTERRUPT_EXIT.get() {
                restore();
            }
            announce();
        });
        std::process::exit(130);
    });
}

/// How long an interrupt waits for the last work (`on_interrupt`) before ork exits anyway: a
/// checkpoint takes a fraction of it, and a signal always stops ork at once (docs/design.md
/// rule 13).
const LAST_WORK_PATIENCE: Duration = Duration::from_millis(1000);

/// Work an interrupt does before the process ends, each with the id its [`OnInterrupt`] removes
/// it by: the last checkpoint of each running agent's worktree.
type LastWork = std::sync::Arc<dyn Fn() + Send + Sync>;
static LAST_WORK: std::sync::Mutex<Vec<(u64, LastWork)>> = std::sync::Mutex::new(Vec::new());
static LAST_WORK_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `work` is done when an interrupt stops the process, while the children are frozen (all of
/// them at once, each on a thread of its own, within [`LAST_WORK_PATIENCE`]), until the
/// returned guard is dropped.
pub fn on_interrupt(work: impl Fn() + Send + Sync + 'static) -> OnInterrupt {
    let id = LAST_WORK_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut all = LAST_WORK.lock().unwrap_or_else(|p| p.into_inner());
    all.push((id, std::sync::Arc::new(work)));
    OnInterrupt(id)
}

/// Keeps work registered with [`on_interrupt`] while it lives.
pub struct OnInterrupt(u64);

impl Drop for OnInterrupt {
    fn drop(&mut self) {
        let mut all = LAST_WORK.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|(id, _)| *id != self.0);
    }
}

/// Runs every registered last work at once and waits for them, at most `patience`: what is not
/// done by then is left (the process exits; a checkpoint's ref moves in one step or not at all).
fn run_last_work(patience: Duration) {
    let all: Vec<LastWork> = LAST_WORK
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(_, work)| work.clone())
        .collect();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    for work in &all {
        let (work, done) = (work.clone(), done.clone());
        let _ = std::thread::Builder::new().spawn(move || {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work()));
            let _ = done.send(());
        });
    }
    let until = Instant::now() + patience;
    for _ in &all {
        let left = until.saturating_duration_since(Instant::now());
        if finished.recv_timeout(left).is_err() {
            break;
        }
    }
}

/// What must happen before an interrupt ends the process: a full-screen view gives the
/// terminal back.
static BEFORE_INTERRUPT_EXIT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Has `f` run when an interrupt (SIGINT, SIGTERM) ends the process, before it exits.
pub fn before_interrupt_exit(f: fn()) {
    let _ = BEFORE_INTERRUPT_EXIT.set(f);
}

/// Kills every child this process runs in `worktree` (with its process group): the trak
/// working there was taken over by another machine, and its agent must not go on editing.
/// Returns how many were killed.
pub fn kill_children_in(worktree: &Path) -> usize {
    let groups: Vec<u32> = LIVE_GROUPS
        .lock()
        .map(|groups| {
            groups
                .iter()
                .filter(|(_, dir)| dir == worktree)
                .map(|(pgid, _)| *pgid)
                .collect()
        })
        .unwrap_or_default();
    for &pgid in &groups {
        kill_group(pgid);
    }
    groups.len()
}

/// Keeps a child's process group in [`LIVE_GROUPS`] while it lives.
struct Registered(u32);

impl Registered {
    fn new(pgid: u32, worktree: &Path) -> Registered {
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.push((pgid, worktree.to_path_buf()));
        }
        Registered(pgid)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.retain(|(g, _)| *g != self.0);
        }
    }
}

/// A process ork starts for a trak (agent, gate, setup command, notification). However it is
/// configured, it starts in the trak's worktree with `PWD` naming that worktree and no
/// `OLDPWD` (docs/design.md rule 11): some agent CLIs, OpenCode among them, take their project from
/// `$PWD`, and the `PWD` ork inherited names the user's main checkout. The only way to run a
/// process here is through this type, so no spawn can forget it.
pub struct TrakCommand {
    command: Command,
    worktree: PathBuf,
    /// How long the child may go without output or a change in the worktree.
    stall: Option<Duration>,
}

impl TrakCommand {
    /// `program` (a path or a name looked up on `PATH`), to run in `worktree`.
    pub fn new(program: impl AsRef<OsStr>, worktree: &Path) -> TrakCommand {
        let mut command = TrakCommand {
            command: Command::new(program),
            worktree: worktree.to_path_buf(),
            stall: None,
        };
        // Placed at once too, so even a spawn straight through `Deref` starts in the worktree.
        command.placed();
        command
    }

    /// `sh -c script`, to run in `worktree`.
    pub fn shell(script: &str, worktree: &Path) -> TrakCommand {
        let mut command = TrakCommand::new("sh", worktree);
        command.args(["-c", script]);
        command
    }

    /// Confines the process as `confinement` says (docs/design.md rule 12): agents, gates and
    /// the worktree setup run so; ork's own helpers (`gh`, notifications) do not.
    pub fn confine(&mut self, confinement: &sandbox::Confinement) -> Result<&mut TrakCommand> {
        confinement.apply(&mut self.command)?;
        Ok(self)
    }

    /// Ends the child as stalled once it has printed nothing and changed nothing in its
    /// worktree for `after` (docs/design.md rule 13).
    pub fn stall_after(&mut self, after: Option<Duration>) -> &mut TrakCommand {
        self.stall = after;
        self
    }

    /// The command, placed in the worktree: the last thing done before it starts, so nothing
    /// set on it earlier can move it elsewhere.
    fn placed(&mut self) -> &mut Command {
        self.command
            .current_dir(&self.worktree)
            .env("PWD", &self.worktree)
            .env_remove("OLDPWD")
    }
}

impl std::ops::Deref for TrakCommand {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.command
    }
}

impl std::ops::DerefMut for TrakCommand {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.command
    }
}

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How much of a child's output is kept in memory (docs/design.md rule 11: output read with a
/// bound). Whatever a child prints, ork holds no more than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// Of each stream, stdout and stderr: its first `head` and last `tail` bytes (an agent's
    /// session starts its stream; its result ends it).
    pub head: usize,
    pub tail: usize,
    /// Of both streams interleaved, as shown (the log): the last `combined` bytes.
    pub combined: usize,
}

impl Default for Keep {
    fn default() -> Self {
        Keep {
            head: 1 << 20,
            tail: 4 << 20,
            combined: 1 << 20,
        }
    }
}

/// How a child process ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was killed for running past its timeout.
    pub status: Option<ExitStatus>,
    /// Each stream as printed (invalid UTF-8 made U+FFFD), within [`Keep`]'s head and tail.
    pub stdout: String,
    pub stderr: String,
    /// Both streams, interleaved as they were read, control characters dropped, within
    /// [`Keep::combined`].
    pub output: String,
    /// When stdout was cut in its middle: its head as kept, and how many bytes it had.
    pub stdout_cut: Option<(String, u64)>,
    /// Bytes the child printed, both streams.
    pub printed: u64,
    pub elapsed: Duration,
    /// When it was ended for a stall: how long it had been quiet.
    pub stalled: Option<Duration>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The exit code, or `None` if it was killed (by the timeout or a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// "exit code 2", "killed by signal 9" or "timed out after 10m".
    pub fn describe(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match (self.status, self.stalled) {
            (None, Some(quiet)) => format!(
                "stalled: it printed nothing and changed nothing in its worktree for {}",
                crate::config::duration::format(quiet)
            ),
            (None, None) => format!(
                "timed out after {}",
                crate::config::duration::format(self.elapsed)
            ),
            (Some(s), _) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => "ended".to_string(),
            },
        }
    }
}

/// Runs `command` to completion, capturing its output, and kills its whole process group if it
/// runs longer than `timeout`: grandchildren that a script started die with it.
pub fn run_with_timeout(command: &mut TrakCommand, timeout: Duration) -> Result<Finished> {
    run_streaming(command, None, timeout, Keep::default(), &mut |_, _| {})
}

/// Like [`run_with_timeout`], feeding `input` to its standard input, keeping what `keep`
/// says, and calling `on_line` for every line of output as it arrives, control characters
/// dropped (a line longer than [`PIECE`] comes in pieces).
pub fn run_streaming(
    command: &mut TrakCommand,
    input: Option<&str>,
    timeout: Duration,
    keep: Keep,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<Finished> {
    let program = format!("{:?}", command.get_program());
    let start = Instant::now();
    let mut child = command
        .placed()
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let _registered = Registered::new(child.id(), &command.worktree);
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let text = text.to_string();
        // A writer thread: a child that never reads its input must not block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    // A bounded channel: a child printing faster than ork shows it waits on its pipe.
    let (tx, rx) = sync_channel::<Piece>(64);
    let readers = [
        child
            .stdout
            .take()
            .map(|s| (Stream::Stdout, Box::new(s) as Box<dyn Read + Send>)),
        child
            .stderr
            .take()
            .map(|s| (Stream::Stderr, Box::new(s) as Box<dyn Read + Send>)),
    ]
    .into_iter()
    .flatten()
    .map(|(stream, pipe)| {
        let tx = tx.clone();
        std::thread::spawn(move || read_pieces(stream, pipe, &tx))
    })
    .collect::<Vec<_>>();
    drop(tx);
    let mut taken = Taken::new(keep);
    let deadline = start + timeout;
    let mut watch = command
        .stall
        .map(|after| StallWatch::new(after, &command.worktree));
    let status = pump(
        &rx,
        &mut child,
        deadline,
        &mut taken,
        on_line,
        watch.as_mut(),
    )?;
    let stalled = watch.and_then(|w| w.stalled);
    // A grandchild may still hold the pipes open; once the group is gone they close.
    kill_group(child.id());
    if status.is_none() {
        let _ = child.wait();
    }
    // What is still in the pipes, until the readers are done.
    for piece in rx.iter() {
        taken.take(piece, on_line);
    }
    for reader in readers {
        let _ = reader.join();
    }
    let mut finished = taken.finish(status, start.elapsed());
    finished.stalled = stalled.filter(|_| finished.status.is_none());
    Ok(finished)
}

/// Watches a child for a stall: the last time it printed or its worktree changed.
struct StallWatch {
    after: Duration,
    worktree: PathBuf,
    last_activity: Instant,
    /// The worktree as last looked at: how many files, and the newest change among them.
    seen: (usize, Option<std::time::SystemTime>),
    stalled: Option<Duration>,
}

impl StallWatch {
    fn new(after: Duration, worktree: &Path) -> StallWatch {
        StallWatch {
            after,
            worktree: worktree.to_path_buf(),
            last_activity: Instant::now(),
            seen: worktree_stamp(worktree),
            stalled: None,
        }
    }

    /// Whether the child is stalled now: quiet for `after`, and its worktree as it was. The
    /// worktree is walked only once a quiet spell is that long, never while output flows.
    fn stalled_now(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last_activity) < self.after {
            return false;
        }
        let stamp = worktree_stamp(&self.worktree);
        if stamp != self.seen {
            self.seen = stamp;
            self.last_activity = now;
            return false;
        }
        self.stalled = Some(now.duration_since(self.last_activity));
        true
    }
}

/// How many files the worktree holds and the newest modification among them (ignored files and
/// `.git` left out, as git would).
fn worktree_stamp(worktree: &Path) -> (usize, Option<std::time::SystemTime>) {
    let mut count = 0;
    let mut newest = None;
    let walk = ignore::WalkBuilder::new(worktree)
        .hidden(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    for entry in walk.flatten() {
        count += 1;
        let modified = entry.metadata().ok().and_then(|m| m.modified().ok());
        newest = newest.max(modified);
    }
    (count, newest)
}

/// Longest piece of a line delivered at once: a line without end is read in pieces.
pub const PIECE: usize = 64 * 1024;

/// Part of a line of output: `text`, and whether the line ends after it.
struct Piece {
    stream: Stream,
    text: String,
    ends_line: bool,
}

/// Reads `pipe` in lines of at most [`PIECE`] bytes, never holding more, keeping a character
/// split between two pieces whole.
fn read_pieces(stream: Stream, pipe: Box<dyn Read + Send>, tx: &SyncSender<Piece>) {
    let mut reader = BufReader::with_capacity(PIECE, pipe);
    let mut line: Vec<u8> = Vec::new();
    let send = |bytes: &[u8], ends_line: bool| {
        let piece = Piece {
            stream,
            text: String::from_utf8_lossy(bytes).into_owned(),
            ends_line,
        };
        tx.send(piece).is_ok()
    };
    loop {
        let buffer = match reader.fill_buf() {
            Ok(buffer) => buffer,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buffer.is_empty() {
            if !line.is_empty() {
                send(&line, true);
            }
            return;
        }
        let room = PIECE - line.len();
        let (used, ends_line) = match buffer.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buffer.len().min(room), false),
        };
        let content = if ends_line { used - 1 } else { used };
        line.extend_from_slice(&buffer[..content]);
        reader.consume(used);
        if ends_line {
            if !send(&line, true) {
                return;
            }
            line.clear();
        } else if line.len() >= PIECE {
            let keep = incomplete_char(&line);
            let rest = line.split_off(line.len() - keep);
            if !send(&line, false) {
                return;
            }
            line = rest;
        }
    }
}

/// How many bytes at the end of `bytes` begin a UTF-8 character that is not complete yet.
fn incomplete_char(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => 0,
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        Err(_) => 0,
    }
}

/// Delivers pieces until the child exits (its status) or the deadline passes (`None`).
fn pump(
    rx: &Receiver<Piece>,
    child: &mut std::process::Child,
    deadline: Instant,
    taken: &mut Taken,
    on_line: &mut dyn FnMut(Stream, &str),
    mut stall: Option<&mut StallWatch>,
) -> Result<Option<ExitStatus>> {
    let mut nap = FIRST_NAP;
    loop {
        let now = Instant::now();
        if now >= deadline || stall.as_mut().is_some_and(|s| s.stalled_now(now)) {
            kill_group(child.id());
            return Ok(None);
        }
        let wait = (deadline - now).min(Duration::from_millis(50));
        match rx.recv_timeout(wait) {
            Ok(piece) => {
                if let Some(stall) = stall.as_mut() {
                    stall.last_activity = Instant::now();
                }
                taken.take(piece, on_line)
            }
            Err(error) => {
                if let Some(status) = child.try_wait().context("waiting for a child process")? {
                    return Ok(Some(status));
                }
                // Both pipes are closed but the child lives on: poll instead of spinning. A
                // child closes its pipes on its way out and is waitable a moment later, so the
                // first naps are short (a fixed 20 ms one cost most agent runs 20 ms); one that
                // lives on is polled ever less often.
                if error == RecvTimeoutError::Disconnected {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(LAST_NAP);
                }
            }
        }
    }
}

/// The first and the longest wait between two looks at a child whose pipes are closed.
const FIRST_NAP: Duration = Duration::from_millis(1);
const LAST_NAP: Duration = Duration::from_millis(20);

/// What is kept of a child's output while it runs.
struct Taken {
    stdout: Bounded,
    stderr: Bounded,
    output: Bounded,
    printed: u64,
}

impl Taken {
    fn new(keep: Keep) -> Taken {
        Taken {
            stdout: Bounded::new(keep.head, keep.tail),
            stderr: Bounded::new(keep.head, keep.tail),
            output: Bounded::new(0, keep.combined),
            printed: 0,
        }
    }

    fn take(&mut self, piece: Piece, on_line: &mut dyn FnMut(Stream, &str)) {
        let target = match piece.stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        target.push(&piece.text);
        let shown = printable(&piece.text);
        self.output.push(&shown);
        if piece.ends_line {
            target.push("\n");
            self.output.push("\n");
        }
        self.printed += piece.text.len() as u64 + u64::from(piece.ends_line);
        on_line(piece.stream, &shown);
    }

    fn finish(self, status: Option<ExitStatus>, elapsed: Duration) -> Finished {
        Finished {
            status,
            stdout_cut: (!self.stdout.is_whole())
                .then(|| (self.stdout.head().to_string(), self.stdout.total())),
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
            output: self.output.finish(),
            printed: self.printed,
            elapsed,
            stalled: None,
        }
    }
}

/// Sends SIGKILL to the process group `pgid` (the child was made its leader), by a system call:
/// a `kill` process for it cost every agent and gate run a process more.
pub fn kill_group(pgid: u32) {
    signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
}

/// Sends `signal` to the process group `pgid`.
fn signal_group(pgid: u32, signal: nix::sys::signal::Signal) {
    // Never group 0 (our own) or 1: killpg(1) would reach init's group.
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid > 1 {
        // A group that is gone already (every process in it exited) is no error here.
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_worktree_with_pwd_and_without_oldpwd() {
        let worktree = tempfile::tempdir().unwrap();
        let path = worktree.path().canonicalize().unwrap();
        let mut command = TrakCommand::new("python3", &path);
        command
            .args([
                "-c",
                "import os; print(os.getcwd()); print(os.environ.get('PWD')); print(os.environ.get('OLDPWD'))",
            ])
            // Set on purpose: the worktree still wins.
            .current_dir("/")
            .env("PWD", "/somewhere/else")
            .env("OLDPWD", "/the/main/checkout");
        let done = run_with_timeout(&mut command, Duration::from_secs(10)).unwrap();
        let shown = path.display().to_string();
        assert_eq!(done.stdout, format!("{shown}\n{shown}\nNone\n"));
    }

    #[test]
    fn captures_output_and_status() {
        let done = run_with_timeout(
            &mut TrakCommand::shell("echo out; echo err >&2; exit 3", &std::env::temp_dir()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(done.code(), Some(3));
        assert_eq!(done.stdout, "out\n");
        assert_eq!(done.stderr, "err\n");
        assert!(done.output.contains("out") && done.output.contains("err"));
        assert_eq!(done.describe(), "exit code 3");
    }

    #[test]
    fn streams_lines_and_feeds_stdin() {
        let mut seen = Vec::new();
        let done = run_streaming(
            &mut TrakCommand::shell(
                "while read l; do echo \"got $l\"; done",
                &std::env::temp_dir(),
            ),
            Some("a\nb\n"),
            Duration::from_secs(10),
            Keep::default(),
            &mut |stream, line| seen.push((stream, line.to_string())),
        )
        .unwrap();
        assert!(done.success());
        assert_eq!(
            seen,
            vec![
                (Stream::Stdout, "got a".to_string()),
                (Stream::Stdout, "got b".to_string())
            ]
        );
    }

    #[test]
    fn kills_the_whole_group_on_timeout() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let path = marker.path().to_str().unwrap().to_string();
        // The grandchild would write the marker after 2s if it survived its parent's timeout.
        let script = format!("(sleep 2; echo alive > {path}) & sleep 30");
        let done = run_with_timeout(
            &mut TrakCommand::shell(&script, &std::env::temp_dir()),
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(done.status.is_none());
        assert!(done.describe().starts_with("timed out"));
        assert!(done.elapsed < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "");
    }
}
