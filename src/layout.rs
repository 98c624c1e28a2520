//! The `.orkestra/` folder: every path ork gives a meaning to, relative to a checkout's root.
//! One module owns them so that a file moved here is moved everywhere; it imports nothing, so
//! every room (the store and the configuration included) may use it.
//!
//! In the main checkout (the configuration, trusted from there only: docs/design.md rule 8):
//! the workflow, prompt templates, gate scripts, the local-files list and the secrets allowed.
//! On a trak's branch: its record folder. On this machine only, not committed: the worktrees.

/// The folder itself.
pub const ORKESTRA: &str = ".orkestra";
/// The workflow file.
pub const WORKFLOW: &str = ".orkestra/workflow.toml";
/// The prompt templates (`<name>.md`).
pub const PROMPTS: &str = ".orkestra/agents";
/// The gate scripts `ork init` writes.
pub const SCRIPTS: &str = ".orkestra/scripts";
/// The list of the user's local files copied into worktrees, never committed.
pub const WORKTREE_INCLUDE: &str = ".orkestra/worktree.include";
/// The known-secret patterns a person allowed.
pub const SECRETS_ALLOW: &str = ".orkestra/secrets.allow";
/// What git must not track under `.orkestra/` (the worktrees).
pub const GITIGNORE: &str = ".orkestra/.gitignore";
/// The record folders on trak branches: `<TRAKS>/<id>/`, never merged into a base.
pub const TRAKS: &str = ".orkestra/traks";
/// The traks' worktrees on this machine: `<WORKTREES>/<id>/`.
pub const WORKTREES: &str = ".orkestra/worktrees";

/// The record folder of trak `id` on its branch.
pub fn record_dir(id: &str) -> String {
    format!("{TRAKS}/{id}")
}
