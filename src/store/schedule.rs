//! Schedules' records: the last slot each `[[schedule]]` fired, and the trak it made, kept out
//! of every trak's history.
//!
//! A record is one commit without a parent whose tree holds `schedule.json`, at
//! `refs/ork/schedules/<name>`. Firing a slot replaces it in place, by compare-and-swap: on a
//! remote with `git push --force-with-lease=<ref>:<the value last seen>` (atomically with the
//! new trak's branch), so of several machines that saw the same record exactly one moves it;
//! in a repository without the shared queue, with a local compare-and-swap. A fetch brings the
//! remote's to `refs/ork/remotes/<remote>/schedules/<name>`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::git::{Oid, RefMoved};
use crate::store::{BRANCH_PREFIX, Store, Trak};

/// Where schedules' records live, here and on a remote.
pub const SCHEDULES_PREFIX: &str = "refs/ork/schedules/";

const RECORD_FILE: &str = "schedule.json";
const RECORD_VERSION: u32 = 1;

/// What a schedule's record says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredRecord {
    pub v: u32,
    pub schedule: String,
    /// The newest slot fired: every slot up to it is done with.
    pub slot: DateTime<Utc>,
    /// The trak made for it; `None` for the slot a new schedule started from, which made none.
    pub trak: Option<String>,
    /// The machine that fired it (the name its events are signed with).
    pub machine: String,
    pub fired_at: DateTime<Utc>,
}

impl FiredRecord {
    pub fn new(schedule: &str, slot: DateTime<Utc>, trak: Option<&str>, machine: &str) -> Self {
        FiredRecord {
            v: RECORD_VERSION,
            schedule: schedule.to_string(),
            slot,
            trak: trak.map(str::to_string),
            machine: machine.to_string(),
            fired_at: Utc::now(),
        }
    }
}

/// A record as read, with the commit it was read from (what the next compare-and-swap is
/// against).
#[derive(Debug, Clone)]
pub struct Fired {
    pub record: FiredRecord,
    pub oid: Oid,
}

/// Schedule `name`'s record, here or on a remote.
pub fn schedule_ref(name: &str) -> String {
    format!("{SCHEDULES_PREFIX}{name}")
}

/// Where a fetch from `remote` keeps schedule `name`'s record.
pub fn tracking_schedule_ref(remote: &str, name: &str) -> String {
    format!("refs/ork/remotes/{remote}/schedules/{name}")
}

/// The ref a schedule's record is read from: the remote's as last fetched (or pushed) with
/// the shared queue, else the local one.
fn record_ref(remote: Option<&str>, name: &str) -> String {
    match remote {
        Some(remote) => tracking_schedule_ref(remote, name),
        None => schedule_ref(name),
    }
}

impl Store {
    /// Schedule `name`'s record: `remote`'s as last fetched, or this repository's own.
    pub fn fired(&self, remote: Option<&str>, name: &str) -> Result<Option<Fired>> {
        let Some(oid) = self.git().ref_tip(&record_ref(remote, name))? else {
            return Ok(None);
        };
        let Some(bytes) = self.git().read_file(oid, RECORD_FILE)? else {
            return Ok(None);
        };
        let record: FiredRecord = serde_json::from_slice(&bytes)
            .with_context(|| format!("reading the record of schedule {name}"))?;
        Ok(Some(Fired { record, oid }))
    }

    /// Writes `record` as its schedule's record, compare-and-swap against `expected` (the
    /// record last read; `None`: there was none). On `remote`, the new trak's branch `trak`
    /// goes in the same atomic push, never forced. Returns the new record, or `None` when
    /// another process or machine moved the record (or made the branch) first; then nothing
    /// was written.
    pub fn write_fired(
        &self,
        remote: Option<&str>,
        record: &FiredRecord,
        expected: Option<Oid>,
        trak: Option<&Trak>,
    ) -> Result<Option<Fired>> {
        let message = format!(
            "ork: schedule {} fired {} on {}",
            record.schedule,
            record.slot.format("%Y-%m-%d %H:%M:%S UTC"),
            record.machine
        );
        let json = serde_json::to_vec_pretty(record)?;
        let oid = self
            .git()
            .single_file_commit(RECORD_FILE, &json, &message)?;
        let name = schedule_ref(&record.schedule);
        let written = match remote {
            Some(remote) => {
                let mut refspecs = vec![format!("{oid}:{name}")];
                // By its commit: a trak shared before it has a branch here goes as well.
                refspecs.extend(trak.map(|t| format!("{}:{}", t.tip, t.branch)));
                self.git()
                    .push_with_leases(remote, &refspecs, &[(name, expected)])?
            }
            None => self.swap_local(&name, oid, expected, &message)?,
        };
        Ok(written.then(|| Fired {
            record: record.clone(),
            oid,
        }))
    }

    /// Moves local ref `name` from `expected` to `oid`; `false` when it was not at `expected`.
    fn swap_local(&self, name: &str, oid: Oid, expected: Option<Oid>, log: &str) -> Result<bool> {
        let Some(expected) = expected else {
            if self.git().ref_tip(name)?.is_some() {
                return Ok(false);
            }
            self.git().create_ref(name, oid, log)?;
            return Ok(true);
        };
        match self.git().update_ref(name, oid, expected, log) {
            Ok(()) => Ok(true),
            Err(err) if err.downcast_ref::<RefMoved>().is_some() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The local traks whose ids start with `prefix` (a schedule's traks), by id.
    pub fn local_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let full = format!("{BRANCH_PREFIX}{prefix}");
        Ok(self
            .git()
            .refs_with_prefix(&full)?
            .into_iter()
            .filter_map(|r| r.name.strip_prefix(BRANCH_PREFIX).map(str::to_string))
            .collect())
    }

    /// Removes a trak that was made here and never shared (its slot went to another machine):
    /// its branch, by compare-and-swap against the tip it was made at (so a trak something
    /// was recorded on since stays), then its worktree.
    pub fn discard_unshared(&self, trak: &Trak) -> Result<()> {
        let worktree = self.git().worktree_of_branch(&trak.branch)?;
        self.git().delete_ref(&trak.branch, trak.tip)?;
        match worktree {
            Some(worktree) => self.git().remove_worktree(&worktree),
            None => Ok(()),
        }
    }
}
