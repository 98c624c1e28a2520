//! The selected trak's detail: read from its branch tip once per tip, and the tail of its
//! newest live log read again on every tick.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Result;

use ork::engine::views::inspect;
use ork::store::git::Oid;
use ork::store::{Store, Trak};

/// How much of a live log's end is read for the view.
const TAIL_BYTES: u64 = 32 * 1024;
/// How many of an artifact's or gate output's first lines are shown.
pub const EXCERPT_LINES: usize = 8;

/// What the detail pane shows of one trak.
pub struct Detail {
    pub id: String,
    /// The tip it was read from: read again when the trak moves.
    pub tip: Oid,
    pub next: String,
    /// The latest artifact of each stage that has one.
    pub artifacts: Vec<(String, String)>,
    /// The newest failed gate: stage, attempt, output.
    pub gate: Option<(String, u32, String)>,
    /// The newest live log on this machine: its name and its last lines.
    pub live: Option<(String, Vec<String>)>,
    /// Each race's attempts with the files each changed (`git diff --stat` lines), side by
    /// side for a person who picks.
    pub races: Vec<RaceView>,
}

/// One attempt of a race as the detail pane shows it.
pub struct RaceView {
    pub stage: String,
    pub attempt: ork::store::state::RaceAttempt,
    pub winner: bool,
    /// Its `git diff --stat` lines against the race's start (none once its ref is gone).
    pub stat: Vec<String>,
}

impl Detail {
    /// Reads what the trak's tip holds (its events and artifacts: the selected trak only).
    pub fn load(store: &Store, trak: &Trak) -> Result<Detail> {
        let events = store.events(trak)?;
        let gate = inspect::last_gate_failure(&events)
            .map(|(stage, attempt, output)| (stage.to_string(), attempt, output.to_string()));
        let mut detail = Detail {
            id: trak.id.clone(),
            tip: trak.tip,
            next: ork::engine::next_step_here(store, trak),
            artifacts: store.artifacts(trak)?,
            gate,
            live: None,
            races: race_views(store, trak)?,
        };
        detail.refresh_live(store);
        Ok(detail)
    }

    /// Reads the end of the newest live log again: the agent's run, or a background
    /// `ork resume` started from here (`drive.log`), whichever was written last.
    pub fn refresh_live(&mut self, store: &Store) {
        let dir = ork::engine::runs_dir(store, &self.id);
        let candidates = [inspect::newest_run_log(&dir), Some(dir.join("drive.log"))];
        let newest = candidates
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
            .max_by_key(|(modified, _)| *modified)
            .map(|(_, path)| path);
        self.live = newest.and_then(|path| Some((log_name(&path), tail(&path).ok()?)));
    }
}

/// The trak's races, each attempt with the stat part of its diff.
fn race_views(store: &Store, trak: &Trak) -> Result<Vec<RaceView>> {
    Ok(inspect::race_diffs(store, trak)?
        .into_iter()
        .map(|(stage, attempt, diff)| {
            let winner = trak.state.races.get(&stage).and_then(|r| r.winner) == Some(attempt.no);
            let stat = diff
                .unwrap_or_default()
                .lines()
                .take_while(|l| !l.starts_with("diff --git"))
                .map(|l| clean(l.trim()))
                .filter(|l| !l.is_empty())
                .collect();
            RaceView {
                stage,
                attempt,
                winner,
                stat,
            }
        })
        .collect())
}

/// "work-2" for an agent run's log, "background run" for `drive.log`.
fn log_name(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "drive.log") {
        "background run".to_string()
    } else {
        inspect::run_name(path)
    }
}

/// The last lines of the file at `path`, read from its last [`TAIL_BYTES`].
fn tail(path: &PathBuf) -> Result<Vec<String>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(clean).collect();
    // A cut in the middle of a line: drop the partial first one.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    Ok(lines)
}

/// A line safe to draw: escape sequences and other control characters out (an agent's
/// colours would otherwise reach the terminal raw), tabs as spaces.
pub fn clean(line: &str) -> String {
    ork::engine::process::output::printable(line).replace('\t', "    ")
}
