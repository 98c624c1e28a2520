//! End to end: nothing runs without a bound (docs/design.md rule 13): rejection rounds stop at
//! their cap, and a signal always stops ork, whatever its output is connected to.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::sandbox::{feature_workflow, stage};
use crate::common::{Cleanup, RunsOrk, Sandbox, pids, unique_seconds, wait_until};

#[test]
fn sigterm_stops_ork_even_when_its_output_pipe_is_closed() {
    let hang = unique_seconds(12000);
    let sleep = format!("sleep {hang}");
    let mut cleanup = Cleanup {
        cmdlines: vec![sleep.clone()],
        children: Vec::new(),
    };
    let s = Sandbox::new(
        &feature_workflow("30s", "", &[stage("work", "worker.md", "summary", "")]),
        json!({"work": [{"write": {"partial.txt": "half\n"}, "hang": hang}]}),
    );
    // `ork trak new … 2>&1 | head -1`: both streams into one pipe whose reader reads a line
    // and goes away.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut command = s.ork_command(&["trak", "new", "Stop me"]);
    command.stdout(writer.try_clone().unwrap()).stderr(writer);
    let child = command.spawn().unwrap();
    // Only the child holds the writing end now.
    drop(command);
    let ork_pid = child.id();
    let mut out = BufReader::new(reader);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    drop(out);
    cleanup.children.push(child);
    wait_until(Duration::from_secs(10), "the agent's sleep", || {
        !pids(&sleep).is_empty()
    });

    let sent = std::process::Command::new("kill")
        .args(["-TERM", &ork_pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut child = cleanup.children.pop().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            panic!("ork still runs 2 s after SIGTERM with its output pipe closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    wait_until(
        Duration::from_secs(5),
        "the agent's group to be gone",
        || pids(&sleep).is_empty(),
    );
    let table = s.ork_ok(&["status"]);
    assert!(table.contains("interrupted"), "{table}");
    drop(cleanup);
}
