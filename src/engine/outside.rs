//! What changed outside a trak's worktree while its agent ran (docs/design.md rule 11).
//!
//! Before a run ork notes, for the main checkout and every other trak's worktree on this
//! machine, which files have uncommitted changes and their size, times and inode; after the
//! run it looks again. A file that became dirty, stopped being dirty, or was dirty and changed
//! again is named. That costs one `git status` per checkout and a `stat` per dirty file, never
//! a read of the whole tree. ork never commits, reverts or deletes these files: they are the
//! user's. A trak ork itself worked on meanwhile is not looked at: one whose branch moved, or
//! one ork is merging into at that moment (a subtrak's integration into its parent's checkout
//! writes the files before it moves the branch).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::store::event::{FileChange, OutsideChange};
use crate::store::git::Oid;
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// Where trak worktrees live in the main checkout: watched one by one, not as the main
/// checkout's files.
use crate::layout::WORKTREES as WORKTREES_DIR;

/// The checkouts outside one trak's worktree, as they were at one moment.
pub struct Snapshot {
    places: Vec<Place>,
}

/// One checkout: the main one (`trak: None`) or another trak's worktree.
struct Place {
    trak: Option<String>,
    root: PathBuf,
    /// The other trak's tip: a trak ork moved during the run was worked on by ork itself.
    tip: Option<Oid>,
    /// Each dirty path: whether git tracks it, and its stamp (`None`: it is gone).
    dirty: BTreeMap<String, (bool, Option<Stamp>)>,
}

/// What `stat` says of a file; any change of its contents changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(Stamp {
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
        })
    }
}

impl Snapshot {
    /// The main checkout and the worktrees of the other traks that are at rest (waiting for a
    /// human, failed, done or dropped): a trak some ork process is working on changes its own
    /// worktree, and that is no agent's escape.
    pub fn take(store: &Store, running: &Trak) -> Result<Snapshot> {
        let git = store.git();
        let main = git.main_workdir().to_path_buf();
        let mut places = vec![Place::read(store, None, main, None)?];
        let present = store.worktree_ids();
        for other in store.list_local()? {
            if other.id == running.id || !present.contains(&other.id) || !at_rest(&other) {
                continue;
            }
            let root = store.worktree_path(&other.id);
            if !root.join(".git").exists() {
                continue;
            }
            places.push(Place::read(store, Some(other.id), root, Some(other.tip))?);
        }
        Ok(Snapshot { places })
    }

    /// The files that changed since this snapshot, in the places still at rest.
    pub fn changes(&self, store: &Store) -> Result<Vec<OutsideChange>> {
        let mut changes = Vec::new();
        for before in &self.places {
            // A trak that ork merges into right now (a subtrak into its parent) has its
            // checkout updated by ork's own hands, files first and its branch last: it is not
            // looked at, as one whose tip moved. Held while it is read, no merge starts midway.
            let _merging = match &before.trak {
                Some(id) => {
                    let lock = super::integration::merge_lock_name(&format!("ork/{id}"));
                    match store.git().try_runtime_lock(&lock)? {
                        Some(held) => Some(held),
                        None => continue,
                    }
                }
                None => None,
            };
            if let Some(tip) = before.tip {
                let now = store.git().ref_tip(&format!(
                    "{}{}",
                    crate::store::BRANCH_PREFIX,
                    before.trak.as_deref().unwrap_or_default()
                ))?;
                if now != Some(tip) {
                    continue;
                }
            }
            let after = Place::read(store, before.trak.clone(), before.root.clone(), before.tip)?;
            changes.extend(before.compare(&after));
        }
        Ok(changes)
    }
}

fn at_rest(trak: &Trak) -> bool {
    !matches!(
        trak.state.status,
        Status::Queued | Status::Running | Status::Checking | Status::Integrating
    )
}

impl Place {
    fn read(store: &Store, trak: Option<String>, root: PathBuf, tip: Option<Oid>) -> Result<Place> {
        let exclude: &[&str] = if trak.is_none() {
            &[WORKTREES_DIR]
        } else {
            &[]
        };
        let dirty = store
            .git()
            .dirty_paths(&root, exclude)?
            .into_iter()
            .map(|(path, tracked)| {
                let stamp = Stamp::of(&root.join(&path));
                (path, (tracked, stamp))
            })
            .collect();
        Ok(Place {
            trak,
            root,
            tip,
            dirty,
        })
    }

    /// What differs between this reading and `after`, a later one of the same place.
    fn compare(&self, after: &Place) -> Vec<OutsideChange> {
        let mut paths: Vec<&String> = self.dirty.keys().chain(after.dirty.keys()).collect();
        paths.sort();
        paths.dedup();
        paths
            .into_iter()
            .filter_map(|path| {
                let change = match (self.dirty.get(path), after.dirty.get(path)) {
                    (was, Some(is)) if was == Some(is) => return None,
                    (_, Some((_, None))) => FileChange::Deleted,
                    (None, Some((false, _))) => FileChange::New,
                    (_, Some(_)) => FileChange::Modified,
                    // Clean again: put back as committed, or an untracked file removed.
                    (Some(_), None) if Stamp::of(&self.root.join(path)).is_some() => {
                        FileChange::Modified
                    }
                    (Some(_), None) => FileChange::Deleted,
                    (None, None) => return None,
                };
                Some(OutsideChange {
                    trak: self.trak.clone(),
                    path: path.clone(),
                    change,
                    home: false,
                })
            })
            .collect()
    }
}

/// The folders of the home folder whose entries are read besides its own: where a write runs
/// later as the user (keys, shell and tool configuration, programs on `PATH`).
const HOME_FOLDERS: [&str; 4] = [".ssh", ".config", ".local/bin", ".gnupg"];

/// The user's home folder at one moment, where the sandbox does not hold it: the stamp of each
/// entry of `$HOME` and of [`HOME_FOLDERS`], one level deep (a folder's stamp changes when an
/// entry is added or removed in it), never a read of the whole tree.
pub struct HomeSnapshot {
    root: PathBuf,
    skip: Vec<PathBuf>,
    entries: BTreeMap<String, Stamp>,
}

impl HomeSnapshot {
    /// `$HOME` now, leaving out `skip` (what the process may write: its CLI's state folders,
    /// `[sandbox] writable`) and any folder that holds `repo` (its checkouts change on their own).
    pub fn take(repo: &Path, mut skip: Vec<PathBuf>) -> Option<HomeSnapshot> {
        let root = PathBuf::from(std::env::var_os("HOME")?);
        skip.push(repo.to_path_buf());
        let mut snapshot = HomeSnapshot {
            root,
            skip,
            entries: BTreeMap::new(),
        };
        snapshot.entries = snapshot.read();
        Some(snapshot)
    }

    fn read(&self) -> BTreeMap<String, Stamp> {
        let mut entries = BTreeMap::new();
        let folders =
            std::iter::once(String::new()).chain(HOME_FOLDERS.iter().map(|f| f.to_string()));
        for folder in folders {
            let Ok(list) = std::fs::read_dir(self.root.join(&folder)) else {
                continue;
            };
            for entry in list.flatten() {
                let path = entry.path();
                if self
                    .skip
                    .iter()
                    .any(|s| s.starts_with(&path) || path.starts_with(s))
                {
                    continue;
                }
                let name = path
                    .strip_prefix(&self.root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                if let Some(stamp) = Stamp::of(&path) {
                    entries.insert(name, stamp);
                }
            }
        }
        entries
    }

    /// What changed in the home folder since this snapshot.
    pub fn changes(&self) -> Vec<OutsideChange> {
        let after = self.read();
        let mut names: Vec<&String> = self.entries.keys().chain(after.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|name| {
                let change = match (self.entries.get(name), after.get(name)) {
                    (Some(a), Some(b)) if a == b => return None,
                    (None, Some(_)) => FileChange::New,
                    (Some(_), None) => FileChange::Deleted,
                    _ => FileChange::Modified,
                };
                Some(OutsideChange {
                    trak: None,
                    path: name.clone(),
                    change,
                    home: true,
                })
            })
            .collect()
    }
}
