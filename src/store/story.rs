//! The body of an event's commit: the words behind the subject, so that `git log ork/<id>`
//! tells the trak's story — a rejection's feedback, the agent's questions and the human's
//! answers, why a run or a gate failed, how a conflict was settled.

use crate::store::event::{EventKind, Outcome, Question};

/// How many lines of a failed gate's output the commit body keeps (the event keeps it all).
const GATE_LINES: usize = 20;

/// The commit body for `kind` (empty when the subject says it all). `asked` are the questions
/// the trak had open before the event: an answer's body repeats them.
pub fn commit_body(kind: &EventKind, asked: &[Question]) -> String {
    match kind {
        EventKind::StageFinished {
            outcome: Outcome::Questions,
            questions,
            ..
        } => questions_text(questions),
        EventKind::StageFinished {
            outcome: Outcome::Failed,
            error: Some(error),
            ..
        } => error.trim().to_string(),
        EventKind::GateFailed { output, .. } => first_lines(output, GATE_LINES),
        EventKind::Rejected { feedback, .. } | EventKind::Noted { text: feedback } => {
            feedback.trim().to_string()
        }
        EventKind::Answered { answer, .. } if asked.is_empty() => answer.trim().to_string(),
        EventKind::Answered { answer, .. } => {
            format!("{}\n\nAnswer: {}", questions_text(asked), answer.trim())
        }
        EventKind::Resolved { chosen, dropped } => format!(
            "Kept {chosen}; set aside {}.",
            if dropped.is_empty() {
                "nothing".to_string()
            } else {
                dropped.join(", ")
            }
        ),
        EventKind::IntegrationBlocked { reason } | EventKind::Dropped { reason } => {
            reason.trim().to_string()
        }
        EventKind::Planted { files, .. } | EventKind::Restored { files } => files.join("\n"),
        EventKind::RaceAttemptFinished {
            error: Some(error), ..
        } => first_lines(error, GATE_LINES),
        EventKind::RacePickRequested { reason, .. } => reason.trim().to_string(),
        EventKind::RacePicked { reason, .. } => reason.trim().to_string(),
        _ => String::new(),
    }
}

/// "Question: Which provider? (GitHub / Google)", one per line.
fn questions_text(questions: &[Question]) -> String {
    questions
        .iter()
        .map(|q| {
            if q.options.is_empty() {
                format!("Question: {}", q.question.trim())
            } else {
                format!(
                    "Question: {} ({})",
                    q.question.trim(),
                    q.options.join(" / ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first `n` lines of `text`, with a line saying how many more there are.
fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.len() <= n {
        return lines.join("\n");
    }
    format!(
        "{}\n… ({} more lines: ork show, or ork log --json)",
        lines[..n].join("\n"),
        lines.len() - n
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_gate_keeps_its_first_lines() {
        let output: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        let body = commit_body(
            &EventKind::GateFailed {
                stage: "work".into(),
                attempt: 1,
                output,
                retry: true,
            },
            &[],
        );
        assert!(body.starts_with("line 1\n"), "{body}");
        assert!(body.contains("line 20\n… (10 more lines"), "{body}");
        assert!(!body.contains("line 21"), "{body}");
    }

    #[test]
    fn an_answer_repeats_the_questions() {
        let asked = [Question {
            question: "Which provider?".into(),
            options: vec!["GitHub".into(), "Google".into()],
        }];
        let body = commit_body(
            &EventKind::Answered {
                stage: "planning".into(),
                answer: "GitHub".into(),
            },
            &asked,
        );
        assert_eq!(
            body,
            "Question: Which provider? (GitHub / Google)\n\nAnswer: GitHub"
        );
    }
}
