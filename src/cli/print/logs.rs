//! What agents printed and what changed: `ork logs` (kept, or followed live) and `ork diff`.

use super::*;

/// The kept logs of a trak's runs, or the live one with `follow`.
pub fn logs(
    store: &Store,
    trak: &Trak,
    stage: Option<&str>,
    follow: bool,
    json: bool,
) -> Result<()> {
    if follow {
        return follow_live(store, trak);
    }
    let logs = inspect::kept_logs(store, trak, stage)?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "trak": trak.id, "logs": logs }))?
        );
        return Ok(());
    }
    if logs.is_empty() {
        let what = stage.map_or(" for".to_string(), |stage| format!(" stage {stage} of"));
        outln!(
            "No agent has run{what} {} yet (on this machine or synced).",
            trak.id
        );
        return Ok(());
    }
    for log in logs {
        paintedln!(
            "{}",
            paint(
                Paint::Heading,
                &format!("=== {} {} ===", log.stage, log.run)
            )
        );
        outln!("{}", log.output.trim_end());
    }
    Ok(())
}

/// Prints the live log of the trak's newest run and follows it until the run ends.
pub(super) fn follow_live(store: &Store, trak: &Trak) -> Result<()> {
    let dir = ork::engine::runs_dir(store, &trak.id);
    // A run that just started may not have written its log yet.
    let mut first = inspect::newest_run_log(&dir);
    while first.is_none() && ork::engine::try_run_lock(store, &trak.id)?.is_none() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        first = inspect::newest_run_log(&dir);
    }
    let Some(mut path) = first else {
        outln!(
            "No run of {} on this machine to follow. Stored logs: ork logs {}",
            trak.id,
            trak.id
        );
        return Ok(());
    };
    // Runs whose logs git already keeps: any other kept at the end ran while this was not
    // looking (a run shorter than one poll, its folder gone with the merge) and is shown then.
    let kept_before: std::collections::HashSet<(String, String)> =
        inspect::kept_logs(store, trak, None)?
            .into_iter()
            .map(|log| (log.stage, log.run))
            .collect();
    let mut shown = vec![inspect::run_name(&path)];
    outln!("=== {} ===", shown[0]);
    // The log is held open: the runs folder goes when the trak is merged, and an open file
    // stays readable to its end after that.
    let mut log = std::fs::File::open(&path).ok();
    let mut offset = 0u64;
    loop {
        let chunk = match &log {
            Some(file) => read_from(file, &mut offset)?,
            None => String::new(),
        };
        write!(std::io::stdout().lock(), "{chunk}")?;
        if !chunk.is_empty() {
            continue;
        }
        // The same run started again writes a new file at the same path: read that one.
        if replaced(log.as_ref(), &path) {
            log = std::fs::File::open(&path).ok();
            offset = 0;
            continue;
        }
        // This run's output is all shown: the next stage's or attempt's run may have started.
        if let Some(next) = inspect::newest_run_log(&dir).filter(|next| *next != path) {
            shown.push(inspect::run_name(&next));
            outln!("=== {} ===", inspect::run_name(&next));
            log = std::fs::File::open(&next).ok();
            path = next;
            offset = 0;
            continue;
        }
        if ork::engine::try_run_lock(store, &trak.id)?.is_some() {
            // Nothing runs the trak any more: say where it stands, as the command that ran it did.
            let now = store.load(&trak.id)?;
            print_missed_runs(store, &now, &kept_before, &shown)?;
            outln!("=== no run of {} is going on ===", trak.id);
            return next(&now);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// The kept logs of runs that started and ended between two looks of `ork logs -f`: not kept
/// when it began, and not among the live runs it `shown` (`<stage>-<attempt>`).
fn print_missed_runs(
    store: &Store,
    trak: &Trak,
    kept_before: &std::collections::HashSet<(String, String)>,
    shown: &[String],
) -> Result<()> {
    for log in inspect::kept_logs(store, trak, None)? {
        let attempt = log.run.split('-').next().unwrap_or_default();
        let name = format!("{}-{attempt}", log.stage);
        if kept_before.contains(&(log.stage.clone(), log.run.clone())) || shown.contains(&name) {
            continue;
        }
        outln!("=== {name} ===");
        outln!("{}", log.output.trim_end());
    }
    Ok(())
}

/// Whether `path` now names another file than the one held open (or one appeared).
fn replaced(held: Option<&std::fs::File>, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(now) = std::fs::metadata(path) else {
        return false;
    };
    match held.and_then(|file| file.metadata().ok()) {
        Some(held) => (held.dev(), held.ino()) != (now.dev(), now.ino()),
        None => true,
    }
}

/// What was added to a live log since `offset`, which moves past it. A log shorter than what
/// was shown was started again (the same stage and attempt): it is read from its start.
fn read_from(mut file: &std::fs::File, offset: &mut u64) -> Result<String> {
    use std::io::{Read, Seek};
    if file.metadata()?.len() < *offset {
        *offset = 0;
    }
    file.seek(std::io::SeekFrom::Start(*offset))?;
    let mut chunk = String::new();
    *offset += file.read_to_string(&mut chunk)? as u64;
    Ok(chunk)
}

/// `ork diff --race`: each attempt of the trak's races, with its change against the race's
/// start.
pub fn race_diff(store: &Store, trak: &Trak, json: bool) -> Result<()> {
    let diffs = inspect::race_diffs(store, trak)?;
    if json {
        let attempts: Vec<serde_json::Value> = diffs
            .iter()
            .map(|(stage, attempt, diff)| {
                json!({
                    "stage": stage,
                    "no": attempt.no,
                    "agent": attempt.agent,
                    "gate": attempt.gate,
                    "winner": trak.state.races.get(stage).and_then(|r| r.winner) == Some(attempt.no),
                    "diff": diff,
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({"trak": trak.id, "attempts": attempts}))?
        );
        return Ok(());
    }
    if diffs.is_empty() {
        outln!("Trak {} has raced no stage.", trak.id);
        return Ok(());
    }
    for (stage, attempt, diff) in &diffs {
        let gate = match attempt.gate {
            Some(ork::store::event::RaceGate::Passed) => "passed",
            Some(ork::store::event::RaceGate::Failed) => "failed",
            None => "running",
        };
        let won = trak.state.races.get(stage).and_then(|r| r.winner) == Some(attempt.no);
        outln!(
            "=== {stage}: attempt {} ({}), {gate}{}",
            attempt.no,
            printable(&attempt.agent),
            if won { ", the winner" } else { "" }
        );
        match diff {
            Some(diff) if diff.trim().is_empty() => outln!("(no change)\n"),
            Some(diff) => outln!("{}", printable(diff)),
            None => outln!(
                "(its commit is not in this repository: ork sync on the machine that ran the race, then here)\n"
            ),
        }
    }
    Ok(())
}

/// `ork diff`: a stage's artifact across attempts, or the code against the base.
pub fn diff(store: &Store, trak: &Trak, stage: Option<(&str, &str)>, json: bool) -> Result<()> {
    let Some((stage, artifact)) = stage else {
        let diff = inspect::code_diff(store, trak)?;
        if json {
            let value = json!({
                "trak": trak.id,
                "base": trak.state.base,
                "branch": short_branch(&trak.branch),
                "diff": diff,
            });
            outln!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(());
        }
        write!(std::io::stdout().lock(), "{}", paint_diff(&diff))?;
        return Ok(());
    };
    let versions = ork::store::history::artifact_versions(store, trak, stage, artifact)?;
    if json {
        let list: Vec<_> = versions
            .iter()
            .map(|v| json!({ "run": v.run, "attempt": v.attempt, "content": v.content }))
            .collect();
        let value =
            json!({ "trak": trak.id, "stage": stage, "artifact": artifact, "versions": list });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if versions.is_empty() {
        outln!("Stage {stage} of {} has produced no artifact yet.", trak.id);
        return Ok(());
    }
    for pair in versions.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        paintedln!(
            "{}",
            paint(
                Paint::Heading,
                &format!("=== {stage}: {} → {} ===", old.label(), new.label())
            )
        );
        let diff = similar::TextDiff::from_lines(&old.content, &new.content);
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("{stage}, {}", old.label()),
                &format!("{stage}, {}", new.label()),
            )
            .to_string();
        write!(std::io::stdout().lock(), "{}", paint_diff(&text))?;
    }
    if versions.len() == 1 {
        outln!(
            "Stage {stage} has one version so far, from {}:\n",
            versions[0].label()
        );
        outln!("{}", versions[0].content.trim_end());
    }
    Ok(())
}

pub(super) fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.len() <= n {
        return lines.join("\n");
    }
    format!("{}\n… (ork show for more)", lines[..n].join("\n"))
}

/// A unified diff made printable, with its removed lines red and its added lines green on a
/// terminal.
pub(super) fn paint_diff(diff: &str) -> String {
    let diff = printable(diff);
    if !stdout_colour() {
        return diff;
    }
    diff.split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches('\n');
            let end = &line[body.len()..];
            let kind = if body.starts_with("+++") || body.starts_with("---") {
                Some(Paint::Heading)
            } else if body.starts_with('+') {
                Some(Paint::Added)
            } else if body.starts_with('-') {
                Some(Paint::Removed)
            } else if body.starts_with("@@") {
                Some(Paint::Busy)
            } else {
                None
            };
            match kind {
                Some(kind) => format!("{}{end}", ansi(kind, body)),
                None => line.to_string(),
            }
        })
        .collect()
}
