//! The trak store: traks and their events, kept in git and nowhere else.
//!
//! A trak `<id>` is the branch `ork/<id>`. Its record lives on that branch under
//! `.orkestra/traks/<id>/`:
//!
//! - `description.md`: what the trak is for;
//! - `events/<time>-<machine>-<random>.json`: one file per event, never rewritten;
//! - `state.json`: the fold of the events (a cache, recomputed whenever it disagrees with them).
//!
//! Every change is one commit with a readable subject and `Ork-*` trailers, moved onto the
//! branch by compare-and-swap. Reading a trak costs a constant number of object reads.

mod agent_changes;
pub use agent_changes::{Branch, QUARANTINE_PREFIX};
pub mod checkpoint;
pub mod claim;
pub mod dry_run;
pub mod event;
pub mod git;
pub mod history;
mod race;
pub use race::{RACE_PREFIX, attempt_of, race_ref, tracking_race_prefix, tracking_race_ref};
mod listing;
pub mod local_files;
mod machines;
pub mod repo_watch;
pub mod schedule;
pub mod secrets;
pub mod state;
mod story;
#[doc(hidden)]
pub mod testing;
pub mod text;
pub mod trak_id;
pub mod warnings;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::store::event::{Event, EventKind};
use crate::store::git::{FileWrite, Git, Oid};
use crate::store::state::{STATE_VERSION, TrakState};
use crate::store::warnings::Warnings;

/// The extra commit header that carries the trak's state (compact JSON) on the commits ork
/// writes itself: listing then reads one object per trak. Invisible in `git log`.
pub const STATE_HEADER: &str = "ork-state";

/// The notes ref gate results are written to (one JSON object per line).
pub const NOTES_REF: &str = "refs/notes/orkestra";
/// Agent logs of trak `<id>` are commits on this ref prefix, out of the trak branch's tree.
pub const LOGS_PREFIX: &str = "refs/ork/logs/";

/// Local trak branches live under this prefix.
pub const BRANCH_PREFIX: &str = "refs/heads/ork/";
const REMOTES_PREFIX: &str = "refs/remotes/";

use crate::layout::TRAKS as TRAKS_DIR;
pub use crate::layout::record_dir;

/// Where a trak's branch was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local branch `ork/<id>`.
    Local,
    /// Only a remote-tracking branch `<remote>/ork/<id>`, brought by `git fetch`.
    Remote(String),
}

/// A trak as read from the tip of its branch.
#[derive(Debug, Clone)]
pub struct Trak {
    pub id: String,
    pub state: TrakState,
    pub location: Location,
    /// The full name of the branch it was read from.
    pub branch: String,
    /// The commit it was read from: what the next write must compare-and-swap against.
    pub tip: Oid,
}

/// What `ork trak new` asks for.
pub struct NewTrak<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub flow: &'a str,
    pub stages: Vec<String>,
    /// The local branch to start from and merge into.
    pub base: &'a str,
    /// For a subtrak: its id (derived, so creating it twice finds the first), its parent's id
    /// and its key in the parent's breakdown.
    pub id: Option<&'a str>,
    pub parent: Option<(&'a str, &'a str)>,
    /// The traks that must be merged before this one starts, by full id.
    pub after: &'a [String],
    /// 1 (first) to 5 (last); `None` is the default, 3.
    pub priority: Option<u8>,
    /// The tracker's task it came in from (`[intake]`).
    pub source: Option<&'a crate::store::event::Source>,
    /// The agent every stage runs with, over the stages' own.
    pub agent: Option<&'a str>,
    /// The trak whose run asked for this one (a stage's `spawn`).
    pub spawned_by: Option<&'a str>,
}

/// The store, over one open repository.
pub struct Store {
    git: Git,
    machine: String,
    warnings: Warnings,
}

impl Store {
    pub fn new(git: Git) -> Store {
        Store::with_warnings(git, Warnings::default())
    }

    /// A store whose warnings go to `warnings`, shared with the caller (another thread's
    /// store, a front end that shows them).
    pub fn with_warnings(git: Git, warnings: Warnings) -> Store {
        Store {
            git,
            machine: crate::store::event::machine_name(),
            warnings,
        }
    }

    /// What went wrong without stopping the work, for the caller to show.
    pub fn warnings(&self) -> &Warnings {
        &self.warnings
    }

    pub fn git(&self) -> &Git {
        &self.git
    }

    /// Where trak `id`'s worktree lives.
    pub fn worktree_path(&self, id: &str) -> PathBuf {
        self.git
            .main_workdir()
            .join(crate::layout::WORKTREES)
            .join(id)
    }

    /// The ids of the traks that have a worktree folder on this machine.
    pub fn worktree_ids(&self) -> std::collections::HashSet<String> {
        let dir = self.git.main_workdir().join(crate::layout::WORKTREES);
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Whether a fetched copy at `remote` holds everything the local branch at `local` has and
    /// more: then it is the trak's current state, and a plain `git fetch` shows another
    /// machine's progress. Costs a history walk only when the tips differ.
    fn remote_is_ahead(&self, local: Oid, remote: Oid) -> Result<bool> {
        Ok(local != remote && self.git.is_ancestor(local, remote)?)
    }

    /// Like [`Store::read`], but `None` for a branch under `ork/` that holds no trak record
    /// (someone's own `ork/notes` branch): listing must not fail because of it.
    fn read_if_trak(
        &self,
        id: &str,
        branch: &str,
        tip: Oid,
        location: Location,
    ) -> Result<Option<Trak>> {
        // The commit's own header, when ork wrote the commit: one object read.
        let (_, header) = self.git.commit_header(tip, STATE_HEADER)?;
        if let Some(state) = header
            .and_then(|json| serde_json::from_str::<TrakState>(&json).ok())
            .filter(|s| s.v == STATE_VERSION && s.id == id)
        {
            return Ok(Some(Trak {
                id: id.to_string(),
                state,
                location,
                branch: branch.to_string(),
                tip,
            }));
        }
        let Some((message, dir)) = self.git.commit_dir(tip, &record_dir(id))? else {
            return Ok(None);
        };
        let state = self
            .snapshot(&message, &dir)?
            .map(Ok)
            .unwrap_or_else(|| TrakState::fold(id, &self.events_at(id, tip)?))
            .with_context(|| format!("reading trak {id} from {branch}"))?;
        Ok(Some(Trak {
            id: id.to_string(),
            state,
            location,
            branch: branch.to_string(),
            tip,
        }))
    }

    /// The `state.json` snapshot of a trak's record folder `dir` at a commit with `message`,
    /// if it is the fold of the events there. The commit's `Ork-Event-Id` trailer vouches for
    /// it at no extra cost (ork wrote both in one commit); otherwise (a merge made by plain git,
    /// a commit on top) the events folder is compared with it.
    fn snapshot(
        &self,
        message: &str,
        dir: &crate::store::git::TreeDir<'_>,
    ) -> Result<Option<TrakState>> {
        let Some(state) = dir
            .file("state.json")?
            .and_then(|bytes| serde_json::from_slice::<TrakState>(&bytes).ok())
            .filter(|s| s.v == STATE_VERSION)
        else {
            return Ok(None);
        };
        let vouched = message
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("Ork-Event-Id: "))
            .is_some_and(|id| id.trim() == state.head_event);
        if vouched {
            return Ok(Some(state));
        }
        let event_names = match dir.dir("events")? {
            Some(events) => events.file_names()?,
            None => Vec::new(),
        };
        let agrees = state.events == event_names.len()
            && event_names
                .binary_search(&format!("{}.json", state.head_event))
                .is_ok();
        Ok(agrees.then_some(state))
    }

    /// (remote, id, ref name, tip) for every `refs/remotes/<remote>/ork/<id>` of a configured
    /// remote; `origin/team/ork/notes` is remote `origin`'s branch `team/ork/notes`, not a trak.
    fn remote_trak_refs(&self) -> Result<Vec<(String, String, String, Oid)>> {
        let mut found = Vec::new();
        for remote in self.git.remote_names() {
            let prefix = format!("{REMOTES_PREFIX}{remote}/ork/");
            for tip in self.git.refs_with_prefix(&prefix)? {
                let id = tip.name[prefix.len()..].to_string();
                found.push((remote.clone(), id, tip.name, tip.tip));
            }
        }
        Ok(found)
    }

    /// All trak ids, local and remote, for resolving prefixes.
    fn ids(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self
            .git
            .refs_with_prefix(BRANCH_PREFIX)?
            .into_iter()
            .map(|t| t.name[BRANCH_PREFIX.len()..].to_string())
            .chain(self.remote_trak_refs()?.into_iter().map(|(_, id, _, _)| id))
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The trak whose worktree the process runs in.
    fn current_trak_id(&self) -> Option<String> {
        self.git
            .current_branch()
            .and_then(|b| b.strip_prefix(BRANCH_PREFIX).map(str::to_string))
    }

    /// (remote, ref name, tip) of the first configured remote that has trak `id`.
    fn remote_ref_of(&self, id: &str) -> Result<Option<(String, String, Oid)>> {
        for remote in self.git.remote_names() {
            let name = format!("{REMOTES_PREFIX}{remote}/ork/{id}");
            if let Some(tip) = self.git.ref_tip(&name)? {
                return Ok(Some((remote, name, tip)));
            }
        }
        Ok(None)
    }

    /// Reads a trak's state at `tip`: the `state.json` snapshot when it agrees with the events
    /// folder, else a fresh fold of the events (after a merge, or from another ork version).
    fn read(&self, id: &str, branch: &str, tip: Oid, location: Location) -> Result<Trak> {
        self.read_if_trak(id, branch, tip, location)?
            .with_context(|| {
                format!(
                    "{branch} has no {}: it is not an ork trak branch",
                    record_dir(id)
                )
            })
    }

    fn events_at(&self, id: &str, tip: Oid) -> Result<Vec<Event>> {
        self.event_files_at(id, tip)?
            .into_iter()
            .map(|(name, bytes)| Event::from_json(&name, &bytes))
            .collect()
    }

    /// The event files of trak `id` at `tip`, as stored: (file name, contents).
    fn event_files_at(&self, id: &str, tip: Oid) -> Result<Vec<(String, Vec<u8>)>> {
        match self
            .git
            .dir_at(tip, &format!("{}/events", record_dir(id)))?
        {
            Some(dir) => dir.files(),
            None => Ok(Vec::new()),
        }
    }

    /// Trak `id`'s events as its record holds them at `commit` (any commit of its history, or
    /// of a race attempt's), in no particular order.
    pub fn events_at_commit(&self, id: &str, commit: Oid) -> Result<Vec<Event>> {
        self.events_at(id, commit)
    }

    /// A trak's events, oldest first.
    pub fn events(&self, trak: &Trak) -> Result<Vec<Event>> {
        let events = self.events_at(&trak.id, trak.tip)?;
        Ok(crate::store::state::causal_order(&events)
            .into_iter()
            .cloned()
            .collect())
    }

    /// The commit that brought `event`'s file into the trak's record: walking back from the
    /// tip, the first commit whose first parent lacks it (through a merge, into the parent that
    /// has it). It is found by content, never by a trailer a forger could write.
    pub fn commit_of_event(&self, trak: &Trak, event: &Event) -> Result<Option<Oid>> {
        let path = format!("{}/events/{}", record_dir(&trak.id), event.file_name());
        let mut at = trak.tip;
        if self.git.read_file(at, &path)?.is_none() {
            return Ok(None);
        }
        loop {
            let parents = self.git.parents(at)?;
            let mut with_it = None;
            for parent in &parents {
                if self.git.read_file(*parent, &path)?.is_some() {
                    with_it = Some(*parent);
                    break;
                }
            }
            match with_it {
                Some(parent) => at = parent,
                None => return Ok(Some(at)),
            }
        }
    }

    /// A trak's description.
    pub fn description(&self, trak: &Trak) -> Result<String> {
        let path = format!("{}/description.md", record_dir(&trak.id));
        let bytes = self.git.read_file(trak.tip, &path)?.unwrap_or_default();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Creates a trak: one commit on top of `base`'s tip holding its record, and the branch
    /// `ork/<id>` pointing at it. Either both exist afterwards, or neither is visible.
    pub fn create(&self, new: &NewTrak<'_>) -> Result<Trak> {
        let trak = self.prepare(new)?;
        self.git.create_ref(
            &trak.branch,
            trak.tip,
            &format!("ork: create trak {}", trak.id),
        )?;
        Ok(trak)
    }

    /// A trak's first commit, as [`Store::create`] makes it, without its branch: a trak that
    /// is shared before it exists here (a schedule's, pushed with the record of its slot), and
    /// is nothing but unreachable objects until then. The returned trak names the branch it
    /// is to have.
    pub fn prepare(&self, new: &NewTrak<'_>) -> Result<Trak> {
        // Every title enters here (a person's, a breakdown agent's): one clean line, capped,
        // what did not fit kept at the start of the description.
        let title = text::title(new.title);
        if title.line.is_empty() {
            bail!(
                "the trak's title is empty.\n  Give it a short title: ork trak new \"Add OAuth login\""
            );
        }
        let base_ref = format!("refs/heads/{}", new.base);
        let base_tip = self.git.ref_tip(&base_ref)?.with_context(|| {
            format!(
                "the base branch \"{}\" does not exist.\n  Pass --base with an existing local branch (see `git branch`).",
                new.base
            )
        })?;
        let id = match new.id {
            Some(id) => id.to_string(),
            None => self.unused_id(&title.line)?,
        };
        let event = Event::new(
            redacted(EventKind::Created {
                title: title.line.clone(),
                flow: new.flow.to_string(),
                base: new.base.to_string(),
                stages: new.stages.clone(),
                parent: new.parent.map(|(parent, _)| parent.to_string()),
                key: new.parent.map(|(_, key)| key.to_string()),
                after: new.after.to_vec(),
                priority: new.priority,
                source: new.source.cloned(),
                agent: new.agent.map(str::to_string),
                spawned_by: new.spawned_by.map(str::to_string),
            })?,
            &self.machine,
            None,
        );
        let state = TrakState::fold(&id, std::slice::from_ref(&event))?;
        let dir = record_dir(&id);
        let mut description = secrets::redact(title.description(new.description).trim_end());
        description.push('\n');
        let files = [
            FileWrite {
                path: format!("{dir}/description.md"),
                contents: description.into_bytes(),
            },
            FileWrite {
                path: format!("{dir}/events/{}", event.file_name()),
                contents: event.to_json().into_bytes(),
            },
            FileWrite {
                path: format!("{dir}/state.json"),
                contents: state.to_json().into_bytes(),
            },
        ];
        let message = commit_message(&id, &event, &[], &state);
        let header = state.to_header();
        let commit =
            self.git
                .write_commit(base_tip, &files, &message, Some((STATE_HEADER, &header)))?;
        Ok(Trak {
            branch: format!("{BRANCH_PREFIX}{id}"),
            id,
            state,
            location: Location::Local,
            tip: commit,
        })
    }

    /// A fresh id for `title` that no local or remote-tracking branch uses.
    /// Looks up only the candidate's own refs: creating a trak must not cost O(traks).
    fn unused_id(&self, title: &str) -> Result<String> {
        // The id names a branch that gets pushed: a token pasted into a title must not be in it.
        let title = secrets::redact(title);
        let title = title.as_str();
        let remotes = self.git.remote_names();
        for _ in 0..100 {
            let id = crate::store::trak_id::new_id(title);
            let mut names = vec![format!("{BRANCH_PREFIX}{id}")];
            names.extend(
                remotes
                    .iter()
                    .map(|r| format!("{REMOTES_PREFIX}{r}/ork/{id}")),
            );
            let mut taken = false;
            for name in &names {
                taken |= self.git.ref_tip(name)?.is_some();
            }
            if !taken {
                return Ok(id);
            }
        }
        bail!("could not find an unused trak id for \"{title}\" after 100 tries")
    }

    /// Records `kind` on a local trak as one commit, compare-and-swap against the tip it was
    /// read at. If another process or machine moved the branch first, fails with
    /// [`crate::store::git::RefMoved`] and records nothing.
    pub fn record(&self, trak: &Trak, kind: EventKind) -> Result<Trak> {
        self.record_with(trak, kind, None)
    }

    /// Records a person's decision `kind`, its commit signed with the SSH key `signing_key`
    /// (`[trust] sign`; docs/security.md).
    pub fn record_signed(&self, trak: &Trak, kind: EventKind, signing_key: &str) -> Result<Trak> {
        self.record_with(trak, kind, Some(signing_key))
    }

    fn record_with(&self, trak: &Trak, kind: EventKind, signing_key: Option<&str>) -> Result<Trak> {
        if trak.location != Location::Local {
            bail!(
                "trak {} is only on a remote; ork records on local branches (created on first change)",
                trak.id
            );
        }
        let event = Event::new(
            redacted(kind)?,
            &self.machine,
            Some(trak.state.head_event.clone()),
        );
        let state = if matches!(event.kind, EventKind::Resolved { .. }) {
            // Setting events aside changes the past: fold everything again.
            let mut events = self.events_at(&trak.id, trak.tip)?;
            events.push(event.clone());
            TrakState::fold(&trak.id, &events)?
        } else {
            trak.state.advance(&event)
        };
        let dir = record_dir(&trak.id);
        let mut files = vec![
            FileWrite {
                path: format!("{dir}/events/{}", event.file_name()),
                contents: event.to_json().into_bytes(),
            },
            FileWrite {
                path: format!("{dir}/state.json"),
                contents: state.to_json().into_bytes(),
            },
        ];
        if let EventKind::Described { text } = &event.kind {
            files.push(FileWrite {
                path: format!("{dir}/description.md"),
                contents: format!("{}\n", text.trim_end()).into_bytes(),
            });
        }
        let message = commit_message(&trak.id, &event, &trak.state.questions, &state);
        let header = state.to_header();
        let header = Some((STATE_HEADER, header.as_str()));
        let commit = match signing_key {
            Some(key) => self
                .git
                .write_signed_commit(trak.tip, &files, &message, header, key)?,
            None => self.git.write_commit(trak.tip, &files, &message, header)?,
        };
        self.advance_branch(trak, commit, state, &event.kind)
    }

    /// Moves `trak`'s branch from its tip to `commit`, which records `kind` and holds `state`,
    /// by compare-and-swap; its worktree follows.
    pub(super) fn advance_branch(
        &self,
        trak: &Trak,
        commit: Oid,
        state: TrakState,
        kind: &EventKind,
    ) -> Result<Trak> {
        self.git.update_ref(
            &trak.branch,
            commit,
            trak.tip,
            &format!("ork: {}", kind.name()),
        )?;
        // The branch may be checked out: bring its index and files up to the new tip.
        self.refresh_worktree(trak, trak.tip, commit)?;
        Ok(Trak {
            state,
            tip: commit,
            ..trak.clone()
        })
    }
}

impl Store {
    /// Whether the branch moved from the trak's tip to `current` only through commits the agent
    /// made itself in the worktree (no ork event among them): its work, to be recorded on top.
    fn only_agent_commits(&self, trak: &Trak, current: Option<Oid>) -> Result<bool> {
        let Some(current) = current else {
            return Ok(false);
        };
        if !self.git.is_ancestor(trak.tip, current)? {
            return Ok(false);
        }
        let mut clean = true;
        self.git.walk_first_parents(current, |id, message| {
            if id == trak.tip {
                return false;
            }
            clean &= !message.contains("\nOrk-Event: ");
            clean
        })?;
        Ok(clean)
    }

    /// The latest artifact of each stage that has one, as (artifact name, content).
    pub fn artifacts(&self, trak: &Trak) -> Result<Vec<(String, String)>> {
        let Some(dir) = self
            .git
            .dir_at(trak.tip, &format!("{}/artifacts", record_dir(&trak.id)))?
        else {
            return Ok(Vec::new());
        };
        Ok(dir
            .files()?
            .into_iter()
            .map(|(name, bytes)| {
                let name = name.strip_suffix(".md").unwrap_or(&name).to_string();
                (name, String::from_utf8_lossy(&bytes).into_owned())
            })
            .collect())
    }

    /// The record folder a merge commit of `trak` holds: `event_files`, `artifacts`, its
    /// description and `state`.
    fn merged_record(
        &self,
        trak: &Trak,
        event_files: BTreeMap<String, Vec<u8>>,
        artifacts: BTreeMap<String, String>,
        state: &TrakState,
    ) -> Result<Vec<FileWrite>> {
        Ok(record_folder(
            &record_dir(&trak.id),
            event_files,
            artifacts,
            self.description(trak)?,
            state,
        ))
    }

    /// Commits the merge of `theirs` into a local trak, with `files` as its record folder and
    /// `state` in its header, and moves the branch there; `conflict` words the error when the
    /// code does not merge (nothing is changed then).
    fn commit_merge(
        &self,
        trak: &Trak,
        theirs: Oid,
        files: &[FileWrite],
        message: &str,
        state: TrakState,
        conflict: impl FnOnce(&[String]) -> anyhow::Error,
    ) -> Result<Trak> {
        let header = state.to_header();
        let commit = match self.git.join(
            trak.tip,
            theirs,
            &record_dir(&trak.id),
            files,
            message,
            Some((STATE_HEADER, &header)),
        )? {
            crate::store::git::MergeResult::Clean(commit) => commit,
            crate::store::git::MergeResult::Conflicts(paths) => return Err(conflict(&paths)),
        };
        self.move_to(trak, commit)?;
        Ok(Trak {
            state,
            tip: commit,
            ..trak.clone()
        })
    }

    /// The machine name events are signed with.
    pub fn machine(&self) -> &str {
        &self.machine
    }
}

/// A trak's whole record folder `dir` as files: events, artifacts, description and state.
fn record_folder(
    dir: &str,
    event_files: BTreeMap<String, Vec<u8>>,
    artifacts: BTreeMap<String, String>,
    description: String,
    state: &TrakState,
) -> Vec<FileWrite> {
    let mut files: Vec<FileWrite> = event_files
        .into_iter()
        .map(|(name, contents)| FileWrite {
            path: format!("{dir}/events/{name}"),
            contents,
        })
        .collect();
    files.extend(artifacts.into_iter().map(|(name, content)| FileWrite {
        path: format!("{dir}/artifacts/{name}.md"),
        contents: content.into_bytes(),
    }));
    files.push(FileWrite {
        path: format!("{dir}/description.md"),
        contents: description.into_bytes(),
    });
    files.push(FileWrite {
        path: format!("{dir}/state.json"),
        contents: state.to_json().into_bytes(),
    });
    files
}

/// `kind` with every text it holds redacted: whatever an agent, a gate or a human wrote, no
/// secret reaches a commit (docs/design.md rule 10).
fn redacted(kind: EventKind) -> Result<EventKind> {
    let mut value = serde_json::to_value(&kind).context("serialising an event")?;
    secrets::redact_value(&mut value);
    serde_json::from_value(value).context("reading back a redacted event")
}

/// The commit message for `event`: a readable subject, the human's or the tool's words behind
/// it (see [`story`]), then `Ork-*` trailers. `asked` are the questions open before the event.
fn commit_message(
    id: &str,
    event: &Event,
    asked: &[crate::store::event::Question],
    state: &TrakState,
) -> String {
    // The subject quotes a title, perhaps recorded elsewhere: one line, no control characters.
    let mut message = format!("ork: {}\n\n", text::one_line(&event.kind.summary()));
    let body = story::commit_body(&event.kind, asked);
    if !body.is_empty() {
        // Trailers must stay the last paragraph: the body's own blank lines end before them.
        message.push_str(body.trim_end());
        message.push_str("\n\n");
    }
    let attempt = match &event.kind {
        EventKind::StageStarted { attempt, .. } | EventKind::StageFinished { attempt, .. } => {
            Some(*attempt)
        }
        _ => None,
    };
    message.push_str(&trailers(
        id,
        (event.kind.name(), &event.id),
        event.kind.stage().unwrap_or(&state.stage),
        attempt,
        &event.machine,
        state,
    ));
    message
}

/// The `Ork-*` trailers that end every commit ork writes (docs/data-model.md): the trak,
/// the event (its name and id), the stage, the attempt where there is one, the status after
/// it, and the machine that recorded it.
fn trailers(
    id: &str,
    (event, event_id): (&str, &str),
    stage: &str,
    attempt: Option<u32>,
    machine: &str,
    state: &TrakState,
) -> String {
    let mut trailers = format!(
        "Ork-Trak: {id}\nOrk-Event: {event}\nOrk-Event-Id: {event_id}\nOrk-Flow: {}\nOrk-Stage: {stage}\n",
        state.flow
    );
    if let Some(attempt) = attempt {
        trailers.push_str(&format!("Ork-Attempt: {attempt}\n"));
    }
    trailers.push_str(&format!(
        "Ork-Status: {}\nOrk-Machine: {machine}\n",
        state.status.as_str()
    ));
    trailers
}

#[cfg(test)]
mod tests {
    use super::listing::pick_id;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unique_prefixes_resolve() {
        let all = ids(&["add-login-k3f9", "add-logout-aaaa", "fix-bug-0000"]);
        assert_eq!(pick_id("fix", &all).unwrap(), "fix-bug-0000");
        assert_eq!(pick_id("add-login", &all).unwrap(), "add-login-k3f9");
    }

    #[test]
    fn ambiguous_and_unknown_prefixes_list_candidates() {
        let all = ids(&["add-login-k3f9", "add-logout-aaaa", "fix-bug-0000"]);
        let err = pick_id("add", &all).unwrap_err().to_string();
        assert!(err.contains("matches 2 traks"), "{err}");
        assert!(
            err.contains("add-login-k3f9") && err.contains("add-logout-aaaa"),
            "{err}"
        );
        let err = pick_id("zzz", &all).unwrap_err().to_string();
        assert!(err.contains("no trak matches \"zzz\""), "{err}");
        assert!(err.contains("fix-bug-0000"), "{err}");
    }

    #[test]
    fn a_prefix_of_a_trak_and_its_subtraks_means_the_trak() {
        let all = ids(&["oauth-k3f9", "oauth-k3f9.db", "oauth-k3f9.ui", "other-0000"]);
        assert_eq!(pick_id("oauth", &all).unwrap(), "oauth-k3f9");
        assert_eq!(pick_id("oauth-k3f9.d", &all).unwrap(), "oauth-k3f9.db");
    }

    #[test]
    fn an_exact_id_wins_over_longer_ones() {
        let all = ids(&["a-1", "a-1x"]);
        assert_eq!(pick_id("a-1", &all).unwrap(), "a-1");
    }
}
