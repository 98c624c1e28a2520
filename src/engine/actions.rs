//! The one table of what may be done to a trak now: for every action a person (or a front end
//! acting for one) can take, the statuses it is allowed in, the words of a refusal, and what
//! happens after it. The commands, `ork ui`'s keys and footer, and the hints of
//! [`next_step`](super::next_step) all ask here, so a refused action reads the same wherever it
//! was tried; `docs/cli.md` carries the table as [`markdown_table`] prints it (a test keeps the
//! two in step).
//!
//! What runs after an action that is not the action itself lives here too: a finished subtrak
//! waking its parent ([`Engine::continue_parent`]), and the pull requests read again after a
//! sync ([`after_sync`]), so a front end never has to copy them.

use std::fmt;

use anyhow::Result;

use super::{Engine, HumanDecision, RUNNABLE, next_step};
use crate::config::workflow::Workflow;
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// Something a person can do to a trak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Approve,
    ApproveConfig,
    RaiseBudget,
    Reject,
    Answer,
    Retry,
    Resolve,
    Drop,
    Restore,
    Resume,
    Integrate,
}

/// Every status a trak can be in that is not finished: a drop is allowed in all of them.
const OPEN: [Status; 10] = [
    Status::Queued,
    Status::Running,
    Status::Checking,
    Status::AwaitingReview,
    Status::AwaitingAnswer,
    Status::Failed,
    Status::Integrating,
    Status::InReview,
    Status::Subtraks,
    Status::Conflict,
];

impl Action {
    /// Every action, in the order the table lists them.
    pub const ALL: [Action; 11] = [
        Action::Approve,
        Action::ApproveConfig,
        Action::RaiseBudget,
        Action::Reject,
        Action::Answer,
        Action::Retry,
        Action::Resolve,
        Action::Drop,
        Action::Restore,
        Action::Resume,
        Action::Integrate,
    ];

    /// The action's name, which is also its command: `ork approve`, `ork trak drop`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::ApproveConfig => "approve --config",
            Action::RaiseBudget => "approve --budget",
            Action::Reject => "reject",
            Action::Answer => "answer",
            Action::Retry => "retry",
            Action::Resolve => "resolve",
            Action::Drop => "drop",
            Action::Restore => "restore",
            Action::Resume => "resume",
            Action::Integrate => "integrate",
        }
    }

    /// The statuses the action is allowed in.
    pub fn allowed_in(self) -> &'static [Status] {
        match self {
            Action::Approve => &[Status::AwaitingReview, Status::Failed],
            // Where a change to `.orkestra/` waits (docs/design.md rule 12).
            Action::ApproveConfig => &[Status::Integrating],
            // A budget can be set or raised while the trak is not finished.
            Action::RaiseBudget => &OPEN,
            // A breakdown waiting on its subtraks can still be sent back.
            Action::Reject => &[
                Status::AwaitingReview,
                Status::Failed,
                Status::AwaitingAnswer,
                Status::Subtraks,
            ],
            Action::Answer => &[Status::AwaitingAnswer],
            Action::Retry => &[Status::Failed],
            Action::Resolve => &[Status::Conflict],
            Action::Drop => &OPEN,
            Action::Restore => &[Status::Dropped],
            Action::Resume => &RUNNABLE,
            Action::Integrate => &[Status::Integrating],
        }
    }

    /// What happens after the action, in one sentence.
    pub fn then(self) -> &'static str {
        match self {
            Action::Approve => {
                "The next stage runs; after the last, the trak merges into its base (or opens its pull request). An approved breakdown makes its subtraks and runs them."
            }
            Action::Reject => {
                "The stage (or the one `--to` or the stage's `on_reject` names) runs again with the feedback. A rejected breakdown drops the subtraks still open."
            }
            Action::ApproveConfig => {
                "The trak's change to .orkestra/ is approved as it is now; the trak integrates. A later change to those files waits again."
            }
            Action::RaiseBudget => {
                "The budget the trak stopped at (else the trak's own) is set to the new amount; a trak that waited at it goes on, resuming the agent's session."
            }
            Action::Answer => "The stage runs again with the answer.",
            Action::Retry => "The failed stage runs again.",
            Action::Resolve => {
                "The decision kept stands, the other is set aside; the trak goes on from it."
            }
            Action::Drop => {
                "The trak will not be merged: its worktree is removed (uncommitted changes kept in its checkpoint), its branch keeps its history. A parent waiting on it goes on without it."
            }
            Action::Restore => {
                "The trak stands where it stood before the drop (a run cut off by it is queued again); its worktree is made again, with the unsaved changes its checkpoint kept."
            }
            Action::Resume => {
                "What is due runs (a stage, a gate, a merge, a pull request read again) until a person is needed. A finished subtrak that was the last its parent waited on wakes the parent. A race another machine drives: the attempts no machine holds run here."
            }
            Action::Integrate => {
                "The trak merges into its base (landed on the remote's base first where it is shared)."
            }
        }
    }

    /// The action a decision is.
    pub fn of(decision: &HumanDecision) -> Action {
        match decision {
            HumanDecision::Approve | HumanDecision::Pick(_) => Action::Approve,
            HumanDecision::ApproveConfig => Action::ApproveConfig,
            HumanDecision::RaiseBudget(_) => Action::RaiseBudget,
            HumanDecision::Reject { .. } => Action::Reject,
            HumanDecision::Answer(_) => Action::Answer,
            HumanDecision::Retry { .. } => Action::Retry,
            HumanDecision::Resolve { .. } => Action::Resolve,
            HumanDecision::Drop { .. } => Action::Drop,
            HumanDecision::Restore => Action::Restore,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An action refused in the trak's current status: what was tried, where the trak is, and
/// what can be done instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub action: Action,
    pub trak: String,
    pub status: Status,
    pub stage: String,
    /// What the trak does allow, as [`next_step`] says it.
    pub instead: String,
}

impl Refused {
    /// The refusal's first line, for a front end with room for one.
    pub fn headline(&self) -> String {
        if self.status.is_finished() {
            format!(
                "cannot {} trak {}: it is already {}",
                self.action,
                self.trak,
                self.status.as_str()
            )
        } else {
            format!(
                "cannot {} trak {}: it is {} at {}",
                self.action,
                self.trak,
                self.status.as_str(),
                self.stage
            )
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.\n  {}", self.headline(), self.instead)
    }
}

impl std::error::Error for Refused {}

/// Whether `action` may be done to `trak` now; if not, why not and what may be done instead.
pub fn check(trak: &Trak, action: Action) -> Result<(), Refused> {
    if action.allowed_in().contains(&trak.state.status) {
        return Ok(());
    }
    Err(Refused {
        action,
        trak: trak.id.clone(),
        status: trak.state.status,
        stage: trak.state.stage.clone(),
        instead: next_step(trak),
    })
}

/// The actions `trak` allows now, in the table's order.
pub fn allowed(trak: &Trak) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| a.allowed_in().contains(&trak.state.status))
        .collect()
}

/// The table as `docs/cli.md` carries it.
pub fn markdown_table() -> String {
    let mut table =
        String::from("| action | allowed when the trak is | then |\n| --- | --- | --- |\n");
    for action in Action::ALL {
        let statuses: Vec<String> = action
            .allowed_in()
            .iter()
            .map(|s| format!("`{}`", s.as_str()))
            .collect();
        table.push_str(&format!(
            "| `ork {}` | {} | {} |\n",
            command_of(action),
            statuses.join(", "),
            action.then()
        ));
    }
    table
}

/// The command line of an action, without the trak's id.
fn command_of(action: Action) -> String {
    match action {
        Action::Drop => "trak drop".to_string(),
        Action::Restore => "trak restore".to_string(),
        other => other.name().to_string(),
    }
}

/// What a finished subtrak set off in its parent.
pub enum Continuation {
    /// Not a subtrak, not finished, or its parent does not wait on subtraks.
    Nothing,
    /// The parent still waits on `open` other subtraks (run by whoever runs them: another
    /// machine may).
    ParentWaits { parent: Trak, open: usize },
    /// It was the last: the parent was driven on, to where it stopped.
    ParentDriven(Trak),
}

impl Engine<'_> {
    /// After `trak` was driven: if it is a finished subtrak and was the last its parent waited
    /// on, drives the parent on. Its other subtraks are not started from here.
    pub fn continue_parent(&mut self, trak: &Trak) -> Result<Continuation> {
        let Some(parent) = trak
            .state
            .parent
            .as_deref()
            .filter(|_| trak.state.status.is_finished())
        else {
            return Ok(Continuation::Nothing);
        };
        let Ok(parent) = self.store.load(parent) else {
            return Ok(Continuation::Nothing);
        };
        if parent.state.status != Status::Subtraks {
            return Ok(Continuation::Nothing);
        }
        let subtraks = super::subtraks::subtraks_of(self.store, &parent)?;
        let (done, all) = super::subtraks::progress(&subtraks);
        if done < all {
            return Ok(Continuation::ParentWaits {
                parent,
                open: all - done,
            });
        }
        Ok(Continuation::ParentDriven(self.drive(parent)?))
    }
}

/// What a sync calls for here: every local trak in review (a `pr` flow) has its pull request
/// read again, since it may have been reviewed, merged or closed meanwhile. Returns the traks
/// read, as they stopped.
pub fn after_sync(
    store: &Store,
    workflow: &Workflow,
    reporter: &mut dyn super::Reporter,
) -> Result<Vec<Trak>> {
    let in_review: Vec<Trak> = store
        .list_local()?
        .into_iter()
        .filter(|t| t.state.status == Status::InReview)
        .collect();
    let mut engine = Engine {
        store,
        workflow,
        reporter,
        take_over: false,
        race_spend: None,
    };
    in_review.into_iter().map(|t| engine.drive(t)).collect()
}

/// With `[sync] auto = true`, what a command recorded without a drive (which shares each
/// transition itself) is shared: the sync with the only remote, or `origin`. Returns the remote
/// and what the sync did.
pub fn share_recorded(store: &Store) -> Result<(String, crate::sync::SyncReport)> {
    let remote = crate::sync::pick_remote(store.git(), None)?;
    let report = crate::sync::sync(store, &remote)?;
    Ok((remote, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::trak as at;

    /// Every `ork <action> <id>` a hint offers is allowed in the status it is offered in.
    #[test]
    fn next_steps_offer_only_allowed_actions() {
        for status in OPEN.into_iter().chain([Status::Done, Status::Dropped]) {
            let trak = at("t-1", None, status, "work");
            let hint = next_step(&trak);
            for action in Action::ALL {
                let offered = hint.contains(&format!("ork {} t-1", command_of(action)));
                assert!(
                    !offered || action.allowed_in().contains(&status),
                    "at {status:?} the hint offers `{action}`, which the table refuses: {hint}"
                );
            }
            let offers_any = Action::ALL
                .iter()
                .any(|a| hint.contains(&format!("ork {} t-1", command_of(*a))));
            assert_eq!(
                offers_any,
                status != Status::Running && status != Status::Done,
                "at {status:?}: {hint}"
            );
        }
    }

    #[test]
    fn a_refusal_says_where_the_trak_is_and_what_it_allows() {
        let trak = at("t-1", None, Status::Running, "work");
        let refused = check(&trak, Action::Approve).unwrap_err();
        assert_eq!(
            refused.headline(),
            "cannot approve trak t-1: it is running at work"
        );
        assert!(refused.to_string().ends_with(&next_step(&trak)));
        let done = at("t-1", None, Status::Done, "work");
        assert_eq!(
            check(&done, Action::Drop).unwrap_err().headline(),
            "cannot drop trak t-1: it is already done"
        );
        assert!(check(&trak, Action::Drop).is_ok());
    }

    #[test]
    fn a_decision_is_allowed_where_its_action_is() {
        let failed = at("t-1", None, Status::Failed, "work");
        assert_eq!(
            allowed(&failed),
            [
                Action::Approve,
                Action::RaiseBudget,
                Action::Reject,
                Action::Retry,
                Action::Drop
            ]
        );
    }
}
