//! Races: a stage with `race = {…}` runs several attempts side by side, each in a worktree and
//! on a ref of its own (`refs/ork/race/<id>/<stage>/<no>`, see `store/race.rs`), each through
//! the stage's gate and its retries on its own, like a trak of its own. Of those that pass,
//! one wins: the only one, the judge's pick, or a person's (`ork approve --pick`). The winner's
//! files become one commit on the trak's branch; every attempt's cost counts in the trak's.
//!
//! Every step is an event on the trak, so a race picks up after a crash where it stopped: the
//! attempts that finished are recorded (`race_attempt_finished`), the others drive on from
//! their refs, which hold their own runs.

use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::claim::{AttemptClaim, AttemptStanding, attempt_standing};
use super::race_spend::RaceSpend;
use super::subtraks::{Forward, Message};
use super::{Engine, HeldClaim, agent_env};
use crate::agent::AgentOutput;
use crate::config::race::Race as RaceConfig;
use crate::config::workflow::{Stage, Workflow};
use crate::engine::budget::{Cap, Spend, caps_for_run};
use crate::engine::process::output::keep_head;
use crate::engine::process::runner::{RunSpec, run};
use crate::store::event::{EventKind, Picker, RaceGate, Racer, Usage};
use crate::store::git::{Git, Oid};
use crate::store::state::{Race, RaceAttempt, Status};
use crate::store::{Store, Trak};

impl Engine<'_> {
    /// The race of the trak's current stage: started (or picked up again), its attempts run
    /// to their end, and a winner picked where one can be without a person.
    pub(super) fn run_race(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        let config = stage.race.clone().context("the stage has no race")?;
        let under_way = trak.state.status == Status::Running
            && trak
                .state
                .races
                .get(&stage.name)
                .is_some_and(|race| race.winner.is_none());
        let trak = if under_way {
            self.reporter.step(&format!(
                "{}: the race was interrupted; its open attempts go on",
                stage.name
            ));
            trak
        } else {
            self.start_race(trak, &stage, &config)?
        };
        let open = open_attempts(race_of(&trak, &stage.name)?);
        let remote = super::queue_remote(self.store, self.workflow);
        let (trak, _) =
            self.run_attempts(trak, &stage, &config, open, remote.as_deref(), Role::Driver)?;
        self.pick(trak, &stage, &config)
    }

    /// Another machine drives trak `trak`'s race (it holds the trak's claim on `remote`): this
    /// machine runs the race's attempts no machine holds, each claimed on its own, and shares
    /// each one's ref as it ends; the driver records them. `None` when the trak is not racing,
    /// or every open attempt is held already: then there is nothing to help with.
    pub(super) fn help_race(&mut self, trak: Trak, remote: &str) -> Result<Option<Trak>> {
        if trak.state.status != Status::Running {
            return Ok(None);
        }
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        let Some(config) = stage.race.clone() else {
            return Ok(None);
        };
        let Some(race) = trak
            .state
            .races
            .get(&stage.name)
            .filter(|r| r.winner.is_none())
        else {
            return Ok(None);
        };
        let open = open_attempts(race);
        if open.is_empty() {
            return Ok(None);
        }
        let (trak, ran) =
            self.run_attempts(trak, &stage, &config, open, Some(remote), Role::Helper)?;
        if ran == 0 {
            return Ok(None);
        }
        self.share();
        Ok(Some(trak))
    }

    /// Runs `open` attempts of the race at `stage`, `config.parallel` at a time, each in a
    /// thread of its own. With a `remote` (the shared queue), each attempt is claimed there
    /// first, as a trak is: an attempt another machine holds is its to run, and the driver
    /// waits for its release (fetching now and then), or takes it once its claim runs out.
    /// The driver records each attempt's end on the trak; a helper only shares its refs.
    /// Returns the trak and how many attempts ran here.
    fn run_attempts(
        &mut self,
        mut trak: Trak,
        stage: &Stage,
        config: &RaceConfig,
        open: Vec<RaceAttempt>,
        remote: Option<&str>,
        role: Role,
    ) -> Result<(Trak, usize)> {
        let race = race_of(&trak, &stage.name)?;
        let from = oid(&race.from)?;
        // One account of what the attempts spend: every cap of every attempt counts them all.
        let account = Arc::new(RaceSpend::seeded(
            self.store,
            &trak.id,
            &stage.name,
            race,
            from,
        )?);
        // Attempts record on their own refs only, and share nothing on their own: the trak's
        // drive does (one claim for the whole race, and one per attempt). A checkpoint is of
        // the trak's worktree.
        let mut quiet = self.workflow.clone();
        quiet.sync.auto = false;
        quiet.sync.queue = false;
        quiet.checkpoint = None;
        let workdir = self.store.git().main_workdir().to_path_buf();
        let (tx, rx) = channel::<Message>();
        let mut pending: VecDeque<RaceAttempt> = open.into();
        let mut elsewhere: Vec<RaceAttempt> = Vec::new();
        let mut running = 0usize;
        let mut ran = 0usize;
        let mut looked = Instant::now();
        std::thread::scope(|scope| -> Result<()> {
            loop {
                while running < config.parallel {
                    let Some(attempt) = pending.pop_front() else {
                        break;
                    };
                    let Some(held) =
                        self.claim_for_run(&mut trak, stage, from, &attempt, remote, role)?
                    else {
                        if role == Role::Driver
                            && !race_of(&trak, &stage.name)?.finished(attempt.no)
                        {
                            elsewhere.push(attempt);
                        }
                        continue;
                    };
                    // Each attempt's worktree is made by this thread as the attempt starts
                    // (git's registrations are written and read under one lock, see
                    // store/git/worktrees.rs), from its ref as the remote last had it.
                    if let Err(err) =
                        self.prepare_attempt(&trak.id, &stage.name, attempt.no, from, remote)
                    {
                        // Not left held until its lease runs out: anyone may run it.
                        if let Some(held) = held
                            && let Err(also) = held.give_back(self.store)
                        {
                            self.reporter.warning(&format!("{also:#}"));
                        }
                        return Err(err);
                    }
                    running += 1;
                    ran += 1;
                    let (tx, workdir, quiet) = (tx.clone(), &workdir, &quiet);
                    let account = account.clone();
                    let (id, stage_name) = (trak.id.clone(), stage.name.clone());
                    scope.spawn(move || {
                        let no = attempt.no;
                        let result = drive_attempt(
                            workdir,
                            quiet,
                            (&id, &stage_name),
                            &attempt,
                            from,
                            account,
                            (tx.clone(), held, role),
                        )
                        .map_err(|e| format!("{e:#}"));
                        let _ = tx.send(Message::Finished(no.to_string(), result));
                    });
                }
                // What other machines' attempts spent counts here once they are recorded.
                account.recorded(race_of(&trak, &stage.name)?);
                if running == 0 && elsewhere.is_empty() {
                    return Ok(());
                }
                match rx.recv_timeout(ELSEWHERE_POLL) {
                    Ok(message) => {
                        if let Some((no, result)) = self.pass_on(message) {
                            running -= 1;
                            let no: u32 = no.parse().context("an attempt's number")?;
                            let attempt = attempt_no(&trak, &stage.name, no)?;
                            match (role, result) {
                                // Its claim was taken over: another machine runs it now.
                                (Role::Driver, Ok(Status::Queued | Status::Running)) => {
                                    elsewhere.push(attempt)
                                }
                                (Role::Driver, result) => {
                                    trak = self.attempt_finished(&trak, stage, from, no, result)?
                                }
                                (Role::Helper, result) => self.helped(stage, &attempt, result),
                            }
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => bail!("a race attempt's thread stopped"),
                }
                if let Some(remote) = remote
                    && !elsewhere.is_empty()
                    && looked.elapsed() >= ELSEWHERE_POLL
                {
                    // Claimed again, each one is over there (recorded now), still held there,
                    // or free (its claim ran out, or was given back): then it runs here.
                    looked = Instant::now();
                    if let Err(err) = self.store.git().fetch(remote) {
                        self.reporter
                            .warning(&format!("could not fetch the race's attempts: {err:#}"));
                    }
                    pending.extend(elsewhere.drain(..));
                }
            }
        })?;
        Ok((trak, ran))
    }

    /// Claims `attempt` for a run on this machine, where there is a `remote` (else there is
    /// nothing to claim: `Some(None)`). `None` when it is not this machine's to run now: another
    /// machine holds it, or it is over there, and then the driver records it at once.
    fn claim_for_run(
        &mut self,
        trak: &mut Trak,
        stage: &Stage,
        from: Oid,
        attempt: &RaceAttempt,
        remote: Option<&str>,
        role: Role,
    ) -> Result<Option<Option<HeldClaim>>> {
        let Some(remote) = remote else {
            return Ok(Some(None));
        };
        match self.claim_attempt((&trak.id, &stage.name, attempt.no, from), remote)? {
            AttemptClaim::Held(held) => Ok(Some(Some(held))),
            AttemptClaim::Elsewhere => Ok(None),
            AttemptClaim::Over => {
                if role == Role::Driver {
                    *trak = self.finished_elsewhere(trak, stage, from, attempt, remote)?;
                }
                Ok(None)
            }
        }
    }

    /// Attempt `no`'s ref and worktree, ready for it to run here: from its ref as the remote
    /// last had it, where there is one.
    fn prepare_attempt(
        &mut self,
        id: &str,
        stage: &str,
        no: u32,
        from: Oid,
        remote: Option<&str>,
    ) -> Result<()> {
        if let Some(remote) = remote {
            self.store
                .take_remote_attempt(id, stage, no, from, remote)?;
        }
        let racer = self.store.race_attempt(id, stage, no, from)?;
        super::ensure_worktree(self.store, &racer, self.workflow)
            .with_context(|| format!("preparing the worktree of race attempt {no}"))?;
        Ok(())
    }

    /// Attempt `attempt`, run on another machine, is over: its ref from the remote becomes
    /// this machine's, and its end is recorded on the trak.
    fn finished_elsewhere(
        &mut self,
        trak: &Trak,
        stage: &Stage,
        from: Oid,
        attempt: &RaceAttempt,
        remote: &str,
    ) -> Result<Trak> {
        self.store
            .take_remote_attempt(&trak.id, &stage.name, attempt.no, from, remote)?;
        let ran = self
            .store
            .race_attempt(&trak.id, &stage.name, attempt.no, from)?;
        let machine = ran
            .state
            .running_on
            .clone()
            .unwrap_or_else(|| "another machine".to_string());
        self.reporter.step(&format!(
            "{}: attempt {} ({}) ran on {machine}",
            stage.name, attempt.no, attempt.agent
        ));
        let status = ran.state.status;
        self.attempt_finished(trak, stage, from, attempt.no, Ok(status))
    }

    /// A helper's attempt ended: said here; the race's driver records it.
    fn helped(
        &mut self,
        stage: &Stage,
        attempt: &RaceAttempt,
        result: std::result::Result<Status, String>,
    ) {
        let outcome = match result {
            Ok(status) => format!(
                "stopped {}; shared for the race's driver to record",
                status.as_str()
            ),
            Err(err) => format!("could not finish here ({err}); given back to the race"),
        };
        self.reporter.step(&format!(
            "{}: attempt {} ({}) {outcome}",
            stage.name, attempt.no, attempt.agent
        ));
    }

    /// Records that the race starts, from the trak's tip.
    fn start_race(&mut self, trak: Trak, stage: &Stage, config: &RaceConfig) -> Result<Trak> {
        let attempts: Vec<Racer> = config
            .attempts
            .iter()
            .zip(1..)
            .map(|(agent, no)| Racer {
                no,
                agent: agent.clone(),
            })
            .collect();
        self.reporter.step(&format!(
            "{}: a race of {} attempts ({}), {} at a time",
            stage.name,
            attempts.len(),
            config.attempts.join(", "),
            config.parallel.min(attempts.len())
        ));
        let trak = self.store.record(
            &trak,
            EventKind::RaceStarted {
                stage: stage.name.clone(),
                from: trak.tip.to_string(),
                attempts,
            },
        )?;
        self.publish_start(&trak)?;
        Ok(trak)
    }

    /// Attempt `no` stopped (`result`: the status its drive ended at, or its error): what it
    /// came to, recorded on the trak with what it spent.
    fn attempt_finished(
        &mut self,
        trak: &Trak,
        stage: &Stage,
        from: Oid,
        no: u32,
        result: std::result::Result<Status, String>,
    ) -> Result<Trak> {
        let agent = race_of(trak, &stage.name)?
            .attempts
            .iter()
            .find(|a| a.no == no)
            .map(|a| a.agent.clone())
            .unwrap_or_default();
        let attempt = self.store.race_attempt(&trak.id, &stage.name, no, from)?;
        let (usage, runs) = spent_since(self.store, &attempt, from)?;
        let passed = attempt.state.status == Status::Checking
            && (stage.gate.is_none() || attempt.state.gate_passed)
            && result.is_ok();
        let error = match (&result, passed) {
            (_, true) => None,
            (Err(err), _) => Some(err.clone()),
            (Ok(status), _) => Some(
                attempt
                    .state
                    .note
                    .clone()
                    .unwrap_or_else(|| format!("it stopped {}", status.as_str())),
            ),
        };
        let gate = if passed {
            RaceGate::Passed
        } else {
            RaceGate::Failed
        };
        let why = match (&result, passed) {
            (Err(err), false) => format!(": {err}"),
            _ => String::new(),
        };
        self.reporter.step(&format!(
            "{}: attempt {no} ({agent}) {} after {runs} run(s){why}",
            stage.name,
            if passed { "passed" } else { "failed" }
        ));
        self.store.record(
            trak,
            EventKind::RaceAttemptFinished {
                stage: stage.name.clone(),
                no,
                agent,
                gate,
                tip: attempt.tip.to_string(),
                usage,
                runs,
                error: error.map(|e| {
                    keep_head(&e, self.workflow.limits.feedback, "See ork show for more.")
                }),
                ran_on: attempt.state.running_on.clone(),
            },
        )
    }

    /// Every attempt is over: the one that passed wins, or the judge picks, or a person is
    /// asked; none passing fails the stage as its gate would.
    fn pick(&mut self, trak: Trak, stage: &Stage, config: &RaceConfig) -> Result<Trak> {
        let race = race_of(&trak, &stage.name)?.clone();
        let passed: Vec<RaceAttempt> = race.passed().into_iter().cloned().collect();
        if passed.is_empty() {
            return match self.budget_spent(&trak, stage)? {
                Some(cap) => self.race_at_budget(trak, stage, &cap),
                None => self.race_lost(trak, stage, &race),
            };
        }
        if stage.review == crate::config::workflow::Review::Human {
            let reason = format!(
                "{} of {} attempts passed ({}); a person picks: ork approve {} --pick K (see ork diff {} --race)",
                passed.len(),
                race.attempts.len(),
                numbers(&passed),
                trak.id,
                trak.id
            );
            self.reporter
                .step(&format!("{}: waiting for a pick: {reason}", stage.name));
            return self.store.record(
                &trak,
                EventKind::RacePickRequested {
                    stage: stage.name.clone(),
                    reason,
                    usage: Usage::default(),
                },
            );
        }
        if let [only] = passed.as_slice() {
            let reason = format!("attempt {} was the only one to pass", only.no);
            return self.crown(trak, stage, only, Picker::Only, reason, Usage::default());
        }
        let Some(judge) = config.judge.as_deref() else {
            bail!(
                "stage {} races with no judge and no person to pick; set judge = \"…\" in its race",
                stage.name
            );
        };
        let (answer, usage) = self.judge(&trak, stage, config, judge, &race, &passed)?;
        // The judge's reading kept only a winner among those that passed.
        let picked = answer.and_then(|(no, reason)| {
            let winner = passed.iter().find(|a| a.no == no);
            winner
                .map(|w| (w.clone(), reason))
                .ok_or_else(|| format!("attempt {no} did not pass"))
        });
        match picked {
            Ok((winner, reason)) => self.crown(trak, stage, &winner, Picker::Judge, reason, usage),
            Err(why) => {
                let reason = format!(
                    "the judge could not pick: {why}. A person picks: ork approve {} --pick K (of {}; see ork diff {} --race)",
                    trak.id,
                    numbers(&passed),
                    trak.id
                );
                self.reporter.step(&format!("{}: {reason}", stage.name));
                self.store.record(
                    &trak,
                    EventKind::RacePickRequested {
                        stage: stage.name.clone(),
                        reason,
                        usage,
                    },
                )
            }
        }
    }

    /// The cap over the trak's stage that what it spent (every attempt's runs counted) has
    /// reached, if any.
    fn budget_spent(&self, trak: &Trak, stage: &Stage) -> Result<Option<Cap>> {
        let flow = self.flow(trak)?;
        let caps = caps_for_run(self.store, self.workflow, trak, flow, stage)?;
        Ok(Spend::new(caps, self.workflow.prices.clone()).reached_before())
    }

    /// No attempt passed and the budget is spent (the attempts stopped at it, or will at their
    /// next run): the trak waits at it as after any run stopped there, and raising it
    /// (`ork approve --budget`) races again from the trak's tip. The attempts' worktrees stay
    /// until then, with what the stopped runs left uncommitted.
    fn race_at_budget(&mut self, trak: Trak, stage: &Stage, cap: &Cap) -> Result<Trak> {
        self.reporter.step(&format!(
            "{}: no attempt of the race passed, and the budget is spent",
            stage.name
        ));
        let attempt = trak.state.attempt;
        // What the attempts spent is counted already, attempt by attempt.
        self.stop_at_budget(&trak, &stage.name, attempt, cap, Usage::default(), None)
    }

    /// No attempt passed: the stage fails as a gate that ran out of attempts does, each
    /// attempt's failure in the output (`ork retry` races again).
    fn race_lost(&mut self, trak: Trak, stage: &Stage, race: &Race) -> Result<Trak> {
        let lines: Vec<String> = race
            .attempts
            .iter()
            .map(|a| {
                format!(
                    "attempt {} ({}): {}",
                    a.no,
                    a.agent,
                    a.error.as_deref().unwrap_or("failed")
                )
            })
            .collect();
        self.reporter.step(&format!(
            "{}: no attempt of the race passed; the trak waits: ork retry {id}  /  ork reject {id} -m \"…\"",
            stage.name,
            id = trak.id
        ));
        let attempt = trak.state.attempt;
        forget_worktrees(self.store, &trak, &stage.name);
        self.store.record(
            &trak,
            EventKind::GateFailed {
                stage: stage.name.clone(),
                attempt,
                output: keep_head(
                    &format!("No attempt of the race passed:\n\n{}", lines.join("\n\n")),
                    self.workflow.limits.feedback,
                    "Each attempt's runs are in ork logs.",
                ),
                retry: false,
            },
        )
    }

    /// `winner` wins: its files become the stage's result on the trak's branch.
    fn crown(
        &mut self,
        trak: Trak,
        stage: &Stage,
        winner: &RaceAttempt,
        by: Picker,
        reason: String,
        usage: Usage,
    ) -> Result<Trak> {
        self.reporter.step(&format!(
            "{}: attempt {} ({}) wins, picked by {}",
            stage.name,
            winner.no,
            winner.agent,
            by.as_str()
        ));
        let trak = crown(self.store, &trak, stage, winner, by, reason, usage, None)?;
        forget_worktrees(self.store, &trak, &stage.name);
        Ok(trak)
    }

    /// Runs the race's judge on the attempts that passed: its pick (or why it made none) and
    /// what it spent.
    fn judge(
        &mut self,
        trak: &Trak,
        stage: &Stage,
        config: &RaceConfig,
        judge: &str,
        race: &Race,
        passed: &[RaceAttempt],
    ) -> Result<(JudgeAnswer, Usage)> {
        let agent = self
            .workflow
            .agents
            .get(judge)
            .with_context(|| format!("the race's judge \"{judge}\" is not a defined agent"))?
            .clone();
        if let Some(cap) = self.budget_spent(trak, stage)? {
            // The attempts spent the budget: a person's pick costs nothing.
            let why = format!(
                "it did not run, as {} reached its budget ({})",
                cap.describe(),
                cap.limit.describe()
            );
            return Ok((Err(why), Usage::default()));
        }
        let prompt = self.judge_prompt(trak, stage, config, race, passed)?;
        let run_dir = super::runs_dir(self.store, &trak.id).join(format!("{}-judge", stage.name));
        let worktree = run_dir.join("worktree");
        let git = self.store.git();
        if worktree.exists() {
            git.remove_scratch_worktree(&worktree)?;
        }
        git.add_scratch_worktree(&worktree, oid(&race.from)?)?;
        self.reporter.step(&format!(
            "{}: the judge {judge} picks among {}",
            stage.name,
            numbers(passed)
        ));
        let flow = self.flow(trak)?.clone();
        let spend = Spend::new(
            caps_for_run(self.store, self.workflow, trak, &flow, stage)?,
            self.workflow.prices.clone(),
        );
        let mut env = agent_env(trak, stage, trak.state.attempt, &worktree);
        env.push(("ORK_RACE".into(), "judge".into()));
        let confinement = self.confinement(trak, &worktree, &run_dir);
        let whole_at = format!("The judge's output is in {}", run_dir.display());
        let spec = RunSpec {
            agent: &agent,
            repo_root: self.store.git().main_workdir(),
            worktree: &worktree,
            prompt: &prompt,
            env,
            resume: None,
            verdict: false,
            breakdown: false,
            pick: true,
            run_dir: &run_dir,
            limits: &self.workflow.limits,
            whole_at: &whole_at,
            confinement: &confinement,
            spend: &spend,
            stall: None,
            // The judge reads what it is given; it gets nothing of ork's.
            ork_mcp: None,
        };
        let reporter = &mut *self.reporter;
        // Its lines are told apart from the attempts' (`[race-2 codex]`) as the judge's.
        let mut live = |line: &str| {
            reporter.line(&format!(
                "[judge {judge}] {}",
                crate::store::secrets::redact(line)
            ))
        };
        let ran = run(&spec, &mut live);
        let removed = self.store.git().remove_scratch_worktree(&worktree);
        let finished = ran?;
        removed?;
        let usage = spend.priced(finished.result.usage, agent.model.as_deref());
        let answer = match finished.result.output {
            AgentOutput::Pick { winner, content } if passed.iter().any(|a| a.no == winner) => {
                Ok((winner, content))
            }
            AgentOutput::Pick { winner, .. } => Err(format!(
                "it picked attempt {winner}, which is not one of those that passed ({})",
                numbers(passed)
            )),
            AgentOutput::Failed { error } => Err(format!("it failed: {error}")),
            _ => Err(
                "it answered without a pick ({\"type\": \"pick\", \"winner\": K, \"content\": \"why\"})"
                    .to_string(),
            ),
        };
        Ok((answer, usage))
    }

    /// The judge's prompt: its template filled in as a stage's is, then each passing
    /// attempt's artifact and diff against the race's start, bounded (`{{attempts}}`).
    fn judge_prompt(
        &self,
        trak: &Trak,
        stage: &Stage,
        config: &RaceConfig,
        race: &Race,
        passed: &[RaceAttempt],
    ) -> Result<String> {
        let path = self
            .store
            .git()
            .main_workdir()
            .join(crate::layout::PROMPTS)
            .join(&config.prompt);
        let template = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the judge's prompt template {}", path.display()))?;
        let description = self.store.description(trak)?;
        let rendered = crate::engine::prompt::render(
            &template,
            &crate::engine::prompt::PromptInput {
                trak: &trak.id,
                title: &trak.state.title,
                description: &description,
                stage: &stage.name,
                attempt: trak.state.attempt,
                base: &trak.state.base,
                artifacts: &[],
                feedback: None,
                answers: &[],
                notes: &[],
            },
        );
        // Each attempt gets its share of the artifact limit, so the prompt stays bounded.
        let share = self.workflow.limits.artifact / passed.len().max(1);
        let mut section = String::new();
        for attempt in passed {
            let tip = oid(attempt.tip.as_deref().unwrap_or_default())?;
            let artifact = self
                .store
                .git()
                .read_file(
                    tip,
                    &format!(
                        "{}/artifacts/{}.md",
                        crate::store::record_dir(&trak.id),
                        stage.artifact
                    ),
                )?
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            let diff = crate::engine::views::inspect::attempt_diff(
                self.store,
                &trak.id,
                oid(&race.from)?,
                tip,
            )?;
            let whole = format!("The whole diff: ork diff {} --race", trak.id);
            section.push_str(&format!(
                "## Attempt {} ({})\n\n### Its {}\n\n{}\n\n### Its diff\n\n```diff\n{}\n```\n\n",
                attempt.no,
                attempt.agent,
                stage.artifact,
                keep_head(artifact.trim(), share / 4, &whole),
                keep_head(diff.trim_end(), share - share / 4, &whole)
            ));
        }
        let answer = format!(
            "Answer with the number of the attempt that should carry on: {{\"type\": \"pick\", \"winner\": K, \"content\": \"why\"}} (K one of {}).",
            numbers(passed)
        );
        let section = format!("{}{answer}", section);
        Ok(if rendered.contains("{{attempts}}") {
            rendered.replace("{{attempts}}", &section)
        } else {
            format!("{rendered}\n{section}\n")
        })
    }
}

/// The judge's pick (the winner's number and why), or why it made none.
type JudgeAnswer = std::result::Result<(u32, String), String>;

/// Drives attempt `attempt` of trak `id`'s race at `stage` in this thread, with a repository
/// handle of its own, until it passes the gate or stops: the status it stops at. Under a
/// claim (`held`), the attempt's end is shared with its release (a helper that could not
/// finish gives it back instead); a claim lost meanwhile ends it at `Running`, another
/// machine's now.
fn drive_attempt(
    workdir: &Path,
    workflow: &Workflow,
    (id, stage): (&str, &str),
    attempt: &RaceAttempt,
    from: Oid,
    account: Arc<RaceSpend>,
    (tx, held, role): (Sender<Message>, Option<HeldClaim>, Role),
) -> Result<Status> {
    let store = Store::new(Git::discover(workdir)?);
    let mut reporter = Forward {
        key: format!("race-{} {}", attempt.no, attempt.agent),
        tx,
    };
    let mut engine = Engine {
        store: &store,
        workflow,
        reporter: &mut reporter,
        take_over: false,
        race_spend: Some(account),
    };
    let mut result = engine.drive_attempt(id, stage, attempt, from, held.as_ref());
    if let Some(held) = held {
        if held.is_lost() {
            result = Ok(Status::Running);
        } else {
            let shared = match (&result, role) {
                (Err(_), Role::Helper) => held.give_back(&store),
                _ => held.release(&store),
            };
            if let Err(err) = shared {
                store
                    .warnings()
                    .push(format!("could not share attempt {}: {err:#}", attempt.no));
            }
        }
    }
    for warning in store.warnings().take() {
        engine.reporter.warning(&warning);
    }
    result
}

impl Engine<'_> {
    fn drive_attempt(
        &mut self,
        id: &str,
        stage_name: &str,
        racer: &RaceAttempt,
        from: Oid,
        held: Option<&HeldClaim>,
    ) -> Result<Status> {
        let mut attempt = self.store.race_attempt(id, stage_name, racer.no, from)?;
        let flow = self.flow(&attempt)?.clone();
        let stage = flow.stage(stage_name)?.clone();
        if attempt.tip == from {
            // A new race: each attempt's session is its own, never the last winner's.
            attempt.state.sessions.remove(stage_name);
        }
        loop {
            if held.is_some_and(|held| !held.still_held(self.store)) {
                return Ok(Status::Running);
            }
            // The attempt's agent, over the stage's (and over an issue's label).
            attempt.state.agent = Some(racer.agent.clone());
            attempt = match attempt.state.status {
                Status::Queued | Status::Running => self.run_stage(attempt)?,
                Status::Checking => {
                    match stage.gate.as_ref().filter(|_| !attempt.state.gate_passed) {
                        Some(gate) => self.run_gate(attempt, &stage, gate)?,
                        None => return Ok(Status::Checking),
                    }
                }
                other => return Ok(other),
            };
        }
    }
}

/// What attempt `attempt` spent since the race started at `from`, and how many runs it made.
pub(super) fn spent_since(store: &Store, attempt: &Trak, from: Oid) -> Result<(Usage, u32)> {
    let before: HashSet<String> = store
        .events_at_commit(&attempt.id, from)?
        .into_iter()
        .map(|e| e.id)
        .collect();
    let mut usage = Usage::default();
    let mut runs = 0;
    for event in store.events(attempt)? {
        if before.contains(&event.id) {
            continue;
        }
        match &event.kind {
            EventKind::StageFinished { usage: spent, .. }
            | EventKind::BudgetReached { usage: spent, .. } => {
                usage.add(spent);
                runs += 1;
            }
            _ => {}
        }
    }
    Ok((usage, runs))
}

/// Records `winner` as the race's winner at `stage` on `trak`: its files on the branch.
#[allow(clippy::too_many_arguments)]
fn crown(
    store: &Store,
    trak: &Trak,
    stage: &Stage,
    winner: &RaceAttempt,
    by: Picker,
    reason: String,
    usage: Usage,
    signing_key: Option<&str>,
) -> Result<Trak> {
    let tip = oid(winner.tip.as_deref().unwrap_or_default())?;
    // Read at its recorded tip: on another machine only the fetched commit may be there.
    let session_id = store
        .race_attempt_at(&trak.id, &stage.name, winner.no, tip)
        .with_context(|| {
            format!(
                "attempt {}'s commit {tip} is not in this repository; fetch it from the machine that ran the race (ork sync there, then here)",
                winner.no
            )
        })?
        .state
        .sessions
        .get(&stage.name)
        .cloned();
    store.record_race_winner(
        trak,
        EventKind::RacePicked {
            stage: stage.name.clone(),
            winner: winner.no,
            agent: winner.agent.clone(),
            by,
            reason,
            usage,
            session_id,
        },
        tip,
        &stage.artifact,
        signing_key,
    )
}

/// The attempts' worktrees go once the race is decided (their refs stay for `ork diff --race`);
/// a failure is a warning.
fn forget_worktrees(store: &Store, trak: &Trak, stage: &str) {
    let Some(race) = trak.state.races.get(stage) else {
        return;
    };
    for attempt in &race.attempts {
        if let Err(err) = store.remove_race_worktree(&trak.id, stage, attempt.no) {
            store.warnings().push(format!(
                "could not remove the worktree of race attempt {}: {err:#}; `git worktree prune` after deleting {} tidies it",
                attempt.no,
                store.race_worktree_path(&trak.id, stage, attempt.no).display()
            ));
        }
    }
}

/// Who runs a race's attempts on this machine: the machine that drives the trak (it records
/// every attempt's end and picks), or one that helps it (it runs attempts no one holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Driver,
    Helper,
}

/// How often a race's driver looks whether the attempts other machines hold are over.
const ELSEWHERE_POLL: Duration = Duration::from_secs(2);

/// The attempts of `race` that have not ended, in order.
fn open_attempts(race: &Race) -> Vec<RaceAttempt> {
    race.attempts
        .iter()
        .filter(|a| a.gate.is_none())
        .cloned()
        .collect()
}

/// Attempt `no` of the race at `stage`, as the trak's record has it.
fn attempt_no(trak: &Trak, stage: &str, no: u32) -> Result<RaceAttempt> {
    race_of(trak, stage)?
        .attempts
        .iter()
        .find(|a| a.no == no)
        .cloned()
        .with_context(|| format!("the race at {stage} records no attempt {no}"))
}

/// Whether another machine's race on `trak` has an attempt no machine holds on `remote` (no
/// claim, or one whose lease ran out): one this machine could run (`ork run` starts it).
pub fn wants_help(store: &Store, workflow: &Workflow, remote: &str, trak: &Trak) -> Result<bool> {
    if trak.state.status != Status::Running {
        return Ok(false);
    }
    let Some(race) = trak
        .state
        .races
        .get(&trak.state.stage)
        .filter(|race| race.winner.is_none())
    else {
        return Ok(false);
    };
    let from = oid(&race.from)?;
    for attempt in open_attempts(race) {
        let attempt = (
            trak.id.as_str(),
            trak.state.stage.as_str(),
            attempt.no,
            from,
        );
        if let AttemptStanding::Free(_) = attempt_standing(store, workflow, remote, attempt)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `trak` waits for a person to pick its race's winner.
pub fn waits_for_pick(trak: &Trak) -> bool {
    trak.state.status == Status::AwaitingReview
        && trak
            .state
            .races
            .get(&trak.state.stage)
            .is_some_and(|race| race.winner.is_none() && race.all_finished())
}

/// A person picks attempt `pick` (or, with `None`, the only one that passed) as the race's
/// winner: its files become the stage's result, and the pick is their approval of the stage.
pub(super) fn pick_by_person(
    store: &Store,
    workflow: &Workflow,
    trak: &Trak,
    pick: Option<u32>,
) -> Result<Trak> {
    let stage_name = trak.state.stage.clone();
    let race = trak
        .state
        .races
        .get(&stage_name)
        .filter(|_| waits_for_pick(trak));
    let Some(race) = race else {
        bail!(
            "trak {} waits for no race's pick at {}: --pick is for a race whose attempts wait for a person",
            trak.id,
            stage_name
        );
    };
    let passed = race.passed();
    let winner = match pick {
        Some(no) => passed.iter().find(|a| a.no == no).copied().with_context(|| {
            format!(
                "attempt {no} of the race did not pass its gate, or there is none; pick one of {} (see ork show {} and ork diff {} --race)",
                numbers_of(&passed),
                trak.id,
                trak.id
            )
        })?,
        None => match passed.as_slice() {
            [only] => *only,
            _ => bail!(
                "{} attempts of the race passed: say which carries on: ork approve {} --pick K (K one of {}; see ork diff {} --race)",
                passed.len(),
                trak.id,
                numbers_of(&passed),
                trak.id
            ),
        },
    };
    let stage = workflow.recorded_stage(&trak.state.flow, &stage_name)?;
    let key = if workflow.trust.sign {
        Some(store.git().signing_key()?)
    } else {
        None
    };
    let reason = format!("a person picked attempt {}", winner.no);
    let winner = winner.clone();
    let trak = crown(
        store,
        trak,
        stage,
        &winner,
        Picker::Human,
        reason,
        Usage::default(),
        key.as_deref(),
    )?;
    forget_worktrees(store, &trak, &stage_name);
    Ok(trak)
}

/// The race `trak`'s record holds for `stage`.
fn race_of<'t>(trak: &'t Trak, stage: &str) -> Result<&'t Race> {
    trak.state.races.get(stage).with_context(|| {
        format!(
            "trak {} records no race at {stage} (its race_started event was set aside?); run the stage again: ork retry {}",
            trak.id, trak.id
        )
    })
}

fn oid(hex: &str) -> Result<Oid> {
    Oid::from_hex(hex.as_bytes()).with_context(|| format!("\"{hex}\" is not a commit id"))
}

fn numbers(attempts: &[RaceAttempt]) -> String {
    numbers_of(&attempts.iter().collect::<Vec<_>>())
}

fn numbers_of(attempts: &[&RaceAttempt]) -> String {
    attempts
        .iter()
        .map(|a| a.no.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
