//! One run of a stage's agent: the prompt, the run, its log and session, and the recorded result.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{Engine, agent_env, ensure_worktree};
use crate::agent::AgentOutput;
use crate::config::workflow::{Flow, Stage, prompt_path};
use crate::engine::prompt::{PromptInput, render};
use crate::engine::runner::{RunSpec, run};
use crate::store::event::{EventKind, Outcome};
use crate::store::git::FileWrite;
use crate::store::state::Status;
use crate::store::{LOGS_PREFIX, Trak};

impl Engine<'_> {
    /// Runs one attempt of the current stage and records its result with the agent's changes.
    pub(super) fn run_stage(&mut self, trak: Trak) -> Result<Trak> {
        let flow = self.flow(&trak)?.clone();
        let stage = self.stage(&flow, &trak)?.clone();
        let agent = self.workflow.agents.get(&stage.agent).with_context(|| {
            format!(
                "stage {} names agent \"{}\", which is not defined",
                stage.name, stage.agent
            )
        })?;
        let agent = &stage.agent_for(agent);
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
        if let Some(session) = &resume {
            // The session may have run on another machine: bring it here.
            // Without it the run starts a new session: a warning, not a failure.
            if let Err(err) = self.restore_session(&trak, agent, &worktree, session) {
                self.reporter.step(&format!(
                    "warning: could not bring the session here: {err:#}"
                ));
            }
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
        if let Some(session) = finished.result.session_id.clone().filter(|s| !s.is_empty()) {
            self.keep_session(&trak, agent, &worktree, &session);
        }
        if resume.is_some()
            && finished.result.session_id.is_none()
            && matches!(finished.result.output, AgentOutput::Failed { .. })
        {
            // The session could not be resumed here: start afresh next time.
            finished.result.session_id = Some(String::new());
        }
        let (mut kind, mut files) = finished_event(&stage, attempt, finished.result);
        if let EventKind::StageFinished { retry, .. } = &mut kind {
            *retry &= could_start;
        }
        let secrets = self.added_secrets(&trak, &worktree)?;
        if !secrets.is_empty() {
            block_for_secrets(&mut kind, &trak.id, &secrets);
            files.clear();
        }
        if let EventKind::StageFinished { outcome, error, .. } = &kind {
            let what = match outcome {
                Outcome::Failed => format!("failed: {}", error.as_deref().unwrap_or("")),
                Outcome::Questions => "asks questions".to_string(),
                _ => "done".to_string(),
            };
            self.reporter.step(&format!("{}: {what}", stage.name));
        }
        if !secrets.is_empty() {
            // Nothing of the change is committed, even what the agent committed itself: it
            // stays in the worktree for a human.
            self.store.uncommit_agent_commits(&trak, &worktree)?;
            return self.store.record(&trak, kind);
        }
        let trak = self
            .store
            .record_with_worktree(&trak, &worktree, kind, &files)?;
        Ok(trak)
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
                answers: trak
                    .state
                    .answers
                    .get(&stage.name)
                    .map_or(&[], Vec::as_slice),
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
                .step(&format!("warning: could not keep the agent's log: {err:#}"));
        }
    }
}

/// Turns a run's `StageFinished` event into a failure a human must look at: its change adds
/// `secrets`, so it is not committed and the stage does not run again by itself.
fn block_for_secrets(kind: &mut EventKind, id: &str, secrets: &[crate::store::secrets::Finding]) {
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
        let list: Vec<String> = secrets.iter().map(|s| format!("  {s}")).collect();
        *outcome = Outcome::Failed;
        *retry = false;
        *decision = None;
        *route_to = None;
        questions.clear();
        *error = Some(format!(
            "the change adds {} known secret{}, so it was not committed (it is still in the worktree):\n{}\n  \
             Remove them and run `ork retry {id}`; or, if they are meant to be there, run \
             `ork retry {id} --allow-secret` or list them in .orkestra/secrets.allow",
            secrets.len(),
            if secrets.len() == 1 { "" } else { "s" },
            list.join("\n")
        ));
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
        AgentOutput::Failed { error: why } => fail(crate::store::secrets::redact(&why)),
    };
    (event, files)
}
