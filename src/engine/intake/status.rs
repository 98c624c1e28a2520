//! The one status comment a task carries: where its trak stands, what it spent, its pull
//! request, and — when it waits for a person — what for, with the commands to give. Edited in
//! place, never a stream of comments.

use anyhow::Result;

use super::{Known, Tracker};
use crate::config::workflow::Workflow;
use crate::store::state::Status;
use crate::store::{Store, Trak};

/// The first line of every status comment: how ork finds its own among a task's comments.
const MARKER: &str = "<!-- ork:status -->";
/// The most lines of an artifact under review the comment quotes.
const QUOTED_LINES: usize = 40;

/// Where a trak stands, as the task shows it.
pub struct Report {
    pub text: String,
    /// The status in one word (`awaiting_review`), for trackers fed JSON.
    pub status: String,
    pub trak: String,
}

impl Report {
    pub fn of(store: &Store, workflow: &Workflow, trak: &Trak) -> Result<Report> {
        let s = &trak.state;
        let spent = s.total_usage();
        let mut text = format!(
            "{MARKER}\n**ork** · trak `{}` · stage **{}** · {}\n\nSpent so far: ${:.2} ({} tokens).\n",
            trak.id,
            s.stage,
            s.status.as_str().replace('_', " "),
            spent.cost_usd,
            spent.input_tokens + spent.output_tokens
        );
        if let Some(pr) = &s.pull_request {
            text.push_str(&format!("\nPull request: {}\n", pr.url));
        }
        text.push_str(&waits_for(store, workflow, trak)?);
        Ok(Report {
            text,
            status: s.status.as_str().to_string(),
            trak: trak.id.clone(),
        })
    }
}

/// What a person is asked for, and how to give it, from the task or where ork runs.
fn waits_for(store: &Store, workflow: &Workflow, trak: &Trak) -> Result<String> {
    let s = &trak.state;
    let id = &trak.id;
    Ok(match s.status {
        Status::AwaitingReview => {
            let mut text = format!("\nIt waits for a person to review stage **{}**", s.stage);
            if let Ok(stage) = workflow.recorded_stage(&s.flow, &s.stage)
                && let Some((_, content)) = store
                    .artifacts(trak)?
                    .into_iter()
                    .find(|(name, _)| *name == stage.artifact)
            {
                text.push_str(&format!(
                    ":\n\n<details><summary>{}</summary>\n\n{}\n\n</details>\n",
                    stage.artifact,
                    first_lines(&content, QUOTED_LINES)
                ));
            } else {
                text.push_str(".\n");
            }
            text.push_str(&format!(
                "\nComment `/ork approve`, or `/ork reject <what to change>` (or run `ork approve {id}` / `ork reject {id} -m \"…\"`).\n"
            ));
            text
        }
        Status::AwaitingAnswer => {
            let mut text = "\nIt waits for answers:\n\n".to_string();
            for (n, question) in s.questions.iter().enumerate() {
                text.push_str(&format!("{}. {}\n", n + 1, question.question));
            }
            text.push_str(&format!(
                "\nComment `/ork answer <your answers>` (or run `ork answer {id} -m \"…\"`).\n"
            ));
            text
        }
        Status::Failed => format!(
            "\nIt stopped: {}\n\nComment `/ork retry` once it can go on (or run `ork retry {id}`).\n",
            s.note.as_deref().unwrap_or("its stage failed")
        ),
        Status::Done => format!(
            "\nMerged into `{}`{}.\n",
            s.base,
            s.integrated_as
                .as_deref()
                .map(|c| format!(" as {}", &c[..c.len().min(12)]))
                .unwrap_or_default()
        ),
        Status::Dropped => format!(
            "\nDropped: {} (its branch `ork/{id}` is kept).\n",
            s.note.as_deref().unwrap_or("by a person")
        ),
        _ => String::new(),
    })
}

fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    match lines.len() <= n {
        true => lines.join("\n"),
        false => format!(
            "{}\n\n… ({} more lines)",
            lines[..n].join("\n"),
            lines.len() - n
        ),
    }
}

/// Edits the task's status comment to `report`, or writes it when there is none yet.
pub(super) fn post_comment<T: Tracker + ?Sized>(
    tracker: &mut T,
    key: &str,
    report: &Report,
    known: &mut Known,
) -> Result<()> {
    let view = tracker.view(key)?;
    let own = view
        .comments
        .iter()
        .find(|c| c.by_ork && c.body.starts_with(MARKER));
    match own {
        Some(comment) => {
            if comment.body.trim_end() != report.text.trim_end() {
                tracker.edit_comment(key, comment, &report.text)?;
            }
            known.task(key).status_comment = comment.edit_id.clone();
        }
        None => tracker.comment(key, &report.text)?,
    }
    Ok(())
}
