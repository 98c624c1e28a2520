//! Merges in memory, touching no worktree: a trak into its base, and two histories joined
//! (a record folder replaced by the caller's files) or united (files that never change).

use anyhow::{Context, Result, bail};

use super::{FileWrite, Git, Oid};

/// The result of merging a trak into its base in memory.
#[derive(Debug)]
pub enum MergeResult {
    /// The merged tree, with the trak's record folder left out.
    Clean(Oid),
    /// The paths git could not merge.
    Conflicts(Vec<String>),
}

impl Git {
    /// Merges `theirs` into `ours` in memory, without touching any worktree: the merged tree
    /// with `drop_path` (a folder) left out, or the conflicted paths.
    pub fn merge_tree(&self, ours: Oid, theirs: Oid, drop_path: &str) -> Result<MergeResult> {
        let options = self.repo.tree_merge_options()?;
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("merge base".into()),
            current: Some("base".into()),
            other: Some("trak".into()),
        };
        let mut outcome = self
            .repo
            .merge_commits(ours, theirs, labels, options.into())
            .context("merging the trak into its base")?;
        let paths = unresolved_paths(&outcome.tree_merge.conflicts, |_| true);
        if !paths.is_empty() {
            return Ok(MergeResult::Conflicts(paths));
        }
        let merged = outcome
            .tree_merge
            .tree
            .write()
            .context("writing the merged tree")?;
        let mut editor = self.repo.edit_tree(merged)?;
        editor.remove(drop_path)?;
        Ok(MergeResult::Clean(editor.write()?.detach()))
    }

    /// Joins two diverged histories: a commit with parents `ours` and `theirs` whose tree is
    /// both sides' changes merged as git merges them, except the folder `dir`, which is
    /// replaced by `dir_files` (computed by the caller, never text-merged). Conflicts outside
    /// `dir` are returned instead.
    pub fn join(
        &self,
        ours: Oid,
        theirs: Oid,
        dir: &str,
        dir_files: &[FileWrite],
        message: &str,
        header: Option<(&str, &str)>,
    ) -> Result<MergeResult> {
        let prefix = format!("{dir}/");
        let merged = match self.merge_histories(ours, theirs, |path| !path.starts_with(&prefix))? {
            MergeResult::Clean(tree) => tree,
            conflicts => return Ok(conflicts),
        };
        let mut editor = self.repo.edit_tree(merged)?;
        editor.remove(dir)?;
        let without_record = editor.write()?.detach();
        let tree = self.tree_with(without_record, dir_files)?;
        Ok(MergeResult::Clean(self.new_commit_with_header(
            message,
            tree,
            &[ours, theirs],
            header,
        )?))
    }

    /// Joins two histories of files that never change once written (agent logs): the union of
    /// both trees, as a commit with both parents. Histories started apart join too.
    pub fn union(&self, ours: Oid, theirs: Oid, message: &str) -> Result<Oid> {
        match self.merge_histories(ours, theirs, |_| true)? {
            MergeResult::Clean(tree) => self.new_commit(message, tree, &[ours, theirs]),
            MergeResult::Conflicts(paths) => bail!(
                "{ours} and {theirs} hold different files at {}",
                paths.join(", ")
            ),
        }
    }

    /// The change `commit` made, made again on `onto` (a cherry-pick in memory, from the commit
    /// the two share): a new commit on `onto` with `message`, moving no ref. Fails, writing
    /// nothing that counts, where the two changed the same lines.
    pub fn carry_onto(&self, commit: Oid, onto: Oid, message: &str) -> Result<Oid> {
        match self.merge_histories(onto, commit, |_| true)? {
            MergeResult::Clean(tree) => self.new_commit(message, tree, &[onto]),
            MergeResult::Conflicts(paths) => bail!(
                "{commit} cannot be carried onto {onto}: both change {}",
                paths.join(", ")
            ),
        }
    }

    /// Merges the trees of two commits as git would (from their merge base, or from nothing
    /// when they share no history); conflicts at paths where `counts` is false are ignored
    /// (the caller replaces those paths).
    fn merge_histories(
        &self,
        ours: Oid,
        theirs: Oid,
        counts: impl Fn(&str) -> bool,
    ) -> Result<MergeResult> {
        let base_tree = match self
            .repo
            .merge_base(ours, theirs)
            .with_context(|| format!("finding where {ours} and {theirs} diverged"))?
        {
            Some(base) => self.commit_tree(base.detach())?.id,
            None => self.repo.empty_tree().id,
        };
        let our_tree = self.commit_tree(ours)?.id;
        let their_tree = self.commit_tree(theirs)?.id;
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: Some("merge base".into()),
            current: Some("local".into()),
            other: Some("remote".into()),
        };
        let options = self.repo.tree_merge_options()?;
        let mut outcome = self
            .repo
            .merge_trees(base_tree, our_tree, their_tree, labels, options)
            .context("joining two histories")?;
        let conflicts = unresolved_paths(&outcome.conflicts, counts);
        if !conflicts.is_empty() {
            return Ok(MergeResult::Conflicts(conflicts));
        }
        Ok(MergeResult::Clean(
            outcome
                .tree
                .write()
                .context("writing the merged tree")?
                .detach(),
        ))
    }
}

/// The paths a tree merge left in conflict as git counts them (unresolved, not merely
/// auto-resolved), where `counts` says a path matters; sorted, each once.
// For the whole store: the dry run (`store/dry_run.rs`) counts conflicts as the merges do.
pub(in crate::store) fn unresolved_paths(
    conflicts: &[gix::merge::tree::Conflict],
    counts: impl Fn(&str) -> bool,
) -> Vec<String> {
    let how = gix::merge::tree::TreatAsUnresolved::git();
    let mut paths: Vec<String> = conflicts
        .iter()
        .filter(|conflict| conflict.is_unresolved(how))
        .map(|conflict| conflict.ours.location().to_string())
        .filter(|path| counts(path))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}
