//! Scheduled traks (`[[schedule]]`): when a schedule's slot comes, one trak is made for it,
//! exactly once across every machine.
//!
//! Each schedule's record (`store::schedule`, `refs/ork/schedules/<name>`) holds the newest
//! slot fired. A slot is due when it is the newest at or before now and later than the
//! recorded one, so slots missed while no watcher ran fire once, not once each. A schedule
//! seen for the first time (no record) starts from now: its newest past slot is recorded
//! without a trak, and its first trak comes with the next slot, rather than firing for a
//! slot that passed before anyone asked for it.
//!
//! The order of the steps is what keeps a crash from making two traks for a slot or losing
//! it. The trak's id is derived from the schedule and the slot (so making it again finds the
//! first), and the record is moved last, by compare-and-swap.
//!
//! - With the shared queue, the trak's first commit is made without a branch and pushed with
//!   the record in one atomic push: the remote never holds one without the other, and the
//!   machine whose push lands fired the slot. Only then does the trak get its branch here. A
//!   machine that loses, or dies before it knows, leaves nothing but unreachable objects; one
//!   that dies after its push landed left the trak on the remote, where `ork run` takes it.
//! - Without it, the trak is made here first, then the record moved. A crash between the two
//!   leaves a trak for a slot later than the recorded one: the next look finds it and fires
//!   it for the slot then due, instead of making another.

use anyhow::{Context, Result};
use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use super::{TrakRequest, new_trak, prepare_trak, queue_remote};
use crate::config::schedule::Schedule;
use crate::config::workflow::Workflow;
use crate::store::schedule::{Fired, FiredRecord};
use crate::store::{Store, Trak};

/// The slot part of a schedule's trak ids: UTC, so a slot has one id on every machine and
/// in every season.
const SLOT_ID_FORMAT: &str = "%Y%m%d-%H%M%S";

/// What one look at a schedule did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Trak `trak` was made for `slot` (and every slot missed before it).
    Scheduled {
        schedule: String,
        slot: DateTime<Utc>,
        trak: String,
    },
    /// A schedule seen for the first time starts from `slot` without a trak: its first comes
    /// with the next slot.
    Started {
        schedule: String,
        slot: DateTime<Utc>,
    },
    /// Another machine (or ork process) fired `slot` first; nothing of this one's is left.
    Lost {
        schedule: String,
        slot: DateTime<Utc>,
    },
    /// The slot could not be fired now; it stays due, and the next look tries again.
    Failed { schedule: String, error: String },
}

impl Outcome {
    /// The schedule it is about.
    pub fn schedule(&self) -> &str {
        match self {
            Outcome::Scheduled { schedule, .. }
            | Outcome::Started { schedule, .. }
            | Outcome::Lost { schedule, .. }
            | Outcome::Failed { schedule, .. } => schedule,
        }
    }
}

/// Fires every schedule of `workflow` that has a slot due at `now`. With the shared queue on
/// (`[sync] queue`), the remote's records (as last fetched) decide, and the winner pushes;
/// without it, this repository's own records do.
pub fn fire_due(store: &Store, workflow: &Workflow, now: DateTime<Utc>) -> Vec<Outcome> {
    // An agent inside a run that starts `ork run` makes no trak by the clock: traks it may make
    // go through its stage's `spawn` (docs/design.md rule 12).
    if workflow.schedules.is_empty() || super::running_inside_a_trak().is_some() {
        return Vec::new();
    }
    let remote = queue_remote(store, workflow);
    workflow
        .schedules
        .iter()
        .filter_map(|schedule| {
            fire(store, workflow, schedule, remote.as_deref(), now).unwrap_or_else(|err| {
                Some(Outcome::Failed {
                    schedule: schedule.name.clone(),
                    error: format!("{err:#}"),
                })
            })
        })
        .collect()
}

/// The slot of `schedule` due at `now` after the one `last` recorded: the newest at or before
/// `now`, if it is later than `last`. Every slot missed in between is covered by it.
pub fn due_slot(
    schedule: &Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let newest = schedule.slot_at_or_before(now)?;
    last.is_none_or(|last| newest > last).then_some(newest)
}

/// The id of `schedule`'s trak for `slot`: the same on every machine.
pub fn slot_id(schedule: &str, slot: DateTime<Utc>) -> String {
    format!("{schedule}-{}", slot.format(SLOT_ID_FORMAT))
}

/// The slot a trak id of `schedule` was made for, if it is one of that schedule's ids.
fn slot_of_id(schedule: &str, id: &str) -> Option<DateTime<Utc>> {
    let rest = id.strip_prefix(schedule)?.strip_prefix('-')?;
    let naive = chrono::NaiveDateTime::parse_from_str(rest, SLOT_ID_FORMAT).ok()?;
    Some(naive.and_utc())
}

fn fire(
    store: &Store,
    workflow: &Workflow,
    schedule: &Schedule,
    remote: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Outcome>> {
    let last = store.fired(remote, &schedule.name)?;
    let Some(slot) = due_slot(schedule, last.as_ref().map(|f| f.record.slot), now) else {
        return Ok(None);
    };
    let name = schedule.name.clone();
    let Some(last) = last else {
        let record = FiredRecord::new(&name, slot, None, store.machine());
        if store.write_fired(remote, &record, None, None)?.is_some() {
            return Ok(Some(Outcome::Started {
                schedule: name,
                slot,
            }));
        }
        refresh(store, remote)?;
        return Ok(Some(Outcome::Lost {
            schedule: name,
            slot,
        }));
    };
    let pending = pending_id(store, schedule, &last, slot)?;
    let id = pending
        .clone()
        .unwrap_or_else(|| slot_id(&schedule.name, slot));
    // The trak's run lock, held until its record is written or it is given up: no `ork run`
    // of this machine starts it meanwhile, so a trak given up was never run. Held by another
    // process, it is being run (a pending trak) or fired there: the next look sees.
    let Some(_lock) = super::try_run_lock(store, &id)? else {
        return Ok(None);
    };
    // With the shared queue, a new trak is shared before it exists here: its commit goes to
    // the remote with the record, and only then gets its branch here, so a machine that
    // loses the slot, or dies before it knows, leaves no trak of its own behind.
    let shared_first = pending.is_none() && remote.is_some();
    let trak = match pending {
        Some(id) => store.load(&id)?,
        None if shared_first => prepare(store, workflow, schedule, &id, slot)?,
        None => make(store, workflow, schedule, &id, slot)?,
    };
    let record = FiredRecord::new(&name, slot, Some(&trak.id), store.machine());
    let fired = store
        .write_fired(remote, &record, Some(last.oid), Some(&trak))?
        .is_some()
        || landed_after_all(store, remote, &name, &trak, shared_first)?;
    if !fired {
        return Ok(Some(Outcome::Lost {
            schedule: name,
            slot,
        }));
    }
    if shared_first {
        super::settle_shared(store, workflow, &trak);
    }
    Ok(Some(Outcome::Scheduled {
        schedule: name,
        slot,
        trak: trak.id,
    }))
}

/// A trak made here for a slot after the `last` recorded, up to `slot`, whose record a crash
/// (or an unreachable remote) kept from being written: the slot's trak, so that a slot never
/// makes two.
fn pending_id(
    store: &Store,
    schedule: &Schedule,
    last: &Fired,
    slot: DateTime<Utc>,
) -> Result<Option<String>> {
    let prefix = format!("{}-", schedule.name);
    Ok(store
        .local_ids_with_prefix(&prefix)?
        .into_iter()
        .find(|id| {
            slot_of_id(&schedule.name, id)
                .is_some_and(|made_for| made_for > last.record.slot && made_for <= slot)
        }))
}

/// Makes `schedule`'s trak `id` for `slot`, here: branch and worktree.
fn make(
    store: &Store,
    workflow: &Workflow,
    schedule: &Schedule,
    id: &str,
    slot: DateTime<Utc>,
) -> Result<Trak> {
    let title = title(schedule, slot);
    new_trak(store, workflow, &request(schedule, &title, id)).with_context(|| not_made(schedule))
}

/// The first commit of `schedule`'s trak `id` for `slot`, without its branch.
fn prepare(
    store: &Store,
    workflow: &Workflow,
    schedule: &Schedule,
    id: &str,
    slot: DateTime<Utc>,
) -> Result<Trak> {
    let title = title(schedule, slot);
    prepare_trak(store, workflow, &request(schedule, &title, id))
        .with_context(|| not_made(schedule))
}

/// The title of a slot's trak: the schedule's, and the slot in its zone.
fn title(schedule: &Schedule, slot: DateTime<Utc>) -> String {
    format!("{} ({})", schedule.title, slot_text(schedule, slot))
}

fn request<'a>(schedule: &'a Schedule, title: &'a str, id: &'a str) -> TrakRequest<'a> {
    TrakRequest {
        title,
        description: &schedule.description,
        flow: schedule.flow.as_deref(),
        base: schedule.base.as_deref(),
        budget: None,
        after: &[],
        priority: schedule.priority,
        id: Some(id),
        ..TrakRequest::default()
    }
}

fn not_made(schedule: &Schedule) -> String {
    format!(
        "schedule {}: its trak for the slot was not made",
        schedule.name
    )
}

/// The record moved before this machine's did: whether it was this very trak after all (a
/// push that landed although its answer was lost). Otherwise this machine's trak is given up:
/// reset to the winner's copy where the winner made the same id, removed where not.
fn landed_after_all(
    store: &Store,
    remote: Option<&str>,
    schedule: &str,
    trak: &Trak,
    shared_first: bool,
) -> Result<bool> {
    refresh(store, remote)?;
    if shared_first {
        // Nothing of it is here to give up: only whether the push landed.
        return match remote {
            Some(remote) => store.remote_is_at(trak, remote),
            None => Ok(false),
        };
    }
    let recorded = store.fired(remote, schedule)?;
    let names_it = recorded.is_some_and(|f| f.record.trak.as_deref() == Some(trak.id.as_str()));
    match remote {
        // Without a remote, another ork process here fired the slot: if it recorded this
        // trak, the trak is that process's too (one branch, made once).
        None if names_it => Ok(false),
        None => store.discard_unshared(trak).map(|()| false),
        Some(remote) if store.remote_is_at(trak, remote)? => Ok(true),
        Some(remote) if names_it => store.reset_to_remote(trak, remote).map(|_| false),
        Some(_) => store.discard_unshared(trak).map(|()| false),
    }
}

/// With a remote, brings its records (and branches) here, so the next look sees the winner's.
fn refresh(store: &Store, remote: Option<&str>) -> Result<()> {
    match remote {
        Some(remote) => store.git().fetch(remote),
        None => Ok(()),
    }
}

/// A slot as the schedule's people read it: in its time zone, seconds only where it has them.
pub fn slot_text(schedule: &Schedule, slot: DateTime<Utc>) -> String {
    let local = slot.with_timezone(&schedule.timezone);
    if local.second() == 0 {
        local.format("%Y-%m-%d %H:%M %Z").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S %Z").to_string()
    }
}

/// A schedule as `ork schedule` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub title: String,
    pub flow: Option<String>,
    /// The newest slot fired and what it made, as the record last read here says.
    pub last: Option<LastFired>,
    /// The next slots after now, in the schedule's time zone.
    pub next: Vec<DateTime<chrono::FixedOffset>>,
}

/// A schedule's last fired slot.
#[derive(Debug, Clone, Serialize)]
pub struct LastFired {
    pub slot: DateTime<chrono::FixedOffset>,
    /// `None` for the slot a new schedule started from.
    pub trak: Option<String>,
    pub machine: String,
}

/// Every schedule of `workflow` with its last slot fired and its next `count` slots after `now`.
pub fn views(
    store: &Store,
    workflow: &Workflow,
    now: DateTime<Utc>,
    count: usize,
) -> Result<Vec<ScheduleView>> {
    let remote = queue_remote(store, workflow);
    workflow
        .schedules
        .iter()
        .map(|schedule| {
            let last = store.fired(remote.as_deref(), &schedule.name)?;
            Ok(ScheduleView {
                name: schedule.name.clone(),
                cron: schedule.pattern.clone(),
                timezone: schedule.timezone.name().to_string(),
                title: schedule.title.clone(),
                flow: schedule.flow.clone(),
                last: last.map(|f| LastFired {
                    slot: f
                        .record
                        .slot
                        .with_timezone(&schedule.timezone)
                        .fixed_offset(),
                    trak: f.record.trak,
                    machine: f.record.machine,
                }),
                next: schedule
                    .next_slots(now, count)
                    .into_iter()
                    .map(|slot| slot.fixed_offset())
                    .collect(),
            })
        })
        .collect()
}
