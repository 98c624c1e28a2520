//! `budget = { usd = N, tokens = N }`, on a flow and on a stage: what a trak, or one stage of
//! it, may spend before it waits for a person (docs/design.md rule 13; docs/workflow.md).

use serde::Deserialize;
use toml::Spanned;

use super::workflow::Source;
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
