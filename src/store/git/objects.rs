//! Blobs and trees: a file or a folder of a commit's tree, read without a checkout, and trees
//! written with files added or replaced.

use anyhow::{Context, Result, anyhow};
use gix::bstr::ByteSlice;
use gix::object::tree::EntryKind;

use super::{Git, Oid};

/// A file to write in a commit, by path relative to the repository root.
pub struct FileWrite {
    pub path: String,
    pub contents: Vec<u8>,
}

impl Git {
    /// The contents of the file at `path` in `commit`'s tree, or `None` when there is none.
    pub fn read_file(&self, commit: Oid, path: &str) -> Result<Option<Vec<u8>>> {
        let tree = self.commit_tree(commit)?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .with_context(|| format!("looking up {path} in {commit}"))?
        else {
            return Ok(None);
        };
        let object = entry
            .object()
            .with_context(|| format!("reading {path} in {commit}"))?;
        Ok(Some(object.detach().data))
    }

    /// `commit`'s message and the folder `path` of its tree, or `None` when there is no such
    /// folder: one commit read and one tree read per path component.
    pub fn commit_dir(&self, commit: Oid, path: &str) -> Result<Option<(String, TreeDir<'_>)>> {
        let commit_object = self
            .repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?;
        let message = commit_object
            .message_raw_sloppy()
            .to_str_lossy()
            .into_owned();
        let tree = commit_object
            .tree()
            .with_context(|| format!("reading the tree of {commit}"))?;
        Ok(subfolder(&tree, commit, path)?.map(|dir| (message, dir)))
    }

    /// The folder `path` in `commit`'s tree, or `None` when there is none.
    pub fn dir_at(&self, commit: Oid, path: &str) -> Result<Option<TreeDir<'_>>> {
        subfolder(&self.commit_tree(commit)?, commit, path)
    }

    /// The id of `commit`'s tree.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid> {
        Ok(self.commit_tree(commit)?.id)
    }

    pub(super) fn commit_tree(&self, commit: Oid) -> Result<gix::Tree<'_>> {
        self.repo
            .find_commit(commit)
            .with_context(|| format!("reading commit {commit}"))?
            .tree()
            .with_context(|| format!("reading the tree of {commit}"))
    }

    /// `tree` with `files` added or replaced.
    pub(super) fn tree_with(&self, tree: Oid, files: &[FileWrite]) -> Result<Oid> {
        let mut editor = self.repo.edit_tree(tree).context("editing a tree")?;
        for file in files {
            let blob = self
                .repo
                .write_blob(&file.contents)
                .with_context(|| format!("writing {}", file.path))?;
            editor
                .upsert(file.path.as_str(), EntryKind::Blob, blob)
                .with_context(|| format!("adding {} to the tree", file.path))?;
        }
        Ok(editor.write().context("writing a tree")?.detach())
    }
}

/// The folder `path` under `tree` (the tree of `commit`, named in errors), if there is one.
fn subfolder<'repo>(
    tree: &gix::Tree<'repo>,
    commit: Oid,
    path: &str,
) -> Result<Option<TreeDir<'repo>>> {
    let Some(entry) = tree
        .lookup_entry_by_path(path)
        .with_context(|| format!("looking up {path} in {commit}"))?
    else {
        return Ok(None);
    };
    let tree = entry
        .object()
        .with_context(|| format!("reading {path} in {commit}"))?
        .try_into_tree()
        .map_err(|_| anyhow!("{path} in {commit} is not a folder"))?;
    Ok(Some(TreeDir { tree }))
}

/// A folder of a commit's tree, for reading a few files from it without repeating the lookup.
pub struct TreeDir<'repo> {
    tree: gix::Tree<'repo>,
}

impl TreeDir<'_> {
    /// The contents of the file `name` directly in this folder.
    pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.tree.find_entry(name) else {
            return Ok(None);
        };
        let object = entry.object().with_context(|| format!("reading {name}"))?;
        Ok(Some(object.detach().data))
    }

    /// The sub-folder `name`, if there is one.
    pub fn dir(&self, name: &str) -> Result<Option<Self>> {
        let Some(entry) = self.tree.find_entry(name) else {
            return Ok(None);
        };
        let tree = entry
            .object()
            .with_context(|| format!("reading {name}"))?
            .try_into_tree()
            .map_err(|_| anyhow!("{name} is not a folder"))?;
        Ok(Some(TreeDir { tree }))
    }

    /// The names of the files directly in this folder, in git's order (sorted).
    pub fn file_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            if entry.mode().is_blob() {
                names.push(entry.filename().to_str_lossy().into_owned());
            }
        }
        Ok(names)
    }

    /// The names of everything directly in this folder, files and folders, sorted.
    pub fn entry_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            names.push(entry.filename().to_str_lossy().into_owned());
        }
        Ok(names)
    }

    /// Every file under this folder, at any depth, as (path relative to it, contents).
    pub fn files_deep(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            let name = entry.filename().to_str_lossy().into_owned();
            if entry.mode().is_blob() {
                files.push((name, entry.object()?.detach().data));
            } else if entry.mode().is_tree() {
                let sub = TreeDir {
                    tree: entry
                        .object()?
                        .try_into_tree()
                        .map_err(|_| anyhow!("{name} is not a folder"))?,
                };
                for (path, data) in sub.files_deep()? {
                    files.push((format!("{name}/{path}"), data));
                }
            }
        }
        Ok(files)
    }

    /// Every file directly in this folder as (name, contents), sorted by name.
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for entry in self.tree.iter() {
            let entry = entry.context("decoding a tree")?;
            if !entry.mode().is_blob() {
                continue;
            }
            let name = entry.filename().to_str_lossy().into_owned();
            let data = entry.object()?.detach().data;
            files.push((name, data));
        }
        Ok(files)
    }
}
