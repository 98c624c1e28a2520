//! Approximate prices, to turn the tokens an agent CLI reports into dollars where it reports no
//! cost while it runs (Claude Code's messages, Codex's turns). List prices per million tokens,
//! by model family; cache reads and writes are priced as plain input, so an estimate errs high.
//! A CLI's own cost, where it gives one (OpenCode's steps, Claude Code's result), wins.
//! The workflow's `[prices]` table adds families or replaces these (docs/workflow.md, Budgets).

use crate::store::event::Usage;

/// One family's price: USD per million input and output tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// The price table in use: the workflow's `[prices]` first (by word in the model's name,
/// longest word first), then the defaults below.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    overrides: Vec<(String, Price)>,
}

impl Prices {
    /// A table with `overrides` (a word in the model's name → its price) over the defaults.
    pub fn with(overrides: impl IntoIterator<Item = (String, Price)>) -> Prices {
        let mut overrides: Vec<(String, Price)> = overrides
            .into_iter()
            .map(|(word, price)| (word.to_ascii_lowercase(), price))
            .collect();
        overrides.sort_by_key(|(word, _)| std::cmp::Reverse(word.len()));
        Prices { overrides }
    }

    /// The approximate cost of `usage`'s tokens on `model`.
    pub fn estimate(&self, model: Option<&str>, usage: &Usage) -> f64 {
        let name = model.unwrap_or_default().to_ascii_lowercase();
        let price = self
            .overrides
            .iter()
            .find(|(word, _)| name.contains(word.as_str()))
            .map(|(_, price)| (price.input, price.output));
        let (input, output) = price.unwrap_or_else(|| default_price(&name));
        (usage.input_tokens as f64 * input + usage.output_tokens as f64 * output) / 1_000_000.0
    }
}

/// (a word in the model's name, USD per million input tokens, per million output tokens), the
/// more specific words first.
const FAMILIES: &[(&str, f64, f64)] = &[
    ("opus", 15.0, 75.0),
    ("sonnet", 3.0, 15.0),
    ("haiku", 1.0, 5.0),
    ("nano", 0.05, 0.4),
    ("mini", 0.25, 2.0),
    ("gpt-5", 1.25, 10.0),
    ("gpt-4.1", 2.0, 8.0),
    ("o3", 2.0, 8.0),
];

/// For a model ork does not know (or none named): the price of a large model, so that a
/// budget stops too early rather than too late.
const UNKNOWN: (f64, f64) = (15.0, 75.0);

/// The default price of the model named `name` (lowercase).
fn default_price(name: &str) -> (f64, f64) {
    FAMILIES
        .iter()
        .find(|(word, _, _)| name.contains(word))
        .map_or(UNKNOWN, |(_, input, output)| (*input, *output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_found_in_versioned_names_and_unknown_models_price_high() {
        let million = Usage {
            input_tokens: 1_000_000,
            output_tokens: 0,
            cost_usd: 0.0,
        };
        let prices = Prices::default();
        let estimate = |model| prices.estimate(model, &million);
        assert_eq!(estimate(Some("claude-sonnet-4-5-20250929")), 3.0);
        assert_eq!(estimate(Some("claude-opus-5-5")), 15.0);
        assert_eq!(estimate(Some("gpt-5-mini")), 0.25);
        assert_eq!(estimate(Some("gpt-5.1-codex")), 1.25);
        assert_eq!(estimate(None), 15.0);
    }

    #[test]
    fn the_workflows_prices_come_first_the_most_specific_word_winning() {
        let million = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cost_usd: 0.0,
        };
        let price = |input, output| Price { input, output };
        let prices = Prices::with([
            ("GPT-5".to_string(), price(1.0, 2.0)),
            ("gpt-5-codex".to_string(), price(0.5, 0.5)),
            ("local-llm".to_string(), price(0.0, 0.0)),
        ]);
        assert_eq!(prices.estimate(Some("gpt-5.1"), &million), 3.0);
        assert_eq!(prices.estimate(Some("gpt-5-codex-high"), &million), 1.0);
        assert_eq!(prices.estimate(Some("my-local-llm"), &million), 0.0);
        // Families the table does not name keep their defaults.
        assert_eq!(prices.estimate(Some("claude-haiku-4"), &million), 6.0);
    }
}
