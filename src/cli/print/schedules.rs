//! `ork schedule`: the workflow's schedules, their last slot fired and their next slots.

use super::*;

use ork::engine::schedule::ScheduleView;

/// Each schedule: its pattern and zone, what it last fired, and its next slots in its zone.
pub fn schedules(views: &[ScheduleView], json: bool) -> Result<()> {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "schedules": views }))?
        );
        return Ok(());
    }
    if views.is_empty() {
        outln!(
            "No schedules. Add a [[schedule]] to {} (docs/workflow.md, Schedules).",
            ork::config::workflow::WORKFLOW_PATH
        );
        return Ok(());
    }
    for (index, view) in views.iter().enumerate() {
        if index > 0 {
            outln!("");
        }
        let flow = view
            .flow
            .as_deref()
            .map(|flow| format!(", flow {flow}"))
            .unwrap_or_default();
        outln!("{}: \"{}\"{flow}", view.name, view.title);
        outln!("  cron:       {} ({})", view.cron, view.timezone);
        outln!("  last fired: {}", last_fired(view));
        match view.next.split_first() {
            None => outln!("  next:       never (the pattern matches no time to come)"),
            Some((first, rest)) => {
                outln!("  next:       {}", slot(first));
                for later in rest {
                    outln!("              {}", slot(later));
                }
            }
        }
    }
    Ok(())
}

fn last_fired(view: &ScheduleView) -> String {
    let Some(last) = &view.last else {
        return "never (the first look of `ork run` starts it from then)".to_string();
    };
    match &last.trak {
        Some(trak) => format!("{} → trak {trak} (by {})", slot(&last.slot), last.machine),
        None => format!(
            "{} (started from then by {}, no trak)",
            slot(&last.slot),
            last.machine
        ),
    }
}

/// A slot with its weekday, at its zone's offset, seconds only where it has them.
fn slot(at: &DateTime<chrono::FixedOffset>) -> String {
    use chrono::Timelike;
    if at.second() == 0 {
        at.format("%a %Y-%m-%d %H:%M %:z").to_string()
    } else {
        at.format("%a %Y-%m-%d %H:%M:%S %:z").to_string()
    }
}
