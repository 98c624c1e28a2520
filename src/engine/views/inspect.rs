//! Looking at a trak without changing it: its runs' live logs on this machine, the logs kept in
//! git, the last gate output, its code against the base. The commands and the terminal UI both
//! read through here.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::store::event::{Event, EventKind};
use crate::store::git::Oid;
use crate::store::{Store, Trak};

/// The live log most recently written under `dir` (`<stage>-<attempt>/log`).
pub fn newest_run_log(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path().join("log"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// The name of the run a live log belongs to (`work-2`).
pub fn run_name(log: &Path) -> String {
    log.parent()
        .and_then(|p| p.file_name())
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// One agent run's output as kept in git (secrets redacted) on the trak's log ref.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeptLog {
    pub stage: String,
    /// `<attempt>-<machine>-<time>`, the file's name without `.log`.
    pub run: String,
    pub output: String,
}

/// The kept logs of `trak`'s runs, stage by stage in flow order (only `stage`'s, if given).
pub fn kept_logs(store: &Store, trak: &Trak, stage: Option<&str>) -> Result<Vec<KeptLog>> {
    let reference = format!("{}{}", crate::store::LOGS_PREFIX, trak.id);
    let Some(tip) = store.git().ref_tip(&reference)? else {
        return Ok(Vec::new());
    };
    let stages: Vec<String> = match stage {
        Some(stage) => vec![stage.to_string()],
        None => trak.state.stages.clone(),
    };
    let mut logs = Vec::new();
    for stage in stages {
        let Some(dir) = store.git().dir_at(tip, &stage)? else {
            continue;
        };
        for (name, contents) in dir.files()? {
            logs.push(KeptLog {
                stage: stage.clone(),
                run: name.trim_end_matches(".log").to_string(),
                output: String::from_utf8_lossy(&contents).into_owned(),
            });
        }
    }
    Ok(logs)
}

/// The output of the newest failed gate among `events`, with its stage and attempt.
pub fn last_gate_failure(events: &[Event]) -> Option<(&str, u32, &str)> {
    events.iter().rev().find_map(|e| match &e.kind {
        EventKind::GateFailed {
            stage,
            attempt,
            output,
            ..
        } => Some((stage.as_str(), *attempt, output.as_str())),
        _ => None,
    })
}

/// `git diff --stat -p` of a race attempt at `tip` against the race's start `from`, the record
/// folder left out.
pub fn attempt_diff(store: &Store, id: &str, from: Oid, tip: Oid) -> Result<String> {
    let git = store.git();
    let exclude = format!(":(exclude){}", crate::store::record_dir(id));
    let (from, tip) = (from.to_string(), tip.to_string());
    let out = git.run(
        git.main_workdir(),
        &["diff", "--stat", "-p", &from, &tip, "--", ".", &exclude],
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Each attempt of the trak's latest race at each stage that raced, with its change against the
/// race's start: at the tip its end recorded, else its ref's (here or fetched); `None` when
/// neither commit is in this repository.
pub fn race_diffs(
    store: &Store,
    trak: &Trak,
) -> Result<Vec<(String, crate::store::state::RaceAttempt, Option<String>)>> {
    let mut out = Vec::new();
    for (stage, race) in &trak.state.races {
        let from = Oid::from_hex(race.from.as_bytes())?;
        for attempt in &race.attempts {
            let tip = attempt_tip(store, trak, stage, attempt)?;
            let diff = match tip {
                Some(tip) => attempt_diff(store, &trak.id, from, tip).ok(),
                None => None,
            };
            out.push((stage.clone(), attempt.clone(), diff));
        }
    }
    Ok(out)
}

/// Where attempt `attempt` of `stage`'s race ended, or is now: its recorded tip, its local
/// ref, or a fetched copy of it.
fn attempt_tip(
    store: &Store,
    trak: &Trak,
    stage: &str,
    attempt: &crate::store::state::RaceAttempt,
) -> Result<Option<Oid>> {
    if let Some(tip) = attempt.tip.as_deref() {
        return Ok(Some(Oid::from_hex(tip.as_bytes())?));
    }
    let git = store.git();
    let name = crate::store::race_ref(&trak.id, stage, attempt.no);
    if let Some(tip) = git.ref_tip(&name)? {
        return Ok(Some(tip));
    }
    for remote in git.remote_names() {
        if let Some(tip) = git.ref_tip(&crate::store::tracking_race_ref(&remote, &name))? {
            return Ok(Some(tip));
        }
    }
    Ok(None)
}

/// `git diff --stat -p` of the trak's code against its base (the record folder left out).
pub fn code_diff(store: &Store, trak: &Trak) -> Result<String> {
    let git = store.git();
    let branch = trak
        .branch
        .strip_prefix("refs/heads/")
        .or_else(|| trak.branch.strip_prefix("refs/remotes/"))
        .unwrap_or(&trak.branch);
    let range = format!("{}...{branch}", trak.state.base);
    let exclude = format!(":(exclude){}", crate::store::record_dir(&trak.id));
    let out = git.run(
        git.main_workdir(),
        &["diff", "--stat", "-p", &range, "--", ".", &exclude],
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
