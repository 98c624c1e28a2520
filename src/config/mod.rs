//! Configuration: `.orkestra/workflow.toml` read and validated, the durations and sizes it is
//! written in, and the files `ork init` writes.

pub mod budget;
pub mod duration;
pub mod init;
pub mod intake;
pub mod race;
pub mod sandbox;
pub mod schedule;
pub mod size;
pub mod trust;
pub mod workflow;
