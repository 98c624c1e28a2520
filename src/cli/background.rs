//! Background runs: `--detach` and `ork run`. Each trak runs in its own `ork resume` process,
//! its output in `.git/ork/runs/<id>/drive.log`; the run lock keeps two from running one trak.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use ork::engine;
use ork::store::{Location, Store, Trak};

/// Starts `ork resume <id>` detached from this terminal; returns its log file.
pub fn spawn_resume(store: &Store, trak: &Trak, take_over: bool) -> Result<PathBuf> {
    Ok(start(store, trak, take_over)?.1)
}

/// Like [`spawn_resume`], keeping the child so that the caller can tell when it ends.
pub fn start(store: &Store, trak: &Trak, take_over: bool) -> Result<(Child, PathBuf)> {
    use std::os::unix::process::CommandExt;
    let dir = engine::runs_dir(store, &trak.id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = dir.join("drive.log");
    let file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let exe = std::env::current_exe().context("finding the ork executable")?;
    let child = Command::new(exe)
        .arg("-C")
        .arg(store.git().main_workdir())
        .args(["resume", &trak.id])
        .args(take_over.then_some("--take-over"))
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        // Its own process group: closing this terminal or Ctrl-C here does not stop it.
        .process_group(0)
        .spawn()
        .context("starting a background ork")?;
    Ok((child, log))
}

/// Runs every local trak with work due, at most `jobs` at a time; with `watch`, keeps looking
/// for new work every few seconds until interrupted.
pub fn run_all(store: &Store, jobs: usize, watch: bool) -> Result<()> {
    let mut running: Vec<(String, Child)> = Vec::new();
    // The tip each trak had when it was last started: a trak whose run ended without moving it
    // (an error) is not started again and again.
    let mut started: std::collections::HashMap<String, ork::store::git::Oid> = Default::default();
    loop {
        running.retain_mut(|(id, child)| match child.try_wait() {
            Ok(Some(status)) => {
                println!("{id}: finished ({status})");
                false
            }
            _ => true,
        });
        for trak in due(store)? {
            if running.len() >= jobs {
                break;
            }
            if running.iter().any(|(id, _)| *id == trak.id)
                || started.get(&trak.id) == Some(&trak.tip)
            {
                continue;
            }
            started.insert(trak.id.clone(), trak.tip);
            let (child, log) = start(store, &trak, false)?;
            println!(
                "{}: running {} (log: {})",
                trak.id,
                trak.state.stage,
                log.display()
            );
            running.push((trak.id.clone(), child));
        }
        if running.is_empty() && !watch {
            println!("Nothing more to run.");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(if watch { 2000 } else { 300 }));
    }
}

/// Local traks with work due that no other process is running.
fn due(store: &Store) -> Result<Vec<Trak>> {
    Ok(store
        .list()?
        .into_iter()
        .filter(|t| t.location == Location::Local)
        .filter(|t| match t.state.status {
            ork::store::state::Status::Running => engine::is_interrupted(store, t),
            status => engine::RUNNABLE.contains(&status),
        })
        .filter(|t| engine::try_run_lock(store, &t.id).is_ok_and(|lock| lock.is_some()))
        .collect())
}
