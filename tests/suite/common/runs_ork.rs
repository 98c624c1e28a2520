//! What every test sandbox offers once it says how it runs `ork`: the command with a time
//! limit, success or an error asserted, a trak's entry in `ork status`, its stage and status
//! asserted, its events. The sandbox ([`super::Sandbox`]: one repository, or a machine of
//! several) implements [`RunsOrk::ork_command`] and [`RunsOrk::limit`]; the rest comes with it.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

pub trait RunsOrk {
    /// `ork args` as this sandbox runs it: its repository, its environment.
    fn ork_command(&self, args: &[&str]) -> Command;

    /// How long one `ork` command may take here before the test fails (and kills it).
    fn limit(&self) -> Duration;

    /// The name failures are reported under: "sandbox", or a machine's name.
    fn label(&self) -> String {
        "sandbox".to_string()
    }

    /// Runs `ork args`; fails the test if it does not finish within [`RunsOrk::limit`].
    fn ork(&self, args: &[&str]) -> Output {
        super::output_within(&mut self.ork_command(args), self.limit(), &self.what(args))
    }

    /// Runs `ork args`, asserts it succeeded, and returns its stdout.
    fn ork_ok(&self, args: &[&str]) -> String {
        super::success(&self.ork(args), &self.what(args))
    }

    /// Runs `ork args`, asserts it failed as an error (exit 1), and returns its stderr.
    fn ork_err(&self, args: &[&str]) -> String {
        super::ork_error(&self.ork(args), &self.what(args))
    }

    /// `ork trak new TITLE args…`, asserted to succeed: the new trak's id and the command's
    /// stdout.
    fn new_trak(&self, title: &str, args: &[&str]) -> (String, String) {
        let mut full = vec!["trak", "new", title];
        full.extend_from_slice(args);
        let out = self.ork_ok(&full);
        (super::created_id(&out), out)
    }

    /// The trak's entry in `ork status --all --json`.
    fn trak(&self, id: &str) -> Value {
        super::status_entry(
            &self.ork_ok(&["status", "--all", "--json"]),
            id,
            &self.label(),
        )
    }

    /// The trak's status as `ork status --json` spells it (`awaiting_review`).
    fn status(&self, id: &str) -> String {
        self.trak(id)["status"].as_str().unwrap().to_string()
    }

    /// The trak's status and stage as `ork status --json` has them.
    fn at(&self, id: &str) -> (String, String) {
        let trak = self.trak(id);
        (
            trak["status"].as_str().unwrap().to_string(),
            trak["stage"].as_str().unwrap().to_string(),
        )
    }

    /// Asserts the trak is `status`; on failure shows its log.
    fn assert_status(&self, id: &str, status: &str) {
        let trak = self.trak(id);
        assert_eq!(
            trak["status"].as_str(),
            Some(status),
            "{}: {trak:#}\n{}",
            self.label(),
            self.ork_ok(&["log", id])
        );
    }

    /// Asserts the trak is `status` at `stage`; on failure shows its log.
    fn assert_at(&self, id: &str, status: &str, stage: &str) {
        let trak = self.trak(id);
        assert_eq!(
            (trak["status"].as_str(), trak["stage"].as_str()),
            (Some(status), Some(stage)),
            "{}: {trak:#}\n{}",
            self.label(),
            self.ork_ok(&["log", id])
        );
    }

    /// The trak's events (`ork log --json`), oldest first.
    fn events(&self, id: &str) -> Vec<Value> {
        let log = super::json(&self.ork_ok(&["log", id, "--json"]));
        log.as_array().unwrap().clone()
    }

    /// The trak's events of type `kind`, oldest first.
    fn events_of(&self, id: &str, kind: &str) -> Vec<Value> {
        self.events(id)
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    /// "ork status --json", or "machine_a: ork status --json": how a command is named in a
    /// failure.
    fn what(&self, args: &[&str]) -> String {
        format!("{}: ork {}", self.label(), args.join(" "))
    }
}
