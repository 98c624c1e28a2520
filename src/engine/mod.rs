//! The engine: drives traks through their flows, on top of the store.
//!
//! Every step is recorded before the next one starts, and every step can be picked up again
//! from the recorded state alone: a trak that is `queued` runs its stage, `checking` runs the
//! gate and the review, `integrating` merges. That is what makes `ork resume` after a crash
//! (kill -9 included) just "drive the trak again".

pub mod process;
pub mod prompt;
pub mod runner;
pub mod worktree;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::agent::{AgentOutput, Decision};
use crate::config::workflow::{Flow, Stage, Strategy, Workflow, prompt_path};
use crate::engine::process::{Stream, run_streaming};
use crate::engine::prompt::{PromptInput, render};
use crate::engine::runner::{RunSpec, run};
use crate::store::event::{Actor, EventKind, Outcome};
use crate::store::git::{FileWrite, MergeResult};
use crate::store::state::Status;
use crate::store::{LOGS_PREFIX, Location, NOTES_REF, NewTrak, Store, Trak, record_dir};

/// The statuses in which a trak has work due that `ork resume` (or `ork run`) can do.
pub const RUNNABLE: [Status; 4] = [
    Status::Queued,
    Status::Running,
    Status::Checking,
    Status::Integrating,
];

/// Gate output kept in events and feedback (the whole of it is in the note and the log).
const FEEDBACK_LIMIT: usize = 8_000;

/// Where the engine tells the user what happens.
pub trait Reporter {
    /// A step: "planning: attempt 1 with claude".
    fn step(&mut self, text: &str);
    /// A line of an agent's or a gate's output.
    fn line(&mut self, text: &str);
}

/// What `ork trak new` asks for.
pub struct TrakRequest<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// The flow's name; the workflow's default when `None`.
    pub flow: Option<&'a str>,
    /// The base branch; the main worktree's current branch when `None`.
    pub base: Option<&'a str>,
}

/// Creates a trak and its ready worktree. On failure nothing is left behind: the worktree is
/// removed and the branch deleted again. A crash half-way leaves the branch (the whole trak);
/// its worktree is made again when a stage next runs ([`ensure_worktree`]).
pub fn new_trak(store: &Store, workflow: &Workflow, request: &TrakRequest<'_>) -> Result<Trak> {
    // A title is one line: newlines and runs of spaces would break commit subjects and tables.
    let title = request
        .title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
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
    let trak = store.create(&NewTrak {
        title: &title,
        description: request.description,
        flow: &flow.name,
        stages: flow.stages.iter().map(|s| s.name.clone()).collect(),
        base: &base,
    })?;
    if let Err(err) = crate::engine::worktree::create(store, &trak, &workflow.worktree) {
        // Best effort: the worktree error is what the user must see.
        let _ = store.git().delete_ref(&trak.branch, trak.tip);
        return Err(err.context(format!("trak {} was not created", trak.id)));
    }
    Ok(trak)
}

/// Drives traks: runs stages, gates, reviews and integration until a trak waits for a human,
/// fails, or is done.
pub struct Engine<'a> {
    pub store: &'a Store,
    pub workflow: &'a Workflow,
    pub reporter: &'a mut dyn Reporter,
    /// Run a stage that another machine claimed, before its lease ran out.
    pub take_over: bool,
}

impl Engine<'_> {
    /// Drives `trak` as far as it goes without a human. Holds the trak's run lock meanwhile,
    /// so two `ork` processes never run the same trak at once.
    pub fn drive(&mut self, trak: Trak) -> Result<Trak> {
        let _lock = self.lock(&trak)?;
        // Refuse another machine's running stage before touching any local ref.
        if trak.state.status == Status::Running {
            self.check_claim(&trak)?;
        }
        let mut trak = self.store.adopt(&trak)?;
        loop {
            if self.share() {
                // The sync may have brought this trak on (another machine's events).
                trak = self.store.load(&trak.id)?;
            }
            trak = match trak.state.status {
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
                | Status::Conflict => return Ok(trak),
            };
        }
    }

    /// With `[sync] auto = true`: pushes what was just recorded (and fetches what others did),
    /// so a team sees each transition as it happens. A failure is only a warning: the work is
    /// recorded here, and the next sync carries it.
    /// Returns whether a sync ran.
    fn share(&mut self) -> bool {
        if !self.workflow.sync.auto {
            return false;
        }
        let git = self.store.git();
        let shared = crate::sync::pick_remote(git, None)
            .and_then(|remote| crate::sync::sync(self.store, &remote).map(|_| remote));
        if let Err(err) = shared {
            self.reporter.step(&format!(
                "warning: auto-sync failed: {err:#}; run `ork sync` later"
            ));
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
        try_run_lock(self.store, &trak.id)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "trak {} is being run by another ork process on this machine; wait for it, or see `ork logs {} -f`",
                    trak.id,
                    trak.id
                )
            })
    }

    fn flow(&self, trak: &Trak) -> Result<&Flow> {
        self.workflow.flows.get(&trak.state.flow).with_context(|| {
            format!(
                "trak {} uses flow \"{}\", which .orkestra/workflow.toml no longer defines; add it back to go on",
                trak.id, trak.state.flow
            )
        })
    }

    fn stage<'f>(&self, flow: &'f Flow, trak: &Trak) -> Result<&'f Stage> {
        flow.stages
            .iter()
            .find(|s| s.name == trak.state.stage)
            .with_context(|| {
                format!(
                    "flow \"{}\" has no stage \"{}\" any more; add it back to .orkestra/workflow.toml to go on",
                    flow.name, trak.state.stage
                )
            })
    }

    /// Runs one attempt of the current stage and records its result with the agent's changes.
    fn run_stage(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        let agent = self.workflow.agents.get(&stage.agent).with_context(|| {
            format!(
                "stage {} names agent \"{}\", which is not defined",
                stage.name, stage.agent
            )
        })?;
        // An interrupted run is run again as the same attempt.
        let attempt = match trak.state.status {
            Status::Running => trak.state.attempt.max(1),
            _ => trak.state.attempt + 1,
        };
        let feedback = trak.state.feedback.clone();
        let worktree = ensure_worktree(self.store, &trak, self.workflow)?;
        let resume = trak.state.sessions.get(&stage.name).cloned();
        let trak = self.store.record(
            &trak,
            EventKind::StageStarted {
                stage: stage.name.clone(),
                attempt,
                agent: agent.name.clone(),
            },
        )?;
        let prompt = self.prompt(&trak, &flow, &stage, attempt, feedback.as_deref())?;
        self.reporter.step(&format!(
            "{}: attempt {attempt} with {} ({})",
            stage.name,
            agent.name,
            crate::config::duration::format(agent.timeout)
        ));
        let log_ref = format!("{LOGS_PREFIX}{}", trak.id);
        if agent.kind == crate::config::workflow::AgentKind::Claude
            && let Some(session) = &resume
        {
            // The session may have run on another machine: bring its transcript here.
            let mut refs = vec![log_ref.clone()];
            refs.extend(
                self.store
                    .git()
                    .remote_names()
                    .iter()
                    .map(|r| format!("refs/ork/remotes/{r}/logs/{}", trak.id)),
            );
            crate::sync::transcript::restore(self.store.git(), &refs, &worktree, session)?;
        }
        let run_dir = self.run_dir(&trak, &stage.name, attempt);
        let env = agent_env(&trak, &stage, attempt, &worktree);
        let spec = RunSpec {
            agent,
            repo_root: self.store.git().main_workdir(),
            worktree: &worktree,
            prompt: &prompt,
            env,
            resume: resume.as_deref(),
            verdict: stage.verdict,
            run_dir: &run_dir,
        };
        let reporter = &mut *self.reporter;
        let (mut finished, could_start) = match run(&spec, &mut |line| reporter.line(line)) {
            Ok(finished) => (finished, true),
            // The agent could not even start (a missing program): a failed run, recorded, that
            // trying again will not mend.
            Err(err) => (
                crate::engine::runner::Run {
                    result: crate::agent::AgentResult {
                        output: AgentOutput::Failed {
                            error: format!(
                                "{err:#}; fix agent \"{}\" in .orkestra/workflow.toml, then ork retry {}",
                                agent.name, trak.id
                            ),
                        },
                        session_id: None,
                        usage: Default::default(),
                    },
                    log: String::new(),
                },
                false,
            ),
        };
        if could_start {
            self.keep_log(&trak, &stage.name, attempt, &finished.log);
        }
        if agent.kind == crate::config::workflow::AgentKind::Claude
            && let Some(session) = finished
                .result
                .session_id
                .as_deref()
                .filter(|s| !s.is_empty())
            && let Err(err) = crate::sync::transcript::keep(
                self.store.git(),
                &log_ref,
                &worktree,
                session,
                self.store.machine(),
            )
        {
            self.reporter.step(&format!(
                "warning: could not keep the session's transcript: {err:#}"
            ));
        }
        if resume.is_some()
            && finished.result.session_id.is_none()
            && matches!(finished.result.output, AgentOutput::Failed { .. })
        {
            // The session could not be resumed here: start afresh next time.
            finished.result.session_id = Some(String::new());
        }
        let (mut kind, files) = finished_event(&stage, attempt, finished.result);
        if let EventKind::StageFinished { retry, .. } = &mut kind {
            *retry &= could_start;
        }
        if let EventKind::StageFinished { outcome, error, .. } = &kind {
            let what = match outcome {
                Outcome::Failed => format!("failed: {}", error.as_deref().unwrap_or("")),
                Outcome::Questions => "asks questions".to_string(),
                _ => "done".to_string(),
            };
            self.reporter.step(&format!("{}: {what}", stage.name));
        }
        let trak = self
            .store
            .record_with_worktree(&trak, &worktree, kind, &files)?;
        Ok(trak)
    }

    /// Builds the prompt from the stage's template, the trak and earlier artifacts.
    fn prompt(
        &self,
        trak: &Trak,
        flow: &Flow,
        stage: &Stage,
        attempt: u32,
        feedback: Option<&str>,
    ) -> Result<String> {
        let path = prompt_path(self.store.git().main_workdir(), stage);
        let template = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the prompt template {}", path.display()))?;
        let description = self.store.description(trak)?;
        let stored = self.store.artifacts(trak)?;
        let artifacts: Vec<(String, String, String)> = flow
            .stages
            .iter()
            .filter(|s| s.name != stage.name)
            .filter_map(|s| {
                stored
                    .iter()
                    .find(|(name, _)| *name == s.artifact)
                    .map(|(name, content)| (s.name.clone(), name.clone(), content.clone()))
            })
            .collect();
        Ok(render(
            &template,
            &PromptInput {
                trak: &trak.id,
                title: &trak.state.title,
                description: &description,
                stage: &stage.name,
                attempt,
                base: &trak.state.base,
                artifacts: &artifacts,
                feedback,
            },
        ))
    }

    /// The runtime folder of one run: prompt, output file, live log.
    fn run_dir(&self, trak: &Trak, stage: &str, attempt: u32) -> PathBuf {
        self.store
            .git()
            .runtime_dir()
            .join("runs")
            .join(&trak.id)
            .join(format!("{stage}-{attempt}"))
    }

    /// Keeps an agent's whole output in git, secrets redacted, on the trak's log ref.
    fn keep_log(&mut self, trak: &Trak, stage: &str, attempt: u32, log: &str) {
        let path = format!(
            "{stage}/{attempt}-{}-{}.log",
            self.store.machine(),
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")
        );
        let file = FileWrite {
            path,
            contents: crate::agent::redact::redact(log).into_bytes(),
        };
        let reference = format!("{LOGS_PREFIX}{}", trak.id);
        let message = format!("ork: log of {} {stage} attempt {attempt}", trak.id);
        if let Err(err) = self
            .store
            .git()
            .commit_on_ref(&reference, &[file], &message)
        {
            // The run's result matters more than its log.
            self.reporter
                .step(&format!("warning: could not keep the agent's log: {err:#}"));
        }
    }

    /// After a run: the gate, then the review.
    fn check(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        if let Some(gate) = stage.gate.as_ref().filter(|_| !trak.state.gate_passed) {
            return self.run_gate(trak, &stage, &gate.command, gate.timeout);
        }
        let event = match (&trak.state.verdict, stage.review) {
            (_, crate::config::workflow::Review::Human) => EventKind::ReviewRequested {
                stage: stage.name.clone(),
            },
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
                    feedback: format!("The reviewer rejected the work:\n\n{review}"),
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
    fn run_gate(
        &mut self,
        trak: Trak,
        stage: &Stage,
        command: &str,
        timeout: std::time::Duration,
    ) -> Result<Trak> {
        let worktree = ensure_worktree(self.store, &trak, self.workflow)?;
        self.reporter
            .step(&format!("{}: gate `{command}`", stage.name));
        let trusted = trusted_command(command, self.store.git().main_workdir());
        let reporter = &mut *self.reporter;
        let finished = run_streaming(
            Command::new("sh")
                .args(["-c", &trusted])
                .current_dir(&worktree)
                .envs(agent_env(&trak, stage, trak.state.attempt, &worktree)),
            None,
            timeout,
            &mut |_: Stream, line: &str| reporter.line(line),
        )
        .with_context(|| format!("running the gate `{command}`"))?;
        let passed = finished.success();
        let output = crate::agent::redact::redact(&tail(&finished.output, FEEDBACK_LIMIT));
        let note = serde_json::json!({
            "kind": "gate",
            "trak": trak.id,
            "stage": stage.name,
            "attempt": trak.state.attempt,
            "command": command,
            "passed": passed,
            "result": finished.describe(),
            "machine": self.store.machine(),
            "at": chrono::Utc::now(),
            "output": output,
        });
        self.store
            .git()
            .append_note(NOTES_REF, trak.tip, &note.to_string())?;
        let attempt = trak.state.attempt;
        if passed {
            self.reporter.step(&format!("{}: gate passed", stage.name));
            return self.store.record(
                &trak,
                EventKind::GatePassed {
                    stage: stage.name.clone(),
                    attempt,
                },
            );
        }
        let retry = attempt < stage.max_attempts;
        self.reporter.step(&format!(
            "{}: gate failed ({}); {}",
            stage.name,
            finished.describe(),
            if retry {
                "the agent tries again with its output".to_string()
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
                    "The gate `{command}` failed ({}):\n\n{output}",
                    finished.describe(),
                ),
                retry,
            },
        )
    }

    /// Merges the trak's branch into its base, leaving its record folder out of the base's
    /// tree; the trak's history stays reachable (a merge parent, or the kept trak branch).
    fn integrate(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let git = self.store.git();
        let base = trak.state.base.clone();
        let base_ref = format!("refs/heads/{base}");
        let Some(base_tip) = git.ref_tip(&base_ref)? else {
            return self.block(
                trak,
                format!("the base branch {base} no longer exists; create it again, then run `ork integrate`"),
            );
        };
        // A crash after moving the base but before recording it: finish the record only.
        if git.is_ancestor(trak.tip, base_tip)? {
            return self.finish_integration(trak, &base, base_tip);
        }
        let tree = match git.merge_tree(base_tip, trak.tip, &record_dir(&trak.id))? {
            MergeResult::Clean(tree) => tree,
            MergeResult::Conflicts(paths) => {
                let route_to = flow.on_conflict.clone();
                self.reporter.step(&format!(
                    "merge into {base} conflicts in {}; back to {route_to}",
                    paths.join(", ")
                ));
                let feedback = format!(
                    "Merging this branch into {base} conflicts in:\n\n{}\n\nMerge {base} into this branch (`git merge {base}`), resolve the conflicts keeping both sides' intent, and finish the merge with `git add`; ork commits the result.",
                    paths
                        .iter()
                        .map(|p| format!("- {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return self.store.record(
                    &trak,
                    EventKind::Rejected {
                        stage: trak.state.stage.clone(),
                        feedback,
                        route_to,
                        by: Actor::Integration,
                    },
                );
            }
        };
        let parents = match flow.strategy {
            Strategy::Merge => vec![base_tip, trak.tip],
            Strategy::Squash => vec![base_tip],
        };
        let message = format!(
            "{} (ork trak {})\n\nOrk-Trak: {}\nOrk-Event: integrated\nOrk-Flow: {}\nOrk-Trak-Tip: {}\n",
            trak.state.title, trak.id, trak.id, trak.state.flow, trak.tip
        );
        let merge = git.new_commit(&message, tree, &parents)?;
        let moved = match git.checkout_of(&base_ref)? {
            None => git.update_ref(
                &base_ref,
                merge,
                base_tip,
                &format!("ork: integrate {}", trak.id),
            ),
            Some(checkout) => git
                .fast_forward_checkout(&checkout, merge)
                .map_err(|err| in_the_way(&base, &checkout, &format!("{err:#}"))),
        };
        if let Err(err) = moved {
            return self.block(
                trak,
                format!("{err:#}\n  Commit or stash the changes that are in the way, then run `ork integrate`."),
            );
        }
        self.finish_integration(trak, &base, merge)
    }

    fn finish_integration(
        &mut self,
        trak: Trak,
        base: &str,
        merge: crate::store::git::Oid,
    ) -> Result<Trak> {
        let trak = self.store.record(
            &trak,
            EventKind::Integrated {
                base: base.to_string(),
                commit: merge.to_string(),
            },
        )?;
        let worktree = self.store.worktree_path(&trak.id);
        if worktree.exists()
            && let Err(err) = self.store.git().remove_worktree(&worktree)
        {
            {
                self.reporter.step(&format!(
                    "warning: could not remove {}: {err:#}",
                    worktree.display()
                ));
            }
        }
        self.reporter.step(&format!(
            "integrated into {base} as {}",
            &merge.to_string()[..12]
        ));
        Ok(trak)
    }

    fn block(&mut self, trak: Trak, reason: String) -> Result<Trak> {
        self.reporter.step(&format!("integration waits: {reason}"));
        if trak.state.note.as_deref() == Some(reason.as_str()) {
            return Ok(trak);
        }
        let trak = self
            .store
            .record(&trak, EventKind::IntegrationBlocked { reason })?;
        Ok(trak)
    }
}

/// Why a checked-out base could not be moved, in words that stay the same while the cause
/// does (git's own message names a new merge commit every time).
fn in_the_way(base: &str, checkout: &Path, git_error: &str) -> anyhow::Error {
    let files: Vec<&str> = git_error
        .lines()
        .filter(|l| l.starts_with('\t'))
        .map(str::trim)
        .collect();
    if files.is_empty() {
        anyhow::anyhow!(
            "{base} is checked out in {} and git would not move it: {}",
            checkout.display(),
            git_error.lines().last().unwrap_or_default().trim()
        )
    } else {
        anyhow::anyhow!(
            "{base} is checked out in {}, and uncommitted changes to {} are in the way of the merge",
            checkout.display(),
            files.join(", ")
        )
    }
}

/// The `StageFinished` event for a run's result, and the record files it carries (the artifact).
fn finished_event(
    stage: &Stage,
    attempt: u32,
    result: crate::agent::AgentResult,
) -> (EventKind, Vec<(String, Vec<u8>)>) {
    let artifact_file = |content: &str| {
        vec![(
            format!("artifacts/{}.md", stage.artifact),
            content.as_bytes().to_vec(),
        )]
    };
    let mut event = EventKind::StageFinished {
        stage: stage.name.clone(),
        attempt,
        outcome: Outcome::Artifact,
        error: None,
        retry: false,
        decision: None,
        route_to: None,
        questions: Vec::new(),
        session_id: result.session_id,
        usage: result.usage,
    };
    let EventKind::StageFinished {
        outcome,
        error,
        retry,
        decision,
        route_to,
        questions,
        ..
    } = &mut event
    else {
        unreachable!("built above")
    };
    let mut fail = |why: String| {
        *outcome = Outcome::Failed;
        *retry = attempt < stage.max_attempts;
        *error = Some(why);
        Vec::new()
    };
    let files = match result.output {
        AgentOutput::Artifact { .. } if stage.verdict => {
            fail("the reviewer answered without a decision (approve or reject)".to_string())
        }
        AgentOutput::Artifact { content } => artifact_file(&content),
        AgentOutput::Verdict { content, .. } if !stage.verdict => artifact_file(&content),
        AgentOutput::Verdict {
            decision: d,
            content,
            route_to: r,
        } => {
            *outcome = Outcome::Verdict;
            *decision = Some(d);
            *route_to = r;
            artifact_file(&content)
        }
        AgentOutput::Questions { questions: q } => {
            *outcome = Outcome::Questions;
            *questions = q;
            Vec::new()
        }
        AgentOutput::Failed { error: why } => fail(crate::agent::redact::redact(&why)),
    };
    (event, files)
}

/// The gate `command` with a leading script path that names a file in the main checkout
/// (`.orkestra/scripts/checks.sh`) made absolute: the gate runs in the trak's worktree, where
/// the agent could have rewritten that script, so the copy that runs is the one from the
/// checkout `ork` runs from (DESIGN.md rule 8).
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

/// The `ORK_*` environment of an agent or gate.
fn agent_env(trak: &Trak, stage: &Stage, attempt: u32, worktree: &Path) -> Vec<(String, String)> {
    vec![
        ("ORK_TRAK".into(), trak.id.clone()),
        ("ORK_STAGE".into(), stage.name.clone()),
        ("ORK_ATTEMPT".into(), attempt.to_string()),
        ("ORK_ARTIFACT".into(), stage.artifact.clone()),
        ("ORK_WORKTREE".into(), worktree.display().to_string()),
        ("ORK_BASE_BRANCH".into(), trak.state.base.clone()),
    ]
}

/// The last `limit` bytes of `text`, cut at a line start.
fn tail(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    let cut = cut.find('\n').map_or(cut, |i| &cut[i + 1..]);
    format!("[… earlier output cut]\n{cut}")
}

/// The trak's worktree, made (again) if it is missing or was left half-made by a crash.
pub fn ensure_worktree(store: &Store, trak: &Trak, workflow: &Workflow) -> Result<PathBuf> {
    let path = store.worktree_path(&trak.id);
    if let Some(existing) = store.git().worktree_of_branch(&trak.branch)?
        && existing.join(".git").exists()
    {
        return Ok(existing);
    }
    // A registration without a checkout, or a checkout without a registration: start over.
    store.git().prune_worktrees()?;
    if path.exists() {
        std::fs::remove_dir_all(&path)
            .with_context(|| format!("removing the half-made worktree {}", path.display()))?;
    }
    crate::engine::worktree::create(store, trak, &workflow.worktree)
}

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
                "the worktree of trak {} has uncommitted changes: {}.\n  Dropping it would lose them; commit them there, or drop anyway: ork trak drop {} --force",
                trak.id,
                changed.join(", "),
                trak.id
            );
        }
    }
    let trak = decide(store, workflow, trak, HumanDecision::Drop { reason })?;
    if worktree.exists() {
        store.git().remove_worktree(&worktree)?;
    }
    Ok(trak)
}

/// Records a human decision at a trak that waits for one.
pub fn decide(
    store: &Store,
    workflow: &Workflow,
    trak: &Trak,
    decision: HumanDecision,
) -> Result<Trak> {
    let trak = store.adopt(trak)?;
    let state = &trak.state;
    let stage = state.stage.clone();
    let event = match decision {
        HumanDecision::Approve => {
            require(&trak, &[Status::AwaitingReview, Status::Failed], "approve")?;
            EventKind::Approved {
                stage,
                by: Actor::Human,
            }
        }
        HumanDecision::Reject { feedback, route_to } => {
            require(
                &trak,
                &[
                    Status::AwaitingReview,
                    Status::Failed,
                    Status::AwaitingAnswer,
                ],
                "reject",
            )?;
            // By default a rejection goes where the stage's `on_reject` says, else back to it.
            let route_to = route_to
                .or_else(|| {
                    workflow
                        .flows
                        .get(&state.flow)
                        .and_then(|f| f.stages.iter().find(|s| s.name == stage))
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
                feedback,
                route_to,
                by: Actor::Human,
            }
        }
        HumanDecision::Answer(answer) => {
            require(&trak, &[Status::AwaitingAnswer], "answer")?;
            EventKind::Answered { stage, answer }
        }
        HumanDecision::Retry => {
            require(&trak, &[Status::Failed], "retry")?;
            EventKind::Retried { stage }
        }
        HumanDecision::Resolve { keep } => {
            require(&trak, &[Status::Conflict], "resolve")?;
            resolution(store, &trak, &keep)?
        }
        HumanDecision::Drop { reason } => {
            if state.status.is_finished() {
                bail!("trak {} is already {}", trak.id, state.status.as_str());
            }
            EventKind::Dropped { reason }
        }
    };
    store.record(&trak, event)
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
    Reject {
        feedback: String,
        /// The stage to send the work back to; by default the stage's `on_reject`, else the
        /// current one.
        route_to: Option<String>,
    },
    Answer(String),
    Retry,
    /// Settle a conflict between two machines' transitions, keeping the one `keep` names.
    Resolve {
        keep: String,
    },
    /// Give the trak up: it will not be merged.
    Drop {
        reason: String,
    },
}

fn require(trak: &Trak, allowed: &[Status], what: &str) -> Result<()> {
    if allowed.contains(&trak.state.status) {
        return Ok(());
    }
    bail!(
        "cannot {what} trak {}: it is {} at {}.\n  {}",
        trak.id,
        trak.state.status.as_str(),
        trak.state.stage,
        next_step(trak)
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
        Status::Failed => {
            format!("Run the stage again: ork retry {id}  (or ork reject {id} -m \"…\")")
        }
        Status::Integrating => format!("Merge it: ork integrate {id}"),
        Status::Done => "Nothing: it is merged.".to_string(),
        Status::Dropped => "Nothing: it was dropped (its branch keeps its history).".to_string(),
        Status::Conflict => format!(
            "Two machines made different decisions; keep one: ork resolve {id} --keep approved  (or rejected, or an event id from ork show)"
        ),
    }
}

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
