//! `[[schedule]]`: traks made by the clock. Each entry names a cron pattern (read by the
//! `croner` crate: five fields, or six with seconds first), the time zone it is read in, and
//! the trak it makes when a slot comes (docs/workflow.md, Schedules).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use toml::Spanned;

use super::workflow::Source;

/// The longest schedule name: with the slot appended it still makes a readable trak id.
const MAX_NAME: usize = 40;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    name: Spanned<String>,
    cron: Spanned<String>,
    title: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    flow: Option<Spanned<String>>,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    priority: Option<Spanned<u8>>,
}

/// One validated `[[schedule]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Unique; `[a-z0-9-]`, so it names a ref and starts the ids of the traks it makes.
    pub name: String,
    /// The pattern as written, for listings.
    pub pattern: String,
    cron: croner::Cron,
    /// The zone the pattern is read in (UTC unless `timezone` says otherwise).
    pub timezone: chrono_tz::Tz,
    pub title: String,
    pub description: String,
    /// The flow its traks run; the workflow's default when `None`.
    pub flow: Option<String>,
    /// The branch its traks start from; the main checkout's current branch when `None`.
    pub base: Option<String>,
    pub priority: Option<u8>,
}

impl Schedule {
    /// The newest slot at or before `now`, if the pattern ever matched.
    pub fn slot_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.timezone);
        let slot = self.cron.find_previous_occurrence(&local, true).ok()?;
        Some(slot.with_timezone(&Utc))
    }

    /// The next `count` slots after `now`, in the schedule's time zone.
    pub fn next_slots(&self, now: DateTime<Utc>, count: usize) -> Vec<DateTime<chrono_tz::Tz>> {
        let local = now.with_timezone(&self.timezone);
        self.cron.iter_after(local).take(count).collect()
    }
}

/// What a schedule's `flow` may name: the workflow's flows, and whether one of them is used
/// when it names none (`default_flow`, or the only flow).
pub(super) struct KnownFlows<'a> {
    pub names: &'a [String],
    pub has_default: bool,
}

/// Validates every `[[schedule]]` entry.
pub(super) fn validate(
    raw: Vec<RawSchedule>,
    flows: &KnownFlows<'_>,
    src: &Source,
    errors: &mut Vec<String>,
) -> Vec<Schedule> {
    let mut seen = BTreeSet::new();
    raw.into_iter()
        .filter_map(|raw| {
            let name = raw.name.get_ref().clone();
            if !seen.insert(name.clone()) {
                errors.push(src.message(
                    raw.name.span(),
                    &format!("two schedules are named \"{name}\""),
                    "give each [[schedule]] a name of its own",
                ));
            }
            validate_one(raw, flows, src, errors)
        })
        .collect()
}

fn validate_one(
    raw: RawSchedule,
    flows: &KnownFlows<'_>,
    src: &Source,
    errors: &mut Vec<String>,
) -> Option<Schedule> {
    let name = raw.name.get_ref().clone();
    if !is_schedule_name(&name) {
        errors.push(src.message(
            raw.name.span(),
            &format!("schedule name \"{name}\" cannot name a ref and a trak id"),
            &format!(
                "use lowercase letters, digits and single dashes, at most {MAX_NAME} characters, like name = \"nightly-deps\""
            ),
        ));
    }
    if raw.title.get_ref().trim().is_empty() {
        errors.push(src.message(
            raw.title.span(),
            &format!("schedule \"{name}\" has an empty title"),
            "say what each trak it makes is for, like title = \"Update dependencies\"",
        ));
    }
    match &raw.flow {
        Some(flow) if !flows.names.contains(flow.get_ref()) => errors.push(src.message(
            flow.span(),
            &format!(
                "schedule \"{name}\" names a flow \"{}\" that does not exist",
                flow.get_ref()
            ),
            &format!("use one of: {}", flows.names.join(", ")),
        )),
        // Else every slot would fail to make its trak, the same way, at every look.
        None if !flows.has_default => errors.push(src.message(
            raw.name.span(),
            &format!("schedule \"{name}\" names no flow, and the workflow has no default_flow"),
            &format!(
                "add flow = \"…\" to the schedule (one of: {}), or default_flow at the top",
                flows.names.join(", ")
            ),
        )),
        _ => {}
    }
    if let Some(priority) = &raw.priority
        && !(1..=5).contains(priority.get_ref())
    {
        errors.push(src.message(
            priority.span(),
            &format!("schedule \"{name}\" has priority {}", priority.get_ref()),
            "a priority is 1 (first) to 5 (last)",
        ));
    }
    let cron = raw
        .cron
        .get_ref()
        .parse::<croner::Cron>()
        .map_err(|err| {
            errors.push(src.message(
                raw.cron.span(),
                &format!("schedule \"{name}\" has a cron pattern that does not parse: {err}"),
                "write five fields (minute hour day-of-month month day-of-week), like cron = \"0 4 * * 1-5\", or six with seconds first",
            ));
        })
        .ok();
    let timezone = timezone(raw.timezone.as_ref(), &name, src, errors);
    Some(Schedule {
        name,
        pattern: raw.cron.into_inner(),
        cron: cron?,
        timezone: timezone?,
        title: raw.title.into_inner(),
        description: raw.description,
        flow: raw.flow.map(Spanned::into_inner),
        base: raw.base,
        priority: raw.priority.map(Spanned::into_inner),
    })
}

/// The schedule's time zone, UTC when unset; `None` (and an error) for an unknown name.
fn timezone(
    raw: Option<&Spanned<String>>,
    name: &str,
    src: &Source,
    errors: &mut Vec<String>,
) -> Option<chrono_tz::Tz> {
    let Some(raw) = raw else {
        return Some(chrono_tz::UTC);
    };
    match raw.get_ref().parse::<chrono_tz::Tz>() {
        Ok(zone) => Some(zone),
        Err(_) => {
            errors.push(src.message(
                raw.span(),
                &format!(
                    "schedule \"{name}\" names a time zone \"{}\" that is not known",
                    raw.get_ref()
                ),
                "use an IANA name like timezone = \"Europe/Berlin\" or \"America/New_York\" (or leave it out for UTC)",
            ));
            None
        }
    }
}

/// `[a-z0-9]` words joined by single dashes: a ref name, and the start of a trak id.
fn is_schedule_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn berlin_at_four() -> Schedule {
        Schedule {
            name: "early".into(),
            pattern: "0 4 * * *".into(),
            cron: "0 4 * * *".parse().unwrap(),
            timezone: chrono_tz::Europe::Berlin,
            title: "Early".into(),
            description: String::new(),
            flow: None,
            base: None,
            priority: None,
        }
    }

    #[test]
    fn slots_are_read_in_the_schedules_zone_across_a_clock_change() {
        // Berlin moves to summer time on 2026-03-29: 04:00 there is 03:00 UTC before, 02:00
        // UTC after.
        let early = berlin_at_four();
        assert_eq!(
            early.slot_at_or_before(at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-28T03:00:00Z"))
        );
        assert_eq!(
            early.slot_at_or_before(at("2026-03-30T12:00:00Z")),
            Some(at("2026-03-30T02:00:00Z"))
        );
        // A slot itself is at or before itself.
        assert_eq!(
            early.slot_at_or_before(at("2026-03-30T02:00:00Z")),
            Some(at("2026-03-30T02:00:00Z"))
        );
        let next: Vec<String> = early
            .next_slots(at("2026-03-28T12:00:00Z"), 2)
            .iter()
            .map(|slot| slot.to_rfc3339())
            .collect();
        assert_eq!(
            next,
            ["2026-03-29T04:00:00+02:00", "2026-03-30T04:00:00+02:00"]
        );
    }

    #[test]
    fn schedule_names_fit_a_ref_and_an_id() {
        for good in ["nightly", "nightly-deps", "a1-b2"] {
            assert!(is_schedule_name(good), "{good}");
        }
        for bad in [
            "",
            "Nightly",
            "two words",
            "a--b",
            "-a",
            "a-",
            "a/b",
            &"x".repeat(41),
        ] {
            assert!(!is_schedule_name(bad), "{bad}");
        }
    }
}
