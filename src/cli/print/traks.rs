//! The traks themselves: `ork status`, `ork show` and `ork log`, as text or JSON.

use super::*;

use ork::engine::budget::SpendView;

/// What was spent against which budget: per trak (over its tree), and the repository's day.
pub struct Spending {
    pub traks: std::collections::HashMap<String, SpendView>,
    /// Today's spend against `[budget] per_day`, when the workflow sets one.
    pub today: Option<SpendView>,
}

/// `ork status --json`'s text (the MCP server's `list_traks` too).
pub fn status_json(
    store: &Store,
    traks: &[Trak],
    forecast: &Forecast,
    spending: &Spending,
) -> Result<String> {
    // One directory listing for all traks, rather than a stat per trak.
    let present = store.worktree_ids();
    let list: Vec<_> = traks
        .iter()
        .map(|t| {
            let spend = spending.traks.get(&t.id).copied();
            trak_json(store, t, present.contains(&t.id), forecast, spend)
        })
        .collect();
    // Serialized straight from the structs: going through a `serde_json::Value` first
    // cost a sixth of a listing of 1,000 traks.
    #[derive(serde::Serialize)]
    struct Listing<'a> {
        traks: Vec<TrakJson<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        today: Option<SpendView>,
    }
    Ok(serde_json::to_string_pretty(&Listing {
        traks: list,
        today: spending.today,
    })?)
}

pub fn status(
    store: &Store,
    traks: &[Trak],
    forecast: &Forecast,
    spending: &Spending,
    finished_hidden: usize,
    json: bool,
) -> Result<()> {
    if json {
        outln!("{}", status_json(store, traks, forecast, spending)?);
        return Ok(());
    }
    if let Some(today) = &spending.today {
        outln!(
            "Spent today (UTC), every trak on every machine: ${:.2} and {} tokens of {} ([budget] per_day)",
            today.spent.cost_usd,
            today.spent.input_tokens + today.spent.output_tokens,
            today.budget.describe()
        );
    }
    let hidden_line = match finished_hidden {
        0 => None,
        n => Some(format!(
            "{n} finished trak(s) not listed: ork status --all lists them"
        )),
    };
    if traks.is_empty() {
        match hidden_line {
            Some(line) => outln!("No unfinished traks; {line}"),
            None => outln!("No traks. Create one with: ork trak new \"What to do\""),
        }
        return Ok(());
    }
    let any_remote = traks.iter().any(|t| t.location != Location::Local);
    let now = Utc::now();
    let mut rows = vec![vec![
        "ID".to_string(),
        "TITLE".into(),
        "FLOW".into(),
        "STAGE".into(),
        "STATUS".into(),
        "AGE".into(),
    ]];
    if any_remote {
        rows[0].push("WHERE".into());
    }
    let spend_cell = |t: &Trak| spending.traks.get(&t.id).map(SpendView::cell);
    let any_spend = traks
        .iter()
        .any(|t| spend_cell(t).is_some_and(|c| !c.is_empty()));
    if any_spend {
        rows[0].push("SPENT".into());
    }
    let any_conflict = traks.iter().any(|t| forecast.contains_key(&t.id));
    if any_conflict {
        rows[0].push("CONFLICTS".into());
    }
    let any_spawned = traks.iter().any(|t| t.state.spawned_by.is_some());
    if any_spawned {
        rows[0].push("SPAWNED BY".into());
    }
    let mut tones = vec![Tone::Plain];
    for (depth, trak) in view::tree_order(traks) {
        let s = &trak.state;
        let id = if depth == 0 {
            trak.id.clone()
        } else {
            format!("{}└ {}", "  ".repeat(depth - 1), trak.id)
        };
        let mut row = vec![
            id,
            truncate(&s.title, 40),
            s.flow.clone(),
            s.stage.clone(),
            status_word(store, trak),
            age(s.created_at, now),
        ];
        if any_remote {
            row.push(match &trak.location {
                Location::Local => "local".into(),
                Location::Remote(remote) => remote.clone(),
            });
        }
        if any_spend {
            row.push(spend_cell(trak).unwrap_or_default());
        }
        if any_conflict {
            row.push(conflicts_cell(forecast.get(&trak.id)));
        }
        if any_spawned {
            row.push(s.spawned_by.clone().unwrap_or_default());
        }
        rows.push(row);
        tones.push(status_tone(store, trak));
    }
    print_table(&rows, &tones)?;
    if let Some(line) = hidden_line {
        outln!("{line}");
    }
    Ok(())
}

pub(super) fn subtrak_progress(store: &Store, trak: &Trak) -> Option<(usize, usize)> {
    if trak.state.subtraks.is_empty() {
        return None;
    }
    let subtraks = ork::engine::subtraks::subtraks_of(store, trak).ok()?;
    Some(ork::engine::subtraks::progress(&subtraks))
}

/// `ork show`'s lines about subtraks: the breakdown waiting for review, the subtraks and what
/// each one needs, or the part this trak is.
pub(super) fn show_subtraks(store: &Store, trak: &Trak) -> Result<()> {
    let s = &trak.state;
    if let (Some(parent), Some(key)) = (&s.parent, &s.key) {
        outln!("  parent    {parent} (part {key})");
    }
    let proposed = s.breakdown_stage.as_deref() == Some(s.stage.as_str())
        && s.status != ork::store::state::Status::Subtraks
        && !s.breakdown.is_empty();
    if proposed {
        outln!("  breakdown {} part(s) proposed:", s.breakdown.len());
        for part in &s.breakdown {
            let after = if part.depends_on.is_empty() {
                String::new()
            } else {
                format!(" (after {})", part.depends_on.join(", "))
            };
            outln!("            {}: {}{after}", part.key, part.title);
        }
        return Ok(());
    }
    if s.subtraks.is_empty() {
        return Ok(());
    }
    let subtraks = ork::engine::subtraks::subtraks_of(store, trak)?;
    let (done, all) = ork::engine::subtraks::progress(&subtraks);
    outln!("  subtraks  {done}/{all} done");
    for (planned, sub) in &subtraks {
        let Some(sub) = sub else {
            outln!(
                "            {}  not made yet (ork resume {})",
                planned.id,
                trak.id
            );
            continue;
        };
        let waits =
            !sub.state.status.is_finished() && !ork::engine::RUNNABLE.contains(&sub.state.status);
        outln!(
            "            {}  {} at {}",
            sub.id,
            status_word(store, sub),
            sub.state.stage
        );
        if waits && s.status == ork::store::state::Status::Subtraks {
            outln!("              {}", ork::engine::next_step_here(store, sub));
            outln!(
                "              or go on without it: ork trak drop {}  /  split again: ork reject {} -m \"…\"",
                sub.id,
                trak.id
            );
        }
    }
    Ok(())
}

/// The files outside the trak's worktree that changed during its runs, with the run:
/// (stage, attempt, when, change).
pub(super) fn outside_changes(
    events: &[Event],
) -> Vec<(&str, u32, DateTime<Utc>, &ork::store::event::OutsideChange)> {
    events
        .iter()
        .flat_map(|event| match &event.kind {
            ork::store::event::EventKind::StageFinished {
                stage,
                attempt,
                outside_changes,
                ..
            } => outside_changes
                .iter()
                .map(|c| (stage.as_str(), *attempt, event.at, c))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// `ork show --json`'s object (the MCP server's `show_trak` too).
pub fn show_json(
    store: &Store,
    trak: &Trak,
    forecast: &Forecast,
    spend: Option<SpendView>,
    description: &str,
    events: &[Event],
) -> Result<serde_json::Value> {
    let outside = outside_changes(events);
    let present = worktree(store, trak).is_some();
    let mut value = serde_json::to_value(trak_json(store, trak, present, forecast, spend))?;
    value["description"] = json!(description);
    value["stages"] = json!(trak.state.stages);
    value["events"] = json!(trak.state.events);
    value["conflicting_events"] = json!(trak.state.conflicting_events);
    value["breakdown"] = json!(trak.state.breakdown);
    value["rounds"] = json!(trak.state.rounds);
    value["integration_rounds"] = json!(trak.state.integration_rounds);
    value["notes"] = json!(trak.state.notes);
    value["budget"] = json!(trak.state.budget);
    value["stage_budgets"] = json!(trak.state.stage_budgets);
    value["budget_reached"] = json!(trak.state.budget_reached);
    value["checkpoint"] = match store.checkpoint_of(trak)? {
        Some((commit, files)) => json!({
            "commit": commit.to_string(),
            "taken_at": store.checkpoint_taken_at(commit)?,
            "files": files,
        }),
        None => serde_json::Value::Null,
    };
    value["races"] = races_json(trak);
    value["outside_changes"] = json!(
        outside
            .iter()
            .map(|(stage, attempt, at, change)| {
                let mut entry = json!(change);
                entry["stage"] = json!(stage);
                entry["attempt"] = json!(attempt);
                entry["at"] = json!(at);
                entry
            })
            .collect::<Vec<_>>()
    );
    Ok(value)
}

/// Each stage's latest race, for `ork show --json`: its attempts (agent, gate, cost, runs,
/// why one failed, its ref) and its winner with who picked it and why.
fn races_json(trak: &Trak) -> serde_json::Value {
    let races: serde_json::Map<String, serde_json::Value> = trak
        .state
        .races
        .iter()
        .map(|(stage, race)| {
            let attempts: Vec<serde_json::Value> = race
                .attempts
                .iter()
                .map(|a| {
                    json!({
                        "no": a.no,
                        "agent": a.agent,
                        "gate": a.gate,
                        "usage": a.usage,
                        "runs": a.runs,
                        "error": a.error,
                        "machine": a.machine,
                        "tip": a.tip,
                        "ref": ork::store::race_ref(&trak.id, stage, a.no),
                    })
                })
                .collect();
            let value = json!({
                "from": race.from,
                "attempts": attempts,
                "winner": race.winner,
                "picked_by": race.picked_by,
                "reason": race.reason,
                "judge_usage": race.judge_usage,
            });
            (stage.clone(), value)
        })
        .collect();
    serde_json::Value::Object(races)
}

/// Each stage's latest race, in `ork show`: a line per attempt, then the winner and why.
fn show_races(trak: &Trak) -> Result<()> {
    for (stage, race) in &trak.state.races {
        outln!("  race      {stage}: {} attempt(s)", race.attempts.len());
        // Where each ran is said when they ran on more than one machine.
        let machines: std::collections::BTreeSet<&str> = race
            .attempts
            .iter()
            .filter_map(|a| a.machine.as_deref())
            .collect();
        for a in &race.attempts {
            let gate = match a.gate {
                Some(ork::store::event::RaceGate::Passed) => "passed",
                Some(ork::store::event::RaceGate::Failed) => "failed",
                None => "running",
            };
            let won = if race.winner == Some(a.no) {
                "  ← winner"
            } else {
                ""
            };
            let place = match a.machine.as_deref() {
                Some(machine) if machines.len() > 1 => format!(" on {}", printable(machine)),
                _ => String::new(),
            };
            outln!(
                "            {}. {}: {gate}{place}, {} run(s), {}{won}",
                a.no,
                printable(&a.agent),
                a.runs,
                usage_text(&a.usage)
            );
            if let Some(error) = a.error.as_deref().filter(|_| a.gate.is_some()) {
                outln!(
                    "               {}",
                    truncate(&ork::store::text::one_line(error), 90)
                );
            }
        }
        if let (Some(winner), Some(by)) = (race.winner, race.picked_by) {
            outln!(
                "            attempt {winner} won, picked by {}",
                by.as_str()
            );
            if !race.reason.trim().is_empty() {
                outln!(
                    "            why: {}",
                    first_lines(&race.reason, 10).replace('\n', "\n                 ")
                );
            }
        }
        if race.judge_usage != Default::default() {
            outln!("            judge: {}", usage_text(&race.judge_usage));
        }
    }
    Ok(())
}

pub fn show(
    store: &Store,
    trak: &Trak,
    forecast: &Forecast,
    artifact: Option<&str>,
    spend: Option<SpendView>,
    json: bool,
) -> Result<()> {
    let description = store.description(trak)?;
    let events = store.events(trak)?;
    let outside = outside_changes(&events);
    if json {
        let value = show_json(store, trak, forecast, spend, &description, &events);
        outln!("{}", serde_json::to_string_pretty(&value?)?);
        return Ok(());
    }
    let s = &trak.state;
    let stages: Vec<String> = s
        .stages
        .iter()
        .map(|name| {
            if *name == s.stage {
                format!("[{name}]")
            } else {
                name.clone()
            }
        })
        .collect();
    outln!("{}  {}", trak.id, s.title);
    outln!("  flow      {}: {}", s.flow, stages.join(" → "));
    let attempt = if s.attempt > 0 {
        format!(", attempt {}", s.attempt)
    } else {
        String::new()
    };
    let word = status_word(store, trak);
    let word = match paint_of(status_tone(store, trak)) {
        Some(kind) => paint(kind, &word),
        None => printable(&word),
    };
    paintedln!("  status    {word} at {}{attempt}", printable(&s.stage));
    if let Some(claim) = ork::engine::claim_view(store, trak) {
        outln!(
            "  claim     {} (on {})",
            printable(&claim_text(&claim)),
            printable(&claim.remote)
        );
    }
    outln!("  base      {}", s.base);
    if let Some(spawner) = &s.spawned_by {
        outln!("  spawned   by trak {spawner}, from inside its run");
    }
    if !s.after.is_empty() {
        let waits = ork::engine::dependencies::still_waits_for(store, trak)?;
        let open = match waits.is_empty() {
            true => String::new(),
            false => format!(" (waits for {})", waits.join(", ")),
        };
        outln!("  after     {}{open}", s.after.join(", "));
    }
    if let Some((commit, files)) = store.checkpoint_of(trak)? {
        let taken = store.checkpoint_taken_at(commit)?;
        outln!(
            "  checkpoint {}: {} file(s) not on the branch, kept {} ({} ago; git show --stat {})",
            &commit.to_string()[..12],
            files.len(),
            taken.format("%Y-%m-%d %H:%M:%S UTC"),
            age(taken, Utc::now()),
            &commit.to_string()[..12]
        );
    }
    if s.priority != ork::store::state::DEFAULT_PRIORITY {
        outln!("  priority  {} (1 first, 5 last)", s.priority);
    }
    if let Some(source) = &s.source {
        outln!(
            "  from      {} ({})",
            printable(&source.url),
            source.tracker
        );
    }
    if let Some(agent) = &s.agent {
        outln!("  agent     {agent}, for every stage");
    }
    outln!("  branch    {}", short_branch(&trak.branch));
    if let Some(path) = worktree(store, trak) {
        outln!("  worktree  {path}");
    }
    outln!(
        "  created   {} ({} ago)",
        s.created_at.format("%Y-%m-%d %H:%M UTC"),
        age(s.created_at, Utc::now())
    );
    outln!("  events    {} (ork log {})", s.events, trak.id);
    for (stage, attempt, _, change) in &outside {
        outln!(
            "  outside   {stage} attempt {attempt} changed {} (left as it is)",
            change.describe()
        );
    }
    for (stage, usage) in &s.usage {
        outln!("  cost      {stage}: {}", usage_text(usage));
    }
    if s.usage.len() > 1 {
        outln!("  cost      total: {}", usage_text(&s.total_usage()));
    }
    if let Some(spend) = spend.filter(|v| v.budget != Default::default()) {
        let tree = if s.subtraks.is_empty() {
            ""
        } else {
            " (with its subtraks)"
        };
        outln!(
            "  budget    trak: ${:.2} spent{tree} of {}",
            spend.spent.cost_usd,
            spend.budget.describe()
        );
    }
    for (stage, budget) in &s.stage_budgets {
        let spent = s.usage.get(stage).map_or(0.0, |u| u.cost_usd);
        outln!(
            "  budget    {stage}: ${spent:.2} spent of {}",
            budget.describe()
        );
    }
    if let Some(verdict) = &s.verdict {
        outln!("  verdict   {:?}", verdict.decision);
    }
    for (stage, rounds) in &s.rounds {
        outln!("  rounds    {stage}: its reviewer sent the work back {rounds} time(s)");
    }
    for note in &s.notes {
        outln!(
            "  note      for the next run: {}",
            truncate(&ork::store::text::one_line(note), 70)
        );
    }
    if s.integration_rounds > 0 {
        outln!(
            "  rounds    the merge into {}: sent back {} time(s)",
            s.base,
            s.integration_rounds
        );
    }
    if let Some(note) = &s.note {
        outln!(
            "  note      {}",
            first_lines(note, 20).replace('\n', "\n            ")
        );
    }
    for q in &s.questions {
        outln!("  question  {}", question_text(q));
    }
    show_subtraks(store, trak)?;
    show_races(trak)?;
    if let Some(pr) = &s.pull_request {
        let rounds = if pr.rounds > 0 {
            format!(", {} round(s) of changes", pr.rounds)
        } else {
            String::new()
        };
        outln!(
            "  pr        #{} {} ({}{rounds})",
            pr.number,
            pr.url,
            pr.branch
        );
    }
    for conflict in forecast.get(&trak.id).into_iter().flatten() {
        let with = match &conflict.with {
            Other::Trak(id) => format!("trak {id}"),
            Other::Base(base) => format!("{base}'s tip"),
        };
        outln!("  conflicts with {with} in: {}", conflict.files.join(", "));
    }
    outln!("  next      {}", ork::engine::next_step_here(store, trak));
    if !s.conflicting_events.is_empty() {
        outln!(
            "  conflict  events made from the same state: {}",
            s.conflicting_events.join(", ")
        );
    }
    if !description.trim().is_empty() {
        outln!("\n{}", description.trim_end());
    }
    if s.status == ork::store::state::Status::AwaitingReview
        && let Some(name) = artifact
        && let Some((_, content)) = store.artifacts(trak)?.into_iter().find(|(a, _)| a == name)
    {
        // What the person is asked to review, where they are asked.
        outln!(
            "\n── {name} (to review; whole: ork diff {} --stage {}) ──\n{}",
            trak.id,
            s.stage,
            printable(&first_lines(&content, 40))
        );
    }
    Ok(())
}

pub fn log(events: &[Event], json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(events)?);
        return Ok(());
    }
    for event in events {
        let stage = event.kind.stage().unwrap_or("-");
        outln!(
            "{}  {:<19} {:<10} {:<16} {}",
            event.at.format("%Y-%m-%d %H:%M:%S"),
            event.kind.name(),
            stage,
            event.machine,
            event.kind.summary()
        );
    }
    Ok(())
}

/// One trak in `ork status --json` (and the base of `ork show --json`).
#[derive(serde::Serialize)]
pub(super) struct TrakJson<'a> {
    id: &'a str,
    title: &'a str,
    flow: &'a str,
    stage: &'a str,
    status: ork::store::state::Status,
    interrupted: bool,
    note: Option<&'a str>,
    usage: ork::store::event::Usage,
    /// Spend over the trak's tree against the budget that holds it (a budget, or subtraks).
    #[serde(skip_serializing_if = "Option::is_none")]
    spend: Option<SpendView>,
    attempt: u32,
    base: &'a str,
    branch: &'a str,
    remote: Option<&'a str>,
    worktree: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    tip: String,
    /// The machine working on it through the shared queue, if a claim is held.
    claim: Option<ork::engine::ClaimView>,
    pull_request: Option<&'a ork::store::state::PullRequest>,
    /// What it would conflict with if it merged now (empty: nothing).
    conflicts: &'a [Conflict],
    /// For a subtrak: its parent's id and its key in the parent's breakdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    /// For a parent: its subtraks' ids in breakdown order, and how many are merged or dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subtraks: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<Progress>,
    /// The traks it was created to follow (`--after`), and those of them not merged yet.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    after: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    waits_for: Vec<String>,
    priority: u8,
    /// The tracker's task it came in from (`[intake]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a ork::store::event::Source>,
    /// The agent every stage runs with, over the stages' own.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a str>,
    /// The trak whose agent created it, from inside its run (its stage's `spawn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    spawned_by: Option<&'a str>,
}

#[derive(serde::Serialize)]
pub(super) struct Progress {
    done: usize,
    total: usize,
}

pub(super) fn trak_json<'a>(
    store: &Store,
    trak: &'a Trak,
    has_worktree: bool,
    forecast: &'a Forecast,
    spend: Option<SpendView>,
) -> TrakJson<'a> {
    let s = &trak.state;
    TrakJson {
        spend: spend.filter(|v| v.budget != Default::default() || !s.subtraks.is_empty()),
        id: &trak.id,
        title: &s.title,
        flow: &s.flow,
        stage: &s.stage,
        status: s.status,
        interrupted: ork::engine::is_interrupted(store, trak),
        note: s.note.as_deref(),
        usage: s.total_usage(),
        attempt: s.attempt,
        base: &s.base,
        branch: short_branch(&trak.branch),
        remote: match &trak.location {
            Location::Local => None,
            Location::Remote(remote) => Some(remote),
        },
        worktree: has_worktree.then(|| store.worktree_path(&trak.id).display().to_string()),
        created_at: s.created_at,
        updated_at: s.updated_at,
        tip: trak.tip.to_string(),
        claim: ork::engine::claim_view(store, trak),
        pull_request: s.pull_request.as_ref(),
        conflicts: forecast.get(&trak.id).map_or(&[], Vec::as_slice),
        parent: s.parent.as_deref(),
        key: s.key.as_deref(),
        subtraks: s.subtraks.iter().map(|p| p.id.as_str()).collect(),
        progress: subtrak_progress(store, trak).map(|(done, total)| Progress { done, total }),
        after: &s.after,
        waits_for: ork::engine::dependencies::still_waits_for(store, trak).unwrap_or_default(),
        priority: s.priority,
        source: s.source.as_ref(),
        agent: s.agent.as_deref(),
        spawned_by: s.spawned_by.as_deref(),
    }
}

/// "other-trak-1a2b: a.rs, b.rs; main: c.rs" (cut short in the table; `ork show` lists all).
pub(super) fn conflicts_cell(conflicts: Option<&Vec<Conflict>>) -> String {
    let text = conflicts
        .into_iter()
        .flatten()
        .map(|c| format!("{}: {}", c.with.name(), c.files.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    truncate(&text, 60)
}

/// The trak's worktree, if it has one on this machine.
pub(super) fn worktree(store: &Store, trak: &Trak) -> Option<String> {
    let path = store.worktree_path(&trak.id);
    path.is_dir().then(|| path.display().to_string())
}

pub(super) fn short_branch(full: &str) -> &str {
    full.strip_prefix("refs/heads/")
        .or_else(|| full.strip_prefix("refs/remotes/"))
        .unwrap_or(full)
}

/// "1200 in / 300 out tokens, $0.0200".
pub(super) fn usage_text(usage: &ork::store::event::Usage) -> String {
    format!(
        "{} in / {} out tokens, ${:.4}",
        usage.input_tokens, usage.output_tokens, usage.cost_usd
    )
}

/// The status as the table shows it (see [`view::status_word`]), with the claim of the machine
/// running it.
pub(super) fn status_word(store: &Store, trak: &Trak) -> String {
    let interrupted = ork::engine::is_interrupted(store, trak);
    let word = view::status_word(trak, interrupted, subtrak_progress(store, trak));
    let waits = ork::engine::dependencies::still_waits_for(store, trak).unwrap_or_default();
    let word = match waits.is_empty() {
        true => word,
        false => format!("waits for {}", waits.join(", ")),
    };
    match ork::engine::claim_view(store, trak) {
        Some(claim) => format!("{word} ({})", claim_text(&claim)),
        None => word,
    }
}

pub(super) fn status_tone(store: &Store, trak: &Trak) -> Tone {
    view::tone(trak.state.status, ork::engine::is_interrupted(store, trak))
}

/// "machine_b since 14:02:11, renewed 3s ago", with "stale" once its lease has passed.
pub(super) fn claim_text(claim: &ork::engine::ClaimView) -> String {
    format!(
        "{} since {}, renewed {} ago{}",
        claim.machine,
        claim.since.format("%H:%M:%S UTC"),
        age(claim.renewed_at, Utc::now()),
        if claim.stale { ", stale" } else { "" }
    )
}

/// "Which provider? (GitHub / Google)".
pub(super) fn question_text(q: &ork::store::event::Question) -> String {
    if q.options.is_empty() {
        q.question.clone()
    } else {
        format!("{} ({})", q.question, q.options.join(" / "))
    }
}
