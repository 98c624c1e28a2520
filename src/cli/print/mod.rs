//! Human and JSON output, one file per group of commands; the tree order, status words and
//! tones they share with `ork ui` come from [`crate::cli::view`].

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

use crate::cli::view::{self, Tone};

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

// The macros above come first: a macro is seen only by the modules declared after it.
mod colour;
mod logs;
mod progress;
mod schedules;
mod setup;
mod sync;
mod traks;

pub use colour::*;
pub use logs::*;
pub use progress::*;
pub use schedules::*;
pub use setup::*;
pub use sync::*;
pub use traks::*;

/// Text from outside (agents, git, other machines) with its control characters taken out.
pub(super) fn printable(text: &str) -> String {
    ork::engine::process::output::printable(text).into_owned()
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

/// `ork man --dir DIR`'s one line.
pub fn man_pages_written(count: usize, dir: &std::path::Path) -> Result<()> {
    outln!(
        "Wrote {count} man pages to {}: ork.1 and one per command.",
        dir.display()
    );
    Ok(())
}

/// On stderr, one line: the title typed was longer than a title holds.
pub fn title_cut(trak: &Trak) {
    eprintln!(
        "note: the title is longer than {} characters; the rest starts the trak's description (ork show {})",
        ork::store::text::MAX_TITLE,
        trak.id
    );
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

pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// Prints `rows` as aligned columns, the first row the header; the cells of the column headed
/// STATUS in the colour of their row's tone.
pub(super) fn print_table(rows: &[Vec<String>], tones: &[Tone]) -> Result<()> {
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
                match tones.get(index).copied().and_then(paint_of) {
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

/// What one `ork intake` pass did, a line each.
pub fn intake(happened: &[String]) -> Result<()> {
    if happened.is_empty() {
        outln!("Nothing new from the trackers.");
    }
    for line in happened {
        outln!("{}", printable(line));
    }
    Ok(())
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

/// After `ork trak restore`: where the trak stands again, and what came back.
pub fn restored(restored: &ork::engine::Restored) -> Result<()> {
    decided(&restored.trak)?;
    if !restored.files.is_empty() {
        outln!(
            "  {} unsaved file(s) back in {}: {}",
            restored.files.len(),
            restored.worktree.display(),
            restored.files.join(", ")
        );
    }
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

/// After `ork note`: where it went and what it waits for.
pub fn noted(trak: &Trak) -> Result<()> {
    outln!(
        "Noted on ork/{}: the prompt of its next run holds {} note(s).",
        trak.id,
        trak.state.notes.len()
    );
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

/// A warning the library left for the end of a command: `warning: …` on stderr, printable.
pub fn warning(text: &str) {
    let label = if stderr_colour() {
        ansi(Paint::Bad, "warning:")
    } else {
        "warning:".to_string()
    };
    eprintln!("{label} {}", printable(text));
}
