//! Running child processes under a timeout, in their own process group.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How a child process ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was killed for running past its timeout.
    pub status: Option<ExitStatus>,
    /// Its stdout and stderr, interleaved as they were read.
    pub output: String,
    pub elapsed: Duration,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// "exit code 2", "killed by signal 9" or "timed out".
    pub fn describe(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match self.status {
            None => format!("timed out after {}", crate::duration::format(self.elapsed)),
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
    let program = format!("{:?}", command.get_program());
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for a child process")? {
            break Some(status);
        }
        if start.elapsed() >= timeout {
            kill_group(child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // A grandchild may still hold the pipes open; once the group is gone they close.
    if status.is_some() {
        kill_group(child.id());
    }
    for reader in readers {
        let _ = reader.join();
    }
    let output: Vec<u8> = rx.into_iter().flatten().collect();
    Ok(Finished {
        status,
        output: String::from_utf8_lossy(&output).into_owned(),
        elapsed: start.elapsed(),
    })
}

/// Sends SIGKILL to the process group `pgid` (the child was made its leader).
fn kill_group(pgid: u32) {
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
        assert_eq!(done.status.unwrap().code(), Some(3));
        assert!(done.output.contains("out") && done.output.contains("err"));
        assert_eq!(done.describe(), "exit code 3");
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
