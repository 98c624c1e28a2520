//! `race = { agents = ["claude", "codex"], n = 2, judge = "claude" }` on a stage: several
//! attempts of the stage run side by side, each through the gate on its own, and one of those
//! that pass carries on (docs/workflow.md, Races).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::workflow::{Agent, Review, Source};

/// The judge's prompt template when the race names none: `ork init` writes it.
pub const DEFAULT_JUDGE_PROMPT: &str = "judge.md";
/// How many attempts run at once when the race does not say.
const DEFAULT_PARALLEL: usize = 4;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRace {
    #[serde(default)]
    agents: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    n: Option<Spanned<u32>>,
    #[serde(default)]
    judge: Option<Spanned<String>>,
    #[serde(default)]
    prompt: Option<Spanned<String>>,
    #[serde(default)]
    parallel: Option<Spanned<usize>>,
}

/// A stage's race, as validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Race {
    /// The agent of each attempt, attempt 1 first: every listed agent `n` times.
    pub attempts: Vec<String>,
    /// The agent that picks among the attempts that passed; none: one passing attempt wins
    /// alone, several wait for a person (`review = "human"`).
    pub judge: Option<String>,
    /// The judge's prompt template under `.orkestra/agents/`.
    pub prompt: String,
    /// How many attempts run at once.
    pub parallel: usize,
}

/// What the stage a race is on is, for the checks that depend on it.
pub(super) struct RaceStage<'a> {
    pub name: &'a str,
    pub agent: &'a str,
    pub review: Review,
    pub verdict: bool,
    pub breakdown: bool,
}

/// The race `raw` says on `stage`, every name checked against `agents` and the judge's
/// template against `prompts`.
pub(super) fn validate(
    raw: Spanned<RawRace>,
    stage: &RaceStage<'_>,
    agents: &BTreeMap<String, Agent>,
    src: &Source,
    prompts: &Path,
    errors: &mut Vec<String>,
) -> Race {
    let span = raw.span();
    let raw = raw.into_inner();
    let name = stage.name;
    if stage.verdict || stage.breakdown {
        errors.push(src.message(
            span.clone(),
            &format!(
                "stage \"{name}\" races, and is a {} stage",
                if stage.verdict {
                    "verdict"
                } else {
                    "breakdown"
                }
            ),
            "race the stages that change code; take `race` off this one",
        ));
    }
    let n = raw.n.as_ref().map_or(1, |n| *n.get_ref());
    if let Some(spanned) = raw.n.as_ref().filter(|n| *n.get_ref() == 0) {
        errors.push(src.message(
            spanned.span(),
            "race n must be at least 1",
            "set n to how many attempts each agent makes, for example n = 2",
        ));
    }
    let agents_listed = match &raw.agents {
        Some(list) => {
            for agent in list.get_ref() {
                if !agents.contains_key(agent) {
                    errors.push(src.message(
                        list.span(),
                        &format!(
                            "race on stage \"{name}\" names agent \"{agent}\", which is not defined"
                        ),
                        &format!(
                            "add an [agents.{agent}] table, or use one of: {}",
                            names(agents)
                        ),
                    ));
                }
            }
            list.get_ref().clone()
        }
        None => vec![stage.agent.to_string()],
    };
    let attempts: Vec<String> = agents_listed
        .iter()
        .flat_map(|agent| std::iter::repeat_n(agent.clone(), n as usize))
        .collect();
    if attempts.len() < 2 && n != 0 {
        errors.push(src.message(
            span.clone(),
            &format!("the race on stage \"{name}\" has one attempt: that is no race"),
            "list two agents or more (agents = [\"claude\", \"codex\"]), or set n = 2 or more",
        ));
    }
    let judge = raw.judge.map(|judge| {
        if !agents.contains_key(judge.get_ref()) {
            errors.push(src.message(
                judge.span(),
                &format!("the judge \"{}\" is not a defined agent", judge.get_ref()),
                &format!(
                    "add an [agents.{}] table, or use one of: {}",
                    judge.get_ref(),
                    names(agents)
                ),
            ));
        }
        judge.into_inner()
    });
    if judge.is_none() && stage.review != Review::Human {
        errors.push(src.message(
            span.clone(),
            &format!("the race on stage \"{name}\" has no judge, and nobody picks between attempts that pass"),
            "name a judge (judge = \"claude\"), or let a person pick with review = \"human\"",
        ));
    }
    let named = raw.prompt.is_some();
    let prompt = match raw.prompt {
        Some(prompt) => {
            let path = prompts.join(prompt.get_ref());
            if !path.is_file() {
                errors.push(src.message(
                    prompt.span(),
                    &format!(
                        "the judge's prompt template {} does not exist",
                        path.display()
                    ),
                    "create it, or name a file that exists in .orkestra/agents/",
                ));
            }
            prompt.into_inner()
        }
        None => DEFAULT_JUDGE_PROMPT.to_string(),
    };
    if judge.is_some() && !named && !prompts.join(&prompt).is_file() {
        errors.push(src.message(
            span.clone(),
            &format!(
                "the judge's prompt template {} does not exist",
                prompts.join(&prompt).display()
            ),
            "run `ork init` to write the default judge.md, or set prompt = \"…\" in the race",
        ));
    }
    let parallel = match raw.parallel {
        Some(parallel) if *parallel.get_ref() == 0 => {
            errors.push(src.message(
                parallel.span(),
                "race parallel must be at least 1",
                "set parallel to how many attempts run at once",
            ));
            1
        }
        Some(parallel) => *parallel.get_ref(),
        None => DEFAULT_PARALLEL,
    };
    Race {
        attempts,
        judge,
        prompt,
        parallel,
    }
}

fn names(agents: &BTreeMap<String, Agent>) -> String {
    agents.keys().cloned().collect::<Vec<_>>().join(", ")
}
