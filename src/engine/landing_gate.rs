//! A base that stays green: before the base branch moves (or a pull request is pushed), the
//! flow's gate runs once more on the code that will actually land — the trak merged with the
//! base's current tip — in a scratch worktree. A clean merge can still break: the base may have
//! moved on in a way the trak's tests do not survive.

use anyhow::Result;

use super::Engine;
use crate::config::workflow::Flow;
use crate::store::Trak;
use crate::store::event::EventKind;
use crate::store::git::Oid;

impl Engine<'_> {
    /// Runs the flow's landing gate on `candidate` (the merge of the trak with `base`'s tip,
    /// not yet on any branch) and notes the result on it. `None` when it passed or there is no
    /// gate to run; otherwise the trak, sent back to `on_conflict` with the gate's output.
    pub(super) fn landing_gate(
        &mut self,
        trak: &Trak,
        flow: &Flow,
        candidate: Oid,
        base: &str,
    ) -> Result<Option<Trak>> {
        let Some((stage, gate)) = flow.landing_gate() else {
            return Ok(None);
        };
        let git = self.store.git();
        let scratch = git.runtime_dir().join("landing").join(&trak.id);
        // A scratch worktree a crash left behind is made again.
        if scratch.exists() {
            let _ = git.remove_scratch_worktree(&scratch);
            let _ = std::fs::remove_dir_all(&scratch);
            git.prune_worktrees()?;
        }
        git.add_scratch_worktree(&scratch, candidate)?;
        let run = self.gate_run(trak, stage, gate, &scratch, candidate, "landing_gate");
        if let Err(err) = self.store.git().remove_scratch_worktree(&scratch) {
            self.reporter.warning(&format!(
                "could not remove the scratch worktree {}: {err:#}",
                scratch.display()
            ));
        }
        let run = run?;
        if run.passed {
            self.reporter
                .step(&format!("landing gate passed on the merge with {base}"));
            return Ok(None);
        }
        if run.for_a_person {
            self.reporter
                .step(&format!("landing gate: {}; the trak waits", run.result));
            let trak = self
                .store
                .record(trak, EventKind::IntegrationBlocked { reason: run.output })?;
            return Ok(Some(trak));
        }
        let why = format!(
            "the merge with {base} fails the gate ({}); {base} stays where it is",
            run.result
        );
        if let Some(trak) = self.stop_sending_back(trak, flow, &why)? {
            return Ok(Some(trak));
        }
        let route_to = flow.on_conflict.clone();
        self.reporter.step(&format!("{why}; back to {route_to}"));
        let feedback = format!(
            "This branch merges cleanly into {base}'s current tip, but the result fails the gate `{}` ({}):\n\n{}\n\n\
             {base} has moved on since this branch took it in; ork has merged it into this \
             branch in your worktree. Make the gate pass on the result and leave the changes \
             for ork to commit.",
            gate.command, run.result, run.output
        );
        let trak = self.store.record(
            trak,
            EventKind::LandingGateFailed {
                stage: trak.state.stage.clone(),
                feedback,
                route_to,
            },
        )?;
        Ok(Some(trak))
    }
}
