//! `ork`: an orchestrator for AI coding agents whose only database is the git repository.
//!
//! The layers, bottom up:
//!
//! - [`git`] owns every access to the repository (gix in-process, the `git` binary where gix
//!   must not be used);
//! - [`event`] and [`state`] define what is recorded about a trak and how its state folds out
//!   of that;
//! - [`store`] keeps traks and their events on `ork/<id>` branches;
//! - [`workflow`] reads and validates `.orkestra/workflow.toml`;
//! - [`engine`] drives traks through their flows;
//! - the `ork` binary parses arguments and prints.

pub mod agent;
pub mod duration;
pub mod engine;
pub mod event;
pub mod git;
pub mod history;
pub mod hooks;
pub mod init;
pub mod process;
pub mod prompt;
pub mod redact;
pub mod runner;
pub mod state;
pub mod store;
pub mod sync;
pub mod trak_id;
pub mod transcript;
pub mod workflow;
pub mod worktree;
