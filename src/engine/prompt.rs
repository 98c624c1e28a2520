//! Prompts: a stage's template filled in with what the agent must know.
//!
//! Placeholders (see docs/workflow.md): `{{title}}`, `{{description}}`, `{{artifacts}}` (every
//! earlier stage's latest artifact), `{{feedback}}` (what caused this attempt), `{{stage}}`,
//! `{{attempt}}`, `{{trak}}` and `{{base}}`. A template that leaves out `{{artifacts}}` or
//! `{{feedback}}` still gets them, appended, so no feedback is ever lost.

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
}

/// Fills `template` in.
pub fn render(template: &str, input: &PromptInput<'_>) -> String {
    let artifacts = artifacts_section(input.artifacts);
    let feedback = feedback_section(input.feedback);
    let mut text = template
        .replace("{{title}}", input.title)
        .replace("{{description}}", input.description.trim_end())
        .replace("{{stage}}", input.stage)
        .replace("{{attempt}}", &input.attempt.to_string())
        .replace("{{trak}}", input.trak)
        .replace("{{base}}", input.base);
    for (placeholder, section) in [("{{artifacts}}", &artifacts), ("{{feedback}}", &feedback)] {
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
        }
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
    fn empty_sections_leave_no_gaps() {
        let text = render("A\n\n{{artifacts}}\n\n{{feedback}}\n\nB", &input(&[], None));
        assert_eq!(text, "A\n\nB\n");
    }
}
