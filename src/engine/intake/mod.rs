//! Work that comes in from a tracker (`[intake]`): GitHub Issues through `gh`, or any tracker
//! through two programs. One pass (`ork intake`, and every `[intake] every` under `ork run
//! --watch`) makes one trak per open task, exactly once across the machines of one shared
//! queue; keeps the task's status comment up to date; carries out `/ork …` commands from people
//! who may decide; closes the task once its trak merged, and drops the trak of a task a person
//! closed. docs/workflow.md, "Intake".

mod commands;
mod github;
mod status;
mod tracker_command;

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::workflow::Workflow;
use crate::store::event::{EventKind, Source};
use crate::store::git::Oid;
use crate::store::state::Status;
use crate::store::{BRANCH_PREFIX, Store, Trak};

/// The most of a task's text (body and comments) a trak's description holds.
const DESCRIPTION_LIMIT: usize = 64 * 1024;

/// One open task as the tracker lists it.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its key in the tracker: an issue's number.
    pub key: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub url: String,
    /// When it last changed, as the tracker says it (compared, never parsed).
    pub updated: String,
}

/// A task read in full: its comments, and whether it is still open.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub task: Task,
    pub open: bool,
    pub comments: Vec<Comment>,
}

/// A comment on a task.
#[derive(Debug, Clone)]
pub struct Comment {
    /// The tracker's id of it, the same on every machine.
    pub id: String,
    pub author: String,
    pub body: String,
    /// The id its edits are made by (GitHub's REST id), where it differs.
    pub edit_id: Option<String>,
    /// Written by the login ork uses: its own status comments, and anything an agent on
    /// this machine posted with that same login.
    pub by_ork: bool,
}

/// What ork asks of a tracker.
pub trait Tracker {
    /// `github`, `command`: what [`Source::tracker`] records.
    fn name(&self) -> &'static str;
    /// The trak id a task's key gives (`issue-42`): the same on every machine.
    fn id_for(&self, key: &str) -> String;
    /// How a person names the task (`#42`).
    fn reference(&self, key: &str) -> String;
    /// The open tasks ork takes.
    fn list(&mut self) -> Result<Vec<Task>>;
    fn view(&mut self, key: &str) -> Result<TaskView>;
    /// Whether `author` may make decisions (write access to the repository).
    fn may_decide(&mut self, author: &str) -> Result<bool>;
    /// A new comment on the task.
    fn comment(&mut self, key: &str, body: &str) -> Result<()>;
    fn edit_comment(&mut self, key: &str, comment: &Comment, body: &str) -> Result<()>;
    fn close(&mut self, key: &str) -> Result<()>;
    /// The comments on `trak`'s pull request, where it has one: commands are taken there too.
    fn pull_request_comments(&mut self, _trak: &Trak) -> Result<Vec<Comment>> {
        Ok(Vec::new())
    }
    /// Tells the tracker where the trak stands: by default the status comment, edited in place.
    fn report(&mut self, key: &str, report: &status::Report, known: &mut Known) -> Result<()> {
        status::post_comment(self, key, report, known)
    }
}

/// Whether a comment is a command to ork (`/ork approve`), not words for the agent.
pub fn is_command(body: &str) -> bool {
    commands::parse(body).is_some()
}

/// What one pass did, a line each, for the person watching.
pub type Happened = Vec<String>;

/// One pass over every configured tracker.
pub fn pass(store: &Store, workflow: &Workflow) -> Result<Happened> {
    // A pass carries out people's commands: an agent inside a run never makes one, or it
    // would spend those commands on refusals (docs/design.md rule 12).
    if let Some(trak) = crate::engine::decisions::running_inside() {
        anyhow::bail!(
            "an agent running inside trak {trak} cannot take in work: `ork intake` carries out people's decisions. Nothing was read."
        );
    }
    let mut happened = Vec::new();
    let dir = store.git().main_workdir();
    let scratch = store.git().runtime_dir().join("intake");
    if let Some(settings) = &workflow.intake.github {
        let mut github = github::Github::new(settings, dir, scratch.clone());
        happened.extend(pass_over(store, workflow, &mut github)?);
    }
    if let Some(settings) = &workflow.intake.command {
        let mut tracker = tracker_command::CommandTracker::new(settings, dir);
        happened.extend(pass_over(store, workflow, &mut tracker)?);
    }
    Ok(happened)
}

/// What this machine knows of each task between passes (`.git/ork/intake/<tracker>.json`):
/// only to ask and write less. Losing it costs one more look at each task, nothing else.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Known {
    tasks: BTreeMap<String, KnownTask>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct KnownTask {
    /// The task's `updated` whose comments and text were fully taken in.
    #[serde(default)]
    updated: String,
    /// The last status report sent.
    #[serde(default)]
    report: String,
    /// The id of ork's status comment on it, once seen.
    #[serde(default)]
    status_comment: Option<String>,
}

impl Known {
    fn path(store: &Store, tracker: &str) -> std::path::PathBuf {
        store
            .git()
            .runtime_dir()
            .join("intake")
            .join(format!("{tracker}.json"))
    }

    fn load(store: &Store, tracker: &str) -> Known {
        std::fs::read(Known::path(store, tracker))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save(&self, store: &Store, tracker: &str) -> Result<()> {
        let path = Known::path(store, tracker);
        if let Some(dir) = path.parent() {
            crate::engine::process::create_private_dir(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    fn task(&mut self, key: &str) -> &mut KnownTask {
        self.tasks.entry(key.to_string()).or_default()
    }
}

/// One pass over one tracker.
fn pass_over(store: &Store, workflow: &Workflow, tracker: &mut dyn Tracker) -> Result<Happened> {
    let remote = crate::engine::queue_remote(store, workflow);
    if let Some(remote) = &remote {
        crate::sync::configure_remote(store.git(), remote)?;
        store.git().fetch(remote)?;
    }
    let mut known = Known::load(store, tracker.name());
    let mut happened = Vec::new();
    let mut open = tracker.list()?;
    // Lower keys first: a task that "depends on #N" finds #N's trak made before it.
    open.sort_by_key(|task| {
        (
            task.key.parse::<u64>().unwrap_or(u64::MAX),
            task.key.clone(),
        )
    });
    let mut from_here: HashMap<String, Trak> = store
        .list()?
        .into_iter()
        .filter(|trak| {
            trak.state
                .source
                .as_ref()
                .is_some_and(|s| s.tracker == tracker.name())
        })
        .map(|trak| (trak.id.clone(), trak))
        .collect();
    let mut intake = Intake {
        store,
        workflow,
        remote: remote.as_deref(),
        happened: &mut happened,
    };
    for task in &open {
        let id = tracker.id_for(&task.key);
        let trak = match from_here.remove(&id) {
            Some(trak) => Some(trak),
            None => intake.create(tracker, task, &id)?,
        };
        if let Some(trak) = trak {
            intake.follow(tracker, task, trak, &mut known)?;
        }
    }
    // A trak whose task no longer lists: closed by a person (or its label taken off).
    for trak in from_here.into_values() {
        intake.closed_elsewhere(tracker, trak)?;
    }
    known.save(store, tracker.name())?;
    Ok(happened)
}

struct Intake<'a> {
    store: &'a Store,
    workflow: &'a Workflow,
    /// The shared queue's remote: creations and decisions are compare-and-swap pushes to it.
    remote: Option<&'a str>,
    happened: &'a mut Happened,
}

impl Intake<'_> {
    /// Makes the trak of `task`, unless another machine made it first. Its id follows from
    /// the task's key; with a shared queue the new branch is pushed only where the remote has
    /// none (a compare-and-swap), so one trak is made per task however many machines watch.
    fn create(&mut self, tracker: &mut dyn Tracker, task: &Task, id: &str) -> Result<Option<Trak>> {
        if self.store.find(id)?.is_some() {
            // A trak of that id that no tracker made: leave it, and say so once per pass.
            self.happened.push(format!(
                "{id}: a trak of that id exists and did not come from {}; {} is not taken in",
                tracker.name(),
                tracker.reference(&task.key)
            ));
            return Ok(None);
        }
        let view = tracker.view(&task.key)?;
        let routed = commands::route(self.store, self.workflow, tracker, &view, self.happened)?;
        let source = Source {
            tracker: tracker.name().to_string(),
            key: task.key.clone(),
            url: task.url.clone(),
            before: view
                .comments
                .iter()
                .filter(|c| commands::parse(&c.body).is_some())
                .map(|c| c.id.clone())
                .collect(),
        };
        let description = description_of(&view);
        let request = crate::engine::TrakRequest {
            title: &task.title,
            description: &description,
            flow: routed.flow.as_deref(),
            after: &routed.after,
            priority: routed.priority,
            id: Some(id),
            source: Some(&source),
            agent: routed.agent.as_deref(),
            ..Default::default()
        };
        let taking = || format!("taking in {}", tracker.reference(&task.key));
        let trak = match self.remote {
            None => {
                crate::engine::new_trak(self.store, self.workflow, &request).with_context(taking)?
            }
            // With the shared queue the trak is shared before it exists here: its first commit
            // is pushed only where the remote has no such branch (a compare-and-swap), and
            // only then gets its branch here. A machine that loses, or dies before it knows,
            // leaves no trak of its own to diverge from the winner's.
            Some(remote) => {
                let trak = crate::engine::prepare_trak(self.store, self.workflow, &request)
                    .with_context(taking)?;
                let refspec = format!("{}:{}", trak.tip, trak.branch);
                let lease = (trak.branch.clone(), None);
                if !self
                    .store
                    .git()
                    .push_with_leases(remote, &[refspec], &[lease])?
                {
                    return Ok(None);
                }
                crate::engine::settle_shared(self.store, self.workflow, &trak);
                trak
            }
        };
        self.happened.push(format!(
            "{id}: taken in from {} ({}, flow {})",
            tracker.reference(&task.key),
            task.url,
            trak.state.flow
        ));
        Ok(Some(trak))
    }

    /// Pushes `trak`'s branch to the shared queue's remote, where the remote's is still
    /// `seen` (`None`: absent). `false` when another machine moved it first: the local branch
    /// is then put back to the remote's, and what this machine recorded is left unsaid.
    fn share(&mut self, trak: &Trak, seen: Option<Oid>) -> Result<bool> {
        let Some(remote) = self.remote else {
            return Ok(true);
        };
        let branch = format!("{BRANCH_PREFIX}{}", trak.id);
        let refspec = format!("{branch}:{branch}");
        self.store
            .git()
            .push_with_leases(remote, &[refspec], &[(branch, seen)])
    }

    /// A task that has its trak: commands and edits taken in, the status sent, the task closed
    /// once the trak merged.
    fn follow(
        &mut self,
        tracker: &mut dyn Tracker,
        task: &Task,
        trak: Trak,
        known: &mut Known,
    ) -> Result<()> {
        let mut trak = trak;
        // A pull request's comments leave the time of change alone: a trak that has one
        // is read each pass.
        if known.task(&task.key).updated != task.updated
            || changed_lately(&task.updated)
            || trak.state.pull_request.is_some()
        {
            // A trak that runs (here: its lock is held) is the engine's to record on: what the
            // task says waits for the run's end.
            let lock = crate::engine::try_run_lock(self.store, &trak.id)?;
            if lock.is_some() && trak.state.status != Status::Running {
                let mut view = tracker.view(&task.key)?;
                view.comments.extend(tracker.pull_request_comments(&trak)?);
                trak = self.take_in(tracker, &view, trak)?;
                known.task(&task.key).updated = task.updated.clone();
            }
        }
        let report = status::Report::of(self.store, self.workflow, &trak)?;
        if known.task(&task.key).report != report.text {
            tracker.report(&task.key, &report, known)?;
            known.task(&task.key).report = report.text.clone();
        }
        if trak.state.status == Status::Done {
            tracker.close(&task.key)?;
            self.happened.push(format!(
                "{}: merged, {} closed",
                trak.id,
                tracker.reference(&task.key)
            ));
        }
        Ok(())
    }

    /// Commands from new comments, and an edited text, recorded on the trak and shared.
    fn take_in(&mut self, tracker: &mut dyn Tracker, view: &TaskView, trak: Trak) -> Result<Trak> {
        if matches!(trak.state.status, Status::Done | Status::Dropped) {
            return Ok(trak);
        }
        let seen = self.remote_tip(&trak.id)?;
        let before = trak.tip;
        let mut trak = self.store.adopt(&trak)?;
        let said = self.happened.len();
        let replies;
        (trak, replies) = commands::carry_out(
            self.store,
            self.workflow,
            tracker,
            view,
            trak,
            self.happened,
        )?;
        let description = description_of(view);
        if self.store.description(&trak)?.trim_end() != description.trim_end() {
            trak = self
                .store
                .record(&trak, EventKind::Described { text: description })?;
            self.happened.push(format!(
                "{}: description updated from {}",
                trak.id,
                tracker.reference(&view.task.key)
            ));
        }
        if trak.tip != before && !self.share(&trak, seen)? {
            // Another machine recorded on the trak first (perhaps this very comment): go back
            // to its record and take the task in again on the next pass.
            if let Some(theirs) = seen {
                self.store.move_to(&trak, theirs)?;
            }
            self.happened.truncate(said);
            self.happened.push(format!(
                "{}: another machine recorded on it first; its task is read again next pass",
                trak.id
            ));
            return self.store.load(&trak.id);
        }
        for reply in replies {
            tracker.comment(&view.task.key, &reply)?;
        }
        Ok(trak)
    }

    /// The trak's branch tip on the shared queue's remote, as last fetched.
    fn remote_tip(&self, id: &str) -> Result<Option<Oid>> {
        let Some(remote) = self.remote else {
            return Ok(None);
        };
        self.store
            .git()
            .ref_tip(&format!("refs/remotes/{remote}/ork/{id}"))
    }

    /// A trak whose task is no longer listed open: if a person closed it, the trak is dropped
    /// (its branch kept); a task that only lost its label is left alone.
    fn closed_elsewhere(&mut self, tracker: &mut dyn Tracker, trak: Trak) -> Result<()> {
        if matches!(trak.state.status, Status::Done | Status::Dropped) {
            return Ok(());
        }
        let Some(source) = &trak.state.source else {
            return Ok(());
        };
        let view = tracker.view(&source.key)?;
        if view.open {
            return Ok(());
        }
        let reason = format!("{} was closed", tracker.reference(&source.key));
        let seen = self.remote_tip(&trak.id)?;
        let dropped = match crate::engine::drop_trak(self.store, self.workflow, &trak, reason, true)
        {
            Ok(dropped) => dropped,
            Err(err) => {
                self.happened.push(format!("{}: {err:#}", trak.id));
                return Ok(());
            }
        };
        if !self.share(&dropped, seen)? {
            // Another machine recorded on it first: its record stands, this drop is left unsaid
            // (the next pass sees the issue closed again, if the trak is still open).
            if let Some(theirs) = seen {
                self.store.move_to(&dropped, theirs)?;
            }
            return Ok(());
        }
        self.happened.push(format!(
            "{}: dropped, {} was closed (its branch is kept)",
            trak.id,
            tracker.reference(&source.key)
        ));
        Ok(())
    }
}

/// Whether a task's time of change is within the last minute: a tracker gives it in seconds,
/// so two changes in one second look like one, and a task changed lately is read again.
fn changed_lately(updated: &str) -> bool {
    DateTime::parse_from_rfc3339(updated)
        .is_ok_and(|at| Utc::now().signed_duration_since(at) < chrono::Duration::seconds(60))
}

/// A trak's description from its task: the body, then the comments people wrote (not ork's
/// own, not commands), bounded.
fn description_of(view: &TaskView) -> String {
    let mut text = view.task.body.trim().to_string();
    let comments: Vec<&Comment> = view
        .comments
        .iter()
        .filter(|c| !c.by_ork && commands::parse(&c.body).is_none())
        .collect();
    if !comments.is_empty() {
        text.push_str("\n\n## Comments\n");
        for comment in comments {
            text.push_str(&format!(
                "\n**{}**: {}\n",
                comment.author,
                comment.body.trim()
            ));
        }
    }
    crate::engine::process::output::keep_head(
        &text,
        DESCRIPTION_LIMIT,
        "The task's text is longer: read it in the tracker.",
    )
}
