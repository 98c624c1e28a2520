//! The engine: drives traks through their flows, on top of the store.
//!
//! Every step is recorded before the next one starts, and every step can be picked up again
//! from the recorded state alone: a trak that is `queued` runs its stage, `checking` runs the
//! gate and the review, `integrating` merges. That is what makes `ork resume` after a crash
//! (kill -9 included) just "drive the trak again".

pub mod actions;
pub mod budget;
mod checkpoints;
mod claim;
pub(crate) mod config_gate;
mod decisions;
pub mod dependencies;
mod gate;
pub(crate) mod intake;
mod integration;
mod landing_gate;
pub mod notify;
pub mod outside;
pub mod process;
pub mod prompt;
pub mod pull_request;
mod race;
mod race_spend;
mod repo_watch;
mod restore;
pub mod schedule;
mod session;
mod signatures;
pub mod spawn;
mod stage;
pub mod subtraks;
pub mod views;
pub mod worktree;

pub use claim::{ClaimLost, ClaimView, HeldClaim, claim_view, claimed_elsewhere, queue_remote};
pub use decisions::{
    HumanDecision, INSIDE_TRAK_VAR, decide, drop_trak, inside_a_trak,
    running_inside as running_inside_a_trak,
};
pub use intake::pass as intake_pass;
pub use race::waits_for_pick;
pub use race::wants_help as race_wants_help;
pub use restore::{Restored, restore_trak};

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::workflow::{Flow, Stage, Workflow};
use crate::store::state::Status;
use crate::store::{Location, NewTrak, Store, Trak};

/// The statuses in which a trak has work due that `ork resume` (or `ork run`) can do.
pub const RUNNABLE: [Status; 6] = [
    Status::Queued,
    Status::Running,
    Status::Checking,
    Status::Integrating,
    Status::InReview,
    Status::Subtraks,
];

/// Where the engine tells the user what happens.
pub trait Reporter {
    /// A step: "planning: attempt 1 with claude".
    fn step(&mut self, text: &str);
    /// A line of an agent's or a gate's output.
    fn line(&mut self, text: &str);
    /// Something went wrong without stopping the work; the text says the way out.
    fn warning(&mut self, text: &str);
    /// The trak stopped where a human is needed, or is done (the terminal rings its bell).
    fn stopped(&mut self, _trak: &Trak) {}
}

/// What `ork trak new` asks for.
#[derive(Default)]
pub struct TrakRequest<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// The flow's name; the workflow's default when `None`.
    pub flow: Option<&'a str>,
    /// The base branch; the main worktree's current branch when `None`.
    pub base: Option<&'a str>,
    /// What the whole trak may spend, over the flow's `budget`.
    pub budget: Option<crate::store::event::Budget>,
    /// The traks to be merged before this one starts (`--after`; a prefix of an id is enough).
    pub after: &'a [String],
    /// 1 (first) to 5 (last); the default when `None`.
    pub priority: Option<u8>,
    /// The trak's id, derived by the caller (an issue's number, a schedule's slot) so that
    /// making it twice finds the first; a slug of the title with a random suffix when `None`.
    pub id: Option<&'a str>,
    /// The tracker's task it came in from (`[intake]`).
    pub source: Option<&'a crate::store::event::Source>,
    /// The agent every stage runs with, over the stages' own.
    pub agent: Option<&'a str>,
}

/// Creates a trak and its ready worktree. On failure nothing is left behind: the worktree is
/// removed and the branch deleted again. A crash half-way leaves the branch (the whole trak);
/// A person's note to `trak`'s agents (`ork note`): recorded (signed where decisions are), it
/// goes into the prompt of the trak's next run. Refused for a finished trak, and to a process
/// running inside a trak's run.
pub fn note(store: &Store, workflow: &Workflow, trak: &Trak, text: &str) -> Result<Trak> {
    // A note is a person's words in the next prompt: an agent never writes one (rule 12).
    if let Some(inside) = decisions::running_inside() {
        bail!(
            "an agent running inside trak {inside} cannot leave notes for traks: that is a person's to do, from their own terminal"
        );
    }
    if text.trim().is_empty() {
        bail!(
            "the note is empty.\n  Say what the agent should know: ork note {} \"…\"",
            trak.id
        );
    }
    if trak.state.status.is_finished() {
        bail!(
            "trak {} is {}: no run of it is to come, so a note would reach no one",
            trak.id,
            trak.state.status.as_str()
        );
    }
    let trak = store.adopt(trak)?;
    let noted = crate::store::event::EventKind::Noted {
        text: text.trim().to_string(),
    };
    if workflow.trust.sign {
        store.record_signed(&trak, noted, &store.git().signing_key()?)
    } else {
        store.record(&trak, noted)
    }
}

/// Why the first stage of `flow` (the default flow when `None`) could not start on this
/// machine: its agent's program is not installed. Asked before a trak that is to run now is
/// created, so that a missing CLI leaves no branch, worktree or record behind (the same check
/// `ork doctor` makes).
pub fn first_stage_cannot_start(
    store: &Store,
    workflow: &Workflow,
    flow: Option<&str>,
) -> Result<Option<String>> {
    let flow = workflow.flow(flow)?;
    let Some(agent) = flow
        .stages
        .first()
        .and_then(|stage| workflow.agents.get(&stage.agent))
    else {
        return Ok(None);
    };
    let Some(program) = process::runner::program(agent) else {
        return Ok(None);
    };
    let root = store.git().main_workdir();
    Ok(process::runner::locate(program, root)
        .is_none()
        .then(|| process::runner::not_found(agent, program)))
}

/// its worktree is made again when a stage next runs ([`ensure_worktree`]).
///
/// Inside a trak's run (`ORK_TRAK` set: an agent, or an `ork` it started) the trak is asked of
/// the ork that drives the run, which creates it only where the stage allows (`spawn`):
/// `spawn.rs`.
pub fn new_trak(store: &Store, workflow: &Workflow, request: &TrakRequest<'_>) -> Result<Trak> {
    if running_inside_a_trak().is_some() {
        return spawn::ask_the_run(store, workflow, request);
    }
    create_trak(store, workflow, request, None)
}

/// [`new_trak`] here, recorded as spawned by `spawned_by` when a run asked for it.
fn create_trak(
    store: &Store,
    workflow: &Workflow,
    request: &TrakRequest<'_>,
    spawned_by: Option<&str>,
) -> Result<Trak> {
    let trak = prepare(store, workflow, request, spawned_by)?;
    store.git().create_ref(
        &trak.branch,
        trak.tip,
        &format!("ork: create trak {}", trak.id),
    )?;
    let trak = match request.budget {
        // The person's budget is a decision like any: signed where decisions are.
        Some(budget) => {
            let set = crate::store::event::EventKind::BudgetSet {
                stage: None,
                budget,
            };
            if workflow.trust.sign {
                store.record_signed(&trak, set, &store.git().signing_key()?)?
            } else {
                store.record(&trak, set)?
            }
        }
        None => trak,
    };
    if let Err(err) = crate::engine::worktree::create(store, &trak, workflow) {
        // Best effort: the worktree error is what the user must see.
        let _ = store.git().delete_ref(&trak.branch, trak.tip);
        return Err(err.context(format!("trak {} was not created", trak.id)));
    }
    Ok(trak)
}

/// The first commit of the trak `request` asks for, checked as [`new_trak`] checks it, without
/// its branch, its budget or its worktree ([`crate::store::Store::prepare`]).
pub fn prepare_trak(store: &Store, workflow: &Workflow, request: &TrakRequest<'_>) -> Result<Trak> {
    prepare(store, workflow, request, None)
}

fn prepare(
    store: &Store,
    workflow: &Workflow,
    request: &TrakRequest<'_>,
    spawned_by: Option<&str>,
) -> Result<Trak> {
    // The store makes the title one clean line and caps it (`store::text::title`); an empty
    // one is refused before anything else is looked at.
    if crate::store::text::one_line(request.title).is_empty() {
        bail!(
            "the trak's title is empty.\n  Give it a short title: ork trak new \"Add OAuth login\""
        );
    }
    let flow = workflow.flow(request.flow)?;
    let current = store.git().main_branch()?;
    let base = match request.base {
        Some(base) => base.to_string(),
        None => current.ok_or_else(|| {
            anyhow::anyhow!(
                "HEAD is detached, so there is no branch to start from.\n  Pass --base with the branch the work should merge into."
            )
        })?,
    };
    if let Some(priority) = request.priority
        && !(1..=5).contains(&priority)
    {
        bail!("--priority {priority}: a priority is 1 (first) to 5 (last)");
    }
    let after = dependencies::resolve_after(store, request.after)?;
    store.prepare(&NewTrak {
        title: request.title,
        description: request.description,
        flow: &flow.name,
        stages: flow.stages.iter().map(|s| s.name.clone()).collect(),
        base: &base,
        id: request.id,
        parent: None,
        after: &after,
        priority: request.priority,
        source: request.source,
        agent: request.agent,
        spawned_by,
    })
}

/// A trak shared before it existed here gets its branch and worktree, as `ork trak new` makes
/// them. A failure is only a warning: the trak is on the remote (and recorded), `ork run`
/// takes it from there, and its worktree is made when its stage runs.
pub(crate) fn settle_shared(store: &Store, workflow: &Workflow, trak: &Trak) {
    let made = store
        .git()
        .create_ref(
            &trak.branch,
            trak.tip,
            &format!("ork: create trak {}", trak.id),
        )
        .and_then(|()| worktree::create(store, trak, workflow).map(|_| ()));
    if let Err(err) = made {
        store.warnings().push(format!(
            "trak {} is shared, but its branch or worktree was not made here ({err:#}); ork run takes it from the remote",
            trak.id
        ));
    }
}

/// Drives traks: runs stages, gates, reviews and integration until a trak waits for a human,
/// fails, or is done.
pub struct Engine<'a> {
    pub store: &'a Store,
    pub workflow: &'a Workflow,
    pub reporter: &'a mut dyn Reporter,
    /// Run a stage that another machine claimed, before its lease ran out.
    pub take_over: bool,
    /// Driving a race's attempt: what the race's attempts spend, which every cap of its runs
    /// counts (`race_spend.rs`). `None` everywhere else.
    pub race_spend: Option<std::sync::Arc<race_spend::RaceSpend>>,
}

impl Engine<'_> {
    /// Drives `trak` as far as it goes without a human. Holds the trak's run lock meanwhile,
    /// so two `ork` processes never run the same trak at once.
    ///
    /// With the shared queue on (`[sync] queue`), the trak is claimed on the remote first and
    /// the claim held (renewed) until the drive ends; a claim another machine holds is refused.
    pub fn drive(&mut self, trak: Trak) -> Result<Trak> {
        let driven = self.drive_locked(trak);
        self.show_warnings();
        driven
    }

    /// Hands the warnings the store and its threads collected to the reporter.
    fn show_warnings(&mut self) {
        for warning in self.store.warnings().take() {
            self.reporter.warning(&warning);
        }
    }

    fn drive_locked(&mut self, trak: Trak) -> Result<Trak> {
        let _lock = self.lock(&trak)?;
        let remote = queue_remote(self.store, self.workflow)
            .filter(|_| RUNNABLE.contains(&trak.state.status));
        let Some(remote) = remote else {
            // Refuse another machine's running stage before touching any local ref.
            if trak.state.status == Status::Running {
                self.check_claim(&trak)?;
            }
            return self.drive_steps(trak, None);
        };
        let (trak, held) = match self.claim(trak.clone(), &remote) {
            Ok(claimed) => claimed,
            // Another machine drives it: where it races, this one may run attempts of it.
            Err(err) if err.is::<ClaimLost>() => {
                let fetched = self.store.load(&trak.id)?;
                return self.help_race(fetched, &remote)?.ok_or(err);
            }
            Err(err) => return Err(err),
        };
        let id = trak.id.clone();
        let result = self.drive_steps(trak, Some(&held));
        if held.is_lost() {
            drop(held);
            return Err(self.taken_over(&id, &remote));
        }
        if let Err(err) = held.release(self.store) {
            self.reporter
                .warning(&format!("could not release the claim: {err:#}"));
        }
        result
    }

    /// The steps of [`Engine::drive`], under the run lock (and the claim, if any: once it is
    /// lost, no step more is taken or shared).
    fn drive_steps(&mut self, trak: Trak, held: Option<&HeldClaim>) -> Result<Trak> {
        let trak = self.store.adopt(&trak)?;
        signatures::check_decisions(self.store, self.workflow, &trak)?;
        if subtraks::wanted_by_parent(self.store, &trak) == Some(false)
            && !trak.state.status.is_finished()
        {
            self.reporter.step(&format!(
                "subtrak {}: its parent no longer waits on it (its breakdown was rejected); dropping it",
                trak.id
            ));
            return self.store.record(
                &trak,
                crate::store::event::EventKind::Dropped {
                    reason: "the parent's breakdown was rejected".into(),
                },
            );
        }
        let started_at = trak.tip;
        let trak = self.wake_at_raised_parent_budget(trak)?;
        let trak = self.before_first_run(trak)?;
        let mut trak = self.after_dependencies(trak)?;
        loop {
            self.show_warnings();
            if held.is_some_and(|held| !held.still_held(self.store)) {
                return Ok(trak);
            }
            if self.share() {
                // The sync may have brought this trak on (another machine's events).
                trak = self.store.load(&trak.id)?;
            }
            if matches!(trak.state.status, Status::Queued | Status::Running)
                && let Some((spent, limit)) = budget::day_budget_reached(self.store, self.workflow)?
            {
                self.reporter.step(&format!(
                    "{}: not started: the repository's budget for today is spent (${:.2} and {} tokens of {}); runs start again tomorrow (UTC), or raise [budget] per_day in {}",
                    trak.state.stage,
                    spent.cost_usd,
                    spent.input_tokens + spent.output_tokens,
                    limit.describe(),
                    crate::config::workflow::WORKFLOW_PATH
                ));
                return Ok(trak);
            }
            trak = match trak.state.status {
                Status::Queued | Status::Running if self.races(&trak)? => self.run_race(trak)?,
                Status::Queued => self.run_stage(trak)?,
                Status::Running => {
                    self.reporter.step(&format!(
                        "{}: the last run was interrupted; running it again",
                        trak.state.stage
                    ));
                    self.run_stage(trak)?
                }
                Status::Checking => self.check(trak)?,
                Status::Integrating => {
                    let trak = self.integrate(trak)?;
                    // Still integrating: the merge waits for the user (it said why).
                    if trak.state.status == Status::Integrating {
                        let trak = if self.share() {
                            self.store.load(&trak.id)?
                        } else {
                            trak
                        };
                        return Ok(self.stop(trak, started_at));
                    }
                    trak
                }
                Status::Subtraks => {
                    let trak = self.run_subtraks(trak)?;
                    if trak.state.status == Status::Subtraks {
                        return Ok(trak);
                    }
                    trak
                }
                Status::InReview => {
                    let trak = self.review_pull_request(trak)?;
                    // Still in review: GitHub (or a human) moves it on, not this drive.
                    if trak.state.status == Status::InReview {
                        if self.share() {
                            return self.store.load(&trak.id);
                        }
                        return Ok(trak);
                    }
                    trak
                }
                Status::AwaitingReview
                | Status::AwaitingAnswer
                | Status::Failed
                | Status::Done
                | Status::Dropped
                | Status::Conflict => return Ok(self.stop(trak, started_at)),
            };
        }
    }

    /// Whether the trak's current stage is a race (`race = {…}`, `engine/race.rs`).
    fn races(&self, trak: &Trak) -> Result<bool> {
        let flow = self.flow(trak)?;
        Ok(self.stage(flow, trak)?.race.is_some())
    }

    /// A subtrak that waits at its parent's budget goes on once a person raised that budget
    /// (`ork approve <parent> --budget`): the decision is the parent's, recorded and signed there.
    fn wake_at_raised_parent_budget(&mut self, trak: Trak) -> Result<Trak> {
        if trak.state.status != Status::Failed
            || !budget::parent_budget_raised(self.store, self.workflow, &trak)?
        {
            return Ok(trak);
        }
        let parent = trak.state.budget_owner.clone().unwrap_or_default();
        self.reporter.step(&format!(
            "subtrak {}: the budget of {parent} was raised; it goes on",
            trak.id
        ));
        self.store.record(
            &trak,
            crate::store::event::EventKind::ParentBudgetRaised { parent },
        )
    }

    /// The loop stops with `trak`: if this drive moved it to where a human is needed (or to
    /// done), the user is told: the notify command, the reporter's bell.
    fn stop(&mut self, trak: Trak, started_at: crate::store::git::Oid) -> Trak {
        if trak.tip != started_at && notify::worth_telling(trak.state.status) {
            self.reporter.stopped(&trak);
            let dir = notify::place(self.store, &trak);
            if let Some(warning) = notify::notify(&self.workflow.notify, &dir, &trak) {
                self.reporter.warning(&warning);
            }
        }
        trak
    }

    /// With `[sync] auto = true`: pushes what was just recorded (and fetches what others did),
    /// so a team sees each transition as it happens. A failure is only a warning: the work is
    /// recorded here, and the next sync carries it.
    /// Returns whether a sync ran.
    fn share(&mut self) -> bool {
        if !self.workflow.sync.auto {
            return false;
        }
        if let Err(err) = actions::share_recorded(self.store) {
            self.reporter
                .warning(&format!("auto-sync failed: {err:#}; run `ork sync` later"));
        }
        true
    }

    /// A stage that runs on another machine is theirs until its lease runs out, unless the user
    /// takes it over.
    fn check_claim(&self, trak: &Trak) -> Result<()> {
        let Some(machine) = trak.state.running_on.as_deref() else {
            return Ok(());
        };
        if machine == self.store.machine() || self.take_over {
            return Ok(());
        }
        let lease = chrono::Duration::from_std(self.workflow.sync.lease).unwrap_or_default();
        let until = trak.state.updated_at + lease;
        if chrono::Utc::now() >= until {
            return Ok(());
        }
        bail!(
            "{} of trak {} is running on {machine} since {} (its claim holds until {}).\n  \
             If that machine is gone, take it over: ork resume {} --take-over",
            trak.state.stage,
            trak.id,
            trak.state.updated_at.format("%Y-%m-%d %H:%M UTC"),
            until.format("%Y-%m-%d %H:%M UTC"),
            trak.id
        )
    }

    /// Takes the trak's run lock, or says who holds it.
    fn lock(&self, trak: &Trak) -> Result<std::fs::File> {
        // `ork status` and the UI take the lock for an instant to see whether a run is alive:
        // a drive starting in that instant waits it out rather than failing.
        let deadline = std::time::Instant::now() + RUN_LOCK_PATIENCE;
        let mut lock = try_run_lock(self.store, &trak.id)?;
        while lock.is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            lock = try_run_lock(self.store, &trak.id)?;
        }
        lock.ok_or_else(|| {
                anyhow::anyhow!(
                    "trak {} is being run by another ork process on this machine; wait for it, or see `ork logs {} -f`",
                    trak.id,
                    trak.id
                )
            })
    }

    /// The race's account and `trak`'s number in it, when `trak` is an attempt this engine
    /// drives in a race.
    fn race_account(&self, trak: &Trak) -> Option<(std::sync::Arc<race_spend::RaceSpend>, u32)> {
        let (_, no) = crate::store::attempt_of(trak)?;
        Some((self.race_spend.clone()?, no))
    }

    fn flow(&self, trak: &Trak) -> Result<&Flow> {
        self.workflow
            .recorded_flow(&trak.state.flow)
            .with_context(|| format!("trak {} cannot go on", trak.id))
    }

    fn stage<'f>(&self, flow: &'f Flow, trak: &Trak) -> Result<&'f Stage> {
        flow.stage(&trak.state.stage)
            .with_context(|| format!("trak {} cannot go on", trak.id))
    }
}

/// The `ORK_*` environment of an agent or gate.
fn agent_env(trak: &Trak, stage: &Stage, attempt: u32, worktree: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        (INSIDE_TRAK_VAR.into(), trak.id.clone()),
        ("ORK_STAGE".into(), stage.name.clone()),
        ("ORK_ATTEMPT".into(), attempt.to_string()),
        ("ORK_ARTIFACT".into(), stage.artifact.clone()),
        ("ORK_WORKTREE".into(), worktree.display().to_string()),
        ("ORK_BASE_BRANCH".into(), trak.state.base.clone()),
    ];
    // A race's attempt says which it is: its worktree is its own, its agent may be another's.
    if let Some((_, no)) = crate::store::attempt_of(trak) {
        env.push(("ORK_RACE".into(), no.to_string()));
    }
    // A subtrak's agent may want to know what it is part of.
    if let (Some(parent), Some(key)) = (&trak.state.parent, &trak.state.key) {
        env.push(("ORK_PARENT".into(), parent.clone()));
        env.push(("ORK_SUBTRAK".into(), key.clone()));
    }
    env
}

/// The trak's worktree, made (again) if it is missing or was left half-made by a crash.
pub fn ensure_worktree(store: &Store, trak: &Trak, workflow: &Workflow) -> Result<PathBuf> {
    let path = store.worktree_path_of(trak);
    if let Some(existing) = store.git().worktree_of_branch(&trak.branch)?
        && existing.join(".git").exists()
    {
        return Ok(existing);
    }
    // A registration without a checkout, or a checkout without a registration: start over.
    store.git().prune_worktrees()?;
    if path.exists() {
        checkpoints::set_aside(store, trak, &path)?;
    }
    crate::engine::worktree::create(store, trak, workflow)
}

/// Whether a trak in `status` waits for a human to act.
pub fn waits_for_human(status: Status) -> bool {
    matches!(
        status,
        Status::AwaitingReview | Status::AwaitingAnswer | Status::Failed | Status::Conflict
    )
}

/// What the user can do next with `trak`, as one line.
pub fn next_step(trak: &Trak) -> String {
    let id = &trak.id;
    match trak.state.status {
        Status::Queued => format!("Run it: ork resume {id}"),
        Status::Running => format!(
            "It is running on {}; its progress arrives with git fetch (ork logs {id} -f follows a run on this machine)",
            trak.state.running_on.as_deref().unwrap_or("some machine")
        ),
        Status::Checking => format!("Its gate and review come next: ork resume {id}"),
        Status::AwaitingReview => {
            format!("Review it: ork approve {id}  /  ork reject {id} -m \"…\"")
        }
        Status::AwaitingAnswer => format!("Answer its questions: ork answer {id} -m \"…\""),
        // A trak at its budget goes on when the budget is raised; a retry would stop again.
        Status::Failed if trak.state.budget_reached.is_some() => {
            let owner = trak.state.budget_owner.as_deref().unwrap_or(id);
            format!("Raise the budget it stopped at: ork approve {owner} --budget <more>")
        }
        Status::Failed => {
            format!("Run the stage again: ork retry {id}  (or ork reject {id} -m \"…\")")
        }
        Status::Integrating => format!("Merge it: ork integrate {id}"),
        Status::InReview => match &trak.state.pull_request {
            Some(pr) => format!(
                "Its pull request #{} is reviewed on GitHub ({}); read it again: ork resume {id}",
                pr.number, pr.url
            ),
            None => format!("Read its pull request: ork resume {id}"),
        },
        Status::Done => "Nothing: it is merged.".to_string(),
        Status::Dropped => match &trak.state.parent {
            Some(parent) => format!(
                "Nothing: it was dropped (its branch keeps its history); its parent goes on without it: ork resume {parent}  (bring it back: ork trak restore {id})"
            ),
            None => format!(
                "Nothing: it was dropped (its branch keeps its history); bring it back: ork trak restore {id}"
            ),
        },
        Status::Subtraks => format!(
            "It waits on its subtraks; see which and what they need: ork show {id}  (carry on: ork resume {id})"
        ),
        Status::Conflict => format!(
            "Two machines made different decisions; keep one: ork resolve {id} --keep approved  (or rejected, or an event id from ork show)"
        ),
    }
}

/// `.git/ork/runs/<id>/`: the runtime files of trak `id`'s runs on this machine (prompts,
/// output files, live logs). No state: the kept logs are on the log ref.
pub fn runs_dir(store: &Store, id: &str) -> PathBuf {
    store.git().runtime_dir().join("runs").join(id)
}

/// Removes a finished or dropped trak's runtime files and its races (attempts' worktrees and
/// refs); a failure is a warning.
fn forget_runs(store: &Store, id: &str) {
    if let Err(err) = store.forget_races(id) {
        store.warnings().push(format!(
            "could not remove the races of trak {id}: {err:#}; delete refs/ork/race/{id}/ by hand (git update-ref -d), they hold nothing the trak needs"
        ));
    }
    let dir = runs_dir(store, id);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => store.warnings().push(format!(
            "could not remove {}: {e}; delete it by hand, it holds nothing ork needs",
            dir.display()
        )),
        _ => {}
    }
}

/// How long a drive waits for a trak's run lock before it says another process runs the trak:
/// far longer than a probe holds it, far shorter than any run.
const RUN_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// The lock an `ork` process holds on this machine while it runs trak `id` (released by the OS
/// if the process dies), or `None` if another process holds it.
pub fn try_run_lock(store: &Store, id: &str) -> Result<Option<std::fs::File>> {
    store.git().try_runtime_lock(&format!("run/{id}.lock"))
}

/// Like [`next_step`], knowing what only this machine can tell: whether a run was killed.
pub fn next_step_here(store: &Store, trak: &Trak) -> String {
    if is_interrupted(store, trak) {
        format!("Its run was interrupted; carry on: ork resume {}", trak.id)
    } else {
        next_step(trak)
    }
}

/// Whether `trak` shows `running` although no ork process on this machine runs it: a run that
/// was killed. (A run on another machine cannot be checked from here.)
pub fn is_interrupted(store: &Store, trak: &Trak) -> bool {
    trak.state.status == Status::Running
        && trak.location == Location::Local
        && trak.state.running_on.as_deref() == Some(store.machine())
        && try_run_lock(store, &trak.id).is_ok_and(|lock| lock.is_some())
}
