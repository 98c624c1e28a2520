//! The end-to-end tests, one test crate: each module is a file of tests beside this one, and
//! `common` holds what they share (the sandbox, running `ork` and `git`, processes). Cargo
//! builds and links it once, as the `suite` test binary.

mod common;

mod bounds;
mod checkpoints;
mod cli_conventions;
mod cli_errors;
mod cli_store;
mod demo;
mod doctor;
mod first_hour;
mod flows;
mod hooks;
mod house_rules;
mod intake;
mod join;
mod local_files;
mod main_history;
mod mcp;
mod notify;
mod output;
mod pull_requests;
mod quickstart;
mod races;
mod real_agents;
mod repo_watch;
mod sandbox;
mod schedules;
mod signed;
mod spawn;
mod steering;
mod story;
mod subtraks;
mod sync;
mod transcript;
mod trust;
mod ui;
