//! `ork`: an orchestrator for AI coding agents whose only database is the git repository.
//!
//! The rooms, and the arrows between them (each points one way only):
//!
//! ```text
//! cli (the binary) ──> engine ──> store   (the only room that touches git)
//!                         │  └──> agent   (adapters for the agent CLIs)
//!                         └─────> sync ──> store
//! config (workflow.toml, durations, ork init's defaults) is read by every room above the store.
//! ```
//!
//! - [`store`] keeps traks and their events on `ork/<id>` branches, redacted ([`store::secrets`]); [`store::git`] owns every
//!   access to the repository (gix in-process, the `git` binary where gix must not be used);
//! - [`agent`] turns one run of an agent CLI into one result;
//! - [`engine`] drives traks through their flows: stages, gates, decisions, integration;
//! - [`sync`] carries traks, notes and logs between machines through a git remote;
//! - [`config`] reads and validates `.orkestra/workflow.toml`.
//!
//! `docs/architecture.md` is the map in prose.

pub mod agent;
pub mod config;
pub mod engine;
pub mod layout;
pub mod store;
pub mod sync;
