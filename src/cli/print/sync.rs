//! What `ork sync` moved.

use super::*;

/// How many ids a line of `ork sync` names before it only counts them (`-v` names them all).
pub(super) const IDS_PER_LINE: usize = 5;

/// What `ork sync` moved, in both directions: one line per kind of move, whatever the number
/// of traks; with `verbose`, every id.
pub fn synced(remote: &str, report: &ork::sync::SyncReport, verbose: bool) -> Result<()> {
    let list = |ids: &[String]| {
        if verbose || ids.len() <= IDS_PER_LINE {
            ids.join(", ")
        } else {
            format!("{} traks (ork sync -v names them)", ids.len())
        }
    };
    if !report.fast_forwarded.is_empty() {
        outln!("← updated from {remote}: {}", list(&report.fast_forwarded));
    }
    if !report.joined.is_empty() {
        outln!("⇄ joined with {remote}'s work: {}", list(&report.joined));
    }
    if report.notes_merged {
        outln!("← gate notes merged from {remote}");
    }
    for (id, why) in &report.not_joined {
        outln!("✗ {id}: {why}");
    }
    if !report.pushed.is_empty() {
        let refs: Vec<String> = report
            .pushed
            .iter()
            .map(|spec| spec.split(':').next().unwrap_or(spec).to_string())
            .collect();
        let line = if verbose || refs.len() <= IDS_PER_LINE {
            refs.join(", ")
        } else {
            format!("{} refs (ork sync -v names them)", refs.len())
        };
        outln!("→ pushed to {remote}: {line}");
    }
    if !report.remote_only.is_empty() {
        outln!(
            "  on {remote} only (ork status shows them): {}",
            list(&report.remote_only)
        );
    }
    if report.fast_forwarded.is_empty()
        && report.joined.is_empty()
        && report.pushed.is_empty()
        && !report.notes_merged
        && report.not_joined.is_empty()
    {
        outln!("Up to date with {remote}.");
    }
    Ok(())
}
