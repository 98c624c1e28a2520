//! Conflicts seen before they happen: which active traks would conflict with another active
//! trak, or with their base's current tip, if they merged now.
//!
//! Every answer is an in-memory three-way merge (nothing is written, no worktree touched),
//! and only where it can matter: a trak whose code differs from its base in no file merges
//! cleanly with anything, and two traks are merged only if they touch a file in common. The
//! answers are cached in `.git/ork/forecast.json`, keyed by the commits they were computed
//! from (docs/design.md rule 4): derived, safe to delete, never stale, since a moved branch is a
//! new key. A warm listing reads that one file and no object.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::store::dry_run::DryRun;
use crate::store::git::Oid;
use crate::store::{Store, Trak};

/// The record folders never conflict (one per trak) and never land in the base.
use crate::layout::TRAKS as RECORDS;
const CACHE_FILE: &str = "forecast.json";
const CACHE_VERSION: u32 = 2;

/// What a trak would conflict with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Other {
    /// Another active trak, by id.
    Trak(String),
    /// The trak's base branch, at its current tip.
    Base(String),
}

impl Other {
    pub fn name(&self) -> &str {
        match self {
            Other::Trak(id) | Other::Base(id) => id,
        }
    }
}

/// One forecast conflict: the other side and the files that would not merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub with: Other,
    pub files: Vec<String>,
}

/// The forecast conflicts of each trak that has some, by trak id.
pub type Forecast = BTreeMap<String, Vec<Conflict>>;

/// The cache: answers keyed by the commits they came from.
#[derive(Default, Serialize, Deserialize)]
struct Cache {
    v: u32,
    /// `<base tip>:<trak tip>` → where the trak forked from the base, and the files it
    /// changed since.
    paths: BTreeMap<String, Changes>,
    /// `<tip>:<tip>` (sorted) → the files a merge of the two would conflict in.
    merges: BTreeMap<String, Vec<String>>,
}

/// Where one side forked from the base, and the files it changed since (sorted).
#[derive(Clone, Default, Serialize, Deserialize)]
struct Changes {
    /// The fork commit, in hex; `None` for a history unrelated to the base's.
    fork: Option<String>,
    paths: Vec<String>,
}

impl Changes {
    fn fork(&self) -> Option<Oid> {
        self.fork
            .as_deref()
            .and_then(|hex| Oid::from_hex(hex.as_bytes()).ok())
    }
}

/// The forecast over the unfinished traks among `traks`.
pub fn forecast(store: &Store, traks: &[Trak]) -> Result<Forecast> {
    let git = store.git();
    let path = git.runtime_dir().join(CACHE_FILE);
    let old: Cache = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|c: &Cache| c.v == CACHE_VERSION)
        .unwrap_or_default();
    let mut by_base: BTreeMap<&str, Vec<&Trak>> = BTreeMap::new();
    for trak in traks.iter().filter(|t| !t.state.status.is_finished()) {
        by_base.entry(&trak.state.base).or_default().push(trak);
    }
    let mut forecast = Forecast::new();
    let mut new = Cache {
        v: CACHE_VERSION,
        ..Cache::default()
    };
    let mut computed = false;
    git.dry_run(RECORDS, |dry| {
        let mut run = Run {
            dry,
            old: &old,
            new: &mut new,
            computed: &mut computed,
            base_changes: BTreeMap::new(),
        };
        for (base, group) in by_base {
            let Some(base_tip) = git.ref_tip(&format!("refs/heads/{base}"))? else {
                continue;
            };
            run.base_group(base, base_tip, &group, &mut forecast)?;
        }
        Ok(())
    })?;
    // Only what this listing used is kept: the file stays as small as the list of traks.
    let pruned = old.paths.len() != new.paths.len() || old.merges.len() != new.merges.len();
    if computed || pruned {
        // A cache that cannot be written only costs the next listing some time.
        let _ = write_atomically(&path, &serde_json::to_vec(&new)?);
    }
    Ok(forecast)
}

/// One forecast's work: the old cache to answer from, the new one to keep.
struct Run<'a, 'repo> {
    dry: &'a mut DryRun<'repo>,
    old: &'a Cache,
    new: &'a mut Cache,
    /// Whether anything was computed (rather than found in the cache).
    computed: &'a mut bool,
    /// What the base changed since each fork point, computed when a merge needs it.
    base_changes: BTreeMap<(Oid, Oid), Vec<String>>,
}

impl Run<'_, '_> {
    /// The traks of one base: each against the base's tip, then each pair touching a file in
    /// common.
    fn base_group(
        &mut self,
        base: &str,
        base_tip: Oid,
        traks: &[&Trak],
        forecast: &mut Forecast,
    ) -> Result<()> {
        let mut touched: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let changes: Vec<Changes> = traks
            .iter()
            .map(|trak| self.changes(base_tip, trak.tip))
            .collect::<Result<_>>()?;
        for (index, trak) in traks.iter().enumerate() {
            // A trak that changed no file merges cleanly with anything; two traks can only
            // conflict in a file both changed.
            if changes[index].paths.is_empty() {
                continue;
            }
            for path in &changes[index].paths {
                touched.entry(path).or_default().push(index);
            }
            let files = self.conflicts_with_base(base_tip, trak.tip, &changes[index])?;
            if !files.is_empty() {
                forecast.entry(trak.id.clone()).or_default().push(Conflict {
                    with: Other::Base(base.to_string()),
                    files,
                });
            }
        }
        let pairs: BTreeSet<(usize, usize)> = touched
            .values()
            .flat_map(|indexes| {
                indexes.iter().enumerate().flat_map(move |(n, &a)| {
                    indexes[n + 1..].iter().map(move |&b| (a.min(b), a.max(b)))
                })
            })
            .collect();
        for (a, b) in pairs {
            let files = self.conflicts((traks[a].tip, &changes[a]), (traks[b].tip, &changes[b]))?;
            if files.is_empty() {
                continue;
            }
            let (a, b) = (traks[a], traks[b]);
            for (one, other) in [(a, b), (b, a)] {
                forecast.entry(one.id.clone()).or_default().push(Conflict {
                    with: Other::Trak(other.id.clone()),
                    files: files.clone(),
                });
            }
        }
        Ok(())
    }

    /// Where `tip` forked from the base and what it changed since, from the cache if it can.
    fn changes(&mut self, base_tip: Oid, tip: Oid) -> Result<Changes> {
        let key = format!("{base_tip}:{tip}");
        let changes = match self.old.paths.get(&key) {
            Some(changes) => changes.clone(),
            None => {
                *self.computed = true;
                let fork = self.dry.merge_base(base_tip, tip)?;
                Changes {
                    fork: fork.map(|fork| fork.to_string()),
                    paths: self.dry.changed_paths_since(fork, tip)?,
                }
            }
        };
        self.new.paths.insert(key, changes.clone());
        Ok(changes)
    }

    /// A trak merged with its base's tip: the base's own changes since the trak forked are
    /// the other side.
    fn conflicts_with_base(
        &mut self,
        base_tip: Oid,
        tip: Oid,
        trak: &Changes,
    ) -> Result<Vec<String>> {
        // Cached, the base's changes are not needed: a warm listing reads no object.
        if let Some(files) = self.cached_merge(base_tip, tip) {
            return Ok(files);
        }
        let base = match trak.fork() {
            Some(fork) => Changes {
                fork: trak.fork.clone(),
                paths: self.base_changes_since(fork, base_tip)?,
            },
            None => Changes::default(),
        };
        self.conflicts((base_tip, &base), (tip, trak))
    }

    fn base_changes_since(&mut self, fork: Oid, base_tip: Oid) -> Result<Vec<String>> {
        if let Some(paths) = self.base_changes.get(&(fork, base_tip)) {
            return Ok(paths.clone());
        }
        let paths = self.dry.changed_paths_since(Some(fork), base_tip)?;
        self.base_changes.insert((fork, base_tip), paths.clone());
        Ok(paths)
    }

    /// The files a merge of two sides would conflict in, from the cache if it can. Sides
    /// that forked from the same commit are merged file by file, only where both changed.
    fn conflicts(
        &mut self,
        (a, a_changes): (Oid, &Changes),
        (b, b_changes): (Oid, &Changes),
    ) -> Result<Vec<String>> {
        if let Some(files) = self.cached_merge(a, b) {
            return Ok(files);
        }
        *self.computed = true;
        let files = match (a_changes.fork(), b_changes.fork()) {
            (Some(fork), Some(other)) if fork == other => {
                self.dry
                    .conflicts_from_fork(fork, (a, &a_changes.paths), (b, &b_changes.paths))?
            }
            _ => self.dry.conflicts(a, b)?,
        };
        self.new.merges.insert(merge_key(a, b), files.clone());
        Ok(files)
    }

    /// The cached answer for a merge of `a` and `b`, kept for the next listing too.
    fn cached_merge(&mut self, a: Oid, b: Oid) -> Option<Vec<String>> {
        let key = merge_key(a, b);
        let files = self.old.merges.get(&key)?.clone();
        self.new.merges.insert(key, files.clone());
        Some(files)
    }
}

/// A merge's cache key: both commits, in order, so either side asks for the same answer.
fn merge_key(a: Oid, b: Oid) -> String {
    format!("{}:{}", a.min(b), a.max(b))
}

/// Writes `bytes` to `path` through a temporary file and a rename: a reader sees the old file
/// or the new one, never half of one.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("the cache lives in a folder");
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{CACHE_FILE}.{}", std::process::id()));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)?;
    Ok(())
}
