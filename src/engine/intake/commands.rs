//! What a task says to ork: the route its labels and text give it (flow, agent, priority,
//! dependencies), and `/ork …` commands in its comments from people who may decide.

use anyhow::Result;

use super::{Happened, TaskView, Tracker};
use crate::config::workflow::Workflow;
use crate::engine::decisions::HumanDecision;
use crate::store::event::EventKind;
use crate::store::{Store, Trak};

/// A label naming the agent every stage runs with: `agent:codex`.
const AGENT_LABEL: &str = "agent:";
/// A label giving the trak's priority: `priority:1` (first) to `priority:5`.
const PRIORITY_LABEL: &str = "priority:";

/// How a new task's trak is made.
#[derive(Debug, Default, PartialEq)]
pub struct Routed {
    pub flow: Option<String>,
    pub agent: Option<String>,
    pub priority: Option<u8>,
    /// The traks it waits for: "depends on #N" in its text, where #N has a trak.
    pub after: Vec<String>,
}

/// The route `view`'s labels and text give; a label that names nothing usable is said in
/// `happened` and left out.
pub(super) fn route(
    store: &Store,
    workflow: &Workflow,
    tracker: &dyn Tracker,
    view: &TaskView,
    happened: &mut Happened,
) -> Result<Routed> {
    let labels = &view.task.labels;
    let reference = tracker.reference(&view.task.key);
    let mut routed = Routed {
        flow: workflow.intake.flow_for(labels).map(str::to_string),
        ..Routed::default()
    };
    for label in labels {
        if let Some(agent) = label.strip_prefix(AGENT_LABEL) {
            match workflow.agents.contains_key(agent) {
                true => routed.agent = Some(agent.to_string()),
                false => happened.push(format!(
                    "{reference}: label {label} names no agent of the workflow; its stages' own agents run"
                )),
            }
        }
        if let Some(priority) = label.strip_prefix(PRIORITY_LABEL) {
            match priority.parse::<u8>() {
                Ok(p) if (1..=5).contains(&p) => routed.priority = Some(p),
                _ => happened.push(format!(
                    "{reference}: label {label} is no priority (priority:1 to priority:5); the default is kept"
                )),
            }
        }
    }
    for key in depends_on(&view.task.body) {
        let id = tracker.id_for(&key);
        match store.find(&id)? {
            Some(_) => routed.after.push(id),
            None => happened.push(format!(
                "{reference} depends on {}, which has no trak: it is not waited for",
                tracker.reference(&key)
            )),
        }
    }
    Ok(routed)
}

/// The task keys of "depends on #12" lines (any case; several, comma-separated, too).
pub fn depends_on(body: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for line in body.lines() {
        let lower = line.to_lowercase();
        let Some(at) = lower.find("depends on") else {
            continue;
        };
        for word in lower[at + "depends on".len()..].split([',', ' ', ';']) {
            let Some(number) = word.trim().trim_end_matches('.').strip_prefix('#') else {
                continue;
            };
            if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
                keys.push(number.to_string());
            }
        }
    }
    keys
}

/// A command in a comment: its first line that starts with `/ork`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Approve,
    Reject(String),
    Answer(String),
    Retry,
    Note(String),
    /// `/ork` with something ork does not know: answered with the list.
    Unknown(String),
}

/// The command `body` gives, if it gives one. What follows the command's word — the rest of
/// its line and every line after — is its text (feedback, answers, a note).
pub fn parse(body: &str) -> Option<Command> {
    let start = body
        .lines()
        .position(|l| l.trim_start().starts_with("/ork"))?;
    let mut lines = body.lines().skip(start);
    let first = lines.next()?.trim_start().strip_prefix("/ork")?;
    if !(first.is_empty() || first.starts_with(char::is_whitespace)) {
        return None;
    }
    let first = first.trim();
    let (word, rest) = first.split_once(char::is_whitespace).unwrap_or((first, ""));
    let text = std::iter::once(rest)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    Some(match word {
        "approve" => Command::Approve,
        "reject" => Command::Reject(text),
        "answer" => Command::Answer(text),
        "retry" => Command::Retry,
        "note" => Command::Note(text),
        other => Command::Unknown(other.to_string()),
    })
}

impl Command {
    fn text(&self) -> String {
        match self {
            Command::Approve => "/ork approve".into(),
            Command::Reject(t) => format!("/ork reject {t}"),
            Command::Answer(t) => format!("/ork answer {t}"),
            Command::Retry => "/ork retry".into(),
            Command::Note(t) => format!("/ork note {t}"),
            Command::Unknown(word) => format!("/ork {word}"),
        }
    }
}

/// Carries out the commands of `view`'s comments that came after the trak was made and were
/// never read, in order. Each is recorded as read before it acts (so it acts once, even after
/// a crash or an edit); one whose author may not decide, or that fails, is to get one reply:
/// returned, to be posted once what was recorded is shared (a machine whose record loses the
/// race posts nothing).
pub(super) fn carry_out(
    store: &Store,
    workflow: &Workflow,
    tracker: &mut dyn Tracker,
    view: &TaskView,
    mut trak: Trak,
    happened: &mut Happened,
) -> Result<(Trak, Vec<String>)> {
    let mut replies = Vec::new();
    for comment in &view.comments {
        let before = trak
            .state
            .source
            .as_ref()
            .map(|s| s.before.as_slice())
            .unwrap_or_default();
        if before.contains(&comment.id) || trak.state.comments_read.contains(&comment.id) {
            continue;
        }
        let Some(command) = parse(&comment.body) else {
            continue;
        };
        // ork's own login is also the one an agent on this machine would post with: an agent
        // must never approve its own gate through its task (docs/design.md rule 12).
        let allowed = !comment.by_ork && tracker.may_decide(&comment.author)?;
        trak = store.record(
            &trak,
            EventKind::CommentRead {
                comment: comment.id.clone(),
                author: comment.author.clone(),
                command: command.text(),
                acted: allowed,
            },
        )?;
        if !allowed {
            let why = match comment.by_ork {
                true => "it comes from the login ork itself uses here, which an agent on the watching machine shares; comment from your own account, or run the command where ork runs".to_string(),
                false => format!("@{} has no write access to this repository", comment.author),
            };
            replies.push(format!("`{}` was not done: {why}.", command.text()));
            happened.push(format!("{}: {} refused ({why})", trak.id, command.text()));
            continue;
        }
        match act(store, workflow, &trak, &command) {
            Ok(acted) => {
                happened.push(format!(
                    "{}: {} by @{}",
                    trak.id,
                    command.text(),
                    comment.author
                ));
                trak = acted;
            }
            Err(err) => {
                replies.push(format!("`{}` was not done: {err:#}", command.text()));
                happened.push(format!("{}: {} failed: {err:#}", trak.id, command.text()));
            }
        }
    }
    Ok((trak, replies))
}

fn act(store: &Store, workflow: &Workflow, trak: &Trak, command: &Command) -> Result<Trak> {
    let decision = match command {
        Command::Approve => HumanDecision::Approve,
        Command::Reject(feedback) if feedback.is_empty() => {
            anyhow::bail!("say what to change: /ork reject <feedback>")
        }
        Command::Reject(feedback) => HumanDecision::Reject {
            feedback: feedback.clone(),
            route_to: None,
        },
        Command::Answer(answer) if answer.is_empty() => {
            anyhow::bail!("give the answers: /ork answer <answers>")
        }
        Command::Answer(answer) => HumanDecision::Answer(answer.clone()),
        Command::Retry => HumanDecision::Retry {
            allow_secrets: false,
        },
        Command::Note(text) => return crate::engine::note(store, workflow, trak, text),
        Command::Unknown(word) => anyhow::bail!(
            "ork knows no command \"{word}\"; it takes /ork approve, /ork reject <feedback>, /ork answer <answers>, /ork retry and /ork note <text>"
        ),
    };
    crate::engine::decide(store, workflow, trak, decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_from_the_first_line_that_starts_with_ork() {
        assert_eq!(parse("/ork approve"), Some(Command::Approve));
        assert_eq!(
            parse("Thanks!\n/ork reject use OAuth\nand keep the tests"),
            Some(Command::Reject("use OAuth\nand keep the tests".into()))
        );
        assert_eq!(parse("/orkish approve"), None);
        assert_eq!(parse("I will /ork approve later"), None);
        assert_eq!(parse("/ork dance"), Some(Command::Unknown("dance".into())));
    }

    #[test]
    fn dependencies_are_read_from_depends_on_lines() {
        assert_eq!(
            depends_on("Fix it.\nDepends on #12, #7.\nSee #3"),
            vec!["12".to_string(), "7".to_string()]
        );
        assert!(depends_on("depends on nothing").is_empty());
    }
}
