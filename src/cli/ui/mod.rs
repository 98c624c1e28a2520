//! `ork ui`: every trak in one full-screen view, refreshed as refs move, steered with keys.
//!
//! The loop: look at the trak refs' tips (cheap) and reload the list only when they moved;
//! read the selected trak's detail once per tip and its live log on every tick; draw; wait a
//! moment for a key. Decisions go through the same engine calls as the commands, and what they
//! set off runs in a background `ork resume`, so the view never waits for an agent.
//!
//! The terminal is put back (raw mode off, main screen) on `q`, on Ctrl-C (a key in raw mode),
//! on SIGINT or SIGTERM from another process, and on a panic (ratatui's panic hook restores it
//! before the message is printed).

mod actions;
mod app;
mod detail;
mod draw;
mod watch;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use ratatui::crossterm::event::{self, Event, KeyEventKind};

use ork::config::workflow::Workflow;
use ork::engine::views::inspect;
use ork::store::Store;

use app::{App, Overlay, Request};
use detail::{Detail, clean};

/// How long the loop waits for a key before it looks at the refs and the live log again.
const TICK: Duration = Duration::from_millis(250);
/// Every how many ticks running traks are checked for a killed run (a lock probe each: rare
/// enough not to stand in the way of an `ork resume` taking the lock).
const INTERRUPT_CHECK_TICKS: u64 = 20;

pub fn run(store: Store, workflow: Workflow) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("ork ui needs a terminal; `ork status` prints the list of traks anywhere");
    }
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    // SIGINT or SIGTERM from elsewhere (Ctrl-C here is a key) ends ork through its handler.
    ork::engine::process::before_interrupt_exit(ratatui::restore);
    let result = event_loop(&mut terminal, &store, &workflow);
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    store: &Store,
    workflow: &Workflow,
) -> Result<()> {
    let mut app = App::new();
    let mut watcher = watch::RefWatcher::new();
    let mut background = actions::Background::new();
    let mut tick: u64 = 0;
    loop {
        tick = tick.wrapping_add(1);
        let moved = watcher.changed(store)?;
        if moved {
            reload(store, workflow, &mut app)?;
        }
        if moved || tick.is_multiple_of(INTERRUPT_CHECK_TICKS) {
            app.interrupted = interrupted(store, &app);
        }
        refresh_detail(store, &mut app);
        if let Some(failure) = background.poll(store).pop() {
            app.message = Some(failure);
        }
        // The library's warnings (a worktree that could not follow its branch, …) belong on
        // the message line: nothing may write over the screen.
        let warnings = store.warnings().take();
        if !warnings.is_empty() {
            app.message = Some(format!("warning: {}", clean(&warnings.join(" · "))));
        }
        terminal.draw(|frame| draw::frame(frame, &app))?;
        if !event::poll(TICK)? {
            continue;
        }
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        match app.on_key(key) {
            Request::Nothing => {}
            Request::Quit => return Ok(()),
            Request::Decide(id, decision) => {
                app.message = Some(match background.decide(store, workflow, &id, decision) {
                    Ok(done) => {
                        // Recorded: what was typed for it has done its work.
                        app.typed = None;
                        done
                    }
                    Err(err) => {
                        let error = format!("{err:#}").replace('\n', " ");
                        match app.typed.as_ref().is_some_and(|(typed, _, _)| *typed == id) {
                            true => {
                                format!("{error} (what you typed is kept: press the key again)")
                            }
                            false => error,
                        }
                    }
                });
                // Show the recorded decision at once, before the background run moves it on.
                reload(store, workflow, &mut app)?;
            }
            Request::ShowDiff(id) => app.overlay = Some(shown(store, &id, "diff", diff_lines)),
            Request::ShowLog(id) => app.overlay = Some(shown(store, &id, "log", log_lines)),
        }
    }
}

/// Lists the traks again.
fn reload(store: &Store, workflow: &Workflow, app: &mut App) -> Result<()> {
    app.set_traks(store.list()?, workflow);
    Ok(())
}

/// Which `running` traks were in fact killed on this machine: a run that dies moves no ref,
/// so this is asked now and then too (a lock probe per running trak, nothing read from git).
fn interrupted(store: &Store, app: &App) -> std::collections::HashSet<String> {
    app.traks
        .iter()
        .filter(|l| ork::engine::is_interrupted(store, &l.trak))
        .map(|l| l.trak.id.clone())
        .collect()
}

/// Reads the selected trak's detail again if it moved or another one was selected; else only
/// its live log.
fn refresh_detail(store: &Store, app: &mut App) {
    let Some(trak) = app.selected_trak().cloned() else {
        app.detail = None;
        return;
    };
    match &mut app.detail {
        Some(detail) if detail.id == trak.id && detail.tip == trak.tip => {
            detail.refresh_live(store)
        }
        _ => match Detail::load(store, &trak) {
            Ok(detail) => app.detail = Some(detail),
            Err(err) => app.message = Some(format!("reading {}: {err:#}", trak.id)),
        },
    }
}

/// An overlay titled `what` holding what `lines` reads for trak `id` (or why it could not).
fn shown(
    store: &Store,
    id: &str,
    what: &str,
    lines: fn(&Store, &ork::store::Trak) -> Result<Vec<String>>,
) -> Overlay {
    let lines = store
        .load(id)
        .and_then(|trak| lines(store, &trak))
        .unwrap_or_else(|err| vec![format!("error: {err:#}")]);
    Overlay {
        title: format!("{what} of {id}"),
        lines: lines.iter().map(|l| clean(l)).collect(),
        scroll: 0,
    }
}

/// `ork diff`: the trak's code against its base.
fn diff_lines(store: &Store, trak: &ork::store::Trak) -> Result<Vec<String>> {
    let diff = inspect::code_diff(store, trak)?;
    if diff.trim().is_empty() {
        return Ok(vec![format!("No change against {} yet.", trak.state.base)]);
    }
    Ok(diff.lines().map(str::to_string).collect())
}

/// `ork logs`: every kept run's output, then this machine's newest live log.
fn log_lines(store: &Store, trak: &ork::store::Trak) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for log in inspect::kept_logs(store, trak, None)? {
        lines.push(format!("=== {} {} ===", log.stage, log.run));
        lines.extend(log.output.lines().map(str::to_string));
    }
    let live = inspect::newest_run_log(&ork::engine::runs_dir(store, &trak.id));
    if let Some(path) = live
        && let Ok(text) = std::fs::read_to_string(&path)
    {
        lines.push(format!("=== live: {} ===", inspect::run_name(&path)));
        lines.extend(text.lines().map(str::to_string));
    }
    if lines.is_empty() {
        lines.push(format!("No agent has run for {} yet.", trak.id));
    }
    Ok(lines)
}
