//! After a run: the stage's gate script, then its review (a human, a reviewer's verdict, or none).

use std::path::Path;

use anyhow::{Context, Result};

use super::{Engine, agent_env, ensure_worktree};
use crate::agent::Decision;
use crate::config::workflow::{Gate, Stage};
use crate::engine::config_gate::BaseConfig;
use crate::engine::process::output::{LiveBudget, keep_tail};
use crate::engine::process::sandbox::Confinement;
use crate::engine::process::{Keep, Stream, TrakCommand, run_streaming};
use crate::engine::repo_watch::RepoWatch;
use crate::store::event::{Actor, EventKind};
use crate::store::git::Oid;
use crate::store::{NOTES_REF, Trak};

impl Engine<'_> {
    /// After a run: the gate, then the review.
    pub(super) fn check(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        if let Some(gate) = stage.gate.as_ref().filter(|_| !trak.state.gate_passed) {
            return self.run_gate(trak, &stage, gate);
        }
        let event = match (&trak.state.verdict, stage.review) {
            (_, crate::config::workflow::Review::Human) => EventKind::ReviewRequested {
                stage: stage.name.clone(),
            },
            (Some(verdict), _)
                if verdict.decision == Decision::Reject
                    && trak.state.rounds.get(&stage.name).copied().unwrap_or(0)
                        >= stage.max_rounds =>
            {
                self.reporter.step(&format!(
                    "{}: the reviewer rejects again; {} round(s) is max_rounds: the trak waits: \
                     ork approve {id}  /  ork reject {id} -m \"…\"",
                    stage.name,
                    stage.max_rounds,
                    id = trak.id
                ));
                EventKind::RoundsReached {
                    stage: stage.name.clone(),
                    rounds: stage.max_rounds,
                    integration: false,
                }
            }
            (Some(verdict), _) if verdict.decision == Decision::Reject => {
                let review = self
                    .store
                    .artifacts(&trak)?
                    .into_iter()
                    .find(|(name, _)| *name == stage.artifact)
                    .map(|(_, content)| content)
                    .unwrap_or_default();
                let route_to = verdict
                    .route_to
                    .clone()
                    .filter(|r| flow.stages.iter().any(|s| s.name == *r))
                    .or_else(|| stage.on_reject.clone())
                    .unwrap_or_else(|| stage.name.clone());
                self.reporter.step(&format!(
                    "{}: the reviewer rejects; back to {route_to}",
                    stage.name
                ));
                EventKind::Rejected {
                    stage: stage.name.clone(),
                    feedback: crate::engine::process::output::keep_head(
                        &format!("The reviewer rejected the work:\n\n{review}"),
                        self.workflow.limits.feedback,
                        "The whole review is the stage's artifact.",
                    ),
                    route_to,
                    by: Actor::Reviewer,
                }
            }
            (verdict, _) => {
                let by = if verdict.is_some() {
                    Actor::Reviewer
                } else {
                    Actor::Auto
                };
                self.reporter.step(&format!("{}: approved", stage.name));
                EventKind::Approved {
                    stage: stage.name.clone(),
                    by,
                }
            }
        };
        if matches!(event, EventKind::ReviewRequested { .. }) {
            self.reporter.step(&format!(
                "{}: waiting for review: ork approve {id}  /  ork reject {id} -m \"…\"",
                stage.name,
                id = trak.id
            ));
        }
        self.store.record(&trak, event)
    }

    /// Runs the stage's gate on the commit the agent's run made, and records the result as an
    /// event and as a note on that commit.
    pub(super) fn run_gate(&mut self, trak: Trak, stage: &Stage, gate: &Gate) -> Result<Trak> {
        let worktree = ensure_worktree(self.store, &trak, self.workflow)?;
        let run = self.gate_run(&trak, stage, gate, &worktree, trak.tip, "gate")?;
        let attempt = trak.state.attempt;
        if run.passed {
            self.reporter.step(&format!("{}: gate passed", stage.name));
            return self.store.record(
                &trak,
                EventKind::GatePassed {
                    stage: stage.name.clone(),
                    attempt,
                },
            );
        }
        let retry = attempt < stage.max_attempts && !run.for_a_person;
        self.reporter.step(&format!(
            "{}: gate failed ({}); {}",
            stage.name,
            run.result,
            if retry {
                "the agent tries again with its output".to_string()
            } else if run.for_a_person {
                format!("the trak waits for a person: ork show {}", trak.id)
            } else {
                format!(
                    "{} attempts used; the trak waits: ork retry {id}  /  ork reject {id} -m \"…\"",
                    stage.max_attempts,
                    id = trak.id
                )
            }
        ));
        self.store.record(
            &trak,
            EventKind::GateFailed {
                stage: stage.name.clone(),
                attempt,
                output: format!(
                    "The gate `{}` failed ({}):\n\n{}",
                    gate.command, run.result, run.output
                ),
                retry,
            },
        )
    }

    /// Runs `gate` in `dir` (a checkout of `commit`) and notes the result on `commit` as a
    /// `kind` note (one JSON line): the gate's script comes from the main checkout.
    pub(super) fn gate_run(
        &mut self,
        trak: &Trak,
        stage: &Stage,
        gate: &Gate,
        dir: &Path,
        commit: Oid,
        kind: &str,
    ) -> Result<GateRun> {
        let command = &gate.command;
        self.reporter.step(&format!(
            "{}: {} `{command}`",
            stage.name,
            kind.replace('_', " ")
        ));
        let trusted = trusted_command(command, self.store.git().main_workdir());
        let limits = self.workflow.limits;
        let reporter = &mut *self.reporter;
        let mut run = TrakCommand::shell(&trusted, dir);
        run.envs(agent_env(trak, stage, trak.state.attempt, dir));
        // The gate runs the worktree's code: confined like the agent (docs/design.md rule 12).
        let label = super::stage::run_label(trak, &stage.name);
        let own = super::runs_dir(self.store, &trak.id).join(format!("{label}-{kind}"));
        let confinement = Confinement::new(&self.workflow.sandbox, &trak.id, dir, &own);
        run.confine(&confinement)?;
        let watch = RepoWatch::start(self.store, &confinement)?;
        let keep = Keep {
            head: 64 << 10,
            tail: 64 << 10,
            combined: limits.feedback.max(limits.note),
        };
        let mut live = LiveBudget::new(limits.feedback);
        let base_config = BaseConfig::swap_in(self.store, trak, dir)?;
        let finished = run_streaming(
            &mut run,
            None,
            gate.timeout,
            keep,
            &mut |_: Stream, line| {
                live.spend(line, |text| {
                    reporter.line(&crate::store::secrets::redact(text))
                })
            },
        )
        .with_context(|| format!("running the gate `{command}`"));
        base_config.restore(self.store, dir, commit)?;
        let tampered = watch.finish(self.store, &trak.id, &kind.replace('_', " "))?;
        let finished = finished?;
        let passed = finished.success() && tampered.is_none();
        let redact = |cap| crate::store::secrets::redact(&keep_tail(&finished.output, cap));
        let output = match &tampered {
            Some(message) => message.clone(),
            None => redact(limits.feedback),
        };
        let note = serde_json::json!({
            "kind": kind,
            "trak": trak.id,
            "stage": stage.name,
            "attempt": trak.state.attempt,
            "command": command,
            "passed": passed,
            "result": finished.describe(),
            "machine": self.store.machine(),
            "at": chrono::Utc::now(),
            "output": redact(limits.note),
        });
        self.store
            .git()
            .append_note(NOTES_REF, commit, &note.to_string())?;
        Ok(GateRun {
            passed,
            result: match tampered {
                Some(_) => "it changed the repository itself".to_string(),
                None => finished.describe(),
            },
            output,
            for_a_person: tampered.is_some(),
        })
    }
}

/// How one run of a gate went.
pub(super) struct GateRun {
    pub passed: bool,
    /// "exit code 1", "timed out after 10m".
    pub result: String,
    /// Its output (the tail of it), secrets redacted.
    pub output: String,
    /// The failure is not the agent's to mend: the trak waits for a person.
    pub for_a_person: bool,
}

/// The gate `command` with a leading script path that names a file in the main checkout
/// (`.orkestra/scripts/checks.sh`) made absolute: the gate runs in the trak's worktree, where
/// the agent could have rewritten that script, so the copy that runs is the one from the
/// checkout `ork` runs from (docs/design.md rule 8).
fn trusted_command(command: &str, main_workdir: &Path) -> String {
    let trimmed = command.trim_start();
    let first = trimmed.split_whitespace().next().unwrap_or_default();
    let script = main_workdir.join(first);
    if first.contains('/') && !first.starts_with('/') && script.is_file() {
        let quoted = script.display().to_string().replace('\'', "'\\''");
        format!("'{quoted}'{}", &trimmed[first.len()..])
    } else {
        command.to_string()
    }
}
