//! A dropped trak brought back (`ork trak restore`): recorded as a person's decision, standing
//! where it stood before the drop, its worktree made again with the unsaved changes the drop
//! kept in its checkpoint (docs/data-model.md, "Checkpoints").

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::decisions::{HumanDecision, decide};
use super::{ensure_worktree, try_run_lock};
use crate::config::workflow::Workflow;
use crate::store::{Store, Trak};

/// A trak brought back.
pub struct Restored {
    pub trak: Trak,
    pub worktree: PathBuf,
    /// The unsaved files its checkpoint kept, back in the worktree.
    pub files: Vec<String>,
}

/// Brings the dropped `trak` back: the `restored` event (signed where decisions are), then
/// its checkpoint carried onto the new tip and its worktree made again from both. Refused
/// for a trak that is not dropped, inside a trak's run, and for a subtrak its parent no
/// longer waits on (a drive would drop it again).
pub fn restore_trak(store: &Store, workflow: &Workflow, trak: &Trak) -> Result<Restored> {
    let Some(_lock) = try_run_lock(store, &trak.id)? else {
        bail!(
            "trak {} is being run by an ork process on this machine; stop it (Ctrl-C) first",
            trak.id
        );
    };
    if super::subtraks::wanted_by_parent(store, trak) == Some(false) {
        bail!(
            "subtrak {} cannot come back: its parent's breakdown no longer lists it (it was rejected).\n  \
             Nothing was recorded. Its branch keeps its history: git log ork/{}",
            trak.id,
            trak.id
        );
    }
    // Found on the dropped tip, before the restore moves the tip past it.
    let kept = store.checkpoint_of(trak)?;
    let trak = decide(store, workflow, trak, HumanDecision::Restore)?;
    // Carried first: should the worktree fail to be made, the next run's checkout brings the
    // files (`resume_from_checkpoint`).
    let carried = match &kept {
        Some((commit, files)) if !files.is_empty() => Some(
            store
                .carry_checkpoint(&trak, *commit)
                .with_context(|| unsaved_still_at(&trak, *commit))?,
        ),
        _ => None,
    };
    let worktree = ensure_worktree(store, &trak, workflow).with_context(|| {
        format!(
            "trak {} is restored, but its worktree could not be made again; `ork resume {}` tries again",
            trak.id, trak.id
        )
    })?;
    if let Some(carried) = carried {
        // A worktree that survived the drop (its changes could not be kept) holds them already.
        store
            .restore_checkpoint(&worktree, carried)
            .with_context(|| unsaved_still_at(&trak, carried))?;
    }
    Ok(Restored {
        trak,
        worktree,
        files: kept.map(|(_, files)| files).unwrap_or_default(),
    })
}

/// Where the unsaved files are when they could not be put back: the way to them by hand.
fn unsaved_still_at(trak: &Trak, commit: crate::store::git::Oid) -> String {
    format!(
        "trak {} is restored, but its unsaved files could not be put back in its worktree; they are in commit {commit} (git show --stat {commit}; git -C <worktree> checkout {commit} -- <file>)",
        trak.id
    )
}
