//! Human and JSON output.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use ork::event::Event;
use ork::init::FileAction;
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

pub fn status(store: &Store, traks: &[Trak], json: bool) -> Result<()> {
    if json {
        let list: Vec<_> = traks.iter().map(|t| trak_json(store, t)).collect();
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
    for trak in traks {
        let s = &trak.state;
        let mut row = vec![
            trak.id.clone(),
            truncate(&s.title, 40),
            s.flow.clone(),
            s.stage.clone(),
            s.status.as_str().to_string(),
            age(s.created_at, now),
        ];
        if any_remote {
            row.push(match &trak.location {
                Location::Local => "local".into(),
                Location::Remote(remote) => remote.clone(),
            });
        }
        rows.push(row);
    }
    print_table(&rows)
}

pub fn show(store: &Store, trak: &Trak, json: bool) -> Result<()> {
    let description = store.description(trak)?;
    if json {
        let mut value = trak_json(store, trak);
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
            "{}  {:<14} {:<10} {:<16} {}",
            event.at.format("%Y-%m-%d %H:%M:%S"),
            event.kind.name(),
            stage,
            event.machine,
            event.kind.summary()
        );
    }
    Ok(())
}

fn trak_json(store: &Store, trak: &Trak) -> serde_json::Value {
    let s = &trak.state;
    let remote = match &trak.location {
        Location::Local => None,
        Location::Remote(remote) => Some(remote.clone()),
    };
    json!({
        "id": trak.id,
        "title": s.title,
        "flow": s.flow,
        "stage": s.stage,
        "status": s.status,
        "attempt": s.attempt,
        "base": s.base,
        "branch": short_branch(&trak.branch),
        "remote": remote,
        "worktree": worktree(store, trak),
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "tip": trak.tip.to_string(),
    })
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
