//! The shared queue: before a machine works on a trak it claims it on the remote, renews the
//! claim while it works (a heartbeat), and releases it when the trak waits or is done.
//!
//! The claim's push is a compare-and-swap (`store::claim`): of several machines that saw the
//! same claim (or none), exactly one moves it; the others leave the trak alone. A machine that
//! dies stops renewing; once the lease has passed since its last heartbeat, another machine
//! may take the trak over.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;

use super::Engine;
use crate::config::workflow::Workflow;
use crate::store::claim::{Claim, ClaimRecord};
use crate::store::git::{Git, Oid};
use crate::store::state::Status;
use crate::store::warnings::Warnings;
use crate::store::{Store, Trak};

/// The remote the shared queue runs over, when `[sync] queue` is on and there is one.
pub fn queue_remote(store: &Store, workflow: &Workflow) -> Option<String> {
    if !workflow.sync.queue {
        return None;
    }
    crate::sync::pick_remote(store.git(), None).ok()
}

/// Another machine's claim on `trak` that still holds, as last fetched from `remote`. A trak
/// without a claim ref (started by an ork without the shared queue) counts as claimed by the
/// machine its run started on, for the lease from its latest event.
pub fn claimed_elsewhere(
    store: &Store,
    workflow: &Workflow,
    remote: &str,
    trak: &Trak,
) -> Result<Option<ClaimRecord>> {
    let lease = workflow.sync.lease;
    let now = Utc::now();
    if let Some(claim) = store.claim(remote, &trak.id)? {
        let theirs = claim.record.machine != store.machine();
        return Ok((theirs && claim.record.is_live(lease, now)).then_some(claim.record));
    }
    let Some(machine) = trak.state.running_on.as_deref() else {
        return Ok(None);
    };
    let record = ClaimRecord {
        since: trak.state.updated_at,
        renewed_at: trak.state.updated_at,
        ..ClaimRecord::new(&trak.id, machine)
    };
    let live = trak.state.status == Status::Running
        && machine != store.machine()
        && record.is_live(lease, now);
    Ok(live.then_some(record))
}

impl Engine<'_> {
    /// Claims `trak` on `remote` for this machine: fetches, refuses a claim another machine
    /// holds (unless taking over), and pushes this machine's claim by compare-and-swap.
    /// Returns the trak as the remote has it and the held claim, its heartbeat running.
    pub(super) fn claim(&mut self, trak: Trak, remote: &str) -> Result<(Trak, HeldClaim)> {
        let git = self.store.git();
        let unreachable = || {
            format!(
                "could not claim trak {} on {remote}, so it was not run.\n  \
                 The shared queue needs the remote; set `[sync] queue = false` in \
                 .orkestra/workflow.toml to run traks here without it",
                trak.id
            )
        };
        crate::sync::configure_remote(git, remote).with_context(unreachable)?;
        git.fetch(remote).with_context(unreachable)?;
        let trak = self.store.load(&trak.id)?;
        let current = self.store.claim(remote, &trak.id)?;
        if !self.take_over
            && let Some(holder) = claimed_elsewhere(self.store, self.workflow, remote, &trak)?
        {
            let lease = chrono::Duration::from_std(self.workflow.sync.lease).unwrap_or_default();
            return Err(ClaimLost(format!(
                "trak {} ({} at {}) is claimed by {} since {}, last renewed {} (its claim \
                 holds until {}); it is running on {} there.\n  \
                 If that machine is gone, take it over: ork resume {} --take-over",
                trak.id,
                trak.state.status.as_str(),
                trak.state.stage,
                holder.machine,
                holder.since.format("%Y-%m-%d %H:%M:%S UTC"),
                holder.renewed_at.format("%H:%M:%S UTC"),
                (holder.renewed_at + lease).format("%Y-%m-%d %H:%M:%S UTC"),
                holder.machine,
                trak.id
            ))
            .into());
        }
        let record = ClaimRecord::new(&trak.id, self.store.machine());
        let expected = current.as_ref().map(|c| c.oid);
        let Some(claim) = self.store.push_claim(remote, &record, expected, false)? else {
            // Bring the winner's claim here, so `ork status` and `ork run` see it.
            let _ = git.fetch(remote);
            return Err(ClaimLost(format!(
                "another machine claimed trak {} on {remote} first; it is theirs to run",
                trak.id
            ))
            .into());
        };
        self.reporter
            .step(&format!("claimed on {remote} for {}", self.store.machine()));
        let held = HeldClaim::start(
            git.main_workdir().to_path_buf(),
            self.store.worktree_path(&trak.id),
            remote,
            claim,
            self.workflow.sync.lease,
            self.store.warnings().clone(),
        );
        Ok((trak, held))
    }

    /// Claims attempt `no` of trak `id`'s race at `stage` (started at `from`) on `remote` for
    /// this machine, as a trak is claimed, compare-and-swap against the attempt's claim last
    /// fetched. A claim left from an earlier race of the stage counts as none.
    pub(super) fn claim_attempt(
        &mut self,
        (id, stage, no, from): (&str, &str, u32, Oid),
        remote: &str,
    ) -> Result<AttemptClaim> {
        let attempt = (id, stage, no, from);
        let expected = match attempt_standing(self.store, self.workflow, remote, attempt)? {
            AttemptStanding::Over => return Ok(AttemptClaim::Over),
            AttemptStanding::Theirs => return Ok(AttemptClaim::Elsewhere),
            AttemptStanding::Free(expected) | AttemptStanding::Ours(expected) => expected,
        };
        let record = ClaimRecord::of_attempt(id, (stage, no, from), self.store.machine());
        let Some(claim) = self.store.push_claim(remote, &record, expected, false)? else {
            return Ok(AttemptClaim::Elsewhere);
        };
        Ok(AttemptClaim::Held(HeldClaim::start(
            self.store.git().main_workdir().to_path_buf(),
            self.store.race_worktree_path(id, stage, no),
            remote,
            claim,
            self.workflow.sync.lease,
            self.store.warnings().clone(),
        )))
    }

    /// Another machine took trak `id` over while this one drove it: its run here was stopped
    /// (by the heartbeat) and nothing of it is shared; the local copy is reset to the
    /// remote's, which is the trak's now.
    pub(super) fn taken_over(&mut self, id: &str, remote: &str) -> anyhow::Error {
        let reset = self
            .store
            .git()
            .fetch(remote)
            .and_then(|()| self.store.load(id))
            .and_then(|trak| self.store.reset_to_remote(&trak, remote));
        let copy = match reset {
            Ok(_) => format!(
                "this machine's copy is reset to the remote's (what it recorded since is in \
                 `git reflog ork/{id}`)"
            ),
            Err(err) => format!("this machine's copy could not be reset ({err:#}); run `ork sync`"),
        };
        ClaimLost(format!(
            "another machine took trak {id} over on {remote} while this machine ran it; the \
             run here was stopped and {copy}"
        ))
        .into()
    }

    /// Pushes the trak's branch to the shared queue's remote right after a run started, so
    /// other machines see it running. The push is never forced: a refusal means the branch
    /// moved there, so another machine works on the trak. Then the run does not start, and
    /// the local copy is reset to the remote's: this machine's start must not reach the
    /// remote later (with the claim's release, or a sync's join) as a run that never ran.
    pub(super) fn publish_start(&mut self, trak: &Trak) -> Result<()> {
        let Some(remote) = queue_remote(self.store, self.workflow) else {
            return Ok(());
        };
        let spec = format!("{0}:{0}", trak.branch);
        match self.store.git().push(&remote, &[spec]) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.store.git().fetch(&remote).with_context(|| {
                    format!(
                        "trak {} moved on {remote} while this machine started a run, and \
                         the remote's copy could not be fetched; run `ork sync`, then `ork status`",
                        trak.id
                    )
                })?;
                // Another ork process of this machine (a sync of another trak's run) may have
                // pushed this very start a moment before: then it is shared, and the run goes on.
                if self.store.remote_is_at(trak, &remote)? {
                    return Ok(());
                }
                self.store.reset_to_remote(trak, &remote)?;
                Err(ClaimLost(format!(
                    "trak {} moved on {remote} as this machine started its run: another \
                     machine works on it; this machine's copy is reset to the remote's",
                    trak.id
                ))
                .into())
            }
            Err(err) => {
                self.reporter
                    .warning(&format!("could not share the start of the run: {err:#}"));
                Ok(())
            }
        }
    }
}

/// The trak is another machine's to run: it claimed it first, or moved it on the remote as
/// this machine started. Normal in a team (nothing went wrong, nothing of this machine's
/// stays on the trak); `ork run` tells it apart from a failed run.
#[derive(Debug)]
pub struct ClaimLost(pub String);

impl std::fmt::Display for ClaimLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClaimLost {}

/// Where a race attempt's claim stands for this machine, as last fetched.
pub(super) enum AttemptStanding {
    /// No machine holds it (no claim of this race, or one whose lease ran out): the claim to
    /// swap against, if there is one.
    Free(Option<Oid>),
    /// This machine holds it, with a live claim (the one to swap against).
    Ours(Option<Oid>),
    /// Another machine holds it, with a live claim.
    Theirs,
    /// Its claim was released: the attempt is over.
    Over,
}

/// Where the claim of attempt `no` of trak `id`'s race at `stage` (started at `from`) stands
/// on `remote`, as last fetched. A claim left from an earlier race of the stage counts as none.
pub(super) fn attempt_standing(
    store: &Store,
    workflow: &Workflow,
    remote: &str,
    (id, stage, no, from): (&str, &str, u32, Oid),
) -> Result<AttemptStanding> {
    let key = crate::store::claim::attempt_claim_key(id, stage, no);
    let Some(current) = store.claim(remote, &key)? else {
        return Ok(AttemptStanding::Free(None));
    };
    let expected = Some(current.oid);
    let record = &current.record;
    Ok(if !record.of_race(from) {
        AttemptStanding::Free(expected)
    } else if record.released {
        AttemptStanding::Over
    } else if !record.is_live(workflow.sync.lease, Utc::now()) {
        AttemptStanding::Free(expected)
    } else if record.machine == store.machine() {
        AttemptStanding::Ours(expected)
    } else {
        AttemptStanding::Theirs
    })
}

/// What claiming a race's attempt came to.
pub enum AttemptClaim {
    /// This machine holds it now: it runs the attempt.
    Held(HeldClaim),
    /// Another machine holds it (a live claim, or it moved the claim first).
    Elsewhere,
    /// Its claim was released: the attempt is over, its ref on the remote holds how.
    Over,
}

/// How many times a release is pushed while the claim is still this machine's.
const RELEASE_TRIES: usize = 3;

/// A claim this machine holds, renewed by a heartbeat thread until it is released (or
/// dropped, when the process ends: then it simply runs out).
pub struct HeldClaim {
    remote: String,
    current: Arc<Mutex<Claim>>,
    /// The trak's worktree: where its agent and gate run, stopped if the claim is lost.
    worktree: PathBuf,
    /// Set once another machine moved the claim (a take-over): the trak is not ours anymore.
    lost: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl HeldClaim {
    /// Starts renewing `claim` every third of `lease`. The thread opens the repository at
    /// `workdir` again: a repository handle is not shared between threads.
    fn start(
        workdir: PathBuf,
        worktree: PathBuf,
        remote: &str,
        claim: Claim,
        lease: Duration,
        warnings: Warnings,
    ) -> HeldClaim {
        let current = Arc::new(Mutex::new(claim));
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let beat = (lease / 3).max(Duration::from_millis(200));
        let (thread_current, thread_lost) = (Arc::clone(&current), Arc::clone(&lost));
        let (thread_remote, thread_worktree) = (remote.to_string(), worktree.clone());
        let heartbeat = std::thread::spawn(move || {
            let store = match Git::discover(&workdir) {
                Ok(git) => Store::with_warnings(git, warnings),
                Err(err) => {
                    warnings.push(format!("the claim's heartbeat could not start: {err:#}"));
                    return;
                }
            };
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(beat) {
                if renew(&store, &thread_remote, &thread_current) == Beat::TakenOver {
                    lose(&thread_lost, &thread_worktree, store.warnings());
                    return;
                }
            }
        });
        HeldClaim {
            remote: remote.to_string(),
            current,
            worktree,
            lost,
            stop: Some(stop),
            heartbeat: Some(heartbeat),
        }
    }

    /// Whether another machine took the trak over while this one held it.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Renews the claim now, between two steps, so a take-over is seen before this machine
    /// shares the step it just recorded; `false` once the claim is lost.
    pub fn still_held(&self, store: &Store) -> bool {
        if self.is_lost() {
            return false;
        }
        if renew(store, &self.remote, &self.current) == Beat::TakenOver {
            lose(&self.lost, &self.worktree, store.warnings());
            return false;
        }
        true
    }

    /// Stops the heartbeat and marks the claim released, in one atomic push with the trak's
    /// branch: another machine that sees the claim released also sees everything done under it.
    pub fn release(mut self, store: &Store) -> Result<()> {
        self.stop_heartbeat();
        let current = lock(&self.current).clone();
        let record = ClaimRecord {
            released: true,
            renewed_at: Utc::now(),
            ..current.record
        };
        for _ in 0..RELEASE_TRIES {
            if store
                .push_claim(&self.remote, &record, Some(current.oid), true)?
                .is_some()
            {
                return Ok(());
            }
            // Another ork process of this machine (a sync of another trak's run) may have
            // pushed the branch at the same moment: while the claim is still this one, again.
            store.git().fetch(&self.remote)?;
            let still_ours = store
                .claim(&self.remote, &record.trak)?
                .is_some_and(|claim| claim.oid == current.oid);
            if !still_ours {
                break;
            }
        }
        bail!(
            "the claim of {} or its branch moved on {} meanwhile; run `ork sync`",
            record.what(),
            self.remote
        )
    }

    /// Stops the heartbeat and removes the claim (a race attempt's this machine cannot finish),
    /// in one atomic push with the attempt's ref: the attempt is anyone's to run again, from
    /// where this machine left it.
    pub fn give_back(mut self, store: &Store) -> Result<()> {
        self.stop_heartbeat();
        let current = lock(&self.current).clone();
        if !store.remove_claim(&self.remote, &current.record, current.oid)? {
            bail!(
                "the claim of {} moved on {} meanwhile; another machine runs it",
                current.record.what(),
                self.remote
            );
        }
        Ok(())
    }

    fn stop_heartbeat(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.heartbeat.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HeldClaim {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

fn lock(current: &Mutex<Claim>) -> std::sync::MutexGuard<'_, Claim> {
    current
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one heartbeat found.
#[derive(Debug, PartialEq, Eq)]
enum Beat {
    Renewed,
    /// Another machine moved the claim: it took the trak over.
    TakenOver,
    /// The remote could not be reached; the next beat tries again.
    Unreachable,
}

/// The claim is lost: marked so, and whatever this process runs in the trak's worktree (its
/// agent, its gate) stopped, so two machines never edit the same trak at once.
fn lose(lost: &AtomicBool, worktree: &std::path::Path, warnings: &Warnings) {
    if !lost.swap(true, Ordering::SeqCst) {
        let stopped = crate::engine::process::kill_children_in(worktree);
        if stopped > 0 {
            warnings.push(format!(
                "stopped this machine's run of the trak ({stopped} process group(s))"
            ));
        }
    }
}

/// One heartbeat: the claim pushed again with a new renewal time, against the last one seen.
fn renew(store: &Store, remote: &str, current: &Mutex<Claim>) -> Beat {
    let mut current = lock(current);
    let record = ClaimRecord {
        renewed_at: Utc::now(),
        ..current.record.clone()
    };
    match store.push_claim(remote, &record, Some(current.oid), false) {
        Ok(Some(renewed)) => {
            *current = renewed;
            Beat::Renewed
        }
        Ok(None) => {
            store.warnings().push(format!(
                "another machine took over {} on {remote}; this machine stops working on it",
                record.what()
            ));
            Beat::TakenOver
        }
        Err(err) => {
            store.warnings().push(format!(
                "could not renew the claim of {}: {err:#}",
                record.what()
            ));
            Beat::Unreachable
        }
    }
}

/// A trak's claim as `ork status` and `ork show` present it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClaimView {
    pub remote: String,
    pub machine: String,
    pub since: chrono::DateTime<Utc>,
    pub renewed_at: chrono::DateTime<Utc>,
    /// The lease has passed since the last renewal: the machine stopped renewing (it died,
    /// or lost the remote), and another machine may take the trak over.
    pub stale: bool,
}

/// The claim held on `trak` (not released), as last fetched from the remote it is shared
/// through: the trak's own remote, else the default one. The lease is the workflow's, or the
/// default where the workflow does not load.
pub fn claim_view(store: &Store, trak: &Trak) -> Option<ClaimView> {
    let remote = match &trak.location {
        crate::store::Location::Remote(remote) => remote.clone(),
        crate::store::Location::Local => crate::sync::default_remote(store.git())?,
    };
    let claim = store.claim(&remote, &trak.id).ok()??;
    if claim.record.released {
        return None;
    }
    let lease = Workflow::load(store.git().main_workdir())
        .map(|w| w.sync.lease)
        .unwrap_or_else(|_| crate::config::workflow::SyncSettings::default().lease);
    Some(ClaimView {
        remote,
        stale: !claim.record.is_live(lease, Utc::now()),
        machine: claim.record.machine,
        since: claim.record.since,
        renewed_at: claim.record.renewed_at,
    })
}
