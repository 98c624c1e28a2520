//! Acting from the view without waiting: a decision is recorded here (one commit), and what it
//! sets off runs in a background `ork resume`, as `--detach` does; its output is the live log
//! the detail pane shows.

use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Result;

use ork::config::workflow::Workflow;
use ork::engine::{self, HumanDecision};
use ork::store::Store;

/// How long a decided trak waits for the process that still holds its run lock (a run that
/// just stopped at a human takes a moment to exit) before the view gives up starting it.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The background runs started from the view.
pub struct Background {
    running: Vec<(String, Child)>,
    /// Decided traks whose run waits for another process to let go of their run lock.
    pending: Vec<(String, Instant)>,
}

impl Background {
    pub fn new() -> Background {
        Background {
            running: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Records `decision` on trak `id`, then starts its run in the background. Returns a line
    /// saying what happened.
    pub fn decide(
        &mut self,
        store: &Store,
        workflow: &Workflow,
        id: &str,
        decision: HumanDecision,
    ) -> Result<String> {
        let what = match &decision {
            HumanDecision::Approve => "approved",
            HumanDecision::Pick(_) => "picked",
            HumanDecision::ApproveConfig => "configuration change approved",
            HumanDecision::RaiseBudget(_) => "budget raised",
            HumanDecision::Reject { .. } => "rejected",
            HumanDecision::Answer(_) => "answered",
            HumanDecision::Retry { .. } => "retried",
            HumanDecision::Resolve { .. } => "resolved",
            HumanDecision::Drop { .. } => "dropped",
            HumanDecision::Restore => "restored",
        };
        let trak = store.load(id)?;
        let trak = engine::decide(store, workflow, &trak, decision)?;
        if !engine::RUNNABLE.contains(&trak.state.status) {
            return Ok(format!(
                "{id} {what}: {} at {}.",
                trak.state.status.as_str(),
                trak.state.stage
            ));
        }
        self.pending.push((trak.id.clone(), Instant::now()));
        let mut said = self.start_pending(store);
        Ok(said.pop().unwrap_or_else(|| {
            format!("{id} {what}: {} runs in the background.", trak.state.stage)
        }))
    }

    /// Starts the decided traks whose run lock is free; returns a line for each that could not
    /// start.
    fn start_pending(&mut self, store: &Store) -> Vec<String> {
        let mut said = Vec::new();
        self.pending.retain(|(id, since)| {
            match engine::try_run_lock(store, id) {
                // Free: let go of it at once, for the run to take.
                Ok(Some(lock)) => drop(lock),
                Ok(None) if since.elapsed() < LOCK_WAIT => return true,
                Ok(None) => {
                    said.push(format!(
                        "{id}: another ork process still runs it; its next stage was not started here."
                    ));
                    return false;
                }
                Err(err) => {
                    said.push(format!("{id}: {err:#}"));
                    return false;
                }
            }
            match store
                .load(id)
                .and_then(|trak| crate::cli::background::start(store, &trak, false))
            {
                Ok((child, _log)) => self.running.push((id.clone(), child)),
                Err(err) => said.push(format!("{id}: the background run did not start: {err:#}")),
            }
            false
        });
        said
    }

    /// Starts what waited for a lock, and reaps the runs that ended; returns a line for each
    /// that failed.
    pub fn poll(&mut self, store: &Store) -> Vec<String> {
        let mut failures = self.start_pending(store);
        self.running
            .retain_mut(|(id, child)| match child.try_wait() {
                Ok(Some(status)) => {
                    if !status.success() {
                        failures.push(format!(
                            "The background run of {id} ended: {status} (l shows its log)."
                        ));
                    }
                    false
                }
                _ => true,
            });
        failures
    }
}
