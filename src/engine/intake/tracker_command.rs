//! Any other tracker (Linear, Jira, a file), through two programs of the team's
//! (`[intake.command]`): `list` prints the open tasks as JSON lines (`{"key", "title", "body",
//! "labels", "url"}`); `update`, if given, is called with the task's key as its argument and
//! the trak's status as JSON on stdin at each change. Such a tracker has no comments: its
//! decisions are made with `ork approve` and the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::status::Report;
use super::{Comment, Known, Task, TaskView, Tracker};
use crate::config::intake::CommandIntake;
use crate::engine::process::{TrakCommand, run_streaming, run_with_timeout};

/// How long one call of the tracker's programs may take.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);

pub struct CommandTracker<'a> {
    settings: &'a CommandIntake,
    root: &'a Path,
    /// The tasks the last `list` printed: what `view` answers from.
    listed: Vec<Task>,
}

#[derive(Deserialize)]
struct Line {
    key: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    url: String,
}

impl<'a> CommandTracker<'a> {
    pub fn new(settings: &'a CommandIntake, root: &'a Path) -> Self {
        CommandTracker {
            settings,
            root,
            listed: Vec::new(),
        }
    }

    /// `argv` as a command run at the repository's root; a relative program path starts there.
    fn command(&self, argv: &[String]) -> TrakCommand {
        let program = PathBuf::from(&argv[0]);
        let program = match program.components().count() > 1 && program.is_relative() {
            true => self.root.join(program),
            false => program,
        };
        let mut command = TrakCommand::new(program, self.root);
        command.args(&argv[1..]);
        command
    }
}

impl Tracker for CommandTracker<'_> {
    fn name(&self) -> &'static str {
        "command"
    }

    fn id_for(&self, key: &str) -> String {
        let slug = crate::store::trak_id::slug(key);
        format!("task-{slug}")
    }

    fn reference(&self, key: &str) -> String {
        key.to_string()
    }

    fn list(&mut self) -> Result<Vec<Task>> {
        let argv = &self.settings.list;
        let done = run_with_timeout(&mut self.command(argv), PROGRAM_TIMEOUT)
            .with_context(|| format!("running [intake.command] list ({})", argv.join(" ")))?;
        if !done.success() {
            bail!(
                "[intake.command] list ({}) failed ({}): {}",
                argv.join(" "),
                done.describe(),
                done.stderr.trim()
            );
        }
        let mut tasks = Vec::new();
        for (n, line) in done.stdout.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let task: Line = serde_json::from_str(line).with_context(|| {
                format!(
                    "[intake.command] list printed a line {} that is not a task ({{\"key\", \"title\", \"body\", \"labels\", \"url\"}})",
                    n + 1
                )
            })?;
            tasks.push(Task {
                // No time of change: the task's own text tells whether it changed.
                updated: format!("{:x}", fingerprint(line)),
                key: task.key,
                title: task.title,
                body: task.body,
                labels: task.labels,
                url: task.url,
            });
        }
        self.listed = tasks.clone();
        Ok(tasks)
    }

    fn view(&mut self, key: &str) -> Result<TaskView> {
        let task = self.listed.iter().find(|t| t.key == key).cloned();
        Ok(TaskView {
            open: task.is_some(),
            task: task.unwrap_or_else(|| Task {
                key: key.to_string(),
                title: String::new(),
                body: String::new(),
                labels: Vec::new(),
                url: String::new(),
                updated: String::new(),
            }),
            comments: Vec::<Comment>::new(),
        })
    }

    fn may_decide(&mut self, _author: &str) -> Result<bool> {
        Ok(false)
    }

    fn comment(&mut self, _key: &str, _body: &str) -> Result<()> {
        Ok(())
    }

    fn edit_comment(&mut self, _key: &str, _comment: &Comment, _body: &str) -> Result<()> {
        Ok(())
    }

    /// The last status `update` was given says `done`: the tracker closes it its own way.
    fn close(&mut self, _key: &str) -> Result<()> {
        Ok(())
    }

    fn report(&mut self, key: &str, report: &Report, _known: &mut Known) -> Result<()> {
        let Some(argv) = &self.settings.update else {
            return Ok(());
        };
        let status = serde_json::json!({
            "key": key,
            "trak": report.trak,
            "status": report.status,
            "text": report.text,
        });
        let mut command = self.command(argv);
        command.arg(key);
        let done = run_streaming(
            &mut command,
            Some(&status.to_string()),
            PROGRAM_TIMEOUT,
            Default::default(),
            &mut |_, _| {},
        )
        .with_context(|| format!("running [intake.command] update ({})", argv.join(" ")))?;
        if !done.success() {
            bail!(
                "[intake.command] update ({} {key}) failed ({}): {}",
                argv.join(" "),
                done.describe(),
                done.stderr.trim()
            );
        }
        Ok(())
    }
}

/// A digest of a task's line: whether it changed since the last pass. (Another build of ork
/// may digest differently: that costs one more look at each task, nothing else.)
fn fingerprint(line: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    line.hash(&mut hasher);
    hasher.finish()
}
