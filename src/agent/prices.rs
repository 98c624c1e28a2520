//! Approximate prices, to turn the tokens an agent CLI reports into dollars where it reports no
//! cost while it runs (Claude Code's messages, Codex's turns). List prices per million tokens,
//! by model family; cache reads and writes are priced as plain input, so an estimate errs high.
//! A CLI's own cost, where it gives one (OpenCode's steps, Claude Code's result), wins.

use crate::store::event::Usage;

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

/// The approximate cost of `usage`'s tokens on `model`.
pub fn estimate(model: Option<&str>, usage: &Usage) -> f64 {
    let name = model.unwrap_or_default().to_ascii_lowercase();
    let (input, output) = FAMILIES
        .iter()
        .find(|(word, _, _)| name.contains(word))
        .map_or(UNKNOWN, |(_, input, output)| (*input, *output));
    (usage.input_tokens as f64 * input + usage.output_tokens as f64 * output) / 1_000_000.0
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
        assert_eq!(estimate(Some("claude-sonnet-4-5-20250929"), &million), 3.0);
        assert_eq!(estimate(Some("claude-opus-5-5"), &million), 15.0);
        assert_eq!(estimate(Some("gpt-5-mini"), &million), 0.25);
        assert_eq!(estimate(Some("gpt-5.1-codex"), &million), 1.25);
        assert_eq!(estimate(None, &million), 15.0);
    }
}
