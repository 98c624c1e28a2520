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
use gix::revision::plumbing::merge_base::Flags;
use gix::revwalk::graph::Commit;

use crate::store::git::{Git, Oid, unresolved_paths};

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
    /// The merge set-up in `slot`, built there first if this is the first merge.
    fn ready<'m>(slot: &'m mut Option<Merging>, repo: &gix::Repository) -> Result<&'m mut Merging> {
        if slot.is_none() {
            *slot = Some(Merging {
                diff_cache: repo.diff_resource_cache_for_tree_diff()?,
                blob_merge: repo.merge_resource_cache(Default::default())?,
                options: repo.tree_merge_options()?.into(),
            });
        }
        Ok(slot.as_mut().expect("set above"))
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

    /// The files `to` changed since `fork` (everything in it when there is none): a tree
    /// diff that never reads a file, and descends only into folders whose trees differ.
    pub fn changed_paths_since(&mut self, fork: Option<Oid>, to: Oid) -> Result<Vec<String>> {
        let old = match fork {
            Some(fork) => self.tree_of(fork)?,
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
        let repo = self.repo;
        let merging = Merging::ready(&mut self.merging, repo)?;
        let outcome = gix::merge::plumbing::tree(
            &base_tree,
            &ours,
            &theirs,
            labels(),
            &repo.objects,
            |buf| repo.write_blob(buf).map(|id| id.detach()),
            &mut self.diff_state,
            &mut merging.diff_cache,
            &mut merging.blob_merge,
            merging.options.clone(),
        )
        .with_context(|| format!("merging {a} and {b} in memory"))?;
        Ok(unresolved_paths(&outcome.conflicts, |path| {
            !path.starts_with(&self.skip_prefix)
        }))
    }

    /// Like [`DryRun::conflicts`], for two commits known to have forked from `fork` and to
    /// have changed exactly `a_paths` and `b_paths` (sorted) since. Then only the files both
    /// changed can conflict, and each is merged alone (a three-way merge of its three
    /// versions); any other shape takes the whole merge: a file added, deleted or renamed on
    /// a side, a mode changed, or a file on one side where the other has a folder.
    pub fn conflicts_from_fork(
        &mut self,
        fork: Oid,
        (a, a_paths): (Oid, &[String]),
        (b, b_paths): (Oid, &[String]),
    ) -> Result<Vec<String>> {
        if file_meets_folder(a_paths, b_paths) || file_meets_folder(b_paths, a_paths) {
            return self.conflicts(a, b);
        }
        let fork_tree = self.repo.find_tree(self.tree_of(fork)?)?;
        let a_tree = self.repo.find_tree(self.tree_of(a)?)?;
        let b_tree = self.repo.find_tree(self.tree_of(b)?)?;
        let mut conflicts = Vec::new();
        for path in a_paths.iter().filter(|p| b_paths.binary_search(p).is_ok()) {
            let versions = (
                plain_file(&fork_tree, path)?,
                plain_file(&a_tree, path)?,
                plain_file(&b_tree, path)?,
            );
            let (Some(base), Some(ours), Some(theirs)) = versions else {
                return self.conflicts(a, b);
            };
            if base.0 != ours.0 || base.0 != theirs.0 {
                return self.conflicts(a, b);
            }
            if self.file_conflicts(path, base, ours, theirs)? {
                conflicts.push(path.clone());
            }
        }
        Ok(conflicts)
    }

    /// Whether the three-way merge of one file's three versions leaves a conflict.
    fn file_conflicts(
        &mut self,
        path: &str,
        (kind, base): (gix::object::tree::EntryKind, Oid),
        (_, ours): (gix::object::tree::EntryKind, Oid),
        (_, theirs): (gix::object::tree::EntryKind, Oid),
    ) -> Result<bool> {
        if ours == theirs || ours == base || theirs == base {
            return Ok(false);
        }
        use gix::merge::blob::ResourceKind;
        let repo = self.repo;
        let merging = Merging::ready(&mut self.merging, repo)?;
        let rela_path = path.as_bytes().as_bstr();
        for (id, side) in [
            (ours, ResourceKind::CurrentOrOurs),
            (theirs, ResourceKind::OtherOrTheirs),
            (base, ResourceKind::CommonAncestorOrBase),
        ] {
            merging
                .blob_merge
                .set_resource(id, kind, rela_path, side, &repo.objects)
                .with_context(|| format!("reading {path} for a merge"))?;
        }
        let prepared = merging
            .blob_merge
            .prepare_merge(&repo.objects, merging.options.blob_merge)
            .with_context(|| format!("preparing the merge of {path}"))?;
        let mut merged = Vec::new();
        let (_, resolution) = prepared
            .merge(
                &mut merged,
                labels(),
                &merging.options.blob_merge_command_ctx,
            )
            .with_context(|| format!("merging {path} in memory"))?;
        Ok(resolution == gix::merge::blob::Resolution::Conflict)
    }

    fn tree_of(&self, commit: Oid) -> Result<Oid> {
        let commit = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        Ok(commit.tree_id()?.detach())
    }
}

/// The labels of a dry merge's sides; nobody reads the merged text.
fn labels() -> gix::merge::blob::builtin_driver::text::Labels<'static> {
    gix::merge::blob::builtin_driver::text::Labels {
        ancestor: Some("merge base".into()),
        current: Some("ours".into()),
        other: Some("theirs".into()),
    }
}

/// Whether a file in `files` is a folder on the other side (a path in `others` lies under it).
fn file_meets_folder(files: &[String], others: &[String]) -> bool {
    files.iter().any(|file| {
        let folder = format!("{file}/");
        let at = others.partition_point(|other| other.as_str() < folder.as_str());
        others
            .get(at)
            .is_some_and(|other| other.starts_with(&folder))
    })
}

/// The kind and id of the plain file (a blob, executable or not) at `path` in `tree`; `None`
/// where there is none, or something else (a link, a submodule, a folder).
fn plain_file(
    tree: &gix::Tree<'_>,
    path: &str,
) -> Result<Option<(gix::object::tree::EntryKind, Oid)>> {
    use gix::object::tree::EntryKind;
    let Some(entry) = tree.lookup_entry_by_path(path)? else {
        return Ok(None);
    };
    let kind = entry.mode().kind();
    Ok(matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable)
        .then(|| (kind, entry.id().detach())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A repository with `base.txt` (ten lines) and `dir/keep.txt` at `main`, and a way to
    /// make side commits on top of it.
    struct Repo {
        dir: tempfile::TempDir,
    }

    impl Repo {
        fn new() -> Repo {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repo { dir };
            repo.git(&["init", "-q", "-b", "main"]);
            let lines: String = (1..=10).map(|n| format!("line {n}\n")).collect();
            repo.write("base.txt", &lines);
            repo.write("dir/keep.txt", "keep\n");
            repo.git(&["add", "-A"]);
            repo.git(&[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "base",
            ]);
            repo
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn git(&self, args: &[&str]) -> String {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(self.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        }

        fn write(&self, path: &str, contents: &str) {
            let at = self.path().join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, contents).unwrap();
        }

        /// A commit on top of `main` made by `change` in the worktree; `main` is left alone.
        fn side(&self, change: impl FnOnce(&Repo)) -> Oid {
            self.git(&["checkout", "-q", "--detach", "main"]);
            change(self);
            self.git(&["add", "-A"]);
            self.git(&[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "side",
                "--allow-empty",
            ]);
            let tip = self.git(&["rev-parse", "HEAD"]);
            self.git(&["checkout", "-q", "main"]);
            Oid::from_hex(tip.as_bytes()).unwrap()
        }
    }

    fn with_line(line: usize, text: &str) -> String {
        (1..=10)
            .map(|n| {
                if n == line {
                    format!("{text}\n")
                } else {
                    format!("line {n}\n")
                }
            })
            .collect()
    }

    /// The file-by-file answer must be the whole merge's answer, for every shape of change.
    #[test]
    fn merging_file_by_file_agrees_with_the_whole_merge() {
        type Change = Box<dyn Fn(&Repo)>;
        let edit = |line: usize, text: &'static str| -> Change {
            Box::new(move |r: &Repo| r.write("base.txt", &with_line(line, text)))
        };
        let cases: Vec<(&str, Change, Change, bool)> = vec![
            (
                "same line, different text",
                edit(3, "ours"),
                edit(3, "theirs"),
                true,
            ),
            ("lines far apart", edit(2, "ours"), edit(9, "theirs"), false),
            (
                "lines next to each other",
                edit(3, "ours"),
                edit(4, "theirs"),
                true,
            ),
            (
                "the same change on both sides",
                edit(5, "same"),
                edit(5, "same"),
                false,
            ),
            (
                "different files",
                edit(1, "ours"),
                Box::new(|r| r.write("other.txt", "new\n")),
                false,
            ),
            (
                "a file added on both sides, differently",
                Box::new(|r| r.write("new.txt", "ours\n")),
                Box::new(|r| r.write("new.txt", "theirs\n")),
                true,
            ),
            (
                "deleted on one side, changed on the other",
                Box::new(|r| std::fs::remove_file(r.path().join("base.txt")).unwrap()),
                edit(4, "theirs"),
                true,
            ),
            (
                "a file where the other side has a folder",
                Box::new(|r| {
                    std::fs::remove_dir_all(r.path().join("dir")).unwrap();
                    r.write("dir", "a file now\n");
                }),
                Box::new(|r| r.write("dir/keep.txt", "changed\n")),
                true,
            ),
            (
                "a new file where the other side adds a folder",
                Box::new(|r| r.write("fresh", "file\n")),
                Box::new(|r| r.write("fresh/inside.txt", "folder\n")),
                true,
            ),
        ];
        let repo = Repo::new();
        let fork = Oid::from_hex(repo.git(&["rev-parse", "main"]).as_bytes()).unwrap();
        let git = Git::discover(repo.path()).unwrap();
        for (name, ours, theirs, conflicts) in cases {
            let (a, b) = (repo.side(|r| ours(r)), repo.side(|r| theirs(r)));
            git.dry_run(".orkestra/traks", |dry| {
                let a_paths = dry.changed_paths_since(Some(fork), a)?;
                let b_paths = dry.changed_paths_since(Some(fork), b)?;
                let whole = dry.conflicts(a, b)?;
                let by_file = dry.conflicts_from_fork(fork, (a, &a_paths), (b, &b_paths))?;
                assert_eq!(by_file, whole, "{name}: file by file vs the whole merge");
                assert_eq!(!whole.is_empty(), conflicts, "{name}: conflicts {whole:?}");
                // And both are git's answer.
                let git_says = std::process::Command::new("git")
                    .args(["merge-tree", "--write-tree", &a.to_string(), &b.to_string()])
                    .current_dir(repo.path())
                    .output()
                    .unwrap();
                assert_eq!(
                    git_says.status.code() == Some(1),
                    conflicts,
                    "{name}: git merge-tree"
                );
                Ok(())
            })
            .unwrap();
        }
    }

    #[test]
    fn a_file_meets_a_folder_only_at_a_path_boundary() {
        let paths = |list: &[&str]| list.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(file_meets_folder(
            &paths(&["src"]),
            &paths(&["a.rs", "src/lib.rs"])
        ));
        assert!(!file_meets_folder(
            &paths(&["src"]),
            &paths(&["src.rs", "srcx/lib.rs"])
        ));
        assert!(!file_meets_folder(
            &paths(&["src/lib.rs"]),
            &paths(&["src/lib.rs"])
        ));
    }
}
