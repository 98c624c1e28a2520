//! Subtraks: an approved breakdown splits a trak into parts, each a trak of its own (branch,
//! worktree, record) whose base is the parent's branch.
//!
//! Nothing about them is kept as a counter. The parent's record holds the breakdown it
//! approved (`TrakState::subtraks`: derived ids and parts); which subtraks exist and how far
//! they are is read from their branches. Creation is keyed by those derived ids, so running it
//! again after a crash makes only what is missing. A subtrak runs when every part it depends on
//! is merged (or dropped); independent ones run at once, each in a thread of this process with
//! its own repository handle, up to the stage's `parallel`; each merges into the parent's branch
//! like any trak into its base (`integration.rs`). When all are merged or dropped the parent
//! goes on past its breakdown stage.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::mpsc::{Sender, channel};

use anyhow::{Context, Result, bail};

use super::{Engine, Reporter};
use crate::config::workflow::{Subtraks, Workflow};
use crate::store::event::EventKind;
use crate::store::git::{Git, Oid};
use crate::store::state::{PlannedSubtrak, Status};
use crate::store::{NewTrak, Store, Trak};

/// What a subtrak's thread (or a race attempt's) tells the parent's.
pub(super) enum Message {
    Step(String, String),
    Line(String, String),
    Warning(String, String),
    Finished(String, Result<Status, String>),
}

impl super::Engine<'_> {
    /// Passes a thread's step, line or warning on to this drive's reporter, prefixed by the
    /// thread's key; a thread's end is the caller's, returned.
    pub(super) fn pass_on(&mut self, message: Message) -> Option<(String, Result<Status, String>)> {
        match message {
            Message::Step(key, text) => self.reporter.step(&format!("[{key}] {text}")),
            Message::Line(key, text) => self.reporter.line(&format!("[{key}] {text}")),
            Message::Warning(key, text) => self.reporter.warning(&format!("[{key}] {text}")),
            Message::Finished(key, result) => return Some((key, result)),
        }
        None
    }
}

/// A subtrak's reporter: every line goes to the parent's reporter, prefixed by the key.
pub(super) struct Forward {
    pub key: String,
    pub tx: Sender<Message>,
}

impl Reporter for Forward {
    fn step(&mut self, text: &str) {
        let _ = self
            .tx
            .send(Message::Step(self.key.clone(), text.to_string()));
    }
    fn line(&mut self, text: &str) {
        let _ = self
            .tx
            .send(Message::Line(self.key.clone(), text.to_string()));
    }
    fn warning(&mut self, text: &str) {
        let _ = self
            .tx
            .send(Message::Warning(self.key.clone(), text.to_string()));
    }
}

/// The branch (short name) subtraks of `parent` start from and merge into.
pub fn parent_branch(parent: &str) -> String {
    format!("ork/{parent}")
}

/// Makes every subtrak the parent's approved breakdown asks for that does not exist yet (here
/// or on a remote): a crash half-way is completed, and nothing is made twice.
pub fn create_subtraks(store: &Store, workflow: &Workflow, parent: &Trak) -> Result<()> {
    let flow = breakdown_config(workflow, parent)?.flow.clone();
    for planned in &parent.state.subtraks {
        if store.exists(&planned.id)? {
            continue;
        }
        let description = description(parent, planned);
        let trak = store.create(&NewTrak {
            title: &planned.part.title,
            description: &description,
            flow: &flow,
            stages: workflow
                .flow(Some(&flow))?
                .stages
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            base: &parent_branch(&parent.id),
            id: Some(&planned.id),
            parent: Some((&parent.id, &planned.part.key)),
            after: &[],
            spawned_by: None,
            priority: None,
            source: None,
            agent: parent.state.agent.as_deref(),
        })?;
        // A worktree that cannot be made now is made again when the subtrak first runs.
        crate::engine::worktree::create(store, &trak, workflow)
            .with_context(|| format!("preparing the worktree of subtrak {}", trak.id))?;
    }
    Ok(())
}

/// The `subtraks` settings of the parent's breakdown stage.
fn breakdown_config<'w>(workflow: &'w Workflow, parent: &Trak) -> Result<&'w Subtraks> {
    let stage = parent
        .state
        .breakdown_stage
        .as_deref()
        .unwrap_or(&parent.state.stage);
    workflow
        .recorded_stage(&parent.state.flow, stage)?
        .subtraks
        .as_ref()
        .with_context(|| {
            format!(
                "stage \"{stage}\" of flow \"{}\" is no longer a breakdown stage (`subtraks = {{ flow = \"…\" }}`); add the key back to .orkestra/workflow.toml to go on",
                parent.state.flow
            )
        })
}

/// A subtrak's description: its part's, and where it belongs.
fn description(parent: &Trak, planned: &PlannedSubtrak) -> String {
    let part = &planned.part;
    let mut text = part.description.trim().to_string();
    text.push_str(&format!(
        "\n\nThis is part `{}` of \"{}\" (trak {}). Build only this part; the other parts are built \
         in their own traks and merged into {} beside it.",
        part.key,
        parent.state.title,
        parent.id,
        parent_branch(&parent.id)
    ));
    text.push_str(&format!(
        " The whole plan and breakdown are in .orkestra/traks/{}/artifacts/.",
        parent.id
    ));
    if !part.depends_on.is_empty() {
        text.push_str(&format!(
            " The parts it builds on ({}) are already merged into this branch.",
            part.depends_on.join(", ")
        ));
    }
    text
}

/// Each planned subtrak with its trak as its branch says (`None`: not made yet).
pub fn subtraks_of(store: &Store, parent: &Trak) -> Result<Vec<(PlannedSubtrak, Option<Trak>)>> {
    parent
        .state
        .subtraks
        .iter()
        .map(|planned| Ok((planned.clone(), store.find(&planned.id)?)))
        .collect()
}

/// How many of the parent's subtraks are merged (or dropped), of how many: "2/3 done".
pub fn progress(subtraks: &[(PlannedSubtrak, Option<Trak>)]) -> (usize, usize) {
    let done = subtraks
        .iter()
        .filter(|(_, t)| t.as_ref().is_some_and(|t| t.state.status.is_finished()))
        .count();
    (done, subtraks.len())
}

/// Whether this machine can drive a subtrak now (another machine's running stage is theirs).
fn runnable_here(store: &Store, trak: &Trak) -> bool {
    match trak.state.status {
        Status::Queued | Status::Checking | Status::Integrating | Status::Subtraks => true,
        Status::Running => trak.state.running_on.as_deref() == Some(store.machine()),
        _ => false,
    }
}

impl Engine<'_> {
    /// The parent waits on its subtraks: makes any that are missing, runs those whose
    /// dependencies are merged, and goes on past the breakdown stage once every subtrak is
    /// merged or dropped. Returns the parent still waiting when a subtrak needs a human, failed,
    /// or runs on another machine.
    pub(super) fn run_subtraks(&mut self, parent: Trak) -> Result<Trak> {
        let config = breakdown_config(self.workflow, &parent)?.clone();
        let stage = parent.state.stage.clone();
        create_subtraks(self.store, self.workflow, &parent)?;
        // Subtrak threads record on their own branches only; the parent's sync shares them.
        let mut quiet = self.workflow.clone();
        quiet.sync.auto = false;
        let workdir = self.store.git().main_workdir().to_path_buf();
        let (tx, rx) = channel::<Message>();
        let mut running: BTreeSet<String> = BTreeSet::new();
        // The tip each subtrak had when it was last started: one that stops without moving on
        // (an error) is not started again and again.
        let mut started: HashMap<String, Oid> = HashMap::new();
        let queue = super::queue_remote(self.store, self.workflow);
        std::thread::scope(|scope| -> Result<Trak> {
            loop {
                self.share();
                let parent = self.store.load(&parent.id)?;
                let subtraks = subtraks_of(self.store, &parent)?;
                let finished: BTreeSet<&str> = subtraks
                    .iter()
                    .filter(|(_, t)| t.as_ref().is_some_and(|t| t.state.status.is_finished()))
                    .map(|(p, _)| p.part.key.as_str())
                    .collect();
                if running.is_empty() && finished.len() == subtraks.len() {
                    return self.join_subtraks(parent, &subtraks);
                }
                let mut elsewhere = Vec::new();
                for (planned, trak) in &subtraks {
                    let Some(trak) = trak else {
                        bail!(
                            "subtrak {} was not made; run `ork resume {}`",
                            planned.id,
                            parent.id
                        );
                    };
                    // Another machine's `ork run` may hold a subtrak: it is theirs to finish.
                    if let Some(remote) = &queue
                        && !running.contains(&trak.id)
                        && let Some(holder) =
                            super::claimed_elsewhere(self.store, self.workflow, remote, trak)?
                    {
                        elsewhere.push(format!("{} on {}", planned.part.key, holder.machine));
                        continue;
                    }
                    let woken;
                    let trak = if running.contains(&trak.id) {
                        trak
                    } else {
                        woken = self.wake_at_raised_parent_budget(trak.clone())?;
                        &woken
                    };
                    let ready = !running.contains(&trak.id)
                        && runnable_here(self.store, trak)
                        && planned
                            .part
                            .depends_on
                            .iter()
                            .all(|d| finished.contains(d.as_str()))
                        && started.get(&trak.id) != Some(&trak.tip);
                    if !ready || running.len() >= config.parallel {
                        continue;
                    }
                    started.insert(trak.id.clone(), trak.tip);
                    running.insert(trak.id.clone());
                    self.reporter.step(&format!(
                        "[{}] subtrak {} starts at {}",
                        planned.part.key, trak.id, trak.state.stage
                    ));
                    let (tx, workdir, quiet) = (tx.clone(), &workdir, &quiet);
                    let (id, key) = (trak.id.clone(), planned.part.key.clone());
                    scope.spawn(move || {
                        let result = drive_subtrak(workdir, quiet, &id, &key, tx.clone())
                            .map_err(|e| format!("{e:#}"));
                        let _ = tx.send(Message::Finished(id, result));
                    });
                }
                if running.is_empty() {
                    let (done, all) = progress(&subtraks);
                    let there = if elsewhere.is_empty() {
                        String::new()
                    } else {
                        format!("; running on another machine: {}", elsewhere.join(", "))
                    };
                    self.reporter.step(&format!(
                        "{stage}: waiting on subtraks ({done}/{all} done{there}); see ork show {}",
                        parent.id
                    ));
                    return Ok(parent);
                }
                // Pass output on until one of the running subtraks stops.
                loop {
                    let message = rx.recv().context("a subtrak's thread stopped")?;
                    if let Some((id, result)) = self.pass_on(message) {
                        running.remove(&id);
                        match result {
                            Ok(status) => self
                                .reporter
                                .step(&format!("subtrak {id}: {}", status.as_str())),
                            Err(err) => self.reporter.step(&format!("subtrak {id} stopped: {err}")),
                        }
                        break;
                    }
                }
            }
        })
    }

    /// Before a subtrak's first run, wherever it is driven from (its parent, `ork resume`,
    /// `ork run`): the parts it depends on must be merged (or dropped), and the parent's branch,
    /// which now holds their code, is merged into it (an event of its own), so it builds on
    /// them. Fails, changing nothing, while a dependency is open.
    pub(super) fn before_first_run(&mut self, trak: Trak) -> Result<Trak> {
        let fresh = super::dependencies::not_started(&trak);
        let Some(parent) = trak.state.parent.as_deref().filter(|_| fresh) else {
            return Ok(trak);
        };
        let Some(parent) = self.store.find(parent)? else {
            return Ok(trak);
        };
        let Some(planned) = parent.state.subtraks.iter().find(|s| s.id == trak.id) else {
            return Ok(trak);
        };
        if planned.part.depends_on.is_empty() {
            return Ok(trak);
        }
        let mut open = Vec::new();
        for dep in &planned.part.depends_on {
            let id = parent.state.subtraks.iter().find(|s| s.part.key == *dep);
            let finished = match id {
                Some(dep) => self
                    .store
                    .find(&dep.id)?
                    .is_some_and(|t| t.state.status.is_finished()),
                None => true,
            };
            if !finished {
                open.push(dep.as_str());
            }
        }
        if !open.is_empty() {
            bail!(
                "subtrak {} starts once {} {} merged into {}; run its parent, which runs them in order: ork resume {}",
                trak.id,
                open.join(", "),
                if open.len() == 1 { "is" } else { "are" },
                parent_branch(&parent.id),
                parent.id
            );
        }
        let parent = self.store.adopt(&parent)?;
        if self.store.git().is_ancestor(parent.tip, trak.tip)? {
            return Ok(trak);
        }
        let trak = self.store.adopt(&trak)?;
        let branch = parent_branch(&parent.id);
        self.reporter.step(&format!(
            "brings in {branch} (with {})",
            planned.part.depends_on.join(", ")
        ));
        self.store.record_merge(
            &trak,
            parent.tip,
            &branch,
            EventKind::BaseMerged {
                branch: branch.clone(),
                commit: parent.tip.to_string(),
            },
        )
    }

    /// Every subtrak is merged or dropped: the parent goes on past its breakdown stage, its
    /// worktree brought up to its branch (which now holds the subtraks' code).
    fn join_subtraks(
        &mut self,
        parent: Trak,
        subtraks: &[(PlannedSubtrak, Option<Trak>)],
    ) -> Result<Trak> {
        let parent = self.store.adopt(&parent)?;
        let (mut merged, mut dropped) = (Vec::new(), Vec::new());
        for (planned, trak) in subtraks {
            match trak.as_ref().map(|t| t.state.status) {
                Some(Status::Done) => merged.push(planned.id.clone()),
                _ => dropped.push(planned.id.clone()),
            }
        }
        self.reporter.step(&format!(
            "{}: {} subtrak(s) merged{}; going on",
            parent.state.stage,
            merged.len(),
            if dropped.is_empty() {
                String::new()
            } else {
                format!(", {} dropped", dropped.len())
            }
        ));
        self.store.record(
            &parent,
            EventKind::SubtraksJoined {
                stage: parent.state.stage.clone(),
                merged,
                dropped,
            },
        )
    }
}

/// Drives one subtrak in this thread, with a repository handle of its own.
fn drive_subtrak(
    workdir: &Path,
    workflow: &Workflow,
    id: &str,
    key: &str,
    tx: Sender<Message>,
) -> Result<Status> {
    let store = Store::new(Git::discover(workdir)?);
    let trak = store.load(id)?;
    let mut reporter = Forward {
        key: key.to_string(),
        tx,
    };
    let mut engine = Engine {
        store: &store,
        workflow,
        reporter: &mut reporter,
        take_over: false,
        race_spend: None,
    };
    Ok(engine.drive(trak)?.state.status)
}

/// Drops the parent's open subtraks (their branches keep their history): its breakdown was
/// rejected. Returns the ids dropped.
pub fn drop_open_subtraks(store: &Store, parent: &Trak, reason: &str) -> Result<Vec<String>> {
    let mut dropped = Vec::new();
    for (planned, trak) in subtraks_of(store, parent)? {
        let Some(trak) = trak.filter(|t| !t.state.status.is_finished()) else {
            continue;
        };
        let Some(_lock) = super::try_run_lock(store, &trak.id)? else {
            bail!(
                "subtrak {} is being run by an ork process on this machine; stop it (Ctrl-C) first",
                planned.id
            );
        };
        let trak = store.adopt(&trak)?;
        // Its checkpoint is taken on the drop, where `ork trak restore` finds it.
        let trak = store.record(
            &trak,
            EventKind::Dropped {
                reason: reason.to_string(),
            },
        )?;
        let worktree = store.worktree_path(&trak.id);
        // Nothing unsaved goes with the folder; if it cannot be kept, the folder stays.
        match super::checkpoints::keep_unsaved(store, &trak, &worktree) {
            Ok(_) if worktree.exists() => store.git().remove_worktree(&worktree)?,
            Ok(_) => {}
            Err(err) => store.warnings().push(format!(
                "subtrak {} is dropped, but its worktree {} was kept: its uncommitted changes could not be saved first: {err:#}",
                trak.id,
                worktree.display()
            )),
        }
        dropped.push(trak.id);
    }
    Ok(dropped)
}

/// Whether subtrak `trak` is still wanted by its parent: the parent waits on a breakdown that
/// lists it. `None` when it has no parent, or the parent cannot be read here.
pub fn wanted_by_parent(store: &Store, trak: &Trak) -> Option<bool> {
    let parent = store.load(trak.state.parent.as_deref()?).ok()?;
    let listed = parent.state.subtraks.iter().any(|s| s.id == trak.id);
    // A parent in conflict has not decided anything yet: leave its subtraks alone.
    let waiting = matches!(parent.state.status, Status::Subtraks | Status::Conflict);
    Some(listed && waiting)
}
