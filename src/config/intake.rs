//! `[intake]`: where work comes in from besides `ork trak new` — GitHub Issues through `gh`
//! (`[intake.github]`), any other tracker through two programs (`[intake.command]`), and which
//! flow an issue's labels route it to (`[[intake.route]]`). docs/workflow.md, Intake.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::workflow::Source;

/// How often `ork run --watch` asks the tracker, unless `every` says otherwise.
pub const DEFAULT_INTAKE_EVERY: Duration = Duration::from_secs(60);

/// The `[intake]` table, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntakeSettings {
    pub github: Option<GithubIntake>,
    pub command: Option<CommandIntake>,
    /// First match wins; an issue no route matches takes the default flow.
    pub routes: Vec<Route>,
    /// How often `ork run --watch` asks the tracker.
    pub every: Duration,
}

impl IntakeSettings {
    /// Whether any tracker is configured.
    pub fn is_on(&self) -> bool {
        self.github.is_some() || self.command.is_some()
    }

    /// The flow `labels` route to: the first route all of whose labels the issue has.
    pub fn flow_for(&self, labels: &[String]) -> Option<&str> {
        self.routes
            .iter()
            .find(|route| route.labels.iter().all(|label| labels.contains(label)))
            .map(|route| route.flow.as_str())
    }
}

/// `[intake.github]`: open issues with `label` (and, if given, that assignee and milestone).
#[derive(Debug, Clone, PartialEq)]
pub struct GithubIntake {
    pub label: String,
    pub assignee: Option<String>,
    pub milestone: Option<String>,
}

/// `[intake.command]`: `list` prints tasks as JSON lines; `update` is called with each status
/// change (the task's key and a JSON status on stdin).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandIntake {
    pub list: Vec<String>,
    pub update: Option<Vec<String>>,
}

/// `[[intake.route]]`: issues with all of `labels` go to `flow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub labels: Vec<String>,
    pub flow: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntake {
    #[serde(default)]
    github: Option<Spanned<RawGithub>>,
    #[serde(default)]
    command: Option<Spanned<RawCommand>>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    every: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithub {
    label: String,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    milestone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    list: Vec<String>,
    #[serde(default)]
    update: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    labels: Vec<String>,
    flow: Spanned<String>,
}

/// The `[intake]` table checked against the workflow's `flows`; what is wrong goes to `errors`
/// with its line.
pub(super) fn validate(
    raw: Option<RawIntake>,
    flows: &[String],
    src: &Source,
    errors: &mut Vec<String>,
) -> IntakeSettings {
    let Some(raw) = raw else {
        return IntakeSettings {
            every: DEFAULT_INTAKE_EVERY,
            ..IntakeSettings::default()
        };
    };
    let github = raw.github.map(|spanned| {
        let span = spanned.span();
        let github = spanned.into_inner();
        if github.label.trim().is_empty() {
            errors.push(src.message(
                span,
                "[intake.github] label is empty",
                "name the label that marks issues for ork, for example label = \"ork\"",
            ));
        }
        GithubIntake {
            label: github.label,
            assignee: github.assignee,
            milestone: github.milestone,
        }
    });
    let command = raw.command.map(|spanned| {
        let span = spanned.span();
        let command = spanned.into_inner();
        let empty = |program: &[String]| program.first().is_none_or(|p| p.trim().is_empty());
        if empty(&command.list) || command.update.as_deref().is_some_and(empty) {
            errors.push(src.message(
                span,
                "[intake.command] names an empty program",
                "give each as a program and its arguments, for example list = [\"scripts/linear-list\"]",
            ));
        }
        CommandIntake {
            list: command.list,
            update: command.update,
        }
    });
    let routes = raw
        .route
        .into_iter()
        .map(|spanned| {
            let span = spanned.span();
            let route = spanned.into_inner();
            if route.labels.is_empty() {
                errors.push(src.message(
                    span,
                    "an [[intake.route]] has no labels, so it would take every issue",
                    "list the labels it routes, for example labels = [\"bug\"]",
                ));
            }
            if !flows.contains(route.flow.get_ref()) {
                errors.push(src.message(
                    route.flow.span(),
                    &format!(
                        "[[intake.route]] names a flow \"{}\" that does not exist",
                        route.flow.get_ref()
                    ),
                    &format!("use one of: {}", flows.join(", ")),
                ));
            }
            Route {
                labels: route.labels,
                flow: route.flow.into_inner(),
            }
        })
        .collect();
    IntakeSettings {
        github,
        command,
        routes,
        every: super::workflow::parse_timeout(raw.every, DEFAULT_INTAKE_EVERY, src, errors),
    }
}
