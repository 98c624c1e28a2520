//! A trak's current state: a pure fold of its events.
//!
//! The store keeps the fold's result as `state.json` beside the events so that reading a trak
//! costs a constant number of object reads, but that file is only ever a cache of this fold: it
//! is recomputed from the events whenever they were merged from elsewhere, never text-merged.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::event::{
    Actor, Budget, Decision, Event, EventKind, Outcome, Part, Question, Usage,
};

/// A reviewer's verdict, kept while a human looks at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_to: Option<String>,
}

/// A subtrak an approved breakdown asks for: its id (derived from the parent's id, the
/// breakdown's number and the key) and its part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedSubtrak {
    pub id: String,
    #[serde(flatten)]
    pub part: Part,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The schema version of `state.json`; a snapshot with another version is recomputed.
pub const STATE_VERSION: u32 = 2;

/// How many planted files a trak's state names; the rest are in its events.
const PLANTED_KEPT: usize = 100;

/// Where a trak stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its current stage to run.
    Queued,
    /// An agent is working on the current stage.
    Running,
    /// The agent's result is recorded; its gate and review come next.
    Checking,
    /// The current stage's result waits for `ork approve` or `ork reject`.
    AwaitingReview,
    /// The agent asked questions that wait for `ork answer`.
    AwaitingAnswer,
    /// The stage failed or ran out of attempts; it waits for a human.
    Failed,
    /// Every stage passed; the branch waits to merge into its base.
    Integrating,
    /// Merged into the base branch.
    Done,
    /// Two machines made different transitions from the same state; a human must settle it.
    Conflict,
    /// A human dropped it: it will not be merged.
    Dropped,
    /// Its pull request is open: reviews, checks and the merge happen there.
    InReview,
    /// Its breakdown was approved: it waits until its subtraks are merged into its branch.
    Subtraks,
}

impl Status {
    /// The status as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Checking => "checking",
            Status::AwaitingReview => "awaiting review",
            Status::AwaitingAnswer => "awaiting answer",
            Status::Failed => "failed",
            Status::Integrating => "integrating",
            Status::Done => "done",
            Status::Conflict => "conflict",
            Status::Dropped => "dropped",
            Status::InReview => "in review",
            Status::Subtraks => "waiting on subtraks",
        }
    }

    /// Whether the trak is finished (hidden from `ork status` without `--all`).
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Dropped)
    }
}

/// The trak's pull request, once opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    /// The branch the code is pushed to (without `refs/heads/`).
    pub branch: String,
    /// The commit ork pushed last as the branch's head.
    pub head: String,
    /// When ork pushed last: reviews and comments before it were answered already.
    pub pushed_at: DateTime<Utc>,
    /// Rounds of changes the pull request asked for so far.
    #[serde(default)]
    pub rounds: u32,
}

/// The fold of a trak's events.
/// A trak's priority when `--priority` is not given: the middle of 1 (first) to 5 (last).
pub const DEFAULT_PRIORITY: u8 = 3;

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

fn default_priority() -> u8 {
    DEFAULT_PRIORITY
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrakState {
    pub v: u32,
    pub id: String,
    pub title: String,
    pub flow: String,
    /// The branch the trak started from and merges into.
    pub base: String,
    /// The flow's stages when the trak was created.
    pub stages: Vec<String>,
    /// The stage the trak is at; the last stage once done.
    pub stage: String,
    pub status: Status,
    /// The current stage's attempt number (0 before its first run).
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Number of events folded.
    pub events: usize,
    /// The newest event: what the next event's `prev` names.
    pub head_event: String,
    /// What the next attempt of the current stage is told: gate output, a rejection, answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// A line for the human: why the trak waits or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The last verdict of the current stage, while it waits for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Open questions of the current stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
    /// Every round of questions and answers per stage, oldest first: each prompt of a stage
    /// carries them all, since an agent whose session is not resumed remembers none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, Vec<Exchange>>,
    /// The latest agent session per stage, to resume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sessions: BTreeMap<String, String>,
    /// Tokens and cost per stage, over every run on every machine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub usage: BTreeMap<String, Usage>,
    /// What the trak spent per UTC day ("2026-12-02"), the last few days only: the
    /// repository's `[budget] per_day` adds today's up over every trak.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spent_by_day: BTreeMap<String, Usage>,
    /// The machine that started the current stage's latest run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_on: Option<String>,
    /// Whether a human allowed the secrets the current stage's next run adds (`ork retry
    /// --allow-secret`); cleared when that run is recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_secrets: bool,
    /// Whether the base is to be merged into the worktree before the next run: the merge into
    /// the base conflicted or failed the landing gate. ork starts that merge itself (the agent
    /// cannot write the git dir, docs/design.md rule 12) and the agent resolves the files.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merge_base: bool,
    /// The change to `.orkestra/` a human approved (`ork approve --config`), as
    /// [`crate::store::Store::config_changes`] lists it: the trak integrates while its change
    /// stays exactly that (docs/design.md rule 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_approved: Option<Vec<String>>,
    /// What the whole trak may spend, as a person set it (`ork trak new --budget`, `ork approve
    /// --budget`); the flow's `budget` holds while there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Stage budgets a person raised, over the stage's `budget` in the workflow.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stage_budgets: BTreeMap<String, Budget>,
    /// Which budget the trak waits at, if one was reached: `""` for the trak's, else the
    /// stage's name. `ork approve --budget` raises that one and goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_reached: Option<String>,
    /// The ancestor whose budget the trak waits at, if it stopped at a parent's (its spend
    /// counts in the parent's too): raising that parent's budget lets it go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_owner: Option<String>,
    /// How many times each stage's reviewer sent the work back, since a person last decided
    /// there (docs/design.md rule 13).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rounds: BTreeMap<String, u32>,
    /// How many times the merge into the base sent the trak back (conflicts, a failing landing
    /// gate) since a person last decided; the flow's `max_rounds` caps it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub integration_rounds: u32,
    /// Files another trak's run wrote into this trak's worktree: its next run waits for a
    /// person until `ork retry` (docs/design.md rule 12).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planted: Vec<String>,
    /// Whether the current attempt's gate passed (its review comes next).
    #[serde(default)]
    pub gate_passed: bool,
    /// The merge commit on the base branch, once integrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_as: Option<String>,
    /// For a subtrak: the trak whose breakdown made it, and its part's key there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The traks that must be merged before this one starts (`ork trak new --after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// For a trak an agent created from inside another trak's run: that trak's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawned_by: Option<String>,
    /// A person's notes (`ork note`) for the next run's prompt; cleared once a run finishes
    /// with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How many of `notes` the running run's prompt holds: those go once it finishes (a note
    /// left meanwhile waits for the next run).
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub notes_taken: usize,
    /// 1 (first) to 5 (last): the order `ork run` takes due traks in, then age.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Where the work came in from (`[intake]`): the issue it answers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::store::event::Source>,
    /// The agent every stage runs with, over the stages' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The tracker comments whose commands were read (acted on or refused): never again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments_read: Vec<String>,
    /// The parts the latest run of the breakdown stage `breakdown_stage` proposed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown_stage: Option<String>,
    /// How many breakdowns (of two parts or more) were approved: each makes a fresh set of
    /// subtraks, so ids of a rejected set are never reused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub breakdowns: u32,
    /// The subtraks the last approved breakdown made, in breakdown order. Which of them exist
    /// and how far they are is read from their own branches, never kept here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtraks: Vec<PlannedSubtrak>,
    /// Events made from the same state on different machines, when they disagree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting_events: Vec<String>,
    /// The pull request, in a `pr` flow once it was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequest>,
    /// While dropped: where the trak stood before, for `ork trak restore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_drop: Option<BeforeDrop>,
    /// The latest race of each stage that raced: its attempts and its winner.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub races: BTreeMap<String, Race>,
}

/// Where a dropped trak stood before the drop: what `ork trak restore` brings it back to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeforeDrop {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A stage's race, as its events tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Race {
    /// The commit every attempt started from.
    pub from: String,
    pub attempts: Vec<RaceAttempt>,
    /// The attempt that won, once one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picked_by: Option<crate::store::event::Picker>,
    /// The judge's (or the person's) reasons.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// What the judge spent.
    #[serde(default)]
    pub judge_usage: Usage,
}

/// One attempt of a race.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceAttempt {
    pub no: u32,
    pub agent: String,
    /// How it came out of the gate; none while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::store::event::RaceGate>,
    /// Its ref's commit when it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tip: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub runs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The machine it ran on, once over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

impl Race {
    /// The attempts that passed the gate, in order.
    pub fn passed(&self) -> Vec<&RaceAttempt> {
        self.attempts
            .iter()
            .filter(|a| a.gate == Some(crate::store::event::RaceGate::Passed))
            .collect()
    }

    /// Whether attempt `no` is over (recorded so).
    pub fn finished(&self, no: u32) -> bool {
        self.attempts.iter().any(|a| a.no == no && a.gate.is_some())
    }

    /// Whether every attempt is over.
    pub fn all_finished(&self) -> bool {
        self.attempts.iter().all(|a| a.gate.is_some())
    }
}

/// One round of a stage's questions and the human's answer to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub questions: Vec<String>,
    pub answer: String,
}

/// How many days of spend a trak's state keeps: enough for "today" on any machine's clock.
const DAYS_KEPT: usize = 3;

/// The UTC day of `at`, as `spent_by_day` keys it.
pub fn day_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

impl TrakState {
    /// Folds `events` (in any order) into the trak's state. Fails if there is no `created` event.
    pub fn fold(trak_id: &str, events: &[Event]) -> anyhow::Result<TrakState> {
        let sorted = causal_order(events);
        let created = sorted
            .iter()
            .find(|e| matches!(e.kind, EventKind::Created { .. }))
            .ok_or_else(|| anyhow::anyhow!("trak {trak_id} has no `created` event"))?;
        let EventKind::Created {
            title,
            flow,
            base,
            stages,
            parent,
            key,
            after,
            priority,
            source,
            agent,
            spawned_by,
        } = &created.kind
        else {
            unreachable!("found by the match above")
        };
        let mut state = TrakState {
            v: STATE_VERSION,
            id: trak_id.to_string(),
            title: title.clone(),
            flow: flow.clone(),
            base: base.clone(),
            stages: stages.clone(),
            stage: stages.first().cloned().unwrap_or_default(),
            status: Status::Queued,
            attempt: 0,
            created_at: created.at,
            updated_at: created.at,
            events: 0,
            head_event: created.id.clone(),
            feedback: None,
            note: None,
            verdict: None,
            questions: Vec::new(),
            answers: BTreeMap::new(),
            sessions: BTreeMap::new(),
            usage: BTreeMap::new(),
            spent_by_day: BTreeMap::new(),
            integrated_as: None,
            running_on: None,
            allow_secrets: false,
            merge_base: false,
            config_approved: None,
            budget: None,
            stage_budgets: BTreeMap::new(),
            budget_reached: None,
            budget_owner: None,
            rounds: BTreeMap::new(),
            integration_rounds: 0,
            planted: Vec::new(),
            gate_passed: false,
            parent: parent.clone(),
            key: key.clone(),
            after: after.clone(),
            spawned_by: spawned_by.clone(),
            notes: Vec::new(),
            notes_taken: 0,
            priority: priority.unwrap_or(DEFAULT_PRIORITY),
            source: source.clone(),
            agent: agent.clone(),
            comments_read: Vec::new(),
            breakdown: Vec::new(),
            breakdown_stage: None,
            breakdowns: 0,
            subtraks: Vec::new(),
            conflicting_events: Vec::new(),
            pull_request: None,
            before_drop: None,
            races: BTreeMap::new(),
        };
        let counted: Vec<&Event> = without_dropped(&sorted);
        for event in &counted {
            state.apply(event);
        }
        // Dropped events still count as events: the snapshot check compares with the files.
        state.events = sorted.len();
        state.conflicting_events = forks(&counted);
        if !state.conflicting_events.is_empty() {
            state.status = Status::Conflict;
        }
        Ok(state)
    }

    /// The state after one more event, made on top of this state (its `prev` is our
    /// `head_event`). Equal to folding all events again, without reading them.
    pub fn advance(&self, event: &Event) -> TrakState {
        let mut next = self.clone();
        next.apply(event);
        if !next.conflicting_events.is_empty() {
            next.status = Status::Conflict;
        }
        next
    }

    /// A run of `stage` (or a race of it) started on `machine`: the notes so far go into its
    /// prompt; what waited for a person is over. The feedback stays until the run finishes: a
    /// run that was interrupted is run again with it.
    fn start_run(&mut self, stage: &str, machine: &str) {
        self.stage = stage.to_string();
        self.status = Status::Running;
        self.running_on = Some(machine.to_string());
        self.gate_passed = false;
        self.notes_taken = self.notes.len();
        self.note = None;
        self.verdict = None;
        self.questions.clear();
    }

    fn apply(&mut self, event: &Event) {
        self.events += 1;
        self.updated_at = self.updated_at.max(event.at);
        self.head_event = event.id.clone();
        match &event.kind {
            EventKind::Created { .. } | EventKind::Unknown => {}
            EventKind::StageStarted { stage, attempt, .. } => {
                self.attempt = *attempt;
                self.start_run(stage, &event.machine);
            }
            EventKind::StageFinished {
                stage,
                outcome,
                error,
                retry,
                decision,
                route_to,
                questions,
                session_id,
                usage,
                subtraks,
                ..
            } => {
                let taken = self.notes_taken.min(self.notes.len());
                self.notes.drain(..taken);
                self.notes_taken = 0;
                if !subtraks.is_empty() {
                    self.breakdown = subtraks.clone();
                    self.breakdown_stage = Some(stage.clone());
                } else if self.breakdown_stage.as_ref() == Some(stage) {
                    // A breakdown stage's run without a valid breakdown proposes nothing.
                    self.breakdown.clear();
                }
                match session_id.as_deref() {
                    // An empty id: the session could not be resumed; forget it.
                    Some("") => {
                        self.sessions.remove(stage);
                    }
                    Some(session) => {
                        self.sessions.insert(stage.clone(), session.to_string());
                    }
                    None => {}
                }
                self.feedback = None;
                self.allow_secrets = false;
                self.merge_base &= *outcome == Outcome::Questions;
                self.spend(stage, usage, event.at);
                match outcome {
                    Outcome::Artifact => self.status = Status::Checking,
                    Outcome::Verdict => {
                        self.status = Status::Checking;
                        self.verdict = decision.map(|decision| Verdict {
                            decision,
                            route_to: route_to.clone(),
                        });
                    }
                    Outcome::Questions => {
                        self.status = Status::AwaitingAnswer;
                        self.questions = questions.clone();
                    }
                    Outcome::Failed => {
                        let error = error.clone().unwrap_or_default();
                        self.fail_or_retry(*retry, error);
                    }
                }
            }
            EventKind::GatePassed { .. } => {
                self.status = Status::Checking;
                self.gate_passed = true;
            }
            EventKind::GateFailed { output, retry, .. } => {
                self.fail_or_retry(*retry, output.clone())
            }
            EventKind::ReviewRequested { .. } => self.status = Status::AwaitingReview,
            EventKind::BudgetSet { stage, budget } => {
                match stage {
                    Some(stage) => {
                        self.stage_budgets.insert(stage.clone(), *budget);
                    }
                    None => self.budget = Some(*budget),
                }
                if self.budget_owner.is_none() && self.budget_reached.take().is_some() {
                    self.status = Status::Queued;
                    self.note = None;
                }
            }
            EventKind::ParentBudgetRaised { parent } => {
                if self.budget_owner.as_deref() == Some(parent) {
                    self.budget_owner = None;
                    self.budget_reached = None;
                    self.status = Status::Queued;
                    self.note = None;
                }
            }
            EventKind::BudgetReached {
                stage,
                scope,
                owner,
                spent,
                limit,
                usage,
                session_id,
                ..
            } => {
                self.budget_owner = owner.clone();
                self.spend(stage, usage, event.at);
                if let Some(session) = session_id.as_ref().filter(|s| !s.is_empty()) {
                    self.sessions.insert(stage.clone(), session.clone());
                }
                self.status = Status::Failed;
                self.budget_reached = Some(scope.clone().unwrap_or_default());
                let whose = match (owner, scope) {
                    (Some(owner), _) => format!("its parent {owner} (spend counted over its tree)"),
                    (None, Some(stage)) => format!("stage {stage}"),
                    (None, None) => "the trak".to_string(),
                };
                self.note = Some(format!(
                    "{whose} reached its budget: spent ${:.2} and {} tokens of {}",
                    spent.cost_usd,
                    spent.input_tokens + spent.output_tokens,
                    limit.describe()
                ));
            }
            EventKind::RoundsReached {
                rounds,
                integration: true,
                ..
            } => {
                self.status = Status::AwaitingReview;
                self.note = Some(format!(
                    "the merge into {} was sent back {rounds} time(s) (conflicts, a failing gate on \
                     the merge), as many as max_rounds allows: approve to try the merge again, or \
                     reject with your own feedback",
                    self.base
                ));
            }
            EventKind::RoundsReached { stage, rounds, .. } => {
                self.status = Status::AwaitingReview;
                self.note = Some(format!(
                    "{stage}'s reviewer rejected {rounds} time(s), as many as max_rounds allows: \
                     approve the work as it is, or reject it with your own feedback"
                ));
            }
            EventKind::Approved { stage, by } => {
                if *by == Actor::Human {
                    self.integration_rounds = 0;
                }
                let breakdown = self.breakdown_stage.as_ref() == Some(stage);
                if breakdown && self.breakdown.len() >= 2 {
                    self.start_subtraks();
                } else {
                    if breakdown {
                        // One part is no split: no subtraks (of an earlier breakdown either).
                        self.subtraks.clear();
                    }
                    self.advance_past(stage)
                }
            }
            EventKind::SubtraksJoined { stage, .. } => self.advance_past(stage),
            EventKind::BaseMerged { .. } => {}
            EventKind::Noted { text } => self.notes.push(text.clone()),
            EventKind::Described { .. } => {}
            EventKind::CommentRead { comment, .. } => self.comments_read.push(comment.clone()),
            EventKind::Rejected {
                stage,
                feedback,
                route_to,
                by,
            } => {
                match by {
                    Actor::Reviewer => *self.rounds.entry(stage.clone()).or_default() += 1,
                    // A person decided: the reviewer gets its rounds again.
                    Actor::Human => {
                        self.rounds.remove(stage);
                        self.integration_rounds = 0;
                    }
                    Actor::Integration => self.integration_rounds += 1,
                    _ => {}
                }
                self.send_back(route_to, feedback);
                self.merge_base = *by == Actor::Integration;
            }
            EventKind::LandingGateFailed {
                feedback, route_to, ..
            } => {
                self.integration_rounds += 1;
                self.send_back(route_to, feedback);
                self.merge_base = true;
            }
            EventKind::PrChangesRequested {
                feedback, route_to, ..
            } => {
                if let Some(pr) = &mut self.pull_request {
                    pr.rounds += 1;
                }
                self.send_back(route_to, feedback);
            }
            EventKind::PrOpened {
                number,
                url,
                branch,
                head,
            } => {
                self.status = Status::InReview;
                self.note = None;
                self.pull_request = Some(PullRequest {
                    number: *number,
                    url: url.clone(),
                    branch: branch.clone(),
                    head: head.clone(),
                    pushed_at: event.at,
                    rounds: 0,
                });
            }
            EventKind::PrPushed { head } => {
                self.status = Status::InReview;
                self.note = None;
                if let Some(pr) = &mut self.pull_request {
                    pr.head = head.clone();
                    pr.pushed_at = event.at;
                }
            }
            EventKind::PrWaiting { reason } => {
                self.status = Status::InReview;
                self.note = Some(reason.clone());
            }
            EventKind::Answered { stage, answer } => {
                self.status = Status::Queued;
                // The agent may not remember what it asked: keep the questions with the answer.
                let questions = std::mem::take(&mut self.questions)
                    .into_iter()
                    .map(|q| q.question)
                    .collect();
                self.answers
                    .entry(stage.clone())
                    .or_default()
                    .push(Exchange {
                        questions,
                        answer: answer.clone(),
                    });
            }
            EventKind::Resolved { .. } => {
                self.conflicting_events.clear();
                if self.status == Status::Conflict {
                    self.status = Status::Queued;
                }
            }
            EventKind::Retried { allow_secrets, .. } => {
                self.status = Status::Queued;
                self.note = None;
                self.planted.clear();
                self.allow_secrets = *allow_secrets;
                if *allow_secrets {
                    // The human kept what the run was stopped for: nothing to tell the agent.
                    self.feedback = None;
                }
            }
            EventKind::IntegrationBlocked { reason } => {
                self.status = Status::Integrating;
                self.note = Some(reason.clone());
            }
            EventKind::ConfigApproved { changes } => {
                self.config_approved = Some(changes.clone());
                self.note = None;
            }
            EventKind::Planted { by, files } => {
                for file in files {
                    if !self.planted.contains(file) && self.planted.len() < PLANTED_KEPT {
                        self.planted.push(file.clone());
                    }
                }
                self.note = Some(format!(
                    "the {by} wrote {} file(s) into this trak's worktree: {}",
                    files.len(),
                    files.join(", ")
                ));
            }
            EventKind::Dropped { reason } => {
                if self.status != Status::Dropped {
                    self.before_drop = Some(BeforeDrop {
                        status: self.status,
                        note: self.note.clone(),
                    });
                }
                self.status = Status::Dropped;
                self.note = Some(reason.clone()).filter(|r| !r.is_empty());
            }
            EventKind::Restored { .. } => self.restore(),
            EventKind::RaceStarted {
                stage,
                from,
                attempts,
            } => {
                self.start_run(stage, &event.machine);
                let attempts = attempts
                    .iter()
                    .map(|racer| RaceAttempt {
                        no: racer.no,
                        agent: racer.agent.clone(),
                        gate: None,
                        tip: None,
                        usage: Usage::default(),
                        runs: 0,
                        error: None,
                        machine: None,
                    })
                    .collect();
                let race = Race {
                    from: from.clone(),
                    attempts,
                    winner: None,
                    picked_by: None,
                    reason: String::new(),
                    judge_usage: Usage::default(),
                };
                self.races.insert(stage.clone(), race);
            }
            EventKind::RaceAttemptFinished {
                stage,
                no,
                gate,
                tip,
                usage,
                runs,
                error,
                ran_on,
                ..
            } => {
                self.spend(stage, usage, event.at);
                let attempt = self
                    .races
                    .get_mut(stage)
                    .and_then(|race| race.attempts.iter_mut().find(|a| a.no == *no));
                if let Some(attempt) = attempt {
                    attempt.gate = Some(*gate);
                    attempt.tip = Some(tip.clone());
                    attempt.usage = *usage;
                    attempt.runs = *runs;
                    attempt.error = error.clone();
                    attempt.machine = ran_on.clone();
                }
            }
            EventKind::RacePickRequested {
                stage,
                reason,
                usage,
            } => {
                self.spend(stage, usage, event.at);
                if let Some(race) = self.races.get_mut(stage) {
                    race.judge_usage = *usage;
                }
                self.status = Status::AwaitingReview;
                self.note = Some(reason.clone());
            }
            EventKind::RacePicked {
                stage,
                winner,
                by,
                reason,
                usage,
                session_id,
                ..
            } => {
                self.spend(stage, usage, event.at);
                let taken = self.notes_taken.min(self.notes.len());
                self.notes.drain(..taken);
                self.notes_taken = 0;
                if let Some(race) = self.races.get_mut(stage) {
                    race.winner = Some(*winner);
                    race.picked_by = Some(*by);
                    race.reason = reason.clone();
                    race.judge_usage = *usage;
                }
                match session_id.as_deref().filter(|s| !s.is_empty()) {
                    Some(session) => {
                        self.sessions.insert(stage.clone(), session.to_string());
                    }
                    None => {
                        self.sessions.remove(stage);
                    }
                }
                self.feedback = None;
                self.note = None;
                if *by == crate::store::event::Picker::Human {
                    // A person's pick is their approval of the stage.
                    self.integration_rounds = 0;
                    self.advance_past(stage);
                } else {
                    // The winner passed the gate on the very files the branch now holds.
                    self.status = Status::Checking;
                    self.gate_passed = true;
                }
            }
            EventKind::Integrated { commit, .. } => {
                self.status = Status::Done;
                self.note = None;
                self.integrated_as = Some(commit.clone()).filter(|c| !c.is_empty());
            }
        }
    }

    /// A dropped trak back where it stood before the drop. A run that was going on then is
    /// gone with its worktree: the stage is queued to run again. (A state folded by an ork
    /// that did not keep `before_drop` knows no more than the stage: queued there.)
    fn restore(&mut self) {
        if self.status != Status::Dropped {
            return;
        }
        let before = self.before_drop.take().unwrap_or(BeforeDrop {
            status: Status::Queued,
            note: None,
        });
        self.status = match before.status {
            Status::Running | Status::Dropped | Status::Done => Status::Queued,
            other => other,
        };
        self.note = before.note;
    }

    /// The work goes back to `route_to`, which runs again with `feedback`.
    fn send_back(&mut self, route_to: &str, feedback: &str) {
        self.stage = route_to.to_string();
        self.attempt = 0;
        self.status = Status::Queued;
        self.feedback = Some(feedback.to_string());
        self.note = None;
        self.verdict = None;
    }

    /// A failed attempt: the stage runs again with `why` as feedback, or the trak stops.
    fn fail_or_retry(&mut self, retry: bool, why: String) {
        self.status = if retry {
            Status::Queued
        } else {
            Status::Failed
        };
        self.note = Some(why.clone());
        self.feedback = Some(why);
    }

    /// An approved breakdown of two parts or more: the trak waits at the breakdown stage for
    /// the subtraks it makes. (One part is no split: the trak just goes on.)
    fn start_subtraks(&mut self) {
        self.breakdowns += 1;
        let round = self.breakdowns;
        self.subtraks = self
            .breakdown
            .iter()
            .map(|part| PlannedSubtrak {
                id: crate::store::trak_id::subtrak_id(&self.id, round, &part.key),
                part: part.clone(),
            })
            .collect();
        self.status = Status::Subtraks;
        self.attempt = 0;
        self.feedback = None;
        self.note = None;
        self.verdict = None;
    }

    /// Adds what a run of `stage` spent, on the day it ended.
    fn spend(&mut self, stage: &str, usage: &Usage, at: DateTime<Utc>) {
        self.usage.entry(stage.to_string()).or_default().add(usage);
        if *usage == Usage::default() {
            return;
        }
        self.spent_by_day.entry(day_of(at)).or_default().add(usage);
        while self.spent_by_day.len() > DAYS_KEPT {
            self.spent_by_day.pop_first();
        }
    }

    /// What the trak spent on `day` (as [`day_of`] names it).
    pub fn spent_on(&self, day: &str) -> Usage {
        self.spent_by_day.get(day).copied().unwrap_or_default()
    }

    /// Every stage's usage added up.
    pub fn total_usage(&self) -> Usage {
        let mut total = Usage::default();
        for usage in self.usage.values() {
            total.add(usage);
        }
        total
    }

    fn advance_past(&mut self, stage: &str) {
        // An approval of a stage this trak does not have (a newer flow's) changes nothing.
        let Some(index) = self.stages.iter().position(|s| s == stage) else {
            return;
        };
        match self.stages.get(index + 1) {
            Some(next) => {
                self.stage = next.clone();
                self.status = Status::Queued;
            }
            None => self.status = Status::Integrating,
        }
        self.attempt = 0;
        self.feedback = None;
        self.note = None;
        self.verdict = None;
    }

    /// The snapshot as one line of JSON, for the commit header that carries it.
    pub fn to_header(&self) -> String {
        serde_json::to_string(self).expect("state always serializes")
    }

    /// The snapshot as stored in `state.json`.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("state always serializes");
        text.push('\n');
        text
    }
}

/// The events in an order that respects causality: every event after the one it names as
/// `prev`, whatever order a merge delivered the files in and however the machines' clocks
/// disagree. Among events that are ready at the same time, the smaller id (the earlier time)
/// goes first, so the order is the same on every machine.
pub fn causal_order(events: &[Event]) -> Vec<&Event> {
    let known: BTreeMap<&str, &Event> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut children: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    let mut ready: BTreeMap<&str, &Event> = BTreeMap::new();
    for event in known.values() {
        match event.prev.as_deref().filter(|p| known.contains_key(p)) {
            Some(prev) => children.entry(prev).or_default().push(event),
            None => {
                ready.insert(&event.id, event);
            }
        }
    }
    let mut order = Vec::with_capacity(known.len());
    while let Some((_, event)) = ready.pop_first() {
        order.push(event);
        for child in children.remove(event.id.as_str()).unwrap_or_default() {
            ready.insert(&child.id, child);
        }
    }
    order
}

/// The events without those a `resolved` event set aside, and without everything made on top
/// of them.
fn without_dropped<'a>(events: &[&'a Event]) -> Vec<&'a Event> {
    let mut skipped: std::collections::HashSet<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Resolved { dropped, .. } => Some(dropped.iter().map(String::as_str)),
            _ => None,
        })
        .flatten()
        .collect();
    let mut kept = Vec::with_capacity(events.len());
    // `events` is in causal order, so a dropped event comes before what was made on it.
    for event in events {
        // A resolution is made on top of whatever was newest, possibly a dropped event.
        let resolution = matches!(event.kind, EventKind::Resolved { .. });
        if skipped.contains(event.id.as_str())
            || (!resolution && event.prev.as_deref().is_some_and(|p| skipped.contains(p)))
        {
            skipped.insert(&event.id);
            continue;
        }
        kept.push(*event);
    }
    kept
}

/// Ids of events that share a `prev` with another event: two transitions made from the same
/// state, typically on two machines before they synced.
fn forks(events: &[&Event]) -> Vec<String> {
    let mut by_prev: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for event in events {
        if let Some(prev) = &event.prev {
            by_prev.entry(prev).or_default().push(&event.id);
        }
    }
    by_prev
        .into_values()
        .filter(|ids| ids.len() > 1)
        .flatten()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::event::Actor;
    use chrono::TimeZone;

    fn event(secs: i64, machine: &str, prev: Option<&str>, kind: EventKind) -> Event {
        let at = Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap();
        Event {
            v: 1,
            id: format!("{}-{machine}-x", at.format("%Y%m%dT%H%M%S%.6fZ")),
            at,
            machine: machine.into(),
            prev: prev.map(str::to_string),
            kind,
        }
    }

    fn approved(stage: &str) -> EventKind {
        EventKind::Approved {
            stage: stage.into(),
            by: Actor::Human,
        }
    }

    fn finished(stage: &str, attempt: u32) -> EventKind {
        EventKind::StageFinished {
            stage: stage.into(),
            attempt,
            outcome: Outcome::Artifact,
            error: None,
            retry: false,
            decision: None,
            route_to: None,
            questions: Vec::new(),
            session_id: Some(format!("session-{attempt}")),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                cost_usd: 0.5,
            },
            subtraks: Vec::new(),
            outside_changes: Vec::new(),
        }
    }

    fn created() -> Event {
        event(
            0,
            "a",
            None,
            EventKind::Created {
                title: "T".into(),
                flow: "feature".into(),
                base: "main".into(),
                stages: vec!["planning".into(), "work".into(), "review".into()],
                parent: None,
                key: None,
                after: Vec::new(),
                priority: None,
                source: None,
                agent: None,
                spawned_by: None,
            },
        )
    }

    /// A chain of events, each naming the previous one.
    fn chain(kinds: Vec<EventKind>) -> Vec<Event> {
        let mut events = vec![created()];
        for (i, kind) in kinds.into_iter().enumerate() {
            let prev = events.last().unwrap().id.clone();
            events.push(event(i as i64 + 1, "a", Some(&prev), kind));
        }
        events
    }

    #[test]
    fn a_new_trak_is_queued_at_its_first_stage() {
        let state = TrakState::fold("t", &[created()]).unwrap();
        assert_eq!(state.stage, "planning");
        assert_eq!(state.status, Status::Queued);
        assert_eq!(state.events, 1);
        assert_eq!(state.head_event, created().id);
    }

    #[test]
    fn stages_advance_on_approval_and_return_on_rejection() {
        let events = chain(vec![
            EventKind::StageStarted {
                stage: "planning".into(),
                attempt: 1,
                agent: "claude".into(),
            },
            finished("planning", 1),
            approved("planning"),
        ]);
        let state = TrakState::fold("t", &events).unwrap();
        assert_eq!(
            (state.stage.as_str(), state.status),
            ("work", Status::Queued)
        );
        assert_eq!(state.sessions["planning"], "session-1");
        assert_eq!(state.usage["planning"].output_tokens, 5);

        let mut more = events.clone();
        let prev = more.last().unwrap().id.clone();
        more.push(event(
            10,
            "a",
            Some(&prev),
            EventKind::Rejected {
                stage: "work".into(),
                feedback: "no".into(),
                route_to: "planning".into(),
                by: Actor::Human,
            },
        ));
        let state = TrakState::fold("t", &more).unwrap();
        assert_eq!(
            (state.stage.as_str(), state.status),
            ("planning", Status::Queued)
        );
    }

    #[test]
    fn a_restored_trak_stands_where_it_stood_before_the_drop() {
        let events = chain(vec![
            approved("planning"),
            EventKind::ReviewRequested {
                stage: "work".into(),
            },
            EventKind::Dropped {
                reason: "not now".into(),
            },
        ]);
        let dropped = TrakState::fold("t", &events).unwrap();
        assert_eq!(dropped.status, Status::Dropped);
        let mut more = events.clone();
        let prev = more.last().unwrap().id.clone();
        more.push(event(
            10,
            "a",
            Some(&prev),
            EventKind::Restored { files: Vec::new() },
        ));
        let state = TrakState::fold("t", &more).unwrap();
        assert_eq!(
            (state.stage.as_str(), state.status),
            ("work", Status::AwaitingReview)
        );
        assert_eq!(state.before_drop, None);
        assert_eq!(dropped.advance(more.last().unwrap()), state);
    }

    #[test]
    fn a_trak_dropped_while_running_is_restored_queued() {
        let events = chain(vec![
            EventKind::StageStarted {
                stage: "planning".into(),
                attempt: 1,
                agent: "claude".into(),
            },
            EventKind::Dropped {
                reason: String::new(),
            },
            EventKind::Restored { files: Vec::new() },
        ]);
        let state = TrakState::fold("t", &events).unwrap();
        assert_eq!(
            (state.stage.as_str(), state.status, state.attempt),
            ("planning", Status::Queued, 1)
        );
    }

    #[test]
    fn approving_the_last_stage_then_integrating_finishes() {
        let events = chain(vec![
            approved("planning"),
            approved("work"),
            approved("review"),
        ]);
        let state = TrakState::fold("t", &events).unwrap();
        assert_eq!(state.status, Status::Integrating);
        assert_eq!(state.stage, "review");
        let mut done = events.clone();
        let prev = done.last().unwrap().id.clone();
        done.push(event(
            9,
            "a",
            Some(&prev),
            EventKind::Integrated {
                base: "main".into(),
                commit: "abc".into(),
            },
        ));
        let state = TrakState::fold("t", &done).unwrap();
        assert!(state.status.is_finished());
        assert_eq!(state.integrated_as.as_deref(), Some("abc"));
    }

    #[test]
    fn the_fold_ignores_the_order_events_arrive_in() {
        let events = chain(vec![
            EventKind::StageStarted {
                stage: "planning".into(),
                attempt: 1,
                agent: "x".into(),
            },
            EventKind::GateFailed {
                stage: "planning".into(),
                attempt: 1,
                output: "boom".into(),
                retry: true,
            },
            EventKind::StageStarted {
                stage: "planning".into(),
                attempt: 2,
                agent: "x".into(),
            },
            EventKind::GatePassed {
                stage: "planning".into(),
                attempt: 2,
            },
        ]);
        let in_order = TrakState::fold("t", &events).unwrap();
        let mut shuffled = events.clone();
        shuffled.reverse();
        shuffled.swap(0, 2);
        assert_eq!(TrakState::fold("t", &shuffled).unwrap(), in_order);
        assert_eq!(in_order.attempt, 2);
        assert_eq!(in_order.status, Status::Checking);
    }

    #[test]
    fn a_machine_with_a_slow_clock_cannot_reorder_history() {
        // b's clock is an hour behind: its event sorts first by time, yet it was made after
        // a's approval, which it names as `prev`.
        let base = created();
        let approve = event(7200, "a", Some(&base.id), approved("planning"));
        let reject = event(
            3600,
            "b",
            Some(&approve.id),
            EventKind::Rejected {
                stage: "work".into(),
                feedback: "again".into(),
                route_to: "planning".into(),
                by: Actor::Human,
            },
        );
        let state = TrakState::fold("t", &[reject.clone(), approve, base]).unwrap();
        assert_eq!(state.stage, "planning");
        assert_eq!(state.head_event, reject.id);
    }

    #[test]
    fn advancing_equals_folding_again() {
        let events = chain(vec![EventKind::StageStarted {
            stage: "planning".into(),
            attempt: 1,
            agent: "x".into(),
        }]);
        let before = TrakState::fold("t", &events[..1]).unwrap();
        assert_eq!(
            before.advance(&events[1]),
            TrakState::fold("t", &events).unwrap()
        );
    }

    #[test]
    fn merged_sequential_histories_are_not_conflicts() {
        // Machine a approved planning, then b (after syncing) started work: a merge delivers
        // b's files before a's, but the chain of `prev` is linear, so there is no conflict.
        let base = created();
        let approve = event(1, "a", Some(&base.id), approved("planning"));
        let start = event(
            2,
            "b",
            Some(&approve.id),
            EventKind::StageStarted {
                stage: "work".into(),
                attempt: 1,
                agent: "x".into(),
            },
        );
        let state = TrakState::fold("t", &[start, base, approve]).unwrap();
        assert_eq!(state.status, Status::Running);
        assert!(state.conflicting_events.is_empty());
    }

    #[test]
    fn two_transitions_from_one_state_are_a_conflict() {
        let base = created();
        let approve = event(5, "a", Some(&base.id), approved("planning"));
        let reject = event(
            3,
            "b",
            Some(&base.id),
            EventKind::Rejected {
                stage: "planning".into(),
                feedback: "redo".into(),
                route_to: "planning".into(),
                by: Actor::Human,
            },
        );
        let state = TrakState::fold("t", &[approve.clone(), base, reject.clone()]).unwrap();
        assert_eq!(state.status, Status::Conflict);
        let mut expected = vec![approve.id, reject.id];
        expected.sort();
        let mut got = state.conflicting_events.clone();
        got.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn unknown_events_are_counted_but_change_nothing() {
        let events = chain(vec![EventKind::Unknown]);
        let state = TrakState::fold("t", &events).unwrap();
        assert_eq!(state.status, Status::Queued);
        assert_eq!(state.events, 2);
    }

    #[test]
    fn a_trak_without_a_created_event_is_an_error() {
        let err = TrakState::fold("t", &[]).unwrap_err();
        assert!(err.to_string().contains("no `created` event"));
    }

    #[test]
    fn snapshots_round_trip() {
        let state = TrakState::fold("t", &[created()]).unwrap();
        let back: TrakState = serde_json::from_str(&state.to_json()).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn gate_failures_retry_with_feedback_until_attempts_run_out() {
        let gate_failed = |retry| EventKind::GateFailed {
            stage: "planning".into(),
            attempt: 1,
            output: "test x failed".into(),
            retry,
        };
        let state = TrakState::fold(
            "t",
            &chain(vec![finished("planning", 1), gate_failed(true)]),
        )
        .unwrap();
        assert_eq!(state.status, Status::Queued);
        assert_eq!(state.feedback.as_deref(), Some("test x failed"));
        let state = TrakState::fold(
            "t",
            &chain(vec![finished("planning", 1), gate_failed(false)]),
        )
        .unwrap();
        assert_eq!(state.status, Status::Failed);
        assert_eq!(state.note.as_deref(), Some("test x failed"));
    }

    #[test]
    fn usage_adds_up_across_runs() {
        let state = TrakState::fold(
            "t",
            &chain(vec![
                finished("planning", 1),
                approved("planning"),
                finished("work", 1),
            ]),
        )
        .unwrap();
        assert_eq!(state.total_usage().input_tokens, 20);
        assert!((state.total_usage().cost_usd - 1.0).abs() < 1e-9);
        assert_eq!(state.status, Status::Checking);
    }

    fn broken_down(stage: &str, keys: &[&str]) -> EventKind {
        let mut kind = finished(stage, 1);
        if let EventKind::StageFinished { subtraks, .. } = &mut kind {
            *subtraks = keys
                .iter()
                .map(|k| Part {
                    key: k.to_string(),
                    title: k.to_uppercase(),
                    description: String::new(),
                    depends_on: Vec::new(),
                })
                .collect();
        }
        kind
    }

    #[test]
    fn an_approved_breakdown_waits_on_its_subtraks_then_goes_on() {
        let state = TrakState::fold(
            "t",
            &chain(vec![
                approved("planning"),
                broken_down("work", &["db", "ui"]),
                approved("work"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (state.status, state.stage.as_str()),
            (Status::Subtraks, "work")
        );
        let ids: Vec<&str> = state.subtraks.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["t.db", "t.ui"]);
        let joined = EventKind::SubtraksJoined {
            stage: "work".into(),
            merged: vec!["t.db".into()],
            dropped: vec!["t.ui".into()],
        };
        let state = TrakState::fold(
            "t",
            &chain(vec![
                approved("planning"),
                broken_down("work", &["db", "ui"]),
                approved("work"),
                joined,
            ]),
        )
        .unwrap();
        assert_eq!(
            (state.status, state.stage.as_str()),
            (Status::Queued, "review")
        );
    }

    #[test]
    fn a_breakdown_approved_again_makes_fresh_ids_and_one_part_makes_none() {
        let rejected = EventKind::Rejected {
            stage: "work".into(),
            feedback: "split again".into(),
            route_to: "work".into(),
            by: Actor::Human,
        };
        let state = TrakState::fold(
            "t",
            &chain(vec![
                broken_down("planning", &["db", "ui"]),
                approved("planning"),
                rejected.clone(),
                broken_down("planning", &["db", "api"]),
                approved("planning"),
            ]),
        )
        .unwrap();
        let ids: Vec<&str> = state.subtraks.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["t.db.2", "t.api.2"]);
        let state = TrakState::fold(
            "t",
            &chain(vec![
                broken_down("planning", &["db", "ui"]),
                approved("planning"),
                rejected,
                broken_down("planning", &["whole"]),
                approved("planning"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (state.status, state.stage.as_str()),
            (Status::Queued, "work")
        );
        assert!(state.subtraks.is_empty());
    }

    #[test]
    fn questions_wait_for_an_answer_and_every_round_is_kept() {
        let ask = |question: &str| EventKind::StageFinished {
            stage: "planning".into(),
            attempt: 1,
            outcome: Outcome::Questions,
            error: None,
            retry: false,
            decision: None,
            route_to: None,
            questions: vec![Question {
                question: question.into(),
                options: vec!["GitHub".into(), "Google".into()],
            }],
            session_id: None,
            usage: Usage::default(),
            subtraks: Vec::new(),
            outside_changes: Vec::new(),
        };
        let answer = |answer: &str| EventKind::Answered {
            stage: "planning".into(),
            answer: answer.into(),
        };
        let state = TrakState::fold("t", &chain(vec![ask("Which provider?")])).unwrap();
        assert_eq!(state.status, Status::AwaitingAnswer);
        assert_eq!(state.questions.len(), 1);
        let events = vec![
            ask("Which provider?"),
            answer("GitHub"),
            ask("Which scopes?"),
            answer("read:user"),
        ];
        let state = TrakState::fold("t", &chain(events)).unwrap();
        assert_eq!(state.status, Status::Queued);
        assert!(state.questions.is_empty());
        assert_eq!(
            state.answers["planning"],
            [
                Exchange {
                    questions: vec!["Which provider?".into()],
                    answer: "GitHub".into()
                },
                Exchange {
                    questions: vec!["Which scopes?".into()],
                    answer: "read:user".into()
                }
            ]
        );
    }

    #[test]
    fn a_pull_request_waits_in_review_and_counts_its_rounds() {
        let opened = EventKind::PrOpened {
            number: 12,
            url: "https://github.com/acme/app/pull/12".into(),
            branch: "ork-pr/t".into(),
            head: "abc".into(),
        };
        let changes = EventKind::PrChangesRequested {
            stage: "review".into(),
            feedback: "alice: use PKCE".into(),
            route_to: "work".into(),
        };
        let state = TrakState::fold("t", &chain(vec![opened.clone()])).unwrap();
        assert_eq!(state.status, Status::InReview);
        assert_eq!(state.pull_request.as_ref().unwrap().number, 12);
        let state = TrakState::fold("t", &chain(vec![opened.clone(), changes])).unwrap();
        assert_eq!(
            (state.stage.as_str(), state.status),
            ("work", Status::Queued)
        );
        assert_eq!(state.feedback.as_deref(), Some("alice: use PKCE"));
        let pr = state.pull_request.as_ref().unwrap();
        assert_eq!((pr.rounds, pr.head.as_str()), (1, "abc"));
        // A snapshot written before pull requests existed still reads.
        let mut old: serde_json::Value =
            serde_json::from_str(&TrakState::fold("t", &[created()]).unwrap().to_json()).unwrap();
        old.as_object_mut().unwrap().remove("pull_request");
        let back: TrakState = serde_json::from_value(old).unwrap();
        assert_eq!(back.pull_request, None);
    }
}
