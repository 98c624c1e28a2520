//! What the processes ork starts for a trak changed in the repository itself: its refs, hooks,
//! config and `info/` (docs/design.md rule 12). Under an enforced sandbox they cannot write
//! the git dir at all; under `report` or `off` ork reads the repository before and after each
//! run and names what changed.
//!
//! Refs tell who moved them: every process ork confines runs git with a committer identity of
//! its own ([`confined_email`]) and with every ref update logged, so a ref whose reflog names
//! that identity since the run began was moved by the run — not by the user working beside it
//! or another ork process. Hooks and config carry no author: any change to them during the run
//! is named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::store::event::FileChange;

/// The email git records (in reflogs, in commits) for what a confined process of trak `id`
/// does with git. `.invalid` never reaches anyone.
pub fn confined_email(id: &str) -> String {
    format!("{id}@confined.ork.invalid")
}

/// Where the refs a run moved outside its trak are kept for a person to look at:
/// `refs/ork/quarantined/<id>/heads/main` for `refs/heads/main`.
pub const MOVED_REFS_PREFIX: &str = "refs/ork/quarantined/";

/// How many reflog entries of one moved ref are read to find who moved it.
const REFLOG_DEPTH: usize = 200;

/// The repository's refs and program-running files at one moment.
pub struct RepoState {
    refs: BTreeMap<String, Oid>,
    /// Hooks, config and `info/` files, by path, with a hash of their contents.
    files: BTreeMap<PathBuf, Oid>,
    /// Where git looks for hooks: asked once (a git process), read again after the run.
    hooks: PathBuf,
}

/// One change a run made to the repository itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoChange {
    /// A ref the run created, moved or deleted; ork has put it back.
    Ref {
        name: String,
        from: Option<Oid>,
        to: Option<Oid>,
        /// Where what it pointed to is kept, if it pointed anywhere.
        kept_at: Option<String>,
    },
    /// A hook, config or `info/` file that appeared, changed or went away.
    File { path: PathBuf, change: FileChange },
}

impl RepoChange {
    /// "refs/heads/main moved 1a2b3c4d → 3c4d5e6f", "hook post-commit added".
    pub fn describe(&self) -> String {
        let short = |oid: &Oid| oid.to_string()[..8].to_string();
        match self {
            RepoChange::Ref { name, from, to, .. } => match (from, to) {
                (Some(from), Some(to)) => format!("{name} moved {} → {}", short(from), short(to)),
                (None, Some(to)) => format!("{name} created at {}", short(to)),
                (Some(from), None) => format!("{name} deleted (was at {})", short(from)),
                (None, None) => name.clone(),
            },
            RepoChange::File { path, change } => {
                let change = match change {
                    FileChange::New => "added",
                    FileChange::Modified => "changed",
                    FileChange::Deleted => "removed",
                };
                match hook_name(path) {
                    Some(hook) => format!("hook {hook} {change}"),
                    None => format!("{} {change}", path.display()),
                }
            }
        }
    }
}

/// The hook's name when `path` lies in a hooks folder.
fn hook_name(path: &Path) -> Option<String> {
    let parent = path.parent()?.file_name()?;
    (parent == "hooks").then(|| {
        path.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into()
    })
}

impl Store {
    /// The repository's refs and its hooks, config and `info/` files, as they are now.
    pub fn repo_state(&self) -> Result<RepoState> {
        self.repo_state_with(self.git.hooks_dir()?)
    }

    fn repo_state_with(&self, hooks: PathBuf) -> Result<RepoState> {
        let refs = self
            .git
            .refs_with_prefix("refs/")?
            .into_iter()
            .map(|r| (r.name, r.tip))
            .collect();
        let mut files = BTreeMap::new();
        for path in self.program_files(&hooks) {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let hash =
                gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, &data)?;
            files.insert(path, hash);
        }
        Ok(RepoState { refs, files, hooks })
    }

    /// What trak `id`'s processes changed in the repository since `before`, its refs put back:
    /// a moved or deleted ref returns where it was, a created one is removed, and what the run
    /// pointed them at is kept under [`MOVED_REFS_PREFIX`]`<id>/`. The trak's own branch is
    /// not looked at here, nor its race attempts' refs: [`Store::take_back_branch`] is their
    /// rule.
    pub fn repo_changes(&self, id: &str, before: &RepoState) -> Result<Vec<RepoChange>> {
        let after = self.repo_state_with(before.hooks.clone())?;
        let own_branch = format!("{BRANCH_PREFIX}{id}");
        // A race's attempts are the trak's branches too, each checked by its own run.
        let own_races = format!("{}{id}/", crate::store::RACE_PREFIX);
        let email = confined_email(id);
        let mut changes = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            before.refs.keys().chain(after.refs.keys()).collect();
        for name in names {
            let (from, to) = (
                before.refs.get(name).copied(),
                after.refs.get(name).copied(),
            );
            if from == to
                || *name == own_branch
                || name.starts_with(&own_races)
                || name.starts_with(MOVED_REFS_PREFIX)
            {
                continue;
            }
            if !self.moved_by(name, from, to, &email)? {
                continue;
            }
            let kept_at = self.put_back_ref(id, name, from, to)?;
            changes.push(RepoChange::Ref {
                name: name.clone(),
                from,
                to,
                kept_at,
            });
        }
        let paths: std::collections::BTreeSet<&PathBuf> =
            before.files.keys().chain(after.files.keys()).collect();
        for path in paths {
            let change = match (before.files.get(path), after.files.get(path)) {
                (Some(a), Some(b)) if a == b => continue,
                (None, Some(_)) => FileChange::New,
                (Some(_), None) => FileChange::Deleted,
                _ => FileChange::Modified,
            };
            changes.push(RepoChange::File {
                path: path.clone(),
                change,
            });
        }
        Ok(changes)
    }

    /// Whether trak `email`'s processes moved `name` from `from` to `to`. A ref that is gone
    /// keeps no reflog to ask: a deleted branch outside ork's own namespaces counts as the
    /// run's (ork deletes only its own refs), a deleted ork ref as ork's.
    fn moved_by(
        &self,
        name: &str,
        from: Option<Oid>,
        to: Option<Oid>,
        email: &str,
    ) -> Result<bool> {
        if to.is_none() {
            return Ok(!name.starts_with(BRANCH_PREFIX) && !name.starts_with("refs/ork/"));
        }
        let movers = self.git.reflog_movers(name, from, REFLOG_DEPTH)?;
        Ok(movers.iter().any(|m| m == email))
    }

    /// Puts `name` back at `from` (or removes it), keeping `to` under the trak's quarantine.
    fn put_back_ref(
        &self,
        id: &str,
        name: &str,
        from: Option<Oid>,
        to: Option<Oid>,
    ) -> Result<Option<String>> {
        let kept_at = match to {
            Some(to) => {
                let kept = format!(
                    "{MOVED_REFS_PREFIX}{id}/{}",
                    name.strip_prefix("refs/").unwrap_or(name)
                );
                match self.git.ref_tip(&kept)? {
                    Some(old) => self.git.update_ref(&kept, to, old, "ork: quarantine")?,
                    None => self.git.create_ref(&kept, to, "ork: quarantine")?,
                }
                Some(kept)
            }
            None => None,
        };
        match (from, self.git.ref_tip(name)?) {
            (Some(from), Some(now)) if now != from => {
                self.git.update_ref(name, from, now, "ork: put back")?
            }
            (Some(from), None) => self.git.create_ref(name, from, "ork: put back")?,
            (None, Some(now)) => self.git.delete_ref(name, now)?,
            _ => {}
        }
        Ok(kept_at)
    }

    /// The files in the git dir that make git run programs or change what it does: `config`
    /// (and each worktree's `config.worktree`), the hooks folder, and `info/` (attributes,
    /// excludes, sparse checkout), for the repository and each worktree.
    fn program_files(&self, hooks: &Path) -> Vec<PathBuf> {
        let common = self.git.common_dir().to_path_buf();
        let mut files = vec![common.join("config"), common.join("config.worktree")];
        let mut folders = vec![hooks.to_path_buf(), common.join("info")];
        if let Ok(entries) = std::fs::read_dir(common.join("worktrees")) {
            for entry in entries.flatten() {
                files.push(entry.path().join("config.worktree"));
                folders.push(entry.path().join("info"));
            }
        }
        for folder in folders {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
        files
    }
}
