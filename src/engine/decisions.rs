//! A human's decisions: approve, reject, answer, retry, resolve, drop, restore.

use anyhow::{Result, bail};

use super::actions::{Action, check};
use super::try_run_lock;
use crate::config::workflow::Workflow;
use crate::store::event::{Actor, EventKind};
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// Drops a trak: records why, and removes its worktree. Refuses while an `ork` process runs
/// it, and, unless `force`, while its worktree holds uncommitted changes (they would be lost;
/// everything committed stays on the branch).
pub fn drop_trak(
    store: &Store,
    workflow: &Workflow,
    trak: &Trak,
    reason: String,
    force: bool,
) -> Result<Trak> {
    let Some(_lock) = try_run_lock(store, &trak.id)? else {
        bail!(
            "trak {} is being run by an ork process on this machine; stop it (Ctrl-C) first",
            trak.id
        );
    };
    let worktree = store.worktree_path(&trak.id);
    if worktree.exists() && !force {
        let changed = store.git().uncommitted(&worktree)?;
        if !changed.is_empty() {
            bail!(
                "the worktree of trak {} has uncommitted changes: {}.\n  Commit them there, or drop anyway: ork trak drop {} --force (which keeps them in a checkpoint, refs/ork/wip/<id>)",
                trak.id,
                changed.join(", "),
                trak.id
            );
        }
    }
    let trak = decide(store, workflow, trak, HumanDecision::Drop { reason })?;
    // Nothing unsaved goes with the folder (docs/data-model.md, "Checkpoints").
    super::checkpoints::keep_unsaved(store, &trak, &worktree).map_err(|err| {
        anyhow::anyhow!(
            "trak {} is dropped, but its worktree {} was kept: its uncommitted changes could not be saved first: {err:#}",
            trak.id,
            worktree.display()
        )
    })?;
    if worktree.exists() {
        store.git().remove_worktree(&worktree)?;
    }
    super::forget_runs(store, &trak.id);
    Ok(trak)
}

/// Records a human decision at a trak that waits for one.
pub fn decide(
    store: &Store,
    workflow: &Workflow,
    trak: &Trak,
    decision: HumanDecision,
) -> Result<Trak> {
    if let Some(refused) = inside_a_trak(Action::of(&decision)) {
        bail!(refused);
    }
    let trak = store.adopt(trak)?;
    check(&trak, Action::of(&decision))?;
    // A race whose attempts wait for a person: the approval is the pick of its winner.
    match decision {
        HumanDecision::Pick(no) => {
            return super::race::pick_by_person(store, workflow, &trak, Some(no));
        }
        HumanDecision::Approve if super::race::waits_for_pick(&trak) => {
            return super::race::pick_by_person(store, workflow, &trak, None);
        }
        _ => {}
    }
    let state = &trak.state;
    let stage = state.stage.clone();
    let event = match decision {
        HumanDecision::Pick(_) => unreachable!("handled above"),
        HumanDecision::Approve => EventKind::Approved {
            stage,
            by: Actor::Human,
        },
        HumanDecision::RaiseBudget(budget) => EventKind::BudgetSet {
            stage: state.budget_reached.clone().filter(|s| !s.is_empty()),
            budget,
        },
        HumanDecision::ApproveConfig => {
            let changes = super::config_gate::config_changes(store, &trak)?;
            if changes.is_empty() {
                bail!(
                    "trak {} changes nothing under .orkestra/: there is no configuration change to approve",
                    trak.id
                );
            }
            EventKind::ConfigApproved { changes }
        }
        HumanDecision::Reject { feedback, route_to } => {
            // By default a rejection goes where the stage's `on_reject` says, else back to it.
            let route_to = route_to
                .or_else(|| {
                    workflow
                        .recorded_stage(&state.flow, &stage)
                        .ok()
                        .and_then(|s| s.on_reject.clone())
                })
                .unwrap_or_else(|| stage.clone());
            if !state.stages.contains(&route_to) {
                bail!(
                    "trak {} has no stage \"{route_to}\"; its stages are {}",
                    trak.id,
                    state.stages.join(", ")
                );
            }
            EventKind::Rejected {
                stage,
                feedback: crate::engine::process::output::keep_head(
                    &feedback,
                    workflow.limits.feedback,
                    "Give shorter feedback: it is cut at the [limits] feedback size.",
                ),
                route_to,
                by: Actor::Human,
            }
        }
        HumanDecision::Answer(answer) => EventKind::Answered { stage, answer },
        HumanDecision::Retry { allow_secrets } => EventKind::Retried {
            stage,
            allow_secrets,
        },
        HumanDecision::Resolve { keep } => resolution(store, &trak, &keep)?,
        HumanDecision::Drop { reason } => EventKind::Dropped { reason },
        // The unsaved changes the drop kept, named in the record (`git log` tells of them).
        HumanDecision::Restore => EventKind::Restored {
            files: store
                .checkpoint_of(&trak)?
                .map(|(_, files)| files)
                .unwrap_or_default(),
        },
    };
    let rejects_subtraks =
        state.status == Status::Subtraks && matches!(event, EventKind::Rejected { .. });
    let trak = if workflow.trust.sign {
        store.record_signed(&trak, event, &store.git().signing_key()?)?
    } else {
        store.record(&trak, event)?
    };
    if trak.state.status == Status::Subtraks {
        // Approving a breakdown makes its subtraks (running them is the caller's to do).
        super::subtraks::create_subtraks(store, workflow, &trak)?;
    } else if rejects_subtraks {
        // The breakdown runs again: the parts it made are open work nobody waits on.
        super::subtraks::drop_open_subtraks(store, &trak, "the parent's breakdown was rejected")?;
    }
    Ok(trak)
}

/// The variable ork sets in every agent's and gate's environment (`agent_env`), naming the trak
/// the process runs for.
pub const INSIDE_TRAK_VAR: &str = "ORK_TRAK";

/// Why `action` is refused here, when this process runs inside a trak's run (an agent, or
/// whatever it started: an `ork mcp` its CLI launched): a human decision is made only by a
/// person (docs/design.md rule 12), whatever the configuration says. `None` outside a run.
///
/// This stops an agent that uses ork the ordinary way, or clears `ORK_TRAK` from what it runs
/// ([`running_inside`] asks the ancestors too); one that leaves its process tree is stopped by
/// `[trust] verify` (signed decisions) instead.
pub fn inside_a_trak(action: Action) -> Option<String> {
    let trak = running_inside()?;
    let verb = match action {
        Action::ApproveConfig | Action::RaiseBudget => "approve",
        other => other.name(),
    };
    Some(format!(
        "decisions are a person's: an agent running inside trak {trak} cannot {verb} any trak.\n  \
         Nothing was recorded. A person decides at ork's prompt (`ork {verb} …`) or in `ork ui`."
    ))
}

/// The trak whose run this process is part of, if any: what [`INSIDE_TRAK_VAR`] names, here or
/// in a process this one descends from.
pub fn running_inside() -> Option<String> {
    std::env::var(INSIDE_TRAK_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or_else(inside_by_ancestors)
}

/// How many processes up [`inside_by_ancestors`] looks.
const ANCESTORS: usize = 64;

/// [`INSIDE_TRAK_VAR`] in the environment an ancestor of this process was started with (Linux:
/// `/proc/<pid>/environ`). A client may start its MCP servers with an environment of its own
/// (Codex keeps a few variables, `ORK_TRAK` not among them), and a shell command may clear it
/// (`env -i ork approve …`); the agent's CLI that ork started still holds it, and a process
/// cannot change what its parent was started with.
fn inside_by_ancestors() -> Option<String> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..ANCESTORS {
        if pid <= 1 {
            return None;
        }
        if let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) {
            let prefix = format!("{INSIDE_TRAK_VAR}=");
            let found = environ
                .split(|byte| *byte == 0)
                .find_map(|var| var.strip_prefix(prefix.as_bytes()))
                .map(|value| String::from_utf8_lossy(value).trim().to_string())
                .filter(|value| !value.is_empty());
            if found.is_some() {
                return found;
            }
        }
        pid = parent_of(pid)?;
    }
    None
}

/// The parent of process `pid`: the field after the command name in `/proc/<pid>/stat` (the
/// name is in parentheses and may hold any character, so it is read after the last `)`).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The `resolved` event that keeps the conflicting event `keep` names (an event id prefix or
/// an event type such as `approved`) and sets the others aside.
fn resolution(store: &Store, trak: &Trak, keep: &str) -> Result<EventKind> {
    let events = store.events(trak)?;
    let conflicting: Vec<_> = events
        .iter()
        .filter(|e| trak.state.conflicting_events.contains(&e.id))
        .collect();
    let matches: Vec<_> = conflicting
        .iter()
        .filter(|e| e.id.starts_with(keep) || e.kind.name() == keep)
        .collect();
    let [chosen] = matches.as_slice() else {
        bail!(
            "say which of the conflicting events stands (by type or id):\n  {}",
            conflicting
                .iter()
                .map(|e| format!(
                    "{}  {} on {}: {}",
                    e.id,
                    e.kind.name(),
                    e.machine,
                    e.kind.summary()
                ))
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    };
    Ok(EventKind::Resolved {
        chosen: chosen.id.clone(),
        dropped: conflicting
            .iter()
            .filter(|e| e.id != chosen.id)
            .map(|e| e.id.clone())
            .collect(),
    })
}

/// What a human decided.
pub enum HumanDecision {
    Approve,
    /// Approve a race by picking its winner: attempt `K` (`ork approve --pick K`).
    Pick(u32),
    /// Approve the trak's change to ork's own configuration as it is now (docs/design.md
    /// rule 12); it integrates.
    ApproveConfig,
    /// Set the budget the trak waits at (else the trak's own) to this; it goes on.
    RaiseBudget(crate::store::event::Budget),
    Reject {
        feedback: String,
        /// The stage to send the work back to; by default the stage's `on_reject`, else the
        /// current one.
        route_to: Option<String>,
    },
    Answer(String),
    /// Run the failed stage again; with `allow_secrets`, the known secrets its change adds are
    /// committed (the human looked at them).
    Retry {
        allow_secrets: bool,
    },
    /// Settle a conflict between two machines' transitions, keeping the one `keep` names.
    Resolve {
        keep: String,
    },
    /// Give the trak up: it will not be merged.
    Drop {
        reason: String,
    },
    /// Bring a dropped trak back where it stood (`restore_trak` also makes its worktree
    /// again with what its checkpoint kept).
    Restore,
}
