//! Acting from the view without waiting: a decision is recorded here (one commit), and what it
//! sets off runs in a background `ork resume`, as `--detach` does; its output is the live log
//! the detail pane shows.

use std::process::Child;

use anyhow::Result;

use ork::config::workflow::Workflow;
use ork::engine::{self, HumanDecision};
use ork::store::Store;

/// The background runs started from the view.
pub struct Background {
    running: Vec<(String, Child)>,
}

impl Background {
    pub fn new() -> Background {
        Background {
            running: Vec::new(),
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
            HumanDecision::Reject { .. } => "rejected",
            HumanDecision::Answer(_) => "answered",
            HumanDecision::Retry => "retried",
            HumanDecision::Resolve { .. } => "resolved",
            HumanDecision::Drop { .. } => "dropped",
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
        let (child, _log) = crate::cli::background::start(store, &trak, false)?;
        self.running.push((trak.id.clone(), child));
        Ok(format!(
            "{id} {what}: {} runs in the background.",
            trak.state.stage
        ))
    }

    /// Reaps the runs that ended; returns a line for each that failed.
    pub fn poll(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
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
