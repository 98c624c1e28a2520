//! The user's local files: untracked files that `.orkestra/worktree.include` lists (secrets,
//! settings). ork copies them into new worktrees and never commits them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The file listing untracked files to copy into new worktrees, relative to the repository root.
pub use crate::layout::WORKTREE_INCLUDE as INCLUDE_PATH;

/// The files under `dir` (the main worktree or a trak's) that the repository's
/// `.orkestra/worktree.include` matches, relative to `dir`. They are the user's local files
/// (secrets, settings): ork copies them into worktrees and never commits them.
pub fn included_files(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let Some(matcher) = include_matcher(root)? else {
        return Ok(Vec::new());
    };
    let worktrees = dir.join(crate::layout::WORKTREES);
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .hidden(false)
        .filter_entry(move |entry| {
            let path = entry.path();
            path.file_name() != Some(std::ffi::OsStr::new(".git")) && path != worktrees
        })
        .build();
    let mut found = Vec::new();
    for entry in walker {
        let entry = entry.context("listing files for worktree.include")?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("walk stays under dir");
        if matcher.matched_path_or_any_parents(rel, false).is_ignore() {
            found.push(rel.to_path_buf());
        }
    }
    Ok(found)
}

/// The patterns of `worktree.include`, or `None` when it is missing or lists nothing.
fn include_matcher(root: &Path) -> Result<Option<Gitignore>> {
    let path = root.join(INCLUDE_PATH);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut builder = GitignoreBuilder::new(root);
    let mut any = false;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        builder
            .add_line(Some(path.clone()), line)
            .with_context(|| format!("{}:{}: bad pattern {line:?}", path.display(), number + 1))?;
        any = true;
    }
    if !any {
        return Ok(None);
    }
    Ok(Some(builder.build().with_context(|| {
        format!("{}: bad patterns", path.display())
    })?))
}
