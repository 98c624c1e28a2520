//! Making a trak's worktree (or a race attempt's) ready to work in.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::workflow::{Workflow, WorktreeSetup};
use crate::engine::process::sandbox::Confinement;
use crate::engine::process::{TrakCommand, run_with_timeout};
use crate::store::local_files::included_files;
use crate::store::{Store, Trak};

/// Checks out `trak`'s branch in its worktree, copies the files `worktree.include` lists, and
/// runs the setup command. On any failure the worktree is removed again and the error returned.
pub fn create(store: &Store, trak: &Trak, workflow: &Workflow) -> Result<PathBuf> {
    let path = store.worktree_path_of(trak);
    if crate::store::attempt_of(trak).is_some() {
        store.git().add_worktree_on_ref(&path, &trak.branch)?;
    } else {
        store.git().add_worktree(&path, &trak.branch)?;
    }
    // The setup command runs confined like the agents, with its own extra folders
    // (docs/design.md rule 12): it comes from the workflow, but it runs the worktree's files.
    let sandbox = &workflow.sandbox;
    let confinement = Confinement::new(
        sandbox,
        &trak.id,
        &path,
        &crate::engine::runs_dir(store, &trak.id).join("setup"),
    )
    .also_writing(sandbox.setup_writable.iter().cloned());
    let prepared = copy_includes(store.git().main_workdir(), &path)
        .and_then(|_| run_setup(&path, &workflow.worktree, &confinement));
    if let Err(err) = prepared {
        // Best effort: the caller reports `err`, which matters more than a cleanup failure.
        let _ = store.git().remove_worktree(&path);
        return Err(err);
    }
    Ok(path)
}

fn run_setup(worktree: &Path, setup: &WorktreeSetup, confinement: &Confinement) -> Result<()> {
    let Some(script) = &setup.setup else {
        return Ok(());
    };
    let mut command = TrakCommand::shell(script, worktree);
    command.confine(confinement)?;
    let done = run_with_timeout(&mut command, setup.timeout)?;
    if !done.success() {
        bail!(
            "the worktree setup command `{script}` failed ({}):\n{}\n  Fix it in the [worktree] table of .orkestra/workflow.toml, then run `ork trak new` again.",
            done.describe(),
            indent(done.output.trim_end())
        );
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Copies the files under `root` that `.orkestra/worktree.include` matches into `dest`, keeping
/// their relative paths; files the checkout already has are left as checked out.
fn copy_includes(root: &Path, dest: &Path) -> Result<usize> {
    let mut copied = 0;
    for rel in included_files(root, root)? {
        let target = dest.join(&rel);
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(root.join(&rel), &target)
            .with_context(|| format!("copying {} into the worktree", rel.display()))?;
        copied += 1;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local_files::INCLUDE_PATH;

    #[test]
    fn copies_only_listed_untracked_files() {
        let root = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join(".orkestra")).unwrap();
        std::fs::create_dir_all(r.join("config")).unwrap();
        std::fs::write(r.join(INCLUDE_PATH), "# secrets\n.env\nconfig/*.local\n").unwrap();
        std::fs::write(r.join(".env"), "KEY=1").unwrap();
        std::fs::write(r.join("config/app.local"), "x").unwrap();
        std::fs::write(r.join("config/app.toml"), "y").unwrap();
        std::fs::write(dest.path().join(".env"), "checked out").unwrap();
        std::fs::create_dir_all(r.join(".orkestra/worktrees/other")).unwrap();
        std::fs::write(r.join(".orkestra/worktrees/other/.env"), "no").unwrap();

        let copied = copy_includes(r, dest.path()).unwrap();
        assert_eq!(copied, 1);
        assert_eq!(
            std::fs::read_to_string(dest.path().join(".env")).unwrap(),
            "checked out"
        );
        assert!(dest.path().join("config/app.local").exists());
        assert!(!dest.path().join("config/app.toml").exists());
        assert!(!dest.path().join(".orkestra/worktrees").exists());
    }

    #[test]
    fn no_include_file_copies_nothing() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(".env"), "x").unwrap();
        let dest = tempfile::tempdir().unwrap();
        assert_eq!(copy_includes(root.path(), dest.path()).unwrap(), 0);
    }
}
