//! Claims: which machine works on a trak right now, shared through the remote and kept out of
//! the trak's history.
//!
//! A claim is one commit without a parent whose tree holds `claim.json`, at
//! `refs/ork/claims/<id>` on the remote. Each renewal replaces it in place (`git push
//! --force-with-lease=<ref>:<the value last seen>`), so the push is a compare-and-swap and
//! `git log` never fills with heartbeats. A fetch brings it to
//! `refs/ork/remotes/<remote>/claims/<id>`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::git::Oid;
use crate::store::{BRANCH_PREFIX, Store};

/// Where claims live on a remote.
pub const CLAIMS_PREFIX: &str = "refs/ork/claims/";

const CLAIM_FILE: &str = "claim.json";
const CLAIM_VERSION: u32 = 1;

/// What a claim says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub v: u32,
    pub trak: String,
    /// The machine that holds it (the name its events are signed with).
    pub machine: String,
    /// When this machine took the trak.
    pub since: DateTime<Utc>,
    /// The latest heartbeat: the claim holds for the lease from here.
    pub renewed_at: DateTime<Utc>,
    /// The machine is done with the trak for now (it waits for a human, or is finished).
    pub released: bool,
    /// Set when the claim is of one attempt of the trak's race, not of the trak: the machine
    /// runs that attempt while another may drive the race (`engine/race.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AttemptClaimed>,
}

/// The race attempt a claim is of: attempt `no` of the race at `stage` that started at commit
/// `from` (a stage that races again starts another race, whose attempts are claimed afresh).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptClaimed {
    pub stage: String,
    pub no: u32,
    pub from: String,
}

impl ClaimRecord {
    /// A new claim of trak `id` by `machine`, from now.
    pub fn new(id: &str, machine: &str) -> ClaimRecord {
        let now = Utc::now();
        ClaimRecord {
            v: CLAIM_VERSION,
            trak: id.to_string(),
            machine: machine.to_string(),
            since: now,
            renewed_at: now,
            released: false,
            attempt: None,
        }
    }

    /// A new claim of attempt `no` of trak `id`'s race at `stage` (started at `from`) by
    /// `machine`, from now.
    pub fn of_attempt(id: &str, (stage, no, from): (&str, u32, Oid), machine: &str) -> ClaimRecord {
        ClaimRecord {
            attempt: Some(AttemptClaimed {
                stage: stage.to_string(),
                no,
                from: from.to_string(),
            }),
            ..ClaimRecord::new(id, machine)
        }
    }

    /// The key its ref is named by: the trak's id, or for an attempt's claim
    /// `<id>@race/<stage>/<no>` (no trak id holds an `@`, so the two never meet).
    pub fn key(&self) -> String {
        match &self.attempt {
            Some(attempt) => attempt_claim_key(&self.trak, &attempt.stage, attempt.no),
            None => self.trak.clone(),
        }
    }

    /// Whether this is a claim of an attempt of the race that started at `from` (not of an
    /// earlier race of the same stage, whose claims say nothing of this one's).
    pub fn of_race(&self, from: Oid) -> bool {
        self.attempt
            .as_ref()
            .is_some_and(|attempt| attempt.from == from)
    }

    /// What is claimed, for messages: "trak x" or "attempt 2 of trak x's race at work".
    pub fn what(&self) -> String {
        match &self.attempt {
            Some(attempt) => format!(
                "attempt {} of trak {}'s race at {}",
                attempt.no, self.trak, attempt.stage
            ),
            None => format!("trak {}", self.trak),
        }
    }

    /// Whether the claim still holds at `now` for a lease of `lease`.
    pub fn is_live(&self, lease: std::time::Duration, now: DateTime<Utc>) -> bool {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        !self.released && now < self.renewed_at + lease
    }
}

/// A claim as fetched from a remote, with the commit it was read from (what the next push
/// must compare-and-swap against).
#[derive(Debug, Clone)]
pub struct Claim {
    pub record: ClaimRecord,
    pub oid: Oid,
}

/// The key of the claim of attempt `no` of trak `id`'s race at `stage` (see [`ClaimRecord::key`]).
pub fn attempt_claim_key(id: &str, stage: &str, no: u32) -> String {
    format!("{id}@race/{stage}/{no}")
}

/// The claim ref of trak `id` (or of the claim key `id`) on a remote.
pub fn claim_ref(id: &str) -> String {
    format!("{CLAIMS_PREFIX}{id}")
}

/// Where a fetch from `remote` keeps the claim of trak `id`.
pub fn tracking_claim_ref(remote: &str, id: &str) -> String {
    format!("refs/ork/remotes/{remote}/claims/{id}")
}

impl Store {
    /// `remote`'s claim of trak `id`, as last fetched (or pushed) here.
    pub fn claim(&self, remote: &str, id: &str) -> Result<Option<Claim>> {
        let Some(oid) = self.git().ref_tip(&tracking_claim_ref(remote, id))? else {
            return Ok(None);
        };
        let Some(bytes) = self.git().read_file(oid, CLAIM_FILE)? else {
            return Ok(None);
        };
        let record: ClaimRecord = serde_json::from_slice(&bytes)
            .with_context(|| format!("reading the claim of trak {id} from {remote}"))?;
        Ok(Some(Claim { record, oid }))
    }

    /// Pushes `record` as its claim on `remote` (the trak's, or its race attempt's),
    /// compare-and-swap against `expected` (the claim last fetched; `None`: there was none).
    /// With `with_branch`, what the claim covers goes in the same atomic push: the trak's local
    /// branch, without force, or the attempt's ref, forced (a race run again resets it).
    /// Returns the new claim, or `None` when the remote refused because another machine moved
    /// the claim (or the branch) first; then nothing was pushed.
    pub fn push_claim(
        &self,
        remote: &str,
        record: &ClaimRecord,
        expected: Option<Oid>,
        with_branch: bool,
    ) -> Result<Option<Claim>> {
        let id = &record.trak;
        let message = format!(
            "ork: {} {} on {}",
            if record.released { "release" } else { "claim" },
            record.what(),
            record.machine
        );
        let json = serde_json::to_vec_pretty(record)?;
        let oid = self.git().single_file_commit(CLAIM_FILE, &json, &message)?;
        let name = claim_ref(&record.key());
        let mut refspecs = vec![format!("{oid}:{name}")];
        match &record.attempt {
            None => {
                // The run's newest checkpoint goes with each claim push (a heartbeat's too), so
                // the machine that takes the trak over after the lease starts from it. It is
                // replaced, not appended to: forced.
                let wip = format!("{}{id}", super::checkpoint::WIP_PREFIX);
                if self.git().ref_tip(&wip)?.is_some() {
                    refspecs.push(format!("+{wip}:{wip}"));
                }
                if with_branch {
                    let branch = format!("{BRANCH_PREFIX}{id}");
                    refspecs.push(format!("{branch}:{branch}"));
                }
            }
            Some(_) if with_branch => refspecs.extend(self.attempt_ref_spec(record)?),
            Some(_) => {}
        }
        let pushed = self
            .git()
            .push_with_leases(remote, &refspecs, &[(name, expected)])?;
        Ok(pushed.then(|| Claim {
            record: record.clone(),
            oid,
        }))
    }

    /// The refspec that pushes the ref of the race attempt `record` claims, forced (a race run
    /// again resets it), where there is one here.
    fn attempt_ref_spec(&self, record: &ClaimRecord) -> Result<Option<String>> {
        let Some(attempt) = &record.attempt else {
            return Ok(None);
        };
        let race = super::race_ref(&record.trak, &attempt.stage, attempt.no);
        Ok(self
            .git()
            .ref_tip(&race)?
            .map(|_| format!("+{race}:{race}")))
    }

    /// Removes `record`'s claim (a race attempt's) from `remote`, compare-and-swap against
    /// `expected`, with the attempt's ref pushed (forced) in the same atomic push. Whether the
    /// remote took it.
    pub fn remove_claim(&self, remote: &str, record: &ClaimRecord, expected: Oid) -> Result<bool> {
        let name = claim_ref(&record.key());
        let mut refspecs = vec![format!(":{name}")];
        refspecs.extend(self.attempt_ref_spec(record)?);
        self.git()
            .push_with_leases(remote, &refspecs, &[(name, Some(expected))])
    }
}
