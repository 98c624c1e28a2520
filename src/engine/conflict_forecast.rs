//! Conflicts seen before they happen: which active traks would conflict with another active
//! trak, or with their base's current tip, if they merged now.
//!
//! Every answer is an in-memory three-way merge (nothing is written, no worktree touched),
//! and only where it can matter: a trak whose code differs from its base in no file merges
//! cleanly with anything, and two traks are merged only if they touch a file in common. The
//! answers are cached in `.git/ork/forecast.json`, keyed by the commits they were computed
//! from (DESIGN.md rule 4): derived, safe to delete, never stale, since a moved branch is a
//! new key. A warm listing reads that one file and no object.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::store::dry_run::DryRun;
use crate::store::git::Oid;
use crate::store::{Store, Trak};

/// The record folders never conflict (one per trak) and never land in the base.
const RECORDS: &str = ".orkestra/traks";
const CACHE_FILE: &str = "forecast.json";
const CACHE_VERSION: u32 = 1;

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
    /// `<base tip>:<trak tip>` → the files the trak changed since it forked from the base.
    paths: BTreeMap<String, Vec<String>>,
    /// `<tip>:<tip>` (sorted) → the files a merge of the two would conflict in.
    merges: BTreeMap<String, Vec<String>>,
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
        let mut touched: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, trak) in traks.iter().enumerate() {
            // The trak's own changes since it forked from the base: two traks can only
            // conflict in a file both changed, and a trak in a file it changed.
            let paths = self.changed_paths(base_tip, trak.tip)?;
            if paths.is_empty() {
                continue;
            }
            for path in paths {
                touched.entry(path).or_default().push(index);
            }
            let files = self.conflicts(base_tip, trak.tip)?;
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
            let (a, b) = (traks[a], traks[b]);
            let files = self.conflicts(a.tip, b.tip)?;
            if files.is_empty() {
                continue;
            }
            for (one, other) in [(a, b), (b, a)] {
                forecast.entry(one.id.clone()).or_default().push(Conflict {
                    with: Other::Trak(other.id.clone()),
                    files: files.clone(),
                });
            }
        }
        Ok(())
    }

    fn changed_paths(&mut self, base_tip: Oid, tip: Oid) -> Result<Vec<String>> {
        let key = format!("{base_tip}:{tip}");
        let paths = match self.old.paths.get(&key) {
            Some(paths) => paths.clone(),
            None => {
                *self.computed = true;
                self.dry.changed_paths(base_tip, tip)?
            }
        };
        self.new.paths.insert(key, paths.clone());
        Ok(paths)
    }

    fn conflicts(&mut self, a: Oid, b: Oid) -> Result<Vec<String>> {
        let key = format!("{}:{}", a.min(b), a.max(b));
        let files = match self.old.merges.get(&key) {
            Some(files) => files.clone(),
            None => {
                *self.computed = true;
                self.dry.conflicts(a, b)?
            }
        };
        self.new.merges.insert(key, files.clone());
        Ok(files)
    }
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
