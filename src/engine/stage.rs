//! One run of a stage's agent: the prompt, the run, its log and session, and the recorded result.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Engine, agent_env, ensure_worktree};
use crate::agent::AgentOutput;
use crate::config::workflow::{Flow, Stage, prompt_path};
use crate::engine::budget::Spend;
use crate::engine::process::output::keep_head;
use crate::engine::process::runner::{RunSpec, run};
use crate::engine::process::sandbox::Confinement;
use crate::engine::prompt::{PromptInput, render};
use crate::engine::repo_watch::RepoWatch;
use crate::store::checkpoint::Checkpointer;
use crate::store::event::{EventKind, Outcome};
use crate::store::git::FileWrite;
use crate::store::state::Status;
use crate::store::{Branch, LOGS_PREFIX, Trak};

impl Engine<'_> {
    /// Runs one attempt of the current stage and records its result with the agent's changes.
    pub(super) fn run_stage(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        // An issue's `agent:<name>` label picks the agent of every stage (`[intake]`).
        let agent_name = trak.state.agent.as_deref().unwrap_or(&stage.agent);
        let agent = self.workflow.agents.get(agent_name).with_context(|| {
            format!(
                "stage {} runs agent \"{agent_name}\", which is not defined",
                stage.name
            )
        })?;
        let agent = &stage.agent_for(agent);
        // An interrupted run is run again as the same attempt.
        let attempt = match trak.state.status {
            Status::Running => trak.state.attempt.max(1),
            _ => trak.state.attempt + 1,
        };
        if !trak.state.planted.is_empty() {
            return self.wait_for_planted_files(trak, &stage.name, attempt);
        }
        let spend = Spend::new(
            crate::engine::budget::caps_for_run(self.store, self.workflow, &trak, &flow, &stage)?,
            self.workflow.prices.clone(),
        )
        .in_race(self.race_account(&trak));
        if let Some(cap) = spend.reached_before() {
            return self.stop_at_budget(
                &trak,
                &stage.name,
                attempt,
                &cap,
                Default::default(),
                None,
            );
        }
        let worktree = ensure_worktree(self.store, &trak, self.workflow)?;
        // A checkpoint is the trak's one worktree's: a race's attempts start from their ref.
        let cut_off = match crate::store::attempt_of(&trak) {
            Some(_) => None,
            None => self.resume_from_checkpoint(&trak, &worktree)?,
        };
        let feedback = match (cut_off, trak.state.feedback.clone()) {
            (Some(cut_off), Some(feedback)) => Some(format!("{cut_off}\n\n{feedback}")),
            (cut_off, feedback) => cut_off.or(feedback),
        };
        let resume = trak.state.sessions.get(&stage.name).cloned();
        let trak = self.store.record(
            &trak,
            EventKind::StageStarted {
                stage: stage.name.clone(),
                attempt,
                agent: agent.name.clone(),
            },
        )?;
        self.publish_start(&trak)?;
        let prompt = self.prompt(&trak, &flow, &stage, attempt, feedback.as_deref())?;
        self.reporter.step(&format!(
            "{}: attempt {attempt} with {} ({})",
            stage.name,
            agent.name,
            crate::config::duration::format(agent.timeout)
        ));
        if let Some(session) = &resume {
            // The session may have run on another machine: bring it here.
            // Without it the run starts a new session: a warning, not a failure.
            if let Err(err) = self.restore_session(&trak, agent, &worktree, session) {
                self.reporter
                    .warning(&format!("could not bring the session here: {err:#}"));
            }
        }
        let cuts = Cuts {
            limits: self.workflow.limits,
            whole_at: format!(
                "The agent's output is in its log (the last {} of it): ork logs {} --stage {}",
                crate::config::size::format(self.workflow.limits.log as u64),
                trak.id,
                stage.name
            ),
        };
        let run_dir = self.run_dir(&trak, &stage.name, attempt);
        let env = agent_env(&trak, &stage, attempt, &worktree);
        let spawn_dir = super::spawn::spawn_dir(self.store, &trak.id, &stage.name, attempt);
        let confinement = self.confinement(&trak, &worktree, &run_dir);
        let spec = RunSpec {
            agent,
            repo_root: self.store.git().main_workdir(),
            worktree: &worktree,
            prompt: &prompt,
            env,
            resume: resume.as_deref(),
            verdict: stage.verdict,
            breakdown: stage.subtraks.is_some(),
            pick: false,
            run_dir: &run_dir,
            limits: &self.workflow.limits,
            whole_at: &cuts.whole_at,
            confinement: &confinement,
            spend: &spend,
            stall: stage.stall,
            ork_mcp: stage
                .ork
                .any()
                .then(|| ork_mcp_server(self.store.git().main_workdir()))
                .flatten(),
        };
        if trak.state.merge_base {
            self.begin_merge_of_base(&trak, &worktree)?;
        }
        let watchers = self.watch_run(&trak, agent, &confinement)?;
        let reporter = &mut *self.reporter;
        // What reaches a terminal is redacted as `ork logs` is (docs/design.md rule 10).
        let mut live = |line: &str| reporter.line(&crate::store::secrets::redact(line));
        let checkpointer = self.workflow.checkpoint.map(|_| {
            let run = format!("{} (attempt {attempt})", stage.name);
            Checkpointer::new(self.store, &trak, &worktree, &run)
        });
        let every = self.workflow.checkpoint.unwrap_or_default();
        let (store, workflow) = (self.store, self.workflow);
        let ran = super::checkpoints::during(checkpointer, every, || {
            super::spawn::during(store, workflow, &trak, &stage, &spawn_dir, || {
                run(&spec, &mut live)
            })
        });
        let (finished, could_start) = match ran {
            Ok(finished) => (finished, true),
            // The agent could not even start (a missing program): a failed run, recorded, that
            // trying again will not mend.
            Err(err) => (could_not_start(&err, &agent.name, &trak.id), false),
        };
        let ended = RunEnd {
            stage: &stage,
            agent,
            attempt,
            worktree: &worktree,
            resume,
            spend: &spend,
            cuts: &cuts,
            watchers,
            could_start,
        };
        self.after_run(trak, finished, ended)
    }

    /// The watches over what a run may change beyond its worktree, started before it: the
    /// checkouts around it, the repository itself, and (where the kernel does not hold it) the
    /// home folder.
    fn watch_run(
        &mut self,
        trak: &Trak,
        agent: &crate::config::workflow::Agent,
        confinement: &Confinement,
    ) -> Result<Watchers> {
        // What the checkouts around this worktree hold now, to tell what the run changes there.
        let around = crate::engine::outside::Snapshot::take(self.store, trak)
            .map_err(|err| {
                self.reporter.warning(&format!(
                    "cannot watch the files outside the worktree during this run: {err:#}"
                ))
            })
            .ok();
        let repo = RepoWatch::start(self.store, confinement)?;
        // Where the kernel does not hold the home folder, what the run changes there is named.
        let home = (!confinement.enforced())
            .then(|| {
                let mut skip = confinement.writable().to_vec();
                skip.extend(crate::engine::process::runner::state_folders(agent));
                crate::engine::outside::HomeSnapshot::take(self.store.git().main_workdir(), skip)
            })
            .flatten();
        Ok(Watchers { around, repo, home })
    }

    /// A run ended: its log and session kept, what it spent counted, what it did beyond its
    /// worktree looked at, and its result recorded — with the agent's changes in one commit,
    /// unless the run broke a rule, which a person then looks at.
    fn after_run(
        &mut self,
        trak: Trak,
        mut finished: crate::engine::process::runner::Run,
        ended: RunEnd<'_>,
    ) -> Result<Trak> {
        let RunEnd {
            stage,
            agent,
            attempt,
            worktree,
            resume,
            spend,
            cuts,
            watchers,
            could_start,
        } = ended;
        if could_start {
            self.keep_log(&trak, &stage.name, attempt, &finished.log);
        }
        if let Some(session) = finished.result.session_id.clone().filter(|s| !s.is_empty()) {
            self.keep_session(&trak, agent, worktree, &session);
        }
        if resume.is_some()
            && finished.result.session_id.is_none()
            && matches!(finished.result.output, AgentOutput::Failed { .. })
        {
            // The session could not be resumed here: start afresh next time.
            finished.result.session_id = Some(String::new());
        }
        finished.result.usage = spend.priced(finished.result.usage, agent.model.as_deref());
        let run_session = finished.result.session_id.clone();
        let counted = spend.settle(finished.result.usage);
        let (mut kind, mut files) = finished_event(stage, attempt, finished.result, cuts);
        // Refs put back first: a main the agent moved must not read as files deleted there.
        let tampered =
            watchers
                .repo
                .finish(self.store, &trak.id, &format!("{} run", stage.name))?;
        let mut escaped = self.outside_changes(watchers.around.as_ref());
        escaped.extend(self.home_changes(watchers.home.as_ref()));
        self.note_planted_files(&trak, &stage.name, &escaped);
        if let EventKind::StageFinished {
            retry,
            outside_changes,
            ..
        } = &mut kind
        {
            *retry &= could_start;
            *outside_changes = escaped;
        }
        // The branch is ork's: whatever the agent did to it is undone before anything counts.
        let branch = self.store.take_back_branch(&trak, worktree)?;
        if let Branch::PutBack {
            moved_to,
            quarantine,
        } = &branch
        {
            block_for_moved_branch(&mut kind, &trak, &stage.name, *moved_to, quarantine);
            self.reporter.step(&format!(
                "{}: failed: the agent moved the trak's branch; put back",
                stage.name
            ));
            return self.store.record(&trak, kind);
        }
        if let Some(message) = tampered {
            fail_for_a_person(&mut kind, message);
            self.reporter.step(&format!(
                "{}: failed: the run changed the repository itself; see ork show {}",
                stage.name, trak.id
            ));
            self.store.uncommit_agent_commits(&trak, worktree)?;
            return self.store.record(&trak, kind);
        }
        if let Some(cap) = spend.crossed() {
            // Stopped mid-run: its files stay in the worktree for the run that goes on.
            let session = run_session.or(resume);
            self.store.uncommit_agent_commits(&trak, worktree)?;
            return self.stop_at_budget(&trak, &stage.name, attempt, &cap, counted, session);
        }
        let secrets = self.added_secrets(&trak, worktree)?;
        if !secrets.is_empty() {
            block_for_secrets(&mut kind, &trak.id, &secrets);
            files.clear();
        }
        self.say_how_it_ended(&stage.name, &kind);
        if !secrets.is_empty() {
            // Nothing of the change is committed, even what the agent committed itself: it
            // stays in the worktree for a human.
            self.store.uncommit_agent_commits(&trak, worktree)?;
            return self.store.record(&trak, kind);
        }
        let trak = self
            .store
            .record_with_worktree(&trak, worktree, kind, &files)?;
        // The run's work is on the branch now: its checkpoint is of no more use.
        if let Err(err) = self.store.drop_checkpoint(&trak) {
            self.reporter
                .warning(&format!("could not remove the run's checkpoint: {err:#}"));
        }
        Ok(trak)
    }

    /// "work: done", "work: asks questions", "work: failed: …".
    fn say_how_it_ended(&mut self, stage: &str, kind: &EventKind) {
        if let EventKind::StageFinished { outcome, error, .. } = kind {
            let what = match outcome {
                Outcome::Failed => format!("failed: {}", error.as_deref().unwrap_or("")),
                Outcome::Questions => "asks questions".to_string(),
                _ => "done".to_string(),
            };
            self.reporter.step(&format!("{stage}: {what}"));
        }
    }

    /// The files outside the worktree that changed since `before`, said as a warning: ork
    /// leaves them where they are.
    fn outside_changes(
        &mut self,
        before: Option<&crate::engine::outside::Snapshot>,
    ) -> Vec<crate::store::event::OutsideChange> {
        let Some(before) = before else {
            return Vec::new();
        };
        let changes = before.changes(self.store).unwrap_or_else(|err| {
            self.reporter.warning(&format!(
                "cannot tell what changed outside the worktree during this run: {err:#}"
            ));
            Vec::new()
        });
        if !changes.is_empty() {
            let list: Vec<String> = changes.iter().map(|c| c.describe()).collect();
            self.reporter.warning(&format!(
                "{} file(s) outside the trak's worktree changed during the run; ork leaves them as they are (not committed, not reverted): {}",
                changes.len(),
                list.join(", ")
            ));
        }
        changes
    }

    /// Records that `cap` was reached at `stage` (by the run that spent `used`, or before any
    /// run): the trak waits until a person raises the budget (`ork approve --budget`).
    pub(super) fn stop_at_budget(
        &mut self,
        trak: &Trak,
        stage: &str,
        attempt: u32,
        cap: &crate::engine::budget::Cap,
        used: crate::store::event::Usage,
        session_id: Option<String>,
    ) -> Result<Trak> {
        let spent = cap.spent(&used);
        self.reporter.step(&format!(
            "{stage}: stopped at the budget of {} ({}): spent ${:.2} and {} tokens; to go on: ork approve {} --budget <more>",
            cap.describe(),
            cap.limit.describe(),
            spent.cost_usd,
            spent.input_tokens + spent.output_tokens,
            cap.owner.as_deref().unwrap_or(&trak.id)
        ));
        self.store.record(
            trak,
            EventKind::BudgetReached {
                stage: stage.to_string(),
                attempt,
                scope: cap.scope.clone(),
                owner: cap.owner.clone(),
                spent,
                limit: cap.limit,
                usage: used,
                session_id,
            },
        )
    }

    /// Tells each other trak whose worktree this run wrote into which files it wrote there:
    /// that trak's next run waits for a person, so they never go silently into its commit.
    fn note_planted_files(
        &mut self,
        trak: &Trak,
        stage: &str,
        escaped: &[crate::store::event::OutsideChange],
    ) {
        let mut by_trak: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for change in escaped {
            if let Some(other) = &change.trak {
                by_trak.entry(other).or_default().push(change.path.clone());
            }
        }
        for (other, files) in by_trak {
            let by = format!("{stage} run of {}", trak.id);
            let noted = self.store.load(other).and_then(|other| {
                self.store
                    .record(&other, EventKind::Planted { by, files })
                    .map(drop)
            });
            if let Err(err) = noted {
                self.reporter.warning(&format!(
                    "could not tell trak {other} about the files written into its worktree: {err:#}"
                ));
            }
        }
    }

    /// A run that does not start: another trak's run wrote files into this trak's worktree,
    /// and a person looks at them before anything commits them.
    fn wait_for_planted_files(&mut self, trak: Trak, stage: &str, attempt: u32) -> Result<Trak> {
        let mut kind = EventKind::StageFinished {
            stage: stage.to_string(),
            attempt,
            outcome: Outcome::Failed,
            error: None,
            retry: false,
            decision: None,
            route_to: None,
            questions: Vec::new(),
            session_id: None,
            usage: Default::default(),
            subtraks: Vec::new(),
            outside_changes: Vec::new(),
        };
        let id = &trak.id;
        fail_for_a_person(
            &mut kind,
            format!(
                "another trak's run wrote into this trak's worktree: {}.\n  The {stage} run did not start, \
                 so nothing commits them. Look at them in {} (remove what is not this trak's work), then run `ork retry {id}`",
                trak.state.planted.join(", "),
                self.store.worktree_path(id).display()
            ),
        );
        self.reporter.step(&format!(
            "{stage}: waits: files written into the worktree by another trak's run"
        ));
        self.store.record(&trak, kind)
    }

    /// What the run changed in the home folder since `before`, said as a warning.
    fn home_changes(
        &mut self,
        before: Option<&crate::engine::outside::HomeSnapshot>,
    ) -> Vec<crate::store::event::OutsideChange> {
        let changed = before.map(|home| home.changes()).unwrap_or_default();
        if !changed.is_empty() {
            let list: Vec<String> = changed.iter().map(|c| c.describe()).collect();
            self.reporter.warning(&format!(
                "the run changed your home folder, which the sandbox does not hold in this mode: {}. Look at them: they may run later as you",
                list.join(", ")
            ));
        }
        changed
    }

    /// The known secrets the agent's change adds that neither `.orkestra/secrets.allow` (in
    /// the main checkout: config is trusted only from there) nor `ork retry --allow-secret`
    /// allows.
    fn added_secrets(
        &self,
        trak: &Trak,
        worktree: &std::path::Path,
    ) -> Result<Vec<crate::store::secrets::Finding>> {
        if trak.state.allow_secrets {
            return Ok(Vec::new());
        }
        let allowed = crate::store::secrets::Allowed::load(self.store.git().main_workdir());
        self.store
            .added_secrets(trak, worktree, &allowed)
            .context("looking for secrets in the agent's change")
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
        let mut artifacts: Vec<(String, String, String)> = flow
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
        if trak.state.breakdown_stage.as_deref() != Some(stage.name.as_str()) {
            artifacts.extend(self.subtrak_artifacts(trak)?);
        }
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
                answers: trak
                    .state
                    .answers
                    .get(&stage.name)
                    .map_or(&[], Vec::as_slice),
                notes: &trak.state.notes,
            },
        ))
    }

    /// What the parent's stages after a breakdown are told of its subtraks: each one's title and
    /// latest artifacts, or that it was dropped (its work is not in the branch).
    fn subtrak_artifacts(&self, trak: &Trak) -> Result<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        for (planned, subtrak) in super::subtraks::subtraks_of(self.store, trak)? {
            let from = format!("subtrak {} \"{}\"", planned.part.key, planned.part.title);
            let Some(subtrak) = subtrak.filter(|t| t.state.status == Status::Done) else {
                out.push((
                    from,
                    "not merged".to_string(),
                    "This part was dropped (or never finished): its work is not in this branch. Do what it was for here, or leave it out and say so.".to_string(),
                ));
                continue;
            };
            for (name, content) in self.store.artifacts(&subtrak)? {
                out.push((from.clone(), name, content));
            }
        }
        Ok(out)
    }

    /// Starts merging the trak's base into `worktree` for the agent to resolve: it was sent
    /// back because its merge into the base conflicted or failed the gate, and the agent
    /// cannot start a merge itself (docs/design.md rule 12). Shared bases merge the remote's
    /// tip where it is ahead of the local one.
    fn begin_merge_of_base(&mut self, trak: &Trak, worktree: &Path) -> Result<()> {
        let base = &trak.state.base;
        let git = self.store.git();
        let local = git.ref_tip(&format!("refs/heads/{base}"))?;
        let upstream = match git.upstream_remote(base) {
            Some(remote) => git.ref_tip(&format!("refs/remotes/{remote}/{base}"))?,
            None => None,
        };
        let tip = match (local, upstream) {
            (Some(ours), Some(theirs)) if git.is_ancestor(ours, theirs)? => theirs,
            (Some(ours), _) => ours,
            (None, Some(theirs)) => theirs,
            (None, None) => anyhow::bail!("the base branch {base} no longer exists"),
        };
        if git.begin_merge(worktree, tip)? {
            self.reporter.step(&format!(
                "merging {base} into the worktree for the agent to resolve"
            ));
        }
        Ok(())
    }

    /// What a process of this trak working in `worktree` may write (docs/design.md rule 12),
    /// said once per run where the machine cannot hold it.
    pub(super) fn confinement(
        &mut self,
        trak: &Trak,
        worktree: &Path,
        run_dir: &Path,
    ) -> Confinement {
        let confinement = Confinement::new(&self.workflow.sandbox, &trak.id, worktree, run_dir);
        if let Some(why) = confinement.unenforced() {
            self.reporter.warning(&format!(
                "the sandbox is not enforced on this machine ({why}): this run is not confined. \
                 Set `[sandbox] mode = \"report\"` in .orkestra/workflow.toml to run so on purpose"
            ));
        }
        confinement
    }

    /// The runtime folder of one run: prompt, output file, live log.
    fn run_dir(&self, trak: &Trak, stage: &str, attempt: u32) -> PathBuf {
        super::runs_dir(self.store, &trak.id).join(format!("{}-{attempt}", run_label(trak, stage)))
    }

    /// Keeps an agent's whole output in git, secrets redacted, on the trak's log ref.
    fn keep_log(&mut self, trak: &Trak, stage: &str, attempt: u32, log: &str) {
        let path = format!(
            "{}/{attempt}-{}-{}.log",
            run_label(trak, stage),
            self.store.machine(),
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")
        );
        let file = FileWrite {
            path,
            contents: crate::store::secrets::redact(log).into_bytes(),
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
                .warning(&format!("could not keep the agent's log: {err:#}"));
        }
    }
}

/// What names a run of `stage` among the trak's runs (its run folder, its log): the stage,
/// and for a race's attempt its number too (`work.race-2`), as attempts run side by side.
pub(super) fn run_label(trak: &Trak, stage: &str) -> String {
    match crate::store::attempt_of(trak) {
        Some((_, no)) => format!("{stage}.race-{no}"),
        None => stage.to_string(),
    }
}

/// How a run's texts are cut to the workflow's limits, and where the whole output is.
struct Cuts {
    limits: crate::config::workflow::Limits,
    whole_at: String,
}

/// What watches a run beyond its worktree (see [`Engine::watch_run`]).
struct Watchers {
    around: Option<crate::engine::outside::Snapshot>,
    repo: RepoWatch,
    home: Option<crate::engine::outside::HomeSnapshot>,
}

/// What [`Engine::after_run`] needs of the run that ended.
struct RunEnd<'a> {
    stage: &'a Stage,
    agent: &'a crate::config::workflow::Agent,
    attempt: u32,
    worktree: &'a Path,
    /// The session the run resumed, if any.
    resume: Option<String>,
    spend: &'a Spend,
    cuts: &'a Cuts,
    watchers: Watchers,
    /// Whether the agent's program started at all.
    could_start: bool,
}

/// The run of agent `agent` of trak `id` that could not start (`err`: a missing program), as
/// a failed run to record.
fn could_not_start(
    err: &anyhow::Error,
    agent: &str,
    id: &str,
) -> crate::engine::process::runner::Run {
    crate::engine::process::runner::Run {
        result: crate::agent::AgentResult {
            output: AgentOutput::Failed {
                error: format!(
                    "{err:#}; fix agent \"{agent}\" in .orkestra/workflow.toml, then ork retry {id}"
                ),
            },
            session_id: None,
            usage: Default::default(),
        },
        log: String::new(),
    }
}

/// Turns a run's `StageFinished` event into a failure a human must look at: the agent moved
/// the trak's branch where ork did not (a forged record, another history), and ork put it back.
fn block_for_moved_branch(
    kind: &mut EventKind,
    trak: &crate::store::Trak,
    stage: &str,
    moved_to: Option<crate::store::git::Oid>,
    quarantine: &str,
) {
    let id = &trak.id;
    let short = |oid: crate::store::git::Oid| oid.to_string()[..12].to_string();
    let what = match moved_to {
        Some(to) => format!(
            "moved ork/{id} {} → {} with commits ork did not make (records only ork writes, or another history); ork put the branch back and kept them under {quarantine}",
            short(trak.tip),
            short(to)
        ),
        None => format!("deleted ork/{id}; ork put the branch back"),
    };
    fail_for_a_person(
        kind,
        format!(
            "the agent of the {stage} run {what}.\n  Nothing of the run was recorded; its files are still in the worktree. \
             Look at them (git log {quarantine}), then run `ork retry {id}`, or drop the trak: ork trak drop {id}"
        ),
    );
}

/// Makes a run's `StageFinished` a failure that does not run again by itself, with `error`.
fn fail_for_a_person(kind: &mut EventKind, message: String) {
    if let EventKind::StageFinished {
        outcome,
        error,
        retry,
        decision,
        route_to,
        questions,
        ..
    } = kind
    {
        *outcome = Outcome::Failed;
        *retry = false;
        *decision = None;
        *route_to = None;
        questions.clear();
        *error = Some(message);
    }
}

/// Turns a run's `StageFinished` event into a failure a human must look at: its change adds
/// `secrets`, so it is not committed and the stage does not run again by itself.
fn block_for_secrets(kind: &mut EventKind, id: &str, secrets: &[crate::store::secrets::Finding]) {
    let list: Vec<String> = secrets.iter().map(|s| format!("  {s}")).collect();
    fail_for_a_person(
        kind,
        format!(
            "the change adds {} known secret{}, so it was not committed (it is still in the worktree):\n{}\n  \
             Remove them and run `ork retry {id}`; or, if they are meant to be there, run \
             `ork retry {id} --allow-secret` or list them in .orkestra/secrets.allow",
            secrets.len(),
            if secrets.len() == 1 { "" } else { "s" },
            list.join("\n")
        ),
    );
}

/// The `StageFinished` event for a run's result, and the record files it carries (the
/// artifact, cut at its cap).
fn finished_event(
    stage: &Stage,
    attempt: u32,
    result: crate::agent::AgentResult,
    cuts: &Cuts,
) -> (EventKind, Vec<(String, Vec<u8>)>) {
    let artifact_file = |content: &str| {
        let kept = keep_head(content, cuts.limits.artifact, &cuts.whole_at);
        vec![(
            format!("artifacts/{}.md", stage.artifact),
            kept.into_bytes(),
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
        subtraks: Vec::new(),
        outside_changes: Vec::new(),
    };
    let EventKind::StageFinished {
        outcome,
        error,
        retry,
        decision,
        route_to,
        questions,
        subtraks,
        ..
    } = &mut event
    else {
        unreachable!("built above")
    };
    // An error can quote the agent (a part key it made up): cut like any feedback.
    let mut fail = |why: String| {
        *outcome = Outcome::Failed;
        *retry = attempt < stage.max_attempts;
        *error = Some(keep_head(&why, cuts.limits.feedback, &cuts.whole_at));
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
            *questions = crate::engine::process::output::bound_questions(
                q,
                cuts.limits.artifact,
                &cuts.whole_at,
            );
            Vec::new()
        }
        // A pick answers a race's judge, never a stage: its reasons are all there is to keep.
        AgentOutput::Pick { content, .. } => artifact_file(&content),
        AgentOutput::Breakdown { content, .. } if stage.subtraks.is_none() => {
            artifact_file(&content)
        }
        AgentOutput::Breakdown {
            content,
            subtraks: parts,
        } => {
            let max_parts = stage.subtraks.as_ref().map_or(usize::MAX, |s| s.max_parts);
            let parts = crate::engine::process::output::bound_parts(
                parts,
                cuts.limits.artifact,
                &cuts.whole_at,
            );
            match crate::agent::breakdown::validate(&parts, max_parts) {
                Ok(()) => {
                    let files = artifact_file(&crate::agent::breakdown::artifact(&content, &parts));
                    *subtraks = parts;
                    files
                }
                Err(problem) => fail(format!("the breakdown cannot be used: {problem}")),
            }
        }
        AgentOutput::Failed { error: why } => fail(crate::store::secrets::redact(&why)),
    };
    (event, files)
}

/// `<this ork> -C <repo> mcp`: the server a stage's agent is given (docs/mcp.md). The server
/// reads what the stage allows itself, from the workflow and the trak's record: nothing in
/// these arguments grants anything. `None` (no server) where ork cannot tell its own path.
fn ork_mcp_server(repo: &Path) -> Option<Vec<String>> {
    let exe = std::env::current_exe().ok()?;
    let exe = exe.canonicalize().unwrap_or(exe);
    Some(vec![
        exe.display().to_string(),
        "-C".into(),
        repo.display().to_string(),
        "mcp".into(),
    ])
}
