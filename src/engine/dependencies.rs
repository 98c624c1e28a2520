//! Traks that wait for others (`ork trak new --after`), and the order due traks start in
//! (`--priority`, then age). Both are in the trak's `created` event, so every machine that
//! fetches the trak sees them.

use std::collections::HashMap;

use anyhow::{Result, bail};

use super::Engine;
use crate::store::event::EventKind;
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// The ids `--after` names, each made a full trak id (a prefix is enough, as everywhere).
/// An id that names no trak is refused. A cycle cannot form: dependencies are set only when
/// a trak is created, on traks that exist already, and nothing can depend on a trak before it
/// exists.
pub fn resolve_after(store: &Store, ids: &[String]) -> Result<Vec<String>> {
    let mut resolved: Vec<String> = Vec::new();
    for id in ids.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
        let trak = store.resolve(Some(id)).map_err(|err| {
            anyhow::anyhow!(
                "--after {id}: {err:#}\n  Name traks that exist (ork status --all lists them)."
            )
        })?;
        if trak.state.status == Status::Dropped {
            bail!(
                "--after {id}: trak {} was dropped, so it will never be merged.\n  Leave it out of --after.",
                trak.id
            );
        }
        if !resolved.contains(&trak.id) {
            resolved.push(trak.id);
        }
    }
    Ok(resolved)
}

/// `trak`'s `--after` traks that are not merged yet, as far as `listed` (every trak, by id)
/// knows: one it does not hold counts as open.
pub fn waits_for(trak: &Trak, listed: &HashMap<&str, &Trak>) -> Vec<String> {
    trak.state
        .after
        .iter()
        .filter(|id| {
            listed
                .get(id.as_str())
                .is_none_or(|dep| dep.state.status != Status::Done)
        })
        .cloned()
        .collect()
}

/// `trak`'s `--after` traks not merged yet, each looked up in the store (a trak without
/// `--after` costs nothing here): what `ork status` shows as "waits for".
pub fn still_waits_for(store: &Store, trak: &Trak) -> Result<Vec<String>> {
    if trak.state.after.is_empty() || !not_started(trak) {
        return Ok(Vec::new());
    }
    let mut deps = Vec::new();
    for id in &trak.state.after {
        deps.extend(store.find(id)?);
    }
    let listed: HashMap<&str, &Trak> = deps.iter().map(|t| (t.id.as_str(), t)).collect();
    Ok(waits_for(trak, &listed))
}

/// The order due traks start in: priority 1 first, then the oldest.
pub fn start_order(traks: &mut [Trak]) {
    traks.sort_by_key(|t| (t.state.priority, t.state.created_at));
}

/// Whether the trak has not started yet: queued at its first stage, never run. What comes
/// before a first run (a subtrak's dependencies, `--after`) is done only then.
pub(super) fn not_started(trak: &Trak) -> bool {
    trak.state.status == Status::Queued
        && trak.state.attempt == 0
        && trak.state.stages.first() == Some(&trak.state.stage)
        && trak.state.usage.is_empty()
}

impl Engine<'_> {
    /// Before a trak's first run: the traks it waits for must be merged; then its base, which
    /// now holds their code, is merged into it (an event of its own), so it starts on top of
    /// them. Fails, changing nothing, while one is open.
    pub(super) fn after_dependencies(&mut self, trak: Trak) -> Result<Trak> {
        if trak.state.after.is_empty() || !not_started(&trak) {
            return Ok(trak);
        }
        let open = still_waits_for(self.store, &trak)?;
        if !open.is_empty() {
            bail!(
                "trak {} waits for {} to be merged into {}; it starts once {} (ork status shows what they wait for)",
                trak.id,
                open.join(", "),
                trak.state.base,
                if open.len() == 1 { "it is" } else { "they are" }
            );
        }
        let branch = trak.state.base.clone();
        let Some(base_tip) = self.newest_base(&branch)? else {
            return Ok(trak);
        };
        if self.store.git().is_ancestor(base_tip, trak.tip)? {
            return Ok(trak);
        }
        let trak = self.store.adopt(&trak)?;
        self.reporter.step(&format!(
            "brings in {branch} (with {})",
            trak.state.after.join(", ")
        ));
        self.store.record_merge(
            &trak,
            base_tip,
            &branch,
            EventKind::BaseMerged {
                branch: branch.clone(),
                commit: base_tip.to_string(),
            },
        )
    }

    /// The base's newest tip known here: the local branch, or its remote-tracking copy (the
    /// shared queue's remote, else the branch's upstream) where that holds it and more — a
    /// dependency landed by another machine is on the remote's base before it is on ours.
    fn newest_base(&self, branch: &str) -> Result<Option<crate::store::git::Oid>> {
        let git = self.store.git();
        let local = git.ref_tip(&format!("refs/heads/{branch}"))?;
        let remote =
            super::queue_remote(self.store, self.workflow).or_else(|| git.upstream_remote(branch));
        let tracking = match remote {
            Some(remote) => git.ref_tip(&format!("refs/remotes/{remote}/{branch}"))?,
            None => None,
        };
        Ok(match (local, tracking) {
            (Some(ours), Some(theirs)) if ours != theirs && git.is_ancestor(ours, theirs)? => {
                Some(theirs)
            }
            (Some(ours), _) => Some(ours),
            (None, theirs) => theirs,
        })
    }
}
