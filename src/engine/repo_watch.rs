//! Around each process ork starts for a trak (its agent, gate, worktree setup): what it changed
//! in the repository itself — refs, hooks, config — named, and its refs put back
//! (docs/design.md rule 12). Under an enforced sandbox the git dir is read-only to the process
//! and nothing is read; under `report` and `off` the repository is read before and after.

use anyhow::Result;

use crate::engine::process::sandbox::Confinement;
use crate::store::Store;
use crate::store::repo_watch::{RepoChange, RepoState};

/// The repository as it was when a run began, where the run could change it.
pub(super) struct RepoWatch {
    before: Option<RepoState>,
}

impl RepoWatch {
    /// Reads the repository before a process confined by `confinement` runs, unless the
    /// kernel holds its git dir read-only.
    pub(super) fn start(store: &Store, confinement: &Confinement) -> Result<RepoWatch> {
        let before = if confinement.enforced() {
            None
        } else {
            Some(store.repo_state()?)
        };
        Ok(RepoWatch { before })
    }

    /// What trak `id`'s `run` (for example "work run") changed in the repository, its refs put
    /// back, as the message the trak waits with; `None` when it changed nothing there.
    pub(super) fn finish(self, store: &Store, id: &str, run: &str) -> Result<Option<String>> {
        let Some(before) = self.before else {
            return Ok(None);
        };
        let changes = store.repo_changes(id, &before)?;
        Ok((!changes.is_empty()).then(|| message(id, run, &changes)))
    }
}

/// "the work run of X changed the repository itself, where only ork and you write: …".
fn message(id: &str, run: &str, changes: &[RepoChange]) -> String {
    let lines: Vec<String> = changes
        .iter()
        .map(|change| match change {
            RepoChange::Ref {
                kept_at: Some(kept),
                ..
            } => format!("  {} — put back; kept at {kept}", change.describe()),
            RepoChange::Ref { .. } => format!("  {} — put back", change.describe()),
            RepoChange::File { .. } => format!("  {}", change.describe()),
        })
        .collect();
    let files = changes.iter().any(|c| matches!(c, RepoChange::File { .. }));
    let mut text = format!(
        "the {run} of {id} changed the repository itself, where only ork and you write:\n{}",
        lines.join("\n")
    );
    if files {
        text.push_str(
            "\n  ork's own git runs no hook and reads none of that config, but yours does: \
             look at those files and undo what you did not write before you run git here.",
        );
    }
    text.push_str(&format!(
        "\n  Nothing of the run was recorded. Then run `ork retry {id}`, or drop the trak: ork trak drop {id}"
    ));
    text
}
