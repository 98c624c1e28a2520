//! Many merges and diffs in memory, one after another, for questions such as "which traks
//! would conflict?": nothing is written to the object database, no worktree is touched.
//!
//! One [`DryRun`] keeps what every call would otherwise build again: the commit graph its
//! merge-base walks have read, an object cache (the same commits and trees are read by many
//! merges among the same traks), and the diff and merge resources that gix sets up from the
//! repository's configuration and attributes. With those kept, a merge costs the objects it
//! reads for the first time, not the set-up.

use anyhow::{Context, Result};
use gix::bstr::ByteSlice;
use gix::merge::tree::TreatAsUnresolved;
use gix::revision::plumbing::merge_base::Flags;
use gix::revwalk::graph::Commit;

use crate::store::git::{Git, Oid};

/// The object cache of a dry run, in bytes: enough for the trees and commits of a few
/// thousand traks, and a bound on what a dry run holds.
const OBJECT_CACHE: usize = 16 << 20;

/// The dry run's walked commits: each with the flags a merge-base walk paints on it.
type Graph<'repo> = gix::revwalk::Graph<'repo, 'repo, Commit<Flags>>;

/// Diffs and merges in memory that share their caches; made by [`Git::dry_run`].
pub struct DryRun<'repo> {
    repo: &'repo gix::Repository,
    graph: Graph<'repo>,
    diff_state: gix::diff::tree::State,
    /// Set up on the first merge: a listing whose answers are all cached makes none.
    merging: Option<Merging>,
    /// `<folder>/`: changes and conflicts under it do not count.
    skip_prefix: String,
}

/// What gix needs to merge trees, built from the repository's configuration, attributes and
/// index: the costly part of setting up a merge, kept for the next.
struct Merging {
    diff_cache: gix::diff::blob::Platform,
    blob_merge: gix::merge::blob::Platform,
    options: gix::merge::plumbing::tree::Options,
}

impl Merging {
    fn new(repo: &gix::Repository) -> Result<Merging> {
        Ok(Merging {
            diff_cache: repo.diff_resource_cache_for_tree_diff()?,
            blob_merge: repo.merge_resource_cache(Default::default())?,
            options: repo.tree_merge_options()?.into(),
        })
    }
}

impl Git {
    /// Runs `work` on a [`DryRun`] of this repository whose changes and conflicts leave out
    /// the folder `skip` (ork's record folders, which never conflict and never land).
    pub fn dry_run<R>(
        &self,
        skip: &str,
        work: impl FnOnce(&mut DryRun<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut repo = self.gix().clone().with_object_memory();
        repo.object_cache_size_if_unset(OBJECT_CACHE);
        let commit_graph = repo.commit_graph_if_enabled()?;
        let mut dry = DryRun {
            repo: &repo,
            graph: gix::revwalk::Graph::new(&repo.objects, commit_graph.as_ref()),
            diff_state: Default::default(),
            merging: None,
            skip_prefix: format!("{skip}/"),
        };
        work(&mut dry)
    }
}

impl DryRun<'_> {
    /// Where `a` and `b` diverged: their best merge base, none for unrelated histories.
    pub fn merge_base(&mut self, a: Oid, b: Oid) -> Result<Option<Oid>> {
        let bases = gix::revision::plumbing::merge_base(a, &[b], &mut self.graph)
            .with_context(|| format!("finding where {a} and {b} diverged"))?;
        Ok(bases.map(|bases| *bases.first()))
    }

    /// The files `to` changed since it forked from `base` (since their merge base): a tree
    /// diff that never reads a file, and descends only into folders whose trees differ.
    pub fn changed_paths(&mut self, base: Oid, to: Oid) -> Result<Vec<String>> {
        let fork = self.merge_base(base, to)?;
        let old = match fork {
            Some(fork) => self.tree_of(fork)?,
            // Unrelated histories: everything in `to` is its own.
            None => self.repo.empty_tree().id,
        };
        let new = self.tree_of(to)?;
        let (old, new) = (self.repo.find_tree(old)?, self.repo.find_tree(new)?);
        let hash = self.repo.object_hash();
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&old.data, hash),
            gix::objs::TreeRefIter::from_bytes(&new.data, hash),
            &mut self.diff_state,
            &self.repo.objects,
            &mut recorder,
        )
        .with_context(|| format!("comparing {to} with where it forked"))?;
        let mut paths: Vec<String> = recorder
            .records
            .into_iter()
            .filter_map(|change| {
                use gix::diff::tree::recorder::Change::*;
                let (mode, path) = match change {
                    Addition {
                        entry_mode, path, ..
                    }
                    | Deletion {
                        entry_mode, path, ..
                    }
                    | Modification {
                        entry_mode, path, ..
                    } => (entry_mode, path),
                };
                (!mode.is_tree()).then(|| path.to_str_lossy().into_owned())
            })
            .filter(|path| !path.starts_with(&self.skip_prefix))
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// The files a three-way merge of commits `a` and `b` (from their merge base, or from
    /// nothing when they share no history) could not merge, as git would count them.
    pub fn conflicts(&mut self, a: Oid, b: Oid) -> Result<Vec<String>> {
        let base_tree = match self.merge_base(a, b)? {
            Some(base) => self.tree_of(base)?,
            None => self.repo.empty_tree().id,
        };
        let (ours, theirs) = (self.tree_of(a)?, self.tree_of(b)?);
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("merge base".into()),
            current: Some("ours".into()),
            other: Some("theirs".into()),
        };
        let repo = self.repo;
        let merging = match &mut self.merging {
            Some(merging) => merging,
            None => self.merging.insert(Merging::new(repo)?),
        };
        let outcome = gix::merge::plumbing::tree(
            &base_tree,
            &ours,
            &theirs,
            labels,
            &repo.objects,
            |buf| repo.write_blob(buf).map(|id| id.detach()),
            &mut self.diff_state,
            &mut merging.diff_cache,
            &mut merging.blob_merge,
            merging.options.clone(),
        )
        .with_context(|| format!("merging {a} and {b} in memory"))?;
        let how = TreatAsUnresolved::git();
        let mut paths: Vec<String> = outcome
            .conflicts
            .iter()
            .filter(|conflict| conflict.is_unresolved(how))
            .map(|conflict| conflict.ours.location().to_string())
            .filter(|path| !path.starts_with(&self.skip_prefix))
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    fn tree_of(&self, commit: Oid) -> Result<Oid> {
        let commit = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        Ok(commit.tree_id()?.detach())
    }
}
