//! End to end: the `[notify]` command runs when a trak starts waiting for a human and when it
//! is done, with the trak in its environment; one that fails or hangs never harms the trak.

use crate::common;

use serde_json::json;

use common::{RunsOrk, Sandbox, artifact, pids, stderr, stdout, unique_seconds};

/// A notify script that appends `ORK_TRAK|ORK_TITLE|ORK_STAGE|ORK_STATUS` to `log`.
fn recording_script(flow: &Sandbox, log: &std::path::Path) -> String {
    let script = flow.path("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|%s|%s|%s\\n' \"$ORK_TRAK\" \"$ORK_TITLE\" \"$ORK_STAGE\" \"$ORK_STATUS\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    make_executable(&script);
    script.display().to_string()
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn notified(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_notify_command_runs_with_the_trak_when_it_waits_and_when_it_is_done() {
    let stages = json!({"planning": [artifact("# Plan")], "work": [artifact("done")]});
    let log = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    // The script lives in the sandbox, so the workflow names it once the sandbox exists.
    let flow = Sandbox::review_flow("", stages);
    let script = recording_script(&flow, &log);
    let workflow = flow.repo.read(".orkestra/workflow.toml");
    flow.repo.write(
        ".orkestra/workflow.toml",
        &format!("{workflow}\n[notify]\ncommand = [\"{script}\"]\n"),
    );
    flow.repo.commit_all("Notify me");

    let out = flow.ork(&["trak", "new", "Add login"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = common::created_id(&stdout(&out));
    // Not a terminal: no bell.
    assert!(!stderr(&out).contains('\x07') && !stdout(&out).contains('\x07'));
    assert_eq!(
        notified(&log),
        [format!("{id}|Add login|planning|awaiting_review")]
    );

    // Recording a decision without a run tells nobody: the trak does not wait for anyone.
    flow.ork_ok(&["approve", &id, "--no-run"]);
    assert_eq!(notified(&log).len(), 1);
    // Resuming runs work, which waits for review again; approving it merges the trak: done.
    flow.ork_ok(&["resume", &id]);
    flow.ork_ok(&["approve", &id]);
    assert_eq!(
        notified(&log),
        [
            format!("{id}|Add login|planning|awaiting_review"),
            format!("{id}|Add login|work|awaiting_review"),
            format!("{id}|Add login|work|done"),
        ]
    );
}

#[test]
fn a_failing_or_hanging_notify_command_does_not_harm_the_trak() {
    let stages = json!({"planning": [artifact("# Plan")]});
    let flow = Sandbox::review_flow(
        "[notify]\ncommand = [\"sh\", \"-c\", \"echo no display here; exit 3\"]\n",
        stages.clone(),
    );
    let out = flow.ork(&["trak", "new", "Add login"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = common::created_id(&stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("notify command") && said.contains("exit code 3"),
        "the failure is reported: {said}"
    );
    assert!(said.contains("no display here"), "{said}");
    assert_eq!(
        flow.at(&id),
        ("awaiting_review".to_string(), "planning".to_string())
    );

    // A command that hangs is killed by the timeout, with its children.
    let seconds = unique_seconds(10000);
    let flow = Sandbox::review_flow(
        &format!(
            "[notify]\ncommand = [\"sh\", \"-c\", \"sleep {seconds}; true\"]\ntimeout = \"1s\"\n"
        ),
        stages,
    );
    let out = flow.ork(&["trak", "new", "Add login"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = common::created_id(&stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("timed out after 1s"), "{said}");
    assert_eq!(
        flow.at(&id),
        ("awaiting_review".to_string(), "planning".to_string())
    );
    common::wait_until(
        std::time::Duration::from_secs(10),
        "the hanging notify command to be gone",
        || pids(&format!("sleep {seconds}")).is_empty(),
    );
}

#[test]
fn an_empty_notify_command_is_a_clear_error() {
    let flow = Sandbox::review_flow("[notify]\ncommand = []\n", json!({}));
    let err = common::ork_error(
        &flow.ork(&["trak", "new", "Add login"]),
        "ork trak new with an empty notify command",
    );
    assert!(err.contains("[notify] command is empty"), "{err}");
    assert!(err.contains("workflow.toml"), "{err}");
}

#[test]
fn the_bell_rings_on_a_terminal_when_a_trak_starts_waiting() {
    let flow = Sandbox::review_flow("", json!({"planning": [artifact("# Plan")]}));
    let typescript = flow.path("typescript");
    // `script` gives ork a pseudo-terminal and records everything written to it.
    let out = flow
        .command("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "{} trak new 'Add login'",
            env!("CARGO_BIN_EXE_ork")
        ))
        .arg(&typescript)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read(&typescript).unwrap();
    let written = String::from_utf8_lossy(&written);
    assert!(written.contains("awaiting review at planning"), "{written}");
    assert!(
        written.contains('\x07'),
        "no bell on the terminal:\n{written:?}"
    );
}
