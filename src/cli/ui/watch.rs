//! Noticing that traks moved, cheaply: a listing of the trak refs' tips (local branches and
//! remote-tracking ones), compared with the last one. Nothing is read from a trak's history
//! unless its tip moved; `ork run`, `--detach`, another terminal and a `git fetch` all show up
//! here, since each moves a ref.

use anyhow::Result;

use ork::store::git::Oid;
use ork::store::{BRANCH_PREFIX, Store};

/// The trak refs' tips as last seen.
pub struct RefWatcher {
    last: Option<Vec<(String, Oid)>>,
}

impl RefWatcher {
    pub fn new() -> RefWatcher {
        RefWatcher { last: None }
    }

    /// Whether any trak ref appeared, moved or went since the last call (true the first time).
    pub fn changed(&mut self, store: &Store) -> Result<bool> {
        let tips = trak_ref_tips(store)?;
        if self.last.as_ref() == Some(&tips) {
            return Ok(false);
        }
        self.last = Some(tips);
        Ok(true)
    }
}

/// Every `refs/heads/ork/*` and `refs/remotes/*/ork/*` ref with its tip, sorted by name.
fn trak_ref_tips(store: &Store) -> Result<Vec<(String, Oid)>> {
    let git = store.git();
    let mut tips: Vec<(String, Oid)> = git
        .refs_with_prefix(BRANCH_PREFIX)?
        .into_iter()
        .chain(
            git.refs_with_prefix("refs/remotes/")?
                .into_iter()
                .filter(|r| r.name.contains("/ork/")),
        )
        .map(|r| (r.name, r.tip))
        .collect();
    tips.sort();
    Ok(tips)
}
