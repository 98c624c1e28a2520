//! Background runs: `--detach` and `ork run`. Each trak runs in its own `ork resume` process,
//! its output in `.git/ork/runs/<id>/drive.log`; the run lock keeps two from running one trak.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;

use ork::config::workflow::Workflow;
use ork::engine;
use ork::store::state::Status;
use ork::store::{Location, Store, Trak};

/// Starts `ork resume <id>` detached from this terminal; returns its log file.
pub fn spawn_resume(store: &Store, trak: &Trak, take_over: bool) -> Result<PathBuf> {
    Ok(start(store, trak, take_over)?.1)
}

/// Like [`spawn_resume`], keeping the child so that the caller can tell when it ends.
pub fn start(store: &Store, trak: &Trak, take_over: bool) -> Result<(Child, PathBuf)> {
    use std::os::unix::process::CommandExt;
    let dir = engine::runs_dir(store, &trak.id);
    engine::process::create_private_dir(&dir)?;
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

/// Starts `ork run` detached from this process (the MCP server's `run_due`): its own process
/// group, its output in `.git/ork/run.log`. Returns its process id and log file.
pub fn spawn_run_all(store: &Store) -> Result<(u32, PathBuf)> {
    use std::os::unix::process::CommandExt;
    let dir = store.git().runtime_dir();
    engine::process::create_private_dir(&dir)?;
    let log = dir.join("run.log");
    let file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let exe = std::env::current_exe().context("finding the ork executable")?;
    let mut child = Command::new(exe)
        .arg("-C")
        .arg(store.git().main_workdir())
        .arg("run")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .context("starting a background ork run")?;
    let pid = child.id();
    // Reap it when it ends, so that it leaves no zombie behind while the server lives on.
    std::thread::spawn(move || child.wait());
    Ok((pid, log))
}

/// Runs every trak with work due, at most `jobs` at a time; with `watch`, keeps looking for
/// new work every few seconds until interrupted. With the shared queue on (`[sync] queue`),
/// traks known only from the remote count too, the remote is fetched as the loop goes, and a
/// trak another machine holds a live claim on is left to it — but for the attempts of its race
/// that no machine holds, which run here.
pub fn run_all(store: &Store, jobs: usize, watch: bool) -> Result<()> {
    // A workflow that does not load is each run's error to report; the loop runs without the
    // shared queue then.
    let workflow = Workflow::load(store.git().main_workdir()).ok();
    let remote = workflow
        .as_ref()
        .and_then(|workflow| engine::queue_remote(store, workflow));
    if let Some(remote) = &remote {
        // A plain clone fetches only branches: bring the claims (and notes, logs) too.
        ork::sync::configure_remote(store.git(), remote)?;
    }
    let mut running: Vec<(String, Child)> = Vec::new();
    // What each trak looked like when it was last started (its tip and its claim): a trak
    // whose run ended without changing either (an error) is not started again and again.
    let mut started: std::collections::HashMap<String, String> = Default::default();
    let mut fetched: Option<Instant> = None;
    let mut arrivals = Arrivals::default();
    loop {
        running.retain_mut(|(id, child)| match child.try_wait() {
            Ok(Some(status)) => {
                if status.code() == Some(i32::from(super::CLAIM_LOST_EXIT)) {
                    println!("{id}: another machine has it; left to it");
                } else {
                    println!("{id}: finished ({status})");
                }
                false
            }
            _ => true,
        });
        if let Some(remote) = &remote
            && fetched.is_none_or(|at| at.elapsed() >= FETCH_EVERY)
        {
            if let Err(err) = store.git().fetch(remote) {
                eprintln!("warning: {err:#}");
            }
            fetched = Some(Instant::now());
        }
        if let Some(workflow) = &workflow {
            arrivals.look(store, workflow, watch);
        }
        for (trak, seen) in due(store, workflow.as_ref(), remote.as_deref())? {
            if running.len() >= jobs {
                break;
            }
            if running.iter().any(|(id, _)| *id == trak.id) || started.get(&trak.id) == Some(&seen)
            {
                continue;
            }
            started.insert(trak.id.clone(), seen);
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
        std::thread::sleep(Duration::from_millis(if watch { 1000 } else { 300 }));
    }
}

/// New work that arrives while `ork run` loops: issues taken in from the tracker (under
/// `--watch`, every `[intake] every`) and traks the schedules make (on every look of a watch,
/// once in a plain run).
#[derive(Default)]
struct Arrivals {
    taken_in: Option<Instant>,
    looked: bool,
    /// Each schedule's failure as last printed: a watch says it again only when it changes.
    failing: std::collections::HashMap<String, String>,
}

impl Arrivals {
    fn look(&mut self, store: &Store, workflow: &Workflow, watch: bool) {
        if watch
            && workflow.intake.is_on()
            && self
                .taken_in
                .is_none_or(|at| at.elapsed() >= workflow.intake.every)
        {
            // A tracker that cannot be reached is a warning: the watch goes on with what it has.
            match engine::intake_pass(store, workflow) {
                Ok(happened) => happened.iter().for_each(|line| println!("{line}")),
                Err(err) => eprintln!("warning: taking in work: {err:#}"),
            }
            self.taken_in = Some(Instant::now());
        }
        if watch || !self.looked {
            let outcomes = engine::schedule::fire_due(store, workflow, Utc::now());
            print_scheduled(workflow, &outcomes, &mut self.failing);
            for warning in store.warnings().take() {
                eprintln!("warning: {warning}");
            }
        }
        self.looked = true;
    }
}

/// What firing the schedules did, one line each (nothing for a schedule with no slot due),
/// each slot in its schedule's time zone; a failure that `failing` holds already is not
/// printed again.
fn print_scheduled(
    workflow: &Workflow,
    outcomes: &[engine::schedule::Outcome],
    failing: &mut std::collections::HashMap<String, String>,
) {
    use engine::schedule::Outcome;
    let at = |name: &str, slot: &chrono::DateTime<Utc>| match workflow
        .schedules
        .iter()
        .find(|s| s.name == name)
    {
        Some(schedule) => engine::schedule::slot_text(schedule, *slot),
        None => slot.to_rfc3339(),
    };
    for outcome in outcomes {
        if let Outcome::Failed { schedule, error } = outcome {
            if failing.get(schedule) != Some(error) {
                eprintln!("warning: schedule {schedule}: {error}; it is tried again next time");
                failing.insert(schedule.clone(), error.clone());
            }
            continue;
        }
        failing.remove(outcome.schedule());
        match outcome {
            Outcome::Scheduled {
                schedule,
                slot,
                trak,
            } => println!(
                "{trak}: scheduled by {schedule} (slot {})",
                at(schedule, slot)
            ),
            Outcome::Started { schedule, slot } => println!(
                "schedule {schedule}: starts from {}; its first trak comes with the next slot",
                at(schedule, slot)
            ),
            Outcome::Lost { schedule, slot } => println!(
                "schedule {schedule}: slot {} was fired by another machine",
                at(schedule, slot)
            ),
            Outcome::Failed { .. } => {}
        }
    }
}

/// How often `ork run` fetches the shared queue's remote for new work and released claims.
const FETCH_EVERY: Duration = Duration::from_secs(2);

/// Traks with work due that no other process here runs and no other machine holds, each with
/// what it looked like (tip and claim), in the order they start: priority, then age. Without a
/// `remote`, only local traks. A trak waiting for others (`--after`) to merge is not due.
fn due(
    store: &Store,
    workflow: Option<&Workflow>,
    remote: Option<&str>,
) -> Result<Vec<(Trak, String)>> {
    let mut listed = store.list()?;
    engine::dependencies::start_order(&mut listed);
    let by_id: std::collections::HashMap<&str, &Trak> =
        listed.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut due = Vec::new();
    for trak in &listed {
        if !engine::RUNNABLE.contains(&trak.state.status)
            || !engine::dependencies::waits_for(trak, &by_id).is_empty()
        {
            continue;
        }
        let claim = match (remote, workflow) {
            (Some(remote), Some(workflow)) => {
                // Another machine's trak is left to it, but for the attempts of its race that
                // no machine holds.
                if engine::claimed_elsewhere(store, workflow, remote, trak)?.is_some()
                    && !engine::race_wants_help(store, workflow, remote, trak)?
                {
                    continue;
                }
                store.claim(remote, &trak.id)?
            }
            _ if trak.location != Location::Local => continue,
            _ => None,
        };
        // A run that started here and whose process is gone was interrupted; one that started
        // elsewhere is due once no claim holds it (checked above, with the shared queue).
        let mine = trak.state.running_on.as_deref() == Some(store.machine());
        if trak.state.status == Status::Running
            && (mine || remote.is_none())
            && trak.location == Location::Local
            && !engine::is_interrupted(store, trak)
        {
            continue;
        }
        if !engine::try_run_lock(store, &trak.id).is_ok_and(|lock| lock.is_some()) {
            continue;
        }
        let seen = format!(
            "{} {}",
            trak.tip,
            claim.map(|c| c.oid.to_string()).unwrap_or_default()
        );
        due.push((trak.clone(), seen));
    }
    Ok(due)
}
