//! Reading traks: listing every trak (local branches and remote-tracking ones alike, one
//! object read per tip: docs/design.md rule 5), resolving an id prefix, loading one.

use super::*;

impl Store {
    /// Every trak: local branches, then those known only from remote-tracking branches.
    /// One ref listing and a constant number of object reads per trak.
    pub fn list(&self) -> Result<Vec<Trak>> {
        let mut traks: BTreeMap<String, Trak> = BTreeMap::new();
        for tip in self.git.refs_with_prefix(BRANCH_PREFIX)? {
            let id = tip.name[BRANCH_PREFIX.len()..].to_string();
            if let Some(trak) = self.read_if_trak(&id, &tip.name, tip.tip, Location::Local)? {
                traks.insert(id, trak);
            }
        }
        for (remote, id, name, tip) in self.remote_trak_refs()? {
            if let Some(local) = traks.get(&id)
                && !self.remote_is_ahead(local.tip, tip)?
            {
                continue;
            }
            if let Some(trak) = self.read_if_trak(&id, &name, tip, Location::Remote(remote))? {
                traks.insert(id, trak);
            }
        }
        Ok(traks.into_values().collect())
    }

    /// The trak named by `query` (an id or a unique prefix of one), or, with no query, the trak
    /// whose worktree the process runs in.
    pub fn resolve(&self, query: Option<&str>) -> Result<Trak> {
        let ids = self.ids()?;
        let id = match query {
            Some(query) => pick_id(query, &ids)?,
            None => self.current_trak_id().ok_or_else(|| {
                anyhow::anyhow!(
                    "which trak? Pass an id, or run this inside a trak's worktree.\n  Traks: {}",
                    list_or_none(&ids)
                )
            })?,
        };
        self.load(&id)
    }

    /// Every trak with a local branch, read from that branch (whatever remotes hold).
    pub fn list_local(&self) -> Result<Vec<Trak>> {
        let mut traks = Vec::new();
        for tip in self.git.refs_with_prefix(BRANCH_PREFIX)? {
            let id = &tip.name[BRANCH_PREFIX.len()..];
            traks.extend(self.read_if_trak(id, &tip.name, tip.tip, Location::Local)?);
        }
        Ok(traks)
    }

    /// Reads trak `id` from its local branch, else from a remote-tracking branch.
    pub fn load(&self, id: &str) -> Result<Trak> {
        self.find(id)?
            .ok_or_else(|| anyhow::anyhow!("there is no trak {id}"))
    }

    /// Like [`Store::load`], but `None` when trak `id` has no branch here or on a remote.
    /// Looks up only the trak's own refs (one per remote), never the list of all traks.
    pub fn find(&self, id: &str) -> Result<Option<Trak>> {
        let local = format!("{BRANCH_PREFIX}{id}");
        let local_tip = self.git.ref_tip(&local)?;
        let trak = match (local_tip, self.remote_ref_of(id)?) {
            (Some(tip), Some((remote, name, theirs))) if self.remote_is_ahead(tip, theirs)? => {
                self.read(id, &name, theirs, Location::Remote(remote))?
            }
            (Some(tip), _) => self.read(id, &local, tip, Location::Local)?,
            (None, Some((remote, name, tip))) => {
                self.read(id, &name, tip, Location::Remote(remote))?
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(trak))
    }

    /// Whether trak `id` has a branch here or on a remote.
    pub fn exists(&self, id: &str) -> Result<bool> {
        Ok(self.git.ref_tip(&format!("{BRANCH_PREFIX}{id}"))?.is_some()
            || self.remote_ref_of(id)?.is_some())
    }
}

/// Resolves `query` against `ids`: an exact id, or a prefix of exactly one.
pub(super) fn pick_id(query: &str, ids: &[String]) -> Result<String> {
    if ids.iter().any(|id| id == query) {
        return Ok(query.to_string());
    }
    let mut matches: Vec<&String> = ids.iter().filter(|id| id.starts_with(query)).collect();
    // A trak's subtraks share its id as a prefix (`<id>.<key>`): the prefix means the parent.
    if let Some(parent) = matches.iter().copied().find(|candidate| {
        matches
            .iter()
            .all(|id| id == candidate || id.starts_with(&format!("{candidate}.")))
    }) {
        matches = vec![parent];
    }
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no trak matches \"{query}\".\n  Traks: {}",
            list_or_none(ids)
        ),
        many => bail!(
            "\"{query}\" matches {} traks; use more of the id:\n  {}",
            many.len(),
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    }
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none yet (create one with `ork trak new`)".to_string()
    } else {
        ids.join(", ")
    }
}
