//! Prompts: a stage's template filled in with what the agent must know.
//!
//! Placeholders (see docs/workflow.md): `{{title}}`, `{{description}}`, `{{artifacts}}` (every
//! earlier stage's latest artifact), `{{feedback}}` (what caused this attempt), `{{stage}}`,
//! `{{answers}}` (every round of this stage's questions and answers), `{{attempt}}`, `{{trak}}`
//! and `{{base}}`. A template that leaves out `{{artifacts}}`, `{{answers}}` or `{{feedback}}`
//! still gets them, appended, so no feedback or answer is ever lost.

use crate::store::state::Exchange;

/// What goes into one prompt.
pub struct PromptInput<'a> {
    pub trak: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub stage: &'a str,
    pub attempt: u32,
    pub base: &'a str,
    /// (stage, artifact name, content) of earlier stages, in flow order.
    pub artifacts: &'a [(String, String, String)],
    pub feedback: Option<&'a str>,
    /// Every round of this stage's questions and answers so far, oldest first.
    pub answers: &'a [Exchange],
    /// A person's notes to the trak (`ork note`) since the last run, oldest first.
    pub notes: &'a [String],
}

/// Fills `template` in.
pub fn render(template: &str, input: &PromptInput<'_>) -> String {
    let artifacts = artifacts_section(input.artifacts);
    let feedback = feedback_section(input.feedback);
    let answers = answers_section(input.answers);
    let notes = notes_section(input.notes);
    let mut text = template
        .replace("{{title}}", input.title)
        .replace("{{description}}", input.description.trim_end())
        .replace("{{stage}}", input.stage)
        .replace("{{attempt}}", &input.attempt.to_string())
        .replace("{{trak}}", input.trak)
        .replace("{{base}}", input.base);
    for (placeholder, section) in [
        ("{{artifacts}}", &artifacts),
        ("{{answers}}", &answers),
        ("{{feedback}}", &feedback),
        ("{{notes}}", &notes),
    ] {
        if text.contains(placeholder) {
            text = text.replace(placeholder, section);
        } else if !section.is_empty() {
            text.push_str("\n\n");
            text.push_str(section);
        }
    }
    let mut text = collapse_blank_lines(&text);
    text.push('\n');
    text
}

fn artifacts_section(artifacts: &[(String, String, String)]) -> String {
    if artifacts.is_empty() {
        return String::new();
    }
    let mut out = String::from("# Earlier stages\n");
    for (stage, name, content) in artifacts {
        out.push_str(&format!(
            "\n## {name} (from {stage})\n\n{}\n",
            content.trim_end()
        ));
    }
    out
}

fn feedback_section(feedback: Option<&str>) -> String {
    match feedback.map(str::trim).filter(|f| !f.is_empty()) {
        Some(feedback) => format!(
            "# Feedback on the previous attempt\n\nThis stage ran before; address this:\n\n{feedback}\n"
        ),
        None => String::new(),
    }
}

fn notes_section(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::from("# Notes from a person\n\nLeft for you since the last run:\n");
    for note in notes {
        out.push_str(&format!("\n- {}", note.trim().replace('\n', "\n  ")));
    }
    out.push('\n');
    out
}

fn answers_section(answers: &[Exchange]) -> String {
    if answers.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "# Your questions and the answers\n\nYou asked these questions on earlier runs of this stage; a human answered them.\n",
    );
    for (round, exchange) in answers.iter().enumerate() {
        out.push_str(&format!("\n## Round {}\n\nYou asked:\n", round + 1));
        for question in &exchange.questions {
            out.push_str(&format!("- {question}\n"));
        }
        out.push_str(&format!("\nThe answer:\n{}\n", exchange.answer.trim_end()));
    }
    out
}

/// Empty placeholders leave runs of blank lines; keep at most one.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in text.trim().lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        artifacts: &'a [(String, String, String)],
        feedback: Option<&'a str>,
    ) -> PromptInput<'a> {
        PromptInput {
            trak: "add-login-k3f9",
            title: "Add login",
            description: "Users sign in with GitHub\n",
            stage: "work",
            attempt: 2,
            base: "main",
            artifacts,
            feedback,
            answers: &[],
            notes: &[],
        }
    }

    #[test]
    fn notes_from_a_person_are_appended_one_per_line() {
        let notes = [
            "Use the v2 API".to_string(),
            "Keep it small\nplease".to_string(),
        ];
        let text = render(
            "Do {{title}}.",
            &PromptInput {
                notes: &notes,
                ..input(&[], None)
            },
        );
        assert!(
            text.contains("# Notes from a person\n\nLeft for you since the last run:\n\n- Use the v2 API\n- Keep it small\n  please\n"),
            "{text}"
        );
    }

    #[test]
    fn fills_every_placeholder() {
        let artifacts = vec![("planning".into(), "plan".into(), "1. do it\n".into())];
        let text = render(
            "{{title}} / {{stage}} #{{attempt}} on {{base}} ({{trak}})\n\n{{description}}\n\n{{artifacts}}\n\n{{feedback}}",
            &input(&artifacts, Some("tests fail: x")),
        );
        assert!(text.starts_with(
            "Add login / work #2 on main (add-login-k3f9)\n\nUsers sign in with GitHub\n"
        ));
        assert!(text.contains("## plan (from planning)\n\n1. do it\n"));
        assert!(text.contains("# Feedback on the previous attempt"));
        assert!(text.contains("tests fail: x"));
        assert!(!text.contains("{{"));
    }

    #[test]
    fn missing_placeholders_still_get_feedback_and_artifacts() {
        let artifacts = vec![("planning".into(), "plan".into(), "the plan".into())];
        let text = render("Just do {{title}}.", &input(&artifacts, Some("use PKCE")));
        assert!(text.starts_with("Just do Add login."));
        assert!(text.contains("the plan"));
        assert!(text.contains("use PKCE"));
    }

    #[test]
    fn every_round_of_answers_is_in_the_prompt() {
        let answers = vec![
            Exchange {
                questions: vec!["Which provider?".into()],
                answer: "GitHub".into(),
            },
            Exchange {
                questions: vec!["Which scopes?".into(), "Refresh tokens?".into()],
                answer: "read:user, and no".into(),
            },
        ];
        let text = render(
            "Do {{title}}.",
            &PromptInput {
                answers: &answers,
                ..input(&[], None)
            },
        );
        let first = text.find("## Round 1").expect("round 1");
        let second = text.find("## Round 2").expect("round 2");
        assert!(first < second, "{text}");
        assert!(
            text.contains("- Which provider?\n\nThe answer:\nGitHub\n"),
            "{text}"
        );
        assert!(
            text.contains("- Refresh tokens?\n\nThe answer:\nread:user, and no"),
            "{text}"
        );
    }

    #[test]
    fn empty_sections_leave_no_gaps() {
        let text = render("A\n\n{{artifacts}}\n\n{{feedback}}\n\nB", &input(&[], None));
        assert_eq!(text, "A\n\nB\n");
    }
}
