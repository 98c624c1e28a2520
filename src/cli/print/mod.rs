//! Human and JSON output.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use ork::config::init::{self, FileAction};
use ork::config::workflow::{AgentKind, kind_name};
use ork::engine::views::conflict_forecast::{Conflict, Forecast, Other};
use ork::engine::views::inspect;
use ork::store::event::Event;
use ork::store::{Location, Store, Trak};

/// `println!` that returns write errors (a closed pipe, as in `ork log | head`) instead of
/// panicking; `main` exits quietly on a broken pipe.
/// A line on stdout; what ork prints quotes agents, so only text, newlines and tabs go out.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(
            std::io::stdout().lock(),
            "{}",
            ork::engine::process::output::printable(&format!($($arg)*))
        )?
    };
}

/// Like `outln!`, for a line whose parts were made printable already ([`paint`] does): it holds
/// ork's own colour codes, which `outln!` would take out.
macro_rules! paintedln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

/// Text from outside (agents, git, other machines) with its control characters taken out.
fn printable(text: &str) -> String {
    ork::engine::process::output::printable(text).into_owned()
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
pub fn doctor(report: &ork::engine::views::doctor::Report, json: bool) -> Result<()> {
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
            let cli = ork::engine::process::runner::cli(*kind).expect("a CLI kind");
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
        // Serialized straight from the structs: going through a `serde_json::Value` first
        // cost a sixth of a listing of 1,000 traks.
        #[derive(serde::Serialize)]
        struct Listing<'a> {
            traks: Vec<TrakJson<'a>>,
        }
        outln!(
            "{}",
            serde_json::to_string_pretty(&Listing { traks: list })?
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
    for (depth, trak) in as_tree(traks) {
        let s = &trak.state;
        let id = if depth == 0 {
            trak.id.clone()
        } else {
            format!("{}└ {}", "  ".repeat(depth - 1), trak.id)
        };
        let mut row = vec![
            id,
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

/// The traks as a tree: each parent followed by its subtraks (in breakdown order, then any
/// others), with their depth. A subtrak whose parent is not listed stands on its own.
fn as_tree(traks: &[Trak]) -> Vec<(usize, &Trak)> {
    let listed: std::collections::HashSet<&str> = traks.iter().map(|t| t.id.as_str()).collect();
    let is_root = |t: &Trak| {
        t.state
            .parent
            .as_deref()
            .is_none_or(|p| !listed.contains(p))
    };
    fn visit<'a>(
        trak: &'a Trak,
        depth: usize,
        traks: &'a [Trak],
        out: &mut Vec<(usize, &'a Trak)>,
    ) {
        out.push((depth, trak));
        let mut children: Vec<&Trak> = traks
            .iter()
            .filter(|t| t.state.parent.as_deref() == Some(trak.id.as_str()))
            .collect();
        let order = |t: &Trak| {
            trak.state
                .subtraks
                .iter()
                .position(|s| s.id == t.id)
                .unwrap_or(usize::MAX)
        };
        children.sort_by_key(|t| (order(t), t.id.clone()));
        for child in children {
            visit(child, depth + 1, traks, out);
        }
    }
    let mut out = Vec::new();
    for trak in traks.iter().filter(|t| is_root(t)) {
        visit(trak, 0, traks, &mut out);
    }
    out
}

/// "2/3 done" for a trak with subtraks, read from their branches.
fn progress_text(store: &Store, trak: &Trak) -> Option<String> {
    let (done, all) = subtrak_progress(store, trak)?;
    Some(format!("{done}/{all} done"))
}

fn subtrak_progress(store: &Store, trak: &Trak) -> Option<(usize, usize)> {
    if trak.state.subtraks.is_empty() {
        return None;
    }
    let subtraks = ork::engine::subtraks::subtraks_of(store, trak).ok()?;
    Some(ork::engine::subtraks::progress(&subtraks))
}

/// `ork show`'s lines about subtraks: the breakdown waiting for review, the subtraks and what
/// each one needs, or the part this trak is.
fn show_subtraks(store: &Store, trak: &Trak) -> Result<()> {
    let s = &trak.state;
    if let (Some(parent), Some(key)) = (&s.parent, &s.key) {
        outln!("  parent    {parent} (part {key})");
    }
    let proposed = s.breakdown_stage.as_deref() == Some(s.stage.as_str())
        && s.status != ork::store::state::Status::Subtraks
        && !s.breakdown.is_empty();
    if proposed {
        outln!("  breakdown {} part(s) proposed:", s.breakdown.len());
        for part in &s.breakdown {
            let after = if part.depends_on.is_empty() {
                String::new()
            } else {
                format!(" (after {})", part.depends_on.join(", "))
            };
            outln!("            {}: {}{after}", part.key, part.title);
        }
        return Ok(());
    }
    if s.subtraks.is_empty() {
        return Ok(());
    }
    let subtraks = ork::engine::subtraks::subtraks_of(store, trak)?;
    let (done, all) = ork::engine::subtraks::progress(&subtraks);
    outln!("  subtraks  {done}/{all} done");
    for (planned, sub) in &subtraks {
        let Some(sub) = sub else {
            outln!(
                "            {}  not made yet (ork resume {})",
                planned.id,
                trak.id
            );
            continue;
        };
        let waits =
            !sub.state.status.is_finished() && !ork::engine::RUNNABLE.contains(&sub.state.status);
        outln!(
            "            {}  {} at {}",
            sub.id,
            status_word(store, sub),
            sub.state.stage
        );
        if waits && s.status == ork::store::state::Status::Subtraks {
            outln!("              {}", ork::engine::next_step_here(store, sub));
            outln!(
                "              or go on without it: ork trak drop {}  /  split again: ork reject {} -m \"…\"",
                sub.id,
                trak.id
            );
        }
    }
    Ok(())
}

/// The files outside the trak's worktree that changed during its runs, with the run:
/// (stage, attempt, when, change).
fn outside_changes(
    events: &[Event],
) -> Vec<(&str, u32, DateTime<Utc>, &ork::store::event::OutsideChange)> {
    events
        .iter()
        .flat_map(|event| match &event.kind {
            ork::store::event::EventKind::StageFinished {
                stage,
                attempt,
                outside_changes,
                ..
            } => outside_changes
                .iter()
                .map(|c| (stage.as_str(), *attempt, event.at, c))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

pub fn show(store: &Store, trak: &Trak, forecast: &Forecast, json: bool) -> Result<()> {
    let description = store.description(trak)?;
    let events = store.events(trak)?;
    let outside = outside_changes(&events);
    if json {
        let present = worktree(store, trak).is_some();
        let mut value = serde_json::to_value(trak_json(store, trak, present, forecast))?;
        value["description"] = json!(description);
        value["stages"] = json!(trak.state.stages);
        value["events"] = json!(trak.state.events);
        value["conflicting_events"] = json!(trak.state.conflicting_events);
        value["breakdown"] = json!(trak.state.breakdown);
        value["outside_changes"] = json!(
            outside
                .iter()
                .map(|(stage, attempt, at, change)| {
                    let mut entry = json!(change);
                    entry["stage"] = json!(stage);
                    entry["attempt"] = json!(attempt);
                    entry["at"] = json!(at);
                    entry
                })
                .collect::<Vec<_>>()
        );
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
    let word = status_word(store, trak);
    let word = status_paint(&word).map_or(word.clone(), |kind| paint(kind, &word));
    paintedln!("  status    {word} at {}{attempt}", printable(&s.stage));
    if let Some(claim) = ork::engine::claim_view(store, trak) {
        outln!(
            "  claim     {} (on {})",
            printable(&claim_text(&claim)),
            printable(&claim.remote)
        );
    }
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
    for (stage, attempt, _, change) in &outside {
        outln!(
            "  outside   {stage} attempt {attempt} changed {} (left as it is)",
            change.describe()
        );
    }
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
    show_subtraks(store, trak)?;
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
    /// The machine working on it through the shared queue, if a claim is held.
    claim: Option<ork::engine::ClaimView>,
    pull_request: Option<&'a ork::store::state::PullRequest>,
    /// What it would conflict with if it merged now (empty: nothing).
    conflicts: &'a [Conflict],
    /// For a subtrak: its parent's id and its key in the parent's breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    /// For a parent: its subtraks' ids in breakdown order, and how many are merged or dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subtraks: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<Progress>,
}

#[derive(serde::Serialize)]
struct Progress {
    done: usize,
    total: usize,
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
        claim: ork::engine::claim_view(store, trak),
        pull_request: s.pull_request.as_ref(),
        conflicts: forecast.get(&trak.id).map_or(&[], Vec::as_slice),
        parent: s.parent.as_deref(),
        key: s.key.as_deref(),
        subtraks: s.subtraks.iter().map(|p| p.id.as_str()).collect(),
        progress: subtrak_progress(store, trak).map(|(done, total)| Progress { done, total }),
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
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
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

/// Prints `rows` as aligned columns, the first row the header; the cells of the column headed
/// STATUS in their status's colour.
fn print_table(rows: &[Vec<String>]) -> Result<()> {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let status_column = rows[0].iter().position(|h| h == "STATUS");
    for (index, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                let padded = format!("{:<width$}", printable(cell));
                match status_paint(cell) {
                    Some(kind) if index > 0 && Some(column) == status_column => {
                        paint(kind, &padded)
                    }
                    _ => padded,
                }
            })
            .collect();
        paintedln!("{}", line.join("  ").trim_end());
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

    /// Prints one line of progress, taking the spinner's line out of the way first. Steps
    /// quote what agents said: only text, newlines and tabs reach the terminal.
    fn print(&self, text: &str) {
        let _guard = self.spinner.as_ref().map(Spinner::pause);
        let text = ork::engine::process::output::printable(text);
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

    /// A warning on the way is a step of the run's story, in its place among the others.
    fn warning(&mut self, text: &str) {
        self.print(&format!("[{}] ▸ warning: {text}", self.elapsed()));
    }

    /// Rings the terminal's bell when a trak starts waiting (on a terminal only).
    fn stopped(&mut self, trak: &Trak) {
        if ork::engine::waits_for_human(trak.state.status) && std::io::stderr().is_terminal() {
            let _ = write!(std::io::stderr().lock(), "\x07");
        }
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

/// After a subtrak finished: its parent waits on `open` more.
pub fn parent_waits(parent: &Trak, open: usize) -> Result<()> {
    outln!(
        "Its parent {} waits on {open} more subtrak(s); run them: ork resume {}",
        parent.id,
        parent.id
    );
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
fn follow_live(store: &Store, trak: &Trak) -> Result<()> {
    use std::io::{Read, Seek};
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
        if let Some(next) = inspect::newest_run_log(&dir).filter(|next| *next != path) {
            outln!("=== {} ===", inspect::run_name(&next));
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
            .map(|v| json!({ "attempt": v.label, "content": v.content }))
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
                &format!(
                    "=== {stage}: attempt {} → attempt {} ===",
                    old.label, new.label
                )
            )
        );
        let diff = similar::TextDiff::from_lines(&old.content, &new.content);
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("attempt {}", old.label),
                &format!("attempt {}", new.label),
            )
            .to_string();
        write!(std::io::stdout().lock(), "{}", paint_diff(&text))?;
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
    let word = if ork::engine::is_interrupted(store, trak) {
        "interrupted".to_string()
    } else if trak.state.status == ork::store::state::Status::Subtraks {
        match progress_text(store, trak) {
            Some(progress) => format!("waiting on subtraks {progress}"),
            None => trak.state.status.as_str().to_string(),
        }
    } else {
        trak.state.status.as_str().to_string()
    };
    match ork::engine::claim_view(store, trak) {
        Some(claim) => format!("{word} ({})", claim_text(&claim)),
        None => word.to_string(),
    }
}

/// "machine_b since 14:02:11, renewed 3s ago", with "stale" once its lease has passed.
fn claim_text(claim: &ork::engine::ClaimView) -> String {
    format!(
        "{} since {}, renewed {} ago{}",
        claim.machine,
        claim.since.format("%H:%M:%S UTC"),
        age(claim.renewed_at, Utc::now()),
        if claim.stale { ", stale" } else { "" }
    )
}

/// How many ids a line of `ork sync` names before it only counts them (`-v` names them all).
const IDS_PER_LINE: usize = 5;

/// What `ork sync` moved, in both directions: one line per kind of move, whatever the number
/// of traks; with `verbose`, every id.
pub fn synced(remote: &str, report: &ork::sync::SyncReport, verbose: bool) -> Result<()> {
    let list = |ids: &[String]| {
        if verbose || ids.len() <= IDS_PER_LINE {
            ids.join(", ")
        } else {
            format!("{} traks (ork sync -v names them)", ids.len())
        }
    };
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
        let refs: Vec<String> = report
            .pushed
            .iter()
            .map(|spec| spec.split(':').next().unwrap_or(spec).to_string())
            .collect();
        let line = if verbose || refs.len() <= IDS_PER_LINE {
            refs.join(", ")
        } else {
            format!("{} refs (ork sync -v names them)", refs.len())
        };
        outln!("→ pushed to {remote}: {line}");
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

// ---------------------------------------------------------------------------------------------
// Colour: on a terminal only, and never with NO_COLOR set (https://no-color.org)
// ---------------------------------------------------------------------------------------------

/// What a piece of output is, which decides its colour.
#[derive(Clone, Copy)]
pub enum Paint {
    /// A section's heading (`=== work 1 ===`).
    Heading,
    /// Waits for a human.
    Waiting,
    /// Something went wrong.
    Bad,
    /// Went well, or is done.
    Good,
    /// Is at work.
    Busy,
    /// A diff's removed line.
    Removed,
    /// A diff's added line.
    Added,
}

/// Whether standard output gets colour.
fn stdout_colour() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| colour_allowed(std::io::stdout().is_terminal()))
}

/// A warning the library left for the end of a command: `warning: …` on stderr, printable.
pub fn warning(text: &str) {
    let label = if stderr_colour() {
        ansi(Paint::Bad, "warning:")
    } else {
        "warning:".to_string()
    };
    eprintln!("{label} {}", printable(text));
}

/// Whether standard error gets colour.
pub fn stderr_colour() -> bool {
    colour_allowed(std::io::stderr().is_terminal())
}

fn colour_allowed(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text`, made printable, in the colour of `kind` if standard output gets colour.
pub fn paint(kind: Paint, text: &str) -> String {
    let text = printable(text);
    if stdout_colour() {
        ansi(kind, &text)
    } else {
        text
    }
}

/// `text` wrapped in the ANSI code of `kind`.
pub fn ansi(kind: Paint, text: &str) -> String {
    let code = match kind {
        Paint::Heading => "1",
        Paint::Waiting => "33",
        Paint::Bad | Paint::Removed => "31",
        Paint::Good | Paint::Added => "32",
        Paint::Busy => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The colour of a status word, as `ork status` and `ork show` print it.
fn status_paint(word: &str) -> Option<Paint> {
    match word {
        "awaiting review" | "awaiting answer" | "integrating" => Some(Paint::Waiting),
        "failed" | "conflict" | "interrupted" => Some(Paint::Bad),
        "done" => Some(Paint::Good),
        "running" | "checking" => Some(Paint::Busy),
        _ if word.starts_with("waiting on subtraks") => Some(Paint::Busy),
        _ => None,
    }
}

/// A unified diff made printable, with its removed lines red and its added lines green on a
/// terminal.
fn paint_diff(diff: &str) -> String {
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
