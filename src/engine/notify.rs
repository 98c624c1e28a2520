//! Telling the user that a trak needs them: the `[notify]` command, run when the stage loop
//! stops at a human (review, questions, a failure, a conflict, a merge that waits) or a trak is
//! done, and when a sync brings a conflict. It is a courtesy: it runs under a short timeout,
//! and whatever it does, the trak is not affected.

use crate::config::workflow::NotifySettings;
use crate::engine::process::{TrakCommand, run_with_timeout};
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// Whether the loop stopping with `trak` in its status is worth telling the user about.
pub fn worth_telling(status: Status) -> bool {
    super::waits_for_human(status) || matches!(status, Status::Done | Status::Integrating)
}

/// After a sync: the notify command for each of `moved` (the traks the sync joined or brought
/// on) that is now in conflict — two machines' decisions met, and a person must choose. No
/// drive loop stops there, so the sync tells. Returns the warnings to show.
pub fn conflicts_brought<'a>(
    store: &Store,
    settings: &NotifySettings,
    moved: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for id in moved {
        let Ok(trak) = store.load(id) else { continue };
        if trak.state.status != Status::Conflict {
            continue;
        }
        warnings.extend(notify(settings, &place(store, &trak), &trak));
    }
    warnings
}

/// Where the notify command runs for `trak`: its worktree, or the main checkout once that
/// is gone.
pub fn place(store: &Store, trak: &Trak) -> std::path::PathBuf {
    let worktree = store.worktree_path(&trak.id);
    if worktree.is_dir() {
        worktree
    } else {
        store.git().main_workdir().to_path_buf()
    }
}

/// Runs the notify command for `trak` in `dir` (its worktree, or the main checkout once that
/// is gone), if one is configured. Returns a warning to show when it could not start, failed,
/// or ran past its timeout (and was killed with its process group).
pub fn notify(settings: &NotifySettings, dir: &std::path::Path, trak: &Trak) -> Option<String> {
    let (program, args) = settings.command.split_first()?;
    let mut command = TrakCommand::new(program, dir);
    command
        .args(args)
        .env("ORK_TRAK", &trak.id)
        .env("ORK_TITLE", crate::store::text::one_line(&trak.state.title))
        .env("ORK_STAGE", &trak.state.stage)
        .env("ORK_STATUS", status_name(trak.state.status));
    match run_with_timeout(&mut command, settings.timeout) {
        Err(err) => Some(format!("the notify command could not start: {err:#}")),
        Ok(done) if done.success() => None,
        Ok(done) => Some(format!(
            "the notify command {program:?} failed ({}); the trak is not affected{}",
            done.describe(),
            first_line(&done.output)
        )),
    }
}

/// The status as `ork status --json` spells it (`awaiting_review`).
fn status_name(status: Status) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// ": <its first line of output>", if it printed anything.
fn first_line(output: &str) -> String {
    output
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(": {}", l.chars().take(200).collect::<String>()))
        .unwrap_or_default()
}
