//! The engine: what happens to traks, on top of the store.

use anyhow::{Result, bail};

use crate::store::{NewTrak, Store, Trak};
use crate::workflow::Workflow;

/// What `ork trak new` asks for.
pub struct TrakRequest<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// The flow's name; the workflow's default when `None`.
    pub flow: Option<&'a str>,
    /// The base branch; the main worktree's current branch when `None`.
    pub base: Option<&'a str>,
}

/// Creates a trak and its ready worktree. On failure nothing is left behind: the worktree is
/// removed and the branch deleted again. A crash half-way leaves the branch (the whole trak);
/// its worktree is made again when it is next needed.
pub fn new_trak(store: &Store, workflow: &Workflow, request: &TrakRequest<'_>) -> Result<Trak> {
    // A title is one line: newlines and runs of spaces would break commit subjects and tables.
    let title = request
        .title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
        bail!(
            "the trak's title is empty.\n  Give it a short title: ork trak new \"Add OAuth login\""
        );
    }
    let flow = workflow.flow(request.flow)?;
    let current = store.git().main_branch()?;
    let base = match request.base {
        Some(base) => base.to_string(),
        None => current.ok_or_else(|| {
            anyhow::anyhow!(
                "HEAD is detached, so there is no branch to start from.\n  Pass --base with the branch the work should merge into."
            )
        })?,
    };
    let trak = store.create(&NewTrak {
        title: &title,
        description: request.description,
        flow: &flow.name,
        stages: flow.stages.iter().map(|s| s.name.clone()).collect(),
        base: &base,
    })?;
    if let Err(err) = crate::worktree::create(store, &trak, &workflow.worktree) {
        // Best effort: the worktree error is what the user must see.
        let _ = store.git().delete_ref(&trak.branch, trak.tip);
        return Err(err.context(format!("trak {} was not created", trak.id)));
    }
    Ok(trak)
}
