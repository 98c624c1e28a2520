//! `budget = { usd = N, tokens = N }`, on a flow and on a stage: what a trak, or one stage of
//! it, may spend before it waits for a person; `[budget] per_day`, what the whole repository
//! may spend in a day (docs/design.md rule 13; docs/workflow.md, Budgets).

use serde::Deserialize;
use toml::Spanned;

use super::workflow::Source;
use crate::agent::prices::{Price, Prices};
pub use crate::store::event::Budget;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    #[serde(default)]
    usd: Option<Spanned<f64>>,
    #[serde(default)]
    tokens: Option<Spanned<u64>>,
}

/// The budget `raw` says, each cap checked to be above zero; `where_` names the table for
/// the message ("flow \"feature\"", "stage work").
pub(super) fn validate(
    raw: Option<RawBudget>,
    where_: &str,
    src: &Source,
    errors: &mut Vec<String>,
) -> Budget {
    let Some(raw) = raw else {
        return Budget::default();
    };
    let usd = raw.usd.map(|usd| {
        let value = *usd.get_ref();
        if !(value > 0.0 && value.is_finite()) {
            errors.push(src.message(
                usd.span(),
                &format!("the budget of {where_} must be more than $0"),
                "set usd to the most the trak may spend, for example usd = 5",
            ));
        }
        value
    });
    let tokens = raw.tokens.map(|tokens| {
        if *tokens.get_ref() == 0 {
            errors.push(src.message(
                tokens.span(),
                &format!("the token budget of {where_} must be at least 1"),
                "set tokens to the most the trak may use, for example tokens = 2000000",
            ));
        }
        *tokens.get_ref()
    });
    Budget { usd, tokens }
}

/// The `[budget]` table: what every trak together may spend.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RepositoryBudget {
    /// The cap on one day's spend (UTC days), summed over every trak on every machine.
    pub per_day: Budget,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRepositoryBudget {
    #[serde(default)]
    per_day: Option<RawBudget>,
}

pub(super) fn validate_repository(
    raw: Option<RawRepositoryBudget>,
    src: &Source,
    errors: &mut Vec<String>,
) -> RepositoryBudget {
    let per_day = raw.and_then(|raw| raw.per_day);
    RepositoryBudget {
        per_day: validate(per_day, "[budget] per_day", src, errors),
    }
}

/// The `[prices]` table: `"<word in the model's name>" = { input = N, output = N }`, USD per
/// million tokens, each price a finite amount of at least zero.
pub(super) fn validate_prices(
    raw: std::collections::BTreeMap<String, Spanned<Price>>,
    src: &Source,
    errors: &mut Vec<String>,
) -> Prices {
    for (word, price) in &raw {
        let p = price.get_ref();
        let valid = |v: f64| v >= 0.0 && v.is_finite();
        if !(valid(p.input) && valid(p.output)) || word.trim().is_empty() {
            errors.push(src.message(
                price.span(),
                &format!("the price of \"{word}\" must name a model and be at least $0"),
                "write it as \"<a word in the model's name>\" = { input = 3.0, output = 15.0 }, USD per million tokens",
            ));
        }
    }
    Prices::with(
        raw.into_iter()
            .map(|(word, price)| (word, price.into_inner())),
    )
}
