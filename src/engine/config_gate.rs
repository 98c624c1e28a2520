//! ork's own configuration never lands unseen (docs/design.md rule 12).
//!
//! A trak whose change touches `.orkestra/` (the workflow, gate scripts, prompts,
//! `secrets.allow`, `worktree.include`) would change the rules for every trak after it, and
//! in an all-automatic flow no person would see it. So before such a trak integrates, in
//! every flow, it waits until a person approves exactly that change: `ork approve <id>
//! --config`. A later change to those files needs approving again.

use anyhow::Result;

use super::Engine;
use crate::store::git::Oid;
use crate::store::{Store, Trak};

impl Engine<'_> {
    /// Why `trak` may not integrate yet because of its change to `.orkestra/`, if so.
    pub(super) fn config_waits(&self, trak: &Trak) -> Result<Option<String>> {
        let changes = config_changes(self.store, trak)?;
        if changes.is_empty() || trak.state.config_approved.as_ref() == Some(&changes) {
            return Ok(None);
        }
        let paths = paths_of(&changes);
        let base = &trak.state.base;
        Ok(Some(format!(
            "the change touches ork's own configuration: {}. A person approves that explicitly: look at it (git diff {base}...ork/{id} -- .orkestra), then ork approve {id} --config",
            paths.join(", "),
            id = trak.id
        )))
    }
}

/// The trak's changed `.orkestra/` files, put back to the base's contents in a gate's checkout
/// while the gate runs: a gate and its scripts come from the base whatever the spelling of its
/// command line (`sh .orkestra/scripts/checks.sh`, `bash -c '…'`), never from the change it
/// judges.
pub struct BaseConfig {
    paths: Vec<String>,
}

impl BaseConfig {
    /// Puts the base's `.orkestra/` files in place in `dir`, where they differ.
    pub fn swap_in(store: &Store, trak: &Trak, dir: &std::path::Path) -> Result<BaseConfig> {
        let Some((base_tip, changes)) = changed_since_base(store, trak)? else {
            return Ok(BaseConfig { paths: Vec::new() });
        };
        let paths = paths_of(&changes);
        if !paths.is_empty() {
            store.git().put_paths_as_in(dir, base_tip, &paths)?;
        }
        Ok(BaseConfig { paths })
    }

    /// Puts the trak's own files back in `dir`, as they are in `commit` (what the gate judged).
    pub fn restore(self, store: &Store, dir: &std::path::Path, commit: Oid) -> Result<()> {
        if self.paths.is_empty() {
            return Ok(());
        }
        store.git().put_paths_as_in(dir, commit, &self.paths)
    }
}

/// What `trak` changes under `.orkestra/` since it forked from its base (nothing for a
/// subtrak: it lands on its parent, whose own integration is where the check is).
pub fn config_changes(store: &Store, trak: &Trak) -> Result<Vec<String>> {
    Ok(changed_since_base(store, trak)?.map_or_else(Vec::new, |(_, changes)| changes))
}

/// The base's tip and [`config_changes`] against it; none for a subtrak or a missing base.
fn changed_since_base(store: &Store, trak: &Trak) -> Result<Option<(Oid, Vec<String>)>> {
    if trak.state.parent.is_some() {
        return Ok(None);
    }
    let Some(base_tip) = base_tip(store, trak)? else {
        return Ok(None);
    };
    Ok(Some((base_tip, store.config_changes(trak, base_tip)?)))
}

/// The paths of [`config_changes`]' "path blob" entries.
fn paths_of(changes: &[String]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| c.rsplit_once(' ').map(|(path, _)| path.to_string()))
        .collect()
}

/// The base's tip here: the local branch, else the remote's copy of it.
fn base_tip(store: &Store, trak: &Trak) -> Result<Option<Oid>> {
    let git = store.git();
    let base = &trak.state.base;
    if let Some(tip) = git.ref_tip(&format!("refs/heads/{base}"))? {
        return Ok(Some(tip));
    }
    match git.upstream_remote(base) {
        Some(remote) => git.ref_tip(&format!("refs/remotes/{remote}/{base}")),
        None => Ok(None),
    }
}
