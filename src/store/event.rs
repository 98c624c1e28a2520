//! Events: the only facts ork records about a trak.
//!
//! Each event is one JSON file under `.orkestra/traks/<id>/events/`, named
//! `<time>-<machine>-<random>.json`. Files never change once written, so two machines' events
//! join in a git merge as a plain union of files. Everything else (current stage, status) is a
//! fold of the events, see [`crate::store::state`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// One question for the human, with the options the agent sees (may be empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub question: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// Tokens and cost of one run, as the agent reported them (zero when it reports nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cost_usd: f64,
}

impl Usage {
    /// Adds `other` to this usage.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cost_usd += other.cost_usd;
    }
}

/// What a trak, or one of its stages, may spend (docs/design.md rule 13); `None`: no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl Budget {
    /// Whether `spent` reaches this budget.
    pub fn reached_by(&self, spent: &Usage) -> bool {
        self.usd.is_some_and(|usd| spent.cost_usd >= usd)
            || self
                .tokens
                .is_some_and(|tokens| spent.input_tokens + spent.output_tokens >= tokens)
    }

    /// "$5.00", "200000 tokens", "$5.00 or 200000 tokens".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            self.usd.map(|usd| format!("${usd:.2}")),
            self.tokens.map(|t| format!("{t} tokens")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "no cap".to_string()
        } else {
            parts.join(" or ")
        }
    }
}

/// One part of a breakdown: what a subtrak is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The part's name in the breakdown, unique there: `db`, `ui-login`.
    pub key: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Keys of the parts that must be merged before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// A file outside a trak's worktree (in the main checkout, or in another trak's worktree) that
/// changed while the trak's agent ran. ork names it and leaves it as it is: it is the user's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideChange {
    /// The trak whose worktree holds the file; `None` for the main checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trak: Option<String>,
    /// The file, relative to that checkout (to `$HOME` when `home`).
    pub path: String,
    pub change: FileChange,
    /// In the user's home folder, not a checkout: what ork reads there where the sandbox is
    /// not enforced (docs/security.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub home: bool,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    New,
    Modified,
    Deleted,
}

impl OutsideChange {
    /// "x (new, main checkout)", "src/lib.rs (modified, trak fix-bug-k3f9)".
    pub fn describe(&self) -> String {
        let change = match self.change {
            FileChange::New => "new",
            FileChange::Modified => "modified",
            FileChange::Deleted => "deleted",
        };
        if self.home {
            return format!("~/{} ({change}, your home)", self.path);
        }
        match &self.trak {
            None => format!("{} ({change}, main checkout)", self.path),
            Some(id) => format!("{} ({change}, trak {id})", self.path),
        }
    }
}

/// The schema version written into every new event.
pub const EVENT_VERSION: u32 = 1;

/// One recorded fact about a trak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version of this event.
    pub v: u32,
    /// Unique id, also the file's stem: sorts by time first.
    pub id: String,
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// The machine that recorded it.
    pub machine: String,
    /// The newest event the writer had seen: two events with the same `prev` were made from the
    /// same state, which is how diverged histories are told apart from sequential ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The trak was created; it waits at the first of `stages`.
    Created {
        title: String,
        flow: String,
        base: String,
        stages: Vec<String>,
        /// For a subtrak: the trak whose breakdown made it (its base is that trak's branch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        /// For a subtrak: its part's key in the parent's breakdown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// The traks that must be merged before this one starts (`ork trak new --after`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        after: Vec<String>,
        /// 1 (first) to 5 (last); `ork run` takes due traks by priority, then age.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
        /// Where the work came in from: a GitHub issue, another tracker's task (`[intake]`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<Source>,
        /// The agent every stage runs with, over the stages' own (an issue's `agent:<name>`
        /// label).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        /// For a trak an agent created from inside another trak's run (its stage's `spawn`):
        /// that trak's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spawned_by: Option<String>,
    },
    /// An agent started on a stage.
    StageStarted {
        stage: String,
        attempt: u32,
        agent: String,
    },
    /// An agent's run ended. Its commit also holds the agent's file changes and the artifact.
    StageFinished {
        stage: String,
        attempt: u32,
        outcome: Outcome,
        /// For a failed run: why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// For a failed run: whether the stage runs again (attempts remain).
        #[serde(default)]
        retry: bool,
        /// For a verdict: the reviewer's decision and where a rejection sends the work.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<Decision>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route_to: Option<String>,
        /// For questions: what the agent asks.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        questions: Vec<Question>,
        /// The agent's session, to resume on the next attempt of this stage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(default)]
        usage: Usage,
        /// For a breakdown stage's artifact: the parts it proposes (valid, two or more make
        /// subtraks once approved).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        subtraks: Vec<Part>,
        /// Files outside the trak's worktree that changed during the run (left as they are).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        outside_changes: Vec<OutsideChange>,
    },
    /// The stage's gate script passed.
    GatePassed { stage: String, attempt: u32 },
    /// The stage's gate script failed; `output` goes back to the agent if `retry`.
    GateFailed {
        stage: String,
        attempt: u32,
        output: String,
        retry: bool,
    },
    /// The stage's result waits for `ork approve` or `ork reject`.
    ReviewRequested { stage: String },
    /// A person set what the trak (`stage: None`) or one stage may spend: at creation
    /// (`ork trak new --budget`), or raising a budget the trak reached (`ork approve --budget`).
    BudgetSet {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        budget: Budget,
    },
    /// A run was stopped (or not started) because the trak (`scope: None`) or its stage had
    /// spent `spent` of `limit`: the trak waits for a person (docs/design.md rule 13). `usage`
    /// is what the stopped run spent, `session_id` the session to resume.
    BudgetReached {
        stage: String,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// The ancestor whose budget (over its whole tree) this subtrak's run crossed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        spent: Usage,
        limit: Budget,
        #[serde(default)]
        usage: Usage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// The budget of `parent`, at which this subtrak stopped, was raised (recorded by the engine
    /// once the parent's cap no longer holds): the subtrak goes on.
    ParentBudgetRaised { parent: String },
    /// The stage's reviewer rejected once more than its `max_rounds` allows (`rounds` times
    /// so far): the trak waits for a person with the last verdict (docs/design.md rule 13).
    /// With `integration`: the merge into the base sent the trak back (a conflict, a failing
    /// landing gate) as many times as the flow's `max_rounds` allows.
    RoundsReached {
        stage: String,
        rounds: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        integration: bool,
    },
    /// The stage was approved (by a human, a reviewer agent, or automatically): the trak moves
    /// to the next stage, or to integration after the last.
    Approved {
        stage: String,
        #[serde(default)]
        by: Actor,
    },
    /// The stage was rejected: the trak goes back to `route_to` with `feedback`.
    Rejected {
        stage: String,
        feedback: String,
        route_to: String,
        #[serde(default)]
        by: Actor,
    },
    /// A human answered the agent's questions; the stage runs again with the answer.
    Answered { stage: String, answer: String },
    /// A human asked for a failed stage to run again.
    Retried {
        stage: String,
        /// The human allowed the known secrets the stage's change adds: they are committed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        allow_secrets: bool,
    },
    /// A human settled a conflict: `chosen` stands, `dropped` (made from the same state on
    /// another machine) and everything that followed them no longer count. They stay in the
    /// history.
    Resolved {
        chosen: String,
        dropped: Vec<String>,
    },
    /// The merge into the base branch could not be done safely; `ork integrate` retries.
    IntegrationBlocked { reason: String },
    /// A human approved the change the trak makes to ork's own configuration, `changes` (each
    /// "path blob" under `.orkestra/`, as [`crate::store::Store::config_changes`] lists them;
    /// docs/design.md rule 12): it may integrate while they stay so.
    ConfigApproved { changes: Vec<String> },
    /// Another trak's run (`by`, as "work run of X") wrote `files` into this trak's worktree
    /// (docs/design.md rule 12): the trak's next run waits until a person has looked.
    Planted { by: String, files: Vec<String> },
    /// A human dropped the trak: it will not be merged. Its branch and history stay.
    Dropped { reason: String },
    /// A human brought a dropped trak back (`ork trak restore`): it stands where it stood
    /// before the drop, and `files`, the unsaved changes its checkpoint kept, are back in its
    /// worktree.
    Restored {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
    },
    /// The trak's branch was merged into its base as `commit`.
    Integrated {
        base: String,
        #[serde(default)]
        commit: String,
    },
    /// A branch holding only the trak's code was pushed and a pull request opened for it; the
    /// trak waits in review.
    PrOpened {
        number: u64,
        url: String,
        /// The pushed branch (without `refs/heads/`).
        branch: String,
        /// The commit pushed as the branch's head.
        head: String,
    },
    /// A later round's code was pushed to the pull request's branch (new commits, never forced).
    PrPushed { head: String },
    /// The pull request asks for changes (reviews, comments, failing checks): the trak goes back
    /// to `route_to` with `feedback`.
    PrChangesRequested {
        stage: String,
        feedback: String,
        route_to: String,
    },
    /// The pull request waits for a human (closed unmerged, out of rounds, merged by hand).
    PrWaiting { reason: String },
    /// The trak merged with its base's tip failed the gate: back to `route_to` with the output.
    LandingGateFailed {
        stage: String,
        feedback: String,
        route_to: String,
    },
    /// Every subtrak of the approved breakdown at `stage` is merged into this trak's branch
    /// (or was dropped): the trak goes on past `stage`.
    SubtraksJoined {
        stage: String,
        /// The subtraks merged, and those dropped (the next stage is told), by id.
        #[serde(default)]
        merged: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dropped: Vec<String>,
    },
    /// `branch` (the parent's, for a subtrak whose dependencies just merged there) was merged
    /// into this trak's branch at `commit`, so the work starts from what they built.
    BaseMerged { branch: String, commit: String },
    /// A person's note to the trak's agents (`ork note`): it goes into the next run's prompt.
    Noted { text: String },
    /// The tracker's task was edited: `text` is the trak's description from now on.
    Described { text: String },
    /// A command in a tracker comment (`/ork approve` on the issue) was read: it is acted on
    /// once, on whichever machine reads it first, and never again (nor when edited).
    CommentRead {
        /// The tracker's id of the comment.
        comment: String,
        author: String,
        command: String,
        /// Whether it was acted on; `false` when its author may not decide.
        acted: bool,
    },
    /// The stage races: each of `attempts` runs in a worktree of its own on the ref
    /// `refs/ork/race/<id>/<stage>/<no>`, all started at the commit `from`.
    RaceStarted {
        stage: String,
        from: String,
        attempts: Vec<Racer>,
    },
    /// One attempt of a race is over: through the stage's gate, or out of attempts. `tip` is
    /// its ref's commit, `usage` what all its runs spent, `runs` how many there were.
    RaceAttemptFinished {
        stage: String,
        no: u32,
        agent: String,
        gate: RaceGate,
        tip: String,
        #[serde(default)]
        usage: Usage,
        #[serde(default)]
        runs: u32,
        /// Why it did not pass.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The machine its last run was on (with the shared queue, attempts run where they
        /// were claimed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ran_on: Option<String>,
    },
    /// The attempts that passed wait for a person to pick one (`ork approve <id> --pick K`):
    /// `reason` says why (the stage's review is a person's, or the judge could not pick).
    /// `usage` is what the judge spent, when it ran and could not pick.
    RacePickRequested {
        stage: String,
        reason: String,
        #[serde(default)]
        usage: Usage,
    },
    /// Attempt `winner` of the race won: its files are the stage's result on the trak's branch
    /// (the commit of this event). `usage` is the judge's, `session_id` the winner's session.
    RacePicked {
        stage: String,
        winner: u32,
        agent: String,
        by: Picker,
        #[serde(default)]
        reason: String,
        #[serde(default)]
        usage: Usage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// An event type written by a newer ork: kept, shown, and otherwise ignored by the fold.
    #[serde(other)]
    Unknown,
}

/// One attempt of a race: its number (from 1) and its agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Racer {
    pub no: u32,
    pub agent: String,
}

/// How a race's attempt came out of the stage's gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaceGate {
    Passed,
    Failed,
}

/// Who picked a race's winner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Picker {
    /// The race's judge agent.
    Judge,
    /// A person (`ork approve --pick`).
    Human,
    /// Nobody: it was the only attempt that passed.
    Only,
}

impl Picker {
    pub fn as_str(self) -> &'static str {
        match self {
            Picker::Judge => "the judge",
            Picker::Human => "a person",
            Picker::Only => "the only one to pass",
        }
    }
}

/// Where a trak's work came in from (`[intake]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `github`, or `command` for `[intake.command]`'s tracker.
    pub tracker: String,
    /// The task's key there: the issue's number on GitHub.
    pub key: String,
    pub url: String,
    /// Commands in the task's comments when the trak was made: what it was made from, never
    /// carried out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
}

/// Who made a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    #[default]
    Human,
    /// A verdict stage's agent.
    Reviewer,
    /// The flow itself: `review = "auto"`.
    Auto,
    /// Integration, sending a conflicting merge back.
    Integration,
}

/// How an agent's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It produced the stage's artifact.
    Artifact,
    /// It produced a verdict (approve or reject).
    Verdict,
    /// It asked questions that wait for a human answer.
    Questions,
    /// It failed (non-zero exit, timeout, invalid output, or its own failure report).
    Failed,
}

impl EventKind {
    /// The event's type as written in its file and its commit's `Ork-Event:` trailer.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::StageStarted { .. } => "stage_started",
            EventKind::StageFinished { .. } => "stage_finished",
            EventKind::GatePassed { .. } => "gate_passed",
            EventKind::GateFailed { .. } => "gate_failed",
            EventKind::ReviewRequested { .. } => "review_requested",
            EventKind::Approved { .. } => "approved",
            EventKind::Rejected { .. } => "rejected",
            EventKind::Answered { .. } => "answered",
            EventKind::Retried { .. } => "retried",
            EventKind::Resolved { .. } => "resolved",
            EventKind::IntegrationBlocked { .. } => "integration_blocked",
            EventKind::ConfigApproved { .. } => "config_approved",
            EventKind::Planted { .. } => "planted",
            EventKind::RoundsReached { .. } => "rounds_reached",
            EventKind::BudgetSet { .. } => "budget_set",
            EventKind::BudgetReached { .. } => "budget_reached",
            EventKind::ParentBudgetRaised { .. } => "parent_budget_raised",
            EventKind::Dropped { .. } => "dropped",
            EventKind::Restored { .. } => "restored",
            EventKind::Integrated { .. } => "integrated",
            EventKind::PrOpened { .. } => "pr_opened",
            EventKind::PrPushed { .. } => "pr_pushed",
            EventKind::PrChangesRequested { .. } => "pr_changes_requested",
            EventKind::PrWaiting { .. } => "pr_waiting",
            EventKind::LandingGateFailed { .. } => "landing_gate_failed",
            EventKind::SubtraksJoined { .. } => "subtraks_joined",
            EventKind::BaseMerged { .. } => "base_merged",
            EventKind::Noted { .. } => "noted",
            EventKind::Described { .. } => "described",
            EventKind::CommentRead { .. } => "comment_read",
            EventKind::RaceStarted { .. } => "race_started",
            EventKind::RaceAttemptFinished { .. } => "race_attempt_finished",
            EventKind::RacePickRequested { .. } => "race_pick_requested",
            EventKind::RacePicked { .. } => "race_picked",
            EventKind::Unknown => "unknown",
        }
    }

    /// Whether only a person makes this event: what `[trust] verify` wants signed.
    pub fn is_human_decision(&self) -> bool {
        match self {
            EventKind::Approved { by, .. } | EventKind::Rejected { by, .. } => *by == Actor::Human,
            EventKind::RacePicked { by, .. } => *by == Picker::Human,
            EventKind::Answered { .. }
            | EventKind::Retried { .. }
            | EventKind::Resolved { .. }
            | EventKind::ConfigApproved { .. }
            | EventKind::Dropped { .. }
            | EventKind::Restored { .. }
            | EventKind::BudgetSet { .. }
            | EventKind::Noted { .. } => true,
            _ => false,
        }
    }

    /// The stage the event concerns, if any.
    pub fn stage(&self) -> Option<&str> {
        match self {
            EventKind::StageStarted { stage, .. }
            | EventKind::StageFinished { stage, .. }
            | EventKind::GatePassed { stage, .. }
            | EventKind::GateFailed { stage, .. }
            | EventKind::ReviewRequested { stage }
            | EventKind::Approved { stage, .. }
            | EventKind::Rejected { stage, .. }
            | EventKind::Answered { stage, .. }
            | EventKind::Retried { stage, .. }
            | EventKind::PrChangesRequested { stage, .. }
            | EventKind::LandingGateFailed { stage, .. }
            | EventKind::RoundsReached { stage, .. }
            | EventKind::BudgetReached { stage, .. } => Some(stage),
            EventKind::BudgetSet { stage, .. } => stage.as_deref(),
            EventKind::SubtraksJoined { stage, .. }
            | EventKind::RaceStarted { stage, .. }
            | EventKind::RaceAttemptFinished { stage, .. }
            | EventKind::RacePickRequested { stage, .. }
            | EventKind::RacePicked { stage, .. } => Some(stage),
            EventKind::Created { .. }
            | EventKind::Resolved { .. }
            | EventKind::IntegrationBlocked { .. }
            | EventKind::ConfigApproved { .. }
            | EventKind::Planted { .. }
            | EventKind::ParentBudgetRaised { .. }
            | EventKind::Dropped { .. }
            | EventKind::Restored { .. }
            | EventKind::Integrated { .. }
            | EventKind::PrOpened { .. }
            | EventKind::PrPushed { .. }
            | EventKind::PrWaiting { .. }
            | EventKind::BaseMerged { .. }
            | EventKind::Noted { .. }
            | EventKind::Described { .. }
            | EventKind::CommentRead { .. }
            | EventKind::Unknown => None,
        }
    }

    /// A one-line, human description: the subject of the event's commit.
    pub fn summary(&self) -> String {
        match self {
            EventKind::Created { title, flow, .. } => format!("Create trak \"{title}\" ({flow})"),
            EventKind::StageStarted {
                stage,
                attempt,
                agent,
            } => format!("Start {stage} (attempt {attempt}, {agent})"),
            EventKind::StageFinished {
                stage,
                attempt,
                outcome,
                decision,
                ..
            } => {
                let what = match (outcome, decision) {
                    (Outcome::Artifact, _) => format!("Finish {stage}"),
                    (Outcome::Verdict, Some(Decision::Approve)) => {
                        format!("Verdict for {stage}: approve")
                    }
                    (Outcome::Verdict, _) => format!("Verdict for {stage}: reject"),
                    (Outcome::Questions, _) => format!("Questions from {stage}"),
                    (Outcome::Failed, _) => format!("Run failed for {stage}"),
                };
                format!("{what} (attempt {attempt})")
            }
            EventKind::GatePassed { stage, attempt } => {
                format!("Gate passed for {stage} (attempt {attempt})")
            }
            EventKind::GateFailed { stage, attempt, .. } => {
                format!("Gate failed for {stage} (attempt {attempt})")
            }
            EventKind::ReviewRequested { stage } => format!("Await review of {stage}"),
            EventKind::Approved { stage, by } => match by {
                Actor::Human => format!("Approve {stage}"),
                Actor::Reviewer => format!("Reviewer approves {stage}"),
                Actor::Auto | Actor::Integration => format!("Pass {stage}"),
            },
            EventKind::Rejected {
                stage,
                route_to,
                by,
                ..
            } => match by {
                Actor::Integration => format!("Merge conflict, back to {route_to}"),
                Actor::Reviewer => format!("Reviewer rejects {stage}, back to {route_to}"),
                _ => format!("Reject {stage}, back to {route_to}"),
            },
            EventKind::Answered { stage, .. } => format!("Answer {stage}'s questions"),
            EventKind::Retried {
                stage,
                allow_secrets,
            } => {
                if *allow_secrets {
                    format!("Retry {stage}, allowing the secrets it adds")
                } else {
                    format!("Retry {stage}")
                }
            }
            EventKind::Resolved { dropped, .. } => {
                format!(
                    "Settle a conflict, setting aside {} event(s)",
                    dropped.len()
                )
            }
            EventKind::IntegrationBlocked { .. } => "Integration waits".to_string(),
            EventKind::ConfigApproved { changes } => {
                format!(
                    "Approve the change to ork's configuration ({} file(s))",
                    changes.len()
                )
            }
            EventKind::BudgetSet { stage, budget } => match stage {
                Some(stage) => format!("Budget {stage}: {}", budget.describe()),
                None => format!("Budget the trak: {}", budget.describe()),
            },
            EventKind::BudgetReached {
                stage,
                limit,
                owner: Some(owner),
                ..
            } => format!(
                "Stop {stage} at the budget of {owner} ({})",
                limit.describe()
            ),
            EventKind::BudgetReached { stage, limit, .. } => {
                format!("Stop {stage} at its budget ({})", limit.describe())
            }
            EventKind::ParentBudgetRaised { parent } => {
                format!("Go on: the budget of {parent} was raised")
            }
            EventKind::RoundsReached {
                rounds,
                integration: true,
                ..
            } => {
                format!("Stop sending the merge back after {rounds} round(s)")
            }
            EventKind::RoundsReached { stage, rounds, .. } => {
                format!("Stop {stage}'s review loop after {rounds} round(s)")
            }
            EventKind::Planted { by, files } => {
                format!("Note {} file(s) written here by the {by}", files.len())
            }
            EventKind::Dropped { .. } => "Drop the trak".to_string(),
            EventKind::Restored { files } if files.is_empty() => "Restore the trak".to_string(),
            EventKind::Restored { files } => {
                format!("Restore the trak with {} unsaved file(s)", files.len())
            }
            EventKind::Integrated { base, .. } => format!("Integrate into {base}"),
            EventKind::PrOpened { number, .. } => format!("Open pull request #{number}"),
            EventKind::PrPushed { .. } => "Push a new round to the pull request".to_string(),
            EventKind::PrChangesRequested { route_to, .. } => {
                format!("Pull request asks for changes, back to {route_to}")
            }
            EventKind::PrWaiting { .. } => "Pull request waits for a human".to_string(),
            EventKind::LandingGateFailed { route_to, .. } => {
                format!("Gate fails on the merge with the base, back to {route_to}")
            }
            EventKind::SubtraksJoined {
                merged, dropped, ..
            } => match dropped.len() {
                0 => format!("Subtraks merged ({})", merged.len()),
                n => format!("Subtraks merged ({}), {n} dropped", merged.len()),
            },
            EventKind::BaseMerged { branch, .. } => format!("Bring in {branch}"),
            EventKind::Noted { text } => {
                format!("Note from a person: {}", crate::store::text::one_line(text))
            }
            EventKind::Described { .. } => "The tracker's task was edited".to_string(),
            EventKind::CommentRead {
                author,
                command,
                acted,
                ..
            } => {
                let command = crate::store::text::one_line(command);
                match acted {
                    true => format!("{author} commented {command}"),
                    false => format!("{author} commented {command}, and may not decide"),
                }
            }
            EventKind::RaceStarted {
                stage, attempts, ..
            } => {
                let agents: Vec<&str> = attempts.iter().map(|a| a.agent.as_str()).collect();
                format!(
                    "Race {stage}: {} attempts ({})",
                    attempts.len(),
                    agents.join(", ")
                )
            }
            EventKind::RaceAttemptFinished {
                stage,
                no,
                agent,
                gate,
                ..
            } => match gate {
                RaceGate::Passed => format!("Race {stage}: attempt {no} ({agent}) passes"),
                RaceGate::Failed => format!("Race {stage}: attempt {no} ({agent}) fails"),
            },
            EventKind::RacePickRequested { stage, .. } => {
                format!("Race {stage}: a person picks the winner")
            }
            EventKind::RacePicked {
                stage,
                winner,
                agent,
                by,
                ..
            } => format!(
                "Race {stage}: attempt {winner} ({agent}) wins, picked by {}",
                by.as_str()
            ),
            EventKind::Unknown => "Unknown event".to_string(),
        }
    }
}

impl Event {
    /// A new event recorded now on `machine`, after `prev`.
    pub fn new(kind: EventKind, machine: &str, prev: Option<String>) -> Event {
        let at = Utc::now();
        let id = format!(
            "{}-{}-{}",
            at.format("%Y%m%dT%H%M%S%.6fZ"),
            machine,
            crate::store::trak_id::random_suffix(6)
        );
        Event {
            v: EVENT_VERSION,
            id,
            at,
            machine: machine.to_string(),
            prev,
            kind,
        }
    }

    /// The file name the event is stored under.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.id)
    }

    /// Pretty JSON, newline-terminated, as stored in git.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("events always serialize");
        text.push('\n');
        text
    }

    /// Parses a stored event; `file` names it in the error.
    pub fn from_json(file: &str, bytes: &[u8]) -> anyhow::Result<Event> {
        serde_json::from_slice(bytes)
            .map_err(|e| anyhow::anyhow!("event file {file} is not a valid ork event: {e}"))
    }
}

/// The name this machine signs its events with: `ORK_MACHINE`, else the host name, made safe
/// for a file name.
pub fn machine_name() -> String {
    let raw = std::env::var("ORK_MACHINE")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "unknown".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let event = Event::new(
            EventKind::Rejected {
                stage: "work".into(),
                feedback: "use PKCE".into(),
                route_to: "work".into(),
                by: Actor::Human,
            },
            "laptop",
            Some("prev-id".into()),
        );
        let back = Event::from_json("x.json", event.to_json().as_bytes()).unwrap();
        assert_eq!(back, event);
        assert!(event.to_json().contains("\"type\": \"rejected\""));
    }

    #[test]
    fn unknown_event_types_still_parse() {
        let json = r#"{"v":2,"id":"a","at":"2026-01-01T00:00:00Z","machine":"m","type":"teleported","where":"mars"}"#;
        let event = Event::from_json("a.json", json.as_bytes()).unwrap();
        assert_eq!(event.kind, EventKind::Unknown);
        assert_eq!(event.v, 2);
    }

    #[test]
    fn ids_sort_by_time_and_are_unique() {
        let a = Event::new(
            EventKind::Retried {
                stage: "s".into(),
                allow_secrets: false,
            },
            "m",
            None,
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Event::new(
            EventKind::Retried {
                stage: "s".into(),
                allow_secrets: false,
            },
            "m",
            None,
        );
        assert!(a.id < b.id, "{} < {}", a.id, b.id);
        assert!(a.file_name().ends_with(".json"));
    }

    #[test]
    fn machine_names_are_file_safe() {
        let name = machine_name();
        assert!(!name.is_empty());
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
}
