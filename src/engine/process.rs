//! Running child processes under a timeout, in their own process group, line by line.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Process groups of the children running now, so an interrupt can take them down too.
static LIVE_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// On Ctrl-C (or SIGTERM), kills every agent and gate process group this process started,
/// then exits with status 130. The trak stays recorded as running; the next `ork` command shows
/// it as interrupted and `ork resume` carries on.
pub fn kill_children_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        let groups = LIVE_GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
        for pgid in groups {
            kill_group(pgid);
        }
        if let Some(restore) = BEFORE_INTERRUPT_EXIT.get() {
            restore();
        }
        eprintln!("\ninterrupted: agents stopped; `ork resume` carries on from here");
        std::process::exit(130);
    });
}

/// What must happen before an interrupt ends the process: a full-screen view gives the
/// terminal back.
static BEFORE_INTERRUPT_EXIT: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Has `f` run when an interrupt (SIGINT, SIGTERM) ends the process, before it exits.
pub fn before_interrupt_exit(f: fn()) {
    let _ = BEFORE_INTERRUPT_EXIT.set(f);
}

/// Keeps a child's process group in [`LIVE_GROUPS`] while it lives.
struct Registered(u32);

impl Registered {
    fn new(pgid: u32) -> Registered {
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.push(pgid);
        }
        Registered(pgid)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.retain(|&g| g != self.0);
        }
    }
}

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a child process ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was killed for running past its timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// Both streams, interleaved as they were read.
    pub output: String,
    pub elapsed: Duration,
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
        match self.status {
            None => format!(
                "timed out after {}",
                crate::config::duration::format(self.elapsed)
            ),
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => "ended".to_string(),
            },
        }
    }
}

/// Runs `command` to completion, capturing its output, and kills its whole process group if it
/// runs longer than `timeout`: grandchildren that a script started die with it.
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> Result<Finished> {
    run_streaming(command, None, timeout, &mut |_, _| {})
}

/// Like [`run_with_timeout`], feeding `input` to its standard input and calling `on_line` for
/// every line of output as it arrives.
pub fn run_streaming(
    command: &mut Command,
    input: Option<&str>,
    timeout: Duration,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<Finished> {
    let program = format!("{:?}", command.get_program());
    let start = Instant::now();
    let mut child = command
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
    let _registered = Registered::new(child.id());
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let text = text.to_string();
        // A writer thread: a child that never reads its input must not block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let (tx, rx) = channel::<(Stream, String)>();
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
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).into_owned();
                if tx.send((stream, text)).is_err() {
                    break;
                }
            }
        })
    })
    .collect::<Vec<_>>();
    drop(tx);
    let mut finished = Finished {
        status: None,
        stdout: String::new(),
        stderr: String::new(),
        output: String::new(),
        elapsed: Duration::ZERO,
    };
    let deadline = start + timeout;
    let status = pump(&rx, &mut child, deadline, &mut finished, on_line)?;
    // A grandchild may still hold the pipes open; once the group is gone they close.
    kill_group(child.id());
    if status.is_none() {
        let _ = child.wait();
    }
    for reader in readers {
        let _ = reader.join();
    }
    for (stream, line) in rx.try_iter() {
        finished.take_line(stream, &line, on_line);
    }
    finished.status = status;
    finished.elapsed = start.elapsed();
    Ok(finished)
}

/// Delivers lines until the child exits (its status) or the deadline passes (`None`).
fn pump(
    rx: &Receiver<(Stream, String)>,
    child: &mut std::process::Child,
    deadline: Instant,
    finished: &mut Finished,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<Option<ExitStatus>> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            kill_group(child.id());
            return Ok(None);
        }
        let wait = (deadline - now).min(Duration::from_millis(50));
        match rx.recv_timeout(wait) {
            Ok((stream, line)) => finished.take_line(stream, &line, on_line),
            Err(error) => {
                if let Some(status) = child.try_wait().context("waiting for a child process")? {
                    return Ok(Some(status));
                }
                // Both pipes are closed but the child lives on: poll instead of spinning.
                if error == RecvTimeoutError::Disconnected {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

impl Finished {
    fn take_line(&mut self, stream: Stream, line: &str, on_line: &mut dyn FnMut(Stream, &str)) {
        let target = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        target.push_str(line);
        target.push('\n');
        self.output.push_str(line);
        self.output.push('\n');
        on_line(stream, line);
    }
}

/// Sends SIGKILL to the process group `pgid` (the child was made its leader).
pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let done = run_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
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
            Command::new("sh").args(["-c", "while read l; do echo \"got $l\"; done"]),
            Some("a\nb\n"),
            Duration::from_secs(10),
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
            Command::new("sh").args(["-c", &script]),
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
