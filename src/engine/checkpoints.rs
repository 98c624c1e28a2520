//! Never losing an agent's work: while it runs, its worktree is checkpointed every
//! `checkpoint` interval (`store::checkpoint`); a run that starts again after one was cut off
//! starts from the newest checkpoint, and its prompt says so.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Engine;
use crate::store::Trak;
use crate::store::checkpoint::Checkpointer;

/// How many of the files a cut-off run left are named in the next prompt.
const NAMED_FILES: usize = 30;

/// Runs `work` while a thread beside it checkpoints the worktree every `every` (a failed
/// checkpoint is skipped: the run goes on, and the next one tries again), and once more if an
/// interrupt stops ork meanwhile, with the agent frozen (`process::on_interrupt`).
pub(super) fn during<T>(
    checkpointer: Option<Checkpointer>,
    every: Duration,
    work: impl FnOnce() -> T,
) -> T {
    let Some(checkpointer) = checkpointer else {
        return work();
    };
    let checkpointer = Arc::new(Mutex::new(checkpointer));
    let last = Arc::clone(&checkpointer);
    let _at_interrupt = crate::engine::process::on_interrupt(move || {
        let _ = lock(&last).take();
    });
    let (done, wait) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(every) {
                let _ = lock(&checkpointer).take();
            }
        });
        let result = work();
        drop(done);
        result
    })
}

/// The checkpointer, whoever held it last (a checkpoint that panicked leaves nothing half-made:
/// its ref moves in one step).
fn lock(checkpointer: &Mutex<Checkpointer>) -> MutexGuard<'_, Checkpointer> {
    checkpointer.lock().unwrap_or_else(|p| p.into_inner())
}

/// Before a worktree is removed (`ork trak drop --force`, a merged trak's cleanup, a dropped
/// subtrak): its uncommitted changes, if any, kept as the trak's checkpoint on its tip, so that
/// removing the folder loses nothing. Fails (and the caller keeps the folder) when they cannot
/// all be kept: a file the checkpoint leaves out (a secret in it, or too large) would be lost.
pub(super) fn keep_unsaved(
    store: &crate::store::Store,
    trak: &Trak,
    worktree: &Path,
) -> Result<Option<crate::store::checkpoint::Checkpoint>> {
    if !worktree.exists() || store.git().uncommitted(worktree)?.is_empty() {
        return Ok(None);
    }
    let mut checkpointer =
        Checkpointer::new(store, trak, worktree, "the worktree before it was removed");
    let taken = checkpointer.take()?;
    if !checkpointer.left_out().is_empty() {
        bail!(
            "{} cannot be kept in a checkpoint (a secret in it, or over 1 MiB); move it out of {}, then remove the folder: git worktree remove --force {}",
            checkpointer.left_out().join(", "),
            worktree.display(),
            worktree.display()
        );
    }
    Ok(taken)
}

impl Engine<'_> {
    /// Before a run: where the trak's last run was cut off after a checkpoint on its current
    /// tip, the worktree gets the checkpoint's files (unless it holds changes of its own, which
    /// are newer), and what the prompt should say about it is returned.
    pub(super) fn resume_from_checkpoint(
        &mut self,
        trak: &Trak,
        worktree: &Path,
    ) -> Result<Option<String>> {
        let Some((commit, files)) = self.store.checkpoint_of(trak)? else {
            return Ok(None);
        };
        if files.is_empty() {
            return Ok(None);
        }
        if self.store.restore_checkpoint(worktree, commit)? {
            self.reporter.step(&format!(
                "{}: the last run was cut off; its worktree is back from checkpoint {} ({} file(s))",
                trak.state.stage,
                &commit.to_string()[..12],
                files.len()
            ));
        }
        Ok(Some(cut_off_note(&files)))
    }
}

/// What the prompt of a run after a cut-off one says: that the work is there, and which files.
fn cut_off_note(files: &[String]) -> String {
    let mut note = String::from(
        "The previous run of this stage was cut off before it finished (interrupted, crashed, or its machine was lost). The files it had written are in your worktree; carry on from them:\n",
    );
    for file in files.iter().take(NAMED_FILES) {
        note.push_str(&format!("\n- {file}"));
    }
    if files.len() > NAMED_FILES {
        note.push_str(&format!("\n- … and {} more", files.len() - NAMED_FILES));
    }
    note
}

/// A folder where a trak's worktree should be that git does not know as one (a checkout a crash
/// left half-made, a registration pruned): ork cannot tell what in it is unsaved, so it is
/// moved aside under `.git/ork/set-aside/`, never deleted; a warning says where. An empty one
/// just goes.
pub(super) fn set_aside(store: &crate::store::Store, trak: &Trak, folder: &Path) -> Result<()> {
    if std::fs::remove_dir(folder).is_ok() {
        return Ok(());
    }
    let aside = store.git().runtime_dir().join("set-aside").join(format!(
        "{}-{}",
        trak.id,
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    ));
    if let Some(parent) = aside.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::rename(folder, &aside).with_context(|| {
        format!(
            "{} is no worktree git knows, and could not be moved aside to {}; move it away yourself, then run the command again",
            folder.display(),
            aside.display()
        )
    })?;
    store.warnings().push(format!(
        "{} was no worktree git knows (left half-made, or its registration pruned); it is moved aside to {} with whatever it held, and the worktree made again",
        folder.display(),
        aside.display()
    ));
    Ok(())
}
