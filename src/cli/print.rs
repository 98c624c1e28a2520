//! Human and JSON output.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use ork::config::init::{self, FileAction};
use ork::config::workflow::{AgentKind, kind_name};
use ork::engine::conflict_forecast::{Conflict, Forecast, Other};
use ork::store::event::Event;
use ork::store::{Location, Store, Trak};

/// `println!` that returns write errors (a closed pipe, as in `ork log | head`) instead of
/// panicking; `main` exits quietly on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

pub fn init_report(report: &[(&str, FileAction)]) -> Result<()> {
    let changed = report
        .iter()
        .filter(|(_, a)| matches!(a, FileAction::Created | FileAction::Rewritten))
        .count();
    for (path, action) in report {
        let what = match action {
            FileAction::Created => "created  ",
            FileAction::Rewritten => "rewrote  ",
            FileAction::Unchanged => "unchanged",
            FileAction::Kept => "kept     ",
        };
        let note = if *action == FileAction::Kept {
            "  (differs from the default; --force rewrites it)"
        } else {
            ""
        };
        outln!("{what} {path}{note}");
    }
    if changed == 0 {
        outln!("Nothing to do: .orkestra/ is already set up.");
    } else {
        outln!(
            "\nWrote {changed} file(s). Review .orkestra/workflow.toml, commit .orkestra/, then:\n  ork trak new \"What to do\""
        );
    }
    Ok(())
}

/// `ork doctor`: one line per fact, then the problems and warnings.
pub fn doctor(report: &ork::engine::doctor::Report, json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    let found = |ok: bool| if ok { "ok     " } else { "missing" };
    let git = &report.git;
    outln!(
        "{} git       {}",
        found(git.version.is_some()),
        git.version.as_deref().unwrap_or("not found")
    );
    let identity = match (&git.user_name, &git.user_email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        _ => "not set (ork signs as ork <ork@localhost>)".to_string(),
    };
    outln!(
        "{} identity  {identity}",
        found(git.user_name.is_some() && git.user_email.is_some())
    );
    for agent in &report.agents {
        let place = match (&agent.path, &agent.version) {
            (Some(path), Some(version)) => format!("{} ({version})", path.display()),
            (Some(path), None) => path.display().to_string(),
            (None, _) => format!("{} not found", agent.program),
        };
        outln!(
            "{} agent     {} ({}): {place}; used by {}",
            found(agent.path.is_some()),
            agent.name,
            agent.kind,
            agent.stages.join(", ")
        );
    }
    if report.remotes.is_empty() {
        outln!("-       remotes   none (ork works alone; `ork sync` needs one)");
    }
    for remote in &report.remotes {
        let what = if remote.refspecs {
            "fetches ork's notes and logs"
        } else {
            "lacks ork's fetch refspecs"
        };
        outln!(
            "{} remote    {}: {what}",
            found(remote.refspecs),
            remote.name
        );
    }
    for hook in &report.hooks {
        let (mark, what) = match (hook.installed, report.remotes.is_empty()) {
            (true, _) => ("ok     ", "installed"),
            (false, true) => ("-      ", "not installed (only needed to push)"),
            (false, false) => ("missing", "not installed"),
        };
        outln!("{mark} hook      {}: {what}", hook.name);
    }
    for warning in &report.warnings {
        outln!("\nwarning: {warning}");
    }
    for problem in &report.problems {
        outln!("\nproblem: {problem}");
    }
    if report.ok() {
        outln!("\nReady: this machine has what the workflow needs.");
    }
    Ok(())
}

/// Which agent CLI `ork init`'s stages use, and how to install Claude Code when none was found.
pub fn init_agent(found: Option<&(AgentKind, std::path::PathBuf)>) -> Result<()> {
    match found {
        Some((kind, path)) => {
            let cli = ork::engine::runner::cli(*kind).expect("a CLI kind");
            outln!(
                "The stages use agent \"{}\": {} found at {}.",
                kind_name(*kind),
                cli.name,
                path.display()
            );
        }
        None => {
            let cli = ork::agent::claude::CLI;
            outln!(
                "No agent CLI found on PATH (claude, codex, opencode): the stages use agent \"{}\".\n  Install {}: {}",
                init::DEFAULT_AGENT,
                cli.name,
                cli.install
            );
        }
    }
    Ok(())
}

pub fn created(store: &Store, trak: &Trak) -> Result<()> {
    let worktree = store.worktree_path(&trak.id);
    outln!("Created trak {} ({})", trak.id, trak.state.flow);
    outln!("  branch    {}", short_branch(&trak.branch));
    outln!("  worktree  {}", worktree.display());
    outln!(
        "  queued at {} (stages: {})",
        trak.state.stage,
        trak.state.stages.join(" → ")
    );
    Ok(())
}

pub fn status(store: &Store, traks: &[Trak], forecast: &Forecast, json: bool) -> Result<()> {
    if json {
        // One directory listing for all traks, rather than a stat per trak.
        let present = store.worktree_ids();
        let list: Vec<_> = traks
            .iter()
            .map(|t| trak_json(store, t, present.contains(&t.id), forecast))
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "traks": list }))?
        );
        return Ok(());
    }
    if traks.is_empty() {
        outln!("No traks. Create one with: ork trak new \"What to do\"");
        return Ok(());
    }
    let any_remote = traks.iter().any(|t| t.location != Location::Local);
    let now = Utc::now();
    let mut rows = vec![vec![
        "ID".to_string(),
        "TITLE".into(),
        "FLOW".into(),
        "STAGE".into(),
        "STATUS".into(),
        "AGE".into(),
    ]];
    if any_remote {
        rows[0].push("WHERE".into());
    }
    let any_conflict = traks.iter().any(|t| forecast.contains_key(&t.id));
    if any_conflict {
        rows[0].push("CONFLICTS".into());
    }
    for trak in traks {
        let s = &trak.state;
        let mut row = vec![
            trak.id.clone(),
            truncate(&s.title, 40),
            s.flow.clone(),
            s.stage.clone(),
            status_word(store, trak),
            age(s.created_at, now),
        ];
        if any_remote {
            row.push(match &trak.location {
                Location::Local => "local".into(),
                Location::Remote(remote) => remote.clone(),
            });
        }
        if any_conflict {
            row.push(conflicts_cell(forecast.get(&trak.id)));
        }
        rows.push(row);
    }
    print_table(&rows)
}

pub fn show(store: &Store, trak: &Trak, forecast: &Forecast, json: bool) -> Result<()> {
    let description = store.description(trak)?;
    if json {
        let present = worktree(store, trak).is_some();
        let mut value = serde_json::to_value(trak_json(store, trak, present, forecast))?;
        value["description"] = json!(description);
        value["stages"] = json!(trak.state.stages);
        value["events"] = json!(trak.state.events);
        value["conflicting_events"] = json!(trak.state.conflicting_events);
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let s = &trak.state;
    let stages: Vec<String> = s
        .stages
        .iter()
        .map(|name| {
            if *name == s.stage {
                format!("[{name}]")
            } else {
                name.clone()
            }
        })
        .collect();
    outln!("{}  {}", trak.id, s.title);
    outln!("  flow      {}: {}", s.flow, stages.join(" → "));
    let attempt = if s.attempt > 0 {
        format!(", attempt {}", s.attempt)
    } else {
        String::new()
    };
    outln!("  status    {} at {}{attempt}", s.status.as_str(), s.stage);
    outln!("  base      {}", s.base);
    outln!("  branch    {}", short_branch(&trak.branch));
    if let Some(path) = worktree(store, trak) {
        outln!("  worktree  {path}");
    }
    outln!(
        "  created   {} ({} ago)",
        s.created_at.format("%Y-%m-%d %H:%M UTC"),
        age(s.created_at, Utc::now())
    );
    outln!("  events    {} (ork log {})", s.events, trak.id);
    for (stage, usage) in &s.usage {
        outln!("  cost      {stage}: {}", usage_text(usage));
    }
    if s.usage.len() > 1 {
        outln!("  cost      total: {}", usage_text(&s.total_usage()));
    }
    if let Some(verdict) = &s.verdict {
        outln!("  verdict   {:?}", verdict.decision);
    }
    if let Some(note) = &s.note {
        outln!(
            "  note      {}",
            first_lines(note, 20).replace('\n', "\n            ")
        );
    }
    for q in &s.questions {
        outln!("  question  {}", question_text(q));
    }
    if let Some(pr) = &s.pull_request {
        let rounds = if pr.rounds > 0 {
            format!(", {} round(s) of changes", pr.rounds)
        } else {
            String::new()
        };
        outln!(
            "  pr        #{} {} ({}{rounds})",
            pr.number,
            pr.url,
            pr.branch
        );
    }
    for conflict in forecast.get(&trak.id).into_iter().flatten() {
        let with = match &conflict.with {
            Other::Trak(id) => format!("trak {id}"),
            Other::Base(base) => format!("{base}'s tip"),
        };
        outln!("  conflicts with {with} in: {}", conflict.files.join(", "));
    }
    outln!("  next      {}", ork::engine::next_step_here(store, trak));
    if !s.conflicting_events.is_empty() {
        outln!(
            "  conflict  events made from the same state: {}",
            s.conflicting_events.join(", ")
        );
    }
    if !description.trim().is_empty() {
        outln!("\n{}", description.trim_end());
    }
    Ok(())
}

pub fn log(events: &[Event], json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(events)?);
        return Ok(());
    }
    for event in events {
        let stage = event.kind.stage().unwrap_or("-");
        outln!(
            "{}  {:<19} {:<10} {:<16} {}",
            event.at.format("%Y-%m-%d %H:%M:%S"),
            event.kind.name(),
            stage,
            event.machine,
            event.kind.summary()
        );
    }
    Ok(())
}

/// One trak in `ork status --json` (and the base of `ork show --json`).
#[derive(serde::Serialize)]
struct TrakJson<'a> {
    id: &'a str,
    title: &'a str,
    flow: &'a str,
    stage: &'a str,
    status: ork::store::state::Status,
    interrupted: bool,
    note: Option<&'a str>,
    usage: ork::store::event::Usage,
    attempt: u32,
    base: &'a str,
    branch: &'a str,
    remote: Option<&'a str>,
    worktree: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    tip: String,
    pull_request: Option<&'a ork::store::state::PullRequest>,
    /// What it would conflict with if it merged now (empty: nothing).
    conflicts: &'a [Conflict],
}

fn trak_json<'a>(
    store: &Store,
    trak: &'a Trak,
    has_worktree: bool,
    forecast: &'a Forecast,
) -> TrakJson<'a> {
    let s = &trak.state;
    TrakJson {
        id: &trak.id,
        title: &s.title,
        flow: &s.flow,
        stage: &s.stage,
        status: s.status,
        interrupted: ork::engine::is_interrupted(store, trak),
        note: s.note.as_deref(),
        usage: s.total_usage(),
        attempt: s.attempt,
        base: &s.base,
        branch: short_branch(&trak.branch),
        remote: match &trak.location {
            Location::Local => None,
            Location::Remote(remote) => Some(remote),
        },
        worktree: has_worktree.then(|| store.worktree_path(&trak.id).display().to_string()),
        created_at: s.created_at,
        updated_at: s.updated_at,
        tip: trak.tip.to_string(),
        pull_request: s.pull_request.as_ref(),
        conflicts: forecast.get(&trak.id).map_or(&[], Vec::as_slice),
    }
}

/// "other-trak-1a2b: a.rs, b.rs; main: c.rs" (cut short in the table; `ork show` lists all).
fn conflicts_cell(conflicts: Option<&Vec<Conflict>>) -> String {
    let text = conflicts
        .into_iter()
        .flatten()
        .map(|c| format!("{}: {}", c.with.name(), c.files.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    truncate(&text, 60)
}

/// The trak's worktree, if it has one on this machine.
fn worktree(store: &Store, trak: &Trak) -> Option<String> {
    let path = store.worktree_path(&trak.id);
    path.is_dir().then(|| path.display().to_string())
}

fn short_branch(full: &str) -> &str {
    full.strip_prefix("refs/heads/")
        .or_else(|| full.strip_prefix("refs/remotes/"))
        .unwrap_or(full)
}

/// "42s", "5m", "3h", "2d".
fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn print_table(rows: &[Vec<String>]) -> Result<()> {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        outln!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

/// Prints the engine's progress: steps with the time since the command started, agent and gate
/// output indented; on a terminal, a spinner line with the current step and its elapsed time
/// shows that work goes on while an agent is silent.
pub struct Terminal {
    start: std::time::Instant,
    spinner: Option<Spinner>,
}

impl Terminal {
    pub fn new() -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            start: std::time::Instant::now(),
            spinner: std::io::stderr().is_terminal().then(Spinner::start),
        }
    }

    fn elapsed(&self) -> String {
        clock(self.start.elapsed())
    }

    /// Prints one line of progress, taking the spinner's line out of the way first.
    fn print(&self, text: &str) {
        let _guard = self.spinner.as_ref().map(Spinner::pause);
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

impl ork::engine::Reporter for Terminal {
    fn step(&mut self, text: &str) {
        if let Some(spinner) = &self.spinner {
            spinner.set_label(text);
        }
        self.print(&format!("[{}] ▸ {text}", self.elapsed()));
    }

    fn line(&mut self, text: &str) {
        self.print(&format!("        │ {text}"));
    }
}

/// "01:05".
fn clock(elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs();
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

/// A line on stderr redrawn ten times a second: a frame, the current step, its elapsed time.
struct Spinner {
    state: std::sync::Arc<std::sync::Mutex<SpinnerState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct SpinnerState {
    label: String,
    since: std::time::Instant,
}

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const CLEAR_LINE: &str = "\r\x1b[2K";

impl Spinner {
    fn start() -> Spinner {
        use std::sync::atomic::Ordering;
        let state = std::sync::Arc::new(std::sync::Mutex::new(SpinnerState {
            label: String::new(),
            since: std::time::Instant::now(),
        }));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut frame = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(state) = state.lock()
                        && !state.label.is_empty()
                    {
                        let label: String = state.label.chars().take(60).collect();
                        let _ = write!(
                            std::io::stderr().lock(),
                            "{CLEAR_LINE}{} {label}  {}",
                            FRAMES[frame % FRAMES.len()],
                            clock(state.since.elapsed())
                        );
                    }
                    frame += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            })
        };
        Spinner {
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn set_label(&self, text: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.label = text.to_string();
            state.since = std::time::Instant::now();
        }
    }

    /// Clears the spinner's line and holds it off until the guard is dropped.
    fn pause(&self) -> Option<std::sync::MutexGuard<'_, SpinnerState>> {
        let guard = self.state.lock().ok();
        let _ = write!(std::io::stderr().lock(), "{CLEAR_LINE}");
        guard
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = write!(std::io::stderr().lock(), "{CLEAR_LINE}");
    }
}

/// After a human decision was recorded.
pub fn decided(trak: &Trak) -> Result<()> {
    outln!(
        "Recorded on {}: {} is now {} at {}.",
        short_branch(&trak.branch),
        trak.id,
        trak.state.status.as_str(),
        trak.state.stage
    );
    Ok(())
}

/// Where the trak stands and what comes next.
pub fn next(trak: &Trak) -> Result<()> {
    let s = &trak.state;
    outln!("{}: {} at {}.", trak.id, s.status.as_str(), s.stage);
    if let Some(note) = &s.note {
        outln!("  {}", first_lines(note, 12).replace('\n', "\n  "));
    }
    for q in &s.questions {
        outln!("  ? {}", question_text(q));
    }
    outln!("Next: {}", ork::engine::next_step(trak));
    Ok(())
}

pub fn detached(trak: &Trak, log: &std::path::Path) -> Result<()> {
    outln!(
        "{} runs in the background (output: {}).\nFollow the agent: ork logs {} -f",
        trak.id,
        log.display(),
        trak.id
    );
    Ok(())
}

/// The stored logs of a trak's runs, or the live one with `follow`.
pub fn logs(store: &Store, trak: &Trak, stage: Option<&str>, follow: bool) -> Result<()> {
    if follow {
        return follow_live(store, trak);
    }
    let reference = format!("{}{}", ork::store::LOGS_PREFIX, trak.id);
    let Some(tip) = store.git().ref_tip(&reference)? else {
        outln!(
            "No agent has run for {} yet (on this machine or synced).",
            trak.id
        );
        return Ok(());
    };
    let stages: Vec<String> = match stage {
        Some(stage) => vec![stage.to_string()],
        None => trak.state.stages.clone(),
    };
    for stage in stages {
        let Some(dir) = store.git().dir_at(tip, &stage)? else {
            continue;
        };
        for (name, contents) in dir.files()? {
            outln!("=== {stage} {} ===", name.trim_end_matches(".log"));
            outln!("{}", String::from_utf8_lossy(&contents).trim_end());
        }
    }
    Ok(())
}

/// Prints the live log of the trak's newest run and follows it until the run ends.
fn follow_live(store: &Store, trak: &Trak) -> Result<()> {
    use std::io::{Read, Seek};
    let dir = store.git().runtime_dir().join("runs").join(&trak.id);
    // A run that just started may not have written its log yet.
    let mut first = newest_run_log(&dir);
    while first.is_none() && ork::engine::try_run_lock(store, &trak.id)?.is_none() {
        std::thread::sleep(std::time::Duration::from_millis(200));
        first = newest_run_log(&dir);
    }
    let Some(mut path) = first else {
        outln!(
            "No run of {} on this machine to follow. Stored logs: ork logs {}",
            trak.id,
            trak.id
        );
        return Ok(());
    };
    let mut offset = 0u64;
    loop {
        let mut file = std::fs::File::open(&path)?;
        // A log shorter than what was shown was started again (the same stage and attempt).
        if file.metadata()?.len() < offset {
            offset = 0;
        }
        file.seek(std::io::SeekFrom::Start(offset))?;
        let mut chunk = String::new();
        offset += file.read_to_string(&mut chunk)? as u64;
        write!(std::io::stdout().lock(), "{chunk}")?;
        if !chunk.is_empty() {
            continue;
        }
        // This run's output is all shown: the next stage's or attempt's run may have started.
        if let Some(next) = newest_run_log(&dir).filter(|next| *next != path) {
            let run = next
                .parent()
                .and_then(|p| p.file_name())
                .unwrap_or_default();
            outln!("=== {} ===", run.to_string_lossy());
            path = next;
            offset = 0;
            continue;
        }
        if ork::engine::try_run_lock(store, &trak.id)?.is_some() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// The live log most recently written under `dir` (`<stage>-<attempt>/log`).
fn newest_run_log(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path().join("log"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// `ork diff`: a stage's artifact across attempts, or the code against the base.
pub fn diff(store: &Store, trak: &Trak, stage: Option<(&str, &str)>) -> Result<()> {
    let Some((stage, artifact)) = stage else {
        let git = store.git();
        let range = format!("{}...{}", trak.state.base, short_branch(&trak.branch));
        let exclude = format!(":(exclude){}", ork::store::record_dir(&trak.id));
        let out = git.run(
            git.main_workdir(),
            &["diff", "--stat", "-p", &range, "--", ".", &exclude],
        )?;
        write!(
            std::io::stdout().lock(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        )?;
        return Ok(());
    };
    let versions = ork::store::history::artifact_versions(store, trak, stage, artifact)?;
    if versions.is_empty() {
        outln!("Stage {stage} of {} has produced no artifact yet.", trak.id);
        return Ok(());
    }
    for pair in versions.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        outln!(
            "=== {stage}: attempt {} → attempt {} ===",
            old.label,
            new.label
        );
        let diff = similar::TextDiff::from_lines(&old.content, &new.content);
        write!(
            std::io::stdout().lock(),
            "{}",
            diff.unified_diff().context_radius(3).header(
                &format!("attempt {}", old.label),
                &format!("attempt {}", new.label)
            )
        )?;
    }
    if versions.len() == 1 {
        outln!(
            "Stage {stage} has one version so far (attempt {}):\n",
            versions[0].label
        );
        outln!("{}", versions[0].content.trim_end());
    }
    Ok(())
}

fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.len() <= n {
        return lines.join("\n");
    }
    format!("{}\n… (ork show for more)", lines[..n].join("\n"))
}

/// "1200 in / 300 out tokens, $0.0200".
fn usage_text(usage: &ork::store::event::Usage) -> String {
    format!(
        "{} in / {} out tokens, ${:.4}",
        usage.input_tokens, usage.output_tokens, usage.cost_usd
    )
}

/// The status as the table shows it: a run killed on this machine shows as interrupted.
fn status_word(store: &Store, trak: &Trak) -> String {
    if ork::engine::is_interrupted(store, trak) {
        "interrupted".to_string()
    } else {
        trak.state.status.as_str().to_string()
    }
}

/// What `ork sync` moved, in both directions.
pub fn synced(remote: &str, report: &ork::sync::SyncReport) -> Result<()> {
    let list = |ids: &[String]| ids.join(", ");
    if !report.fast_forwarded.is_empty() {
        outln!("← updated from {remote}: {}", list(&report.fast_forwarded));
    }
    if !report.joined.is_empty() {
        outln!("⇄ joined with {remote}'s work: {}", list(&report.joined));
    }
    if report.notes_merged {
        outln!("← gate notes merged from {remote}");
    }
    for (id, why) in &report.not_joined {
        outln!("✗ {id}: {why}");
    }
    if !report.pushed.is_empty() {
        let refs: Vec<&str> = report
            .pushed
            .iter()
            .map(|spec| spec.split(':').next().unwrap_or(spec))
            .collect();
        outln!("→ pushed to {remote}: {}", refs.join(", "));
    }
    if !report.remote_only.is_empty() {
        outln!(
            "  on {remote} only (ork status shows them): {}",
            list(&report.remote_only)
        );
    }
    if report.fast_forwarded.is_empty()
        && report.joined.is_empty()
        && report.pushed.is_empty()
        && !report.notes_merged
        && report.not_joined.is_empty()
    {
        outln!("Up to date with {remote}.");
    }
    Ok(())
}

/// "Which provider? (GitHub / Google)".
fn question_text(q: &ork::store::event::Question) -> String {
    if q.options.is_empty() {
        q.question.clone()
    } else {
        format!("{} ({})", q.question, q.options.join(" / "))
    }
}

pub fn hooks_installed(done: &[ork::sync::hooks::Installed]) -> Result<()> {
    use ork::sync::hooks::Installed;
    for outcome in done {
        match outcome {
            Installed::Created(path) => outln!("installed {}", path.display()),
            Installed::Replaced(path) => outln!("replaced  {}", path.display()),
            Installed::Unchanged(path) => outln!("unchanged {} (already ork's)", path.display()),
        }
    }
    Ok(())
}
