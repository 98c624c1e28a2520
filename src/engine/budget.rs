//! Budgets held while an agent runs (docs/design.md rule 13): what the trak and its stage may
//! spend, what they spent before this run, and what the run spends as its CLI streams it (and,
//! for a race's attempt, what its rivals spend meanwhile: `race_spend.rs`). When a cap is
//! crossed the run's process group is stopped at once: the overshoot is at most the model turn
//! whose usage crossed it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;

use crate::agent::LiveUsage;
use crate::agent::prices::Prices;
use crate::config::workflow::{Flow, Stage, Workflow};
use crate::engine::race_spend::RaceSpend;
use crate::store::event::{Budget, Usage};
use crate::store::{Store, Trak};

/// One cap over one run: the trak's (`scope: None`) or its stage's; `owner` names the
/// ancestor whose budget it is when a subtrak runs under its parent's (None: the trak's own).
#[derive(Debug, Clone)]
pub struct Cap {
    pub scope: Option<String>,
    pub owner: Option<String>,
    pub limit: Budget,
    /// What was spent under this cap before the run.
    pub before: Usage,
}

impl Cap {
    /// "the trak", "stage work", "parent 20260101-x".
    pub fn describe(&self) -> String {
        match (&self.owner, &self.scope) {
            (Some(owner), _) => format!("trak {owner} (a parent of this subtrak)"),
            (None, Some(stage)) => format!("stage {stage}"),
            (None, None) => "the trak".to_string(),
        }
    }

    /// What is spent under this cap with `live` added.
    pub fn spent(&self, live: &Usage) -> Usage {
        let mut spent = self.before;
        spent.add(live);
        spent
    }
}

/// What one run may spend, and what it has spent so far.
#[derive(Debug)]
pub struct Spend {
    caps: Vec<Cap>,
    live: RefCell<LiveUsage>,
    crossed: Cell<Option<usize>>,
    /// For a race's attempt: the race's account and the attempt's number. Every cap covers
    /// the rivals too, so what they spend counts as this run goes.
    race: Option<(Arc<RaceSpend>, u32)>,
    /// What the rivals had spent when last looked at.
    rivals: Cell<Usage>,
}

/// What `trak` and every subtrak under it spent: a parent's budget covers its whole tree.
pub fn tree_usage(store: &Store, trak: &Trak) -> Result<Usage> {
    tree_usage_with(store, trak, None)
}

/// [`tree_usage`], with `current` read as it is given wherever its id is met in the tree: a
/// race's attempt stands for its trak with its own runs, which the trak's branch does not hold.
fn tree_usage_with(store: &Store, trak: &Trak, current: Option<&Trak>) -> Result<Usage> {
    let mut spent = trak.state.total_usage();
    for planned in &trak.state.subtraks {
        let subtrak = match current.filter(|c| c.id == planned.id) {
            Some(current) => Some(current.clone()),
            None => store.find(&planned.id)?,
        };
        if let Some(subtrak) = subtrak {
            spent.add(&tree_usage_with(store, &subtrak, current)?);
        }
    }
    Ok(spent)
}

/// A trak's spend over its whole tree against the budget that holds it, for listings.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SpendView {
    pub spent: Usage,
    pub budget: Budget,
}

impl SpendView {
    /// "$1.20", or "$1.20 / $5.00" under a budget; empty when nothing was spent or capped.
    pub fn cell(&self) -> String {
        let nothing = self.spent == Usage::default();
        match (self.budget == Budget::default(), nothing) {
            (true, true) => String::new(),
            (true, false) => format!("${:.2}", self.spent.cost_usd),
            (false, _) => format!("${:.2} / {}", self.spent.cost_usd, self.budget.describe()),
        }
    }
}

/// Each listed trak's [`SpendView`], from the listing alone (a parent's tree is summed from
/// its subtraks in `traks`); `workflow` gives the flows' budgets where it loads.
pub fn spend_views(workflow: Option<&Workflow>, traks: &[Trak]) -> HashMap<String, SpendView> {
    let by_id: HashMap<&str, &Trak> = traks.iter().map(|t| (t.id.as_str(), t)).collect();
    fn tree(by_id: &HashMap<&str, &Trak>, trak: &Trak) -> Usage {
        let mut spent = trak.state.total_usage();
        for planned in &trak.state.subtraks {
            if let Some(sub) = by_id.get(planned.id.as_str()) {
                spent.add(&tree(by_id, sub));
            }
        }
        spent
    }
    traks
        .iter()
        .map(|trak| {
            let budget = match workflow {
                Some(workflow) => ancestor_budget(workflow, trak),
                None => trak.state.budget.unwrap_or_default(),
            };
            let spent = tree(&by_id, trak);
            (trak.id.clone(), SpendView { spent, budget })
        })
        .collect()
}

/// What every trak spent today (UTC), on every machine whose records this one has: the
/// repository's `[budget] per_day` is held against it.
pub fn spent_today(store: &Store) -> Result<Usage> {
    let today = crate::store::state::day_of(chrono::Utc::now());
    let mut spent = Usage::default();
    for trak in store.list()? {
        spent.add(&trak.state.spent_on(&today));
    }
    Ok(spent)
}

/// The repository's daily budget and what was spent of it today, when it is reached.
pub fn day_budget_reached(store: &Store, workflow: &Workflow) -> Result<Option<(Usage, Budget)>> {
    let limit = workflow.budget.per_day;
    if limit == Budget::default() {
        return Ok(None);
    }
    let spent = spent_today(store)?;
    Ok(limit.reached_by(&spent).then_some((spent, limit)))
}

/// What a trak may spend in all: the budget a person set, else its flow's.
fn trak_budget(trak: &Trak, flow: &Flow) -> Budget {
    trak.state.budget.unwrap_or(flow.budget)
}

/// An ancestor's budget, its flow looked up by name (a flow since removed: its own only).
fn ancestor_budget(workflow: &Workflow, ancestor: &Trak) -> Budget {
    match workflow.flow(Some(&ancestor.state.flow)) {
        Ok(flow) => trak_budget(ancestor, flow),
        Err(_) => ancestor.state.budget.unwrap_or_default(),
    }
}

/// The caps over a run of `stage`: the trak's own budget against its whole tree's spend, the
/// stage's (raised, else the workflow's) against the stage's, and each ancestor's against its
/// tree's — a subtrak's spend counts in its parent's budget too.
pub fn caps_for_run(
    store: &Store,
    workflow: &Workflow,
    trak: &Trak,
    flow: &Flow,
    stage: &Stage,
) -> Result<Vec<Cap>> {
    let state = &trak.state;
    let mut caps = Vec::new();
    let own = trak_budget(trak, flow);
    if own != Budget::default() {
        caps.push(Cap {
            scope: None,
            owner: None,
            limit: own,
            before: tree_usage(store, trak)?,
        });
    }
    let stage_cap = state
        .stage_budgets
        .get(&stage.name)
        .copied()
        .unwrap_or(stage.budget);
    if stage_cap != Budget::default() {
        caps.push(Cap {
            scope: Some(stage.name.clone()),
            owner: None,
            limit: stage_cap,
            before: state.usage.get(&stage.name).copied().unwrap_or_default(),
        });
    }
    let mut parent = state.parent.clone();
    while let Some(id) = parent {
        let Some(ancestor) = store.find(&id)? else {
            break;
        };
        let limit = ancestor_budget(workflow, &ancestor);
        if limit != Budget::default() {
            caps.push(Cap {
                scope: None,
                owner: Some(id),
                limit,
                before: tree_usage_with(store, &ancestor, Some(trak))?,
            });
        }
        parent = ancestor.state.parent.clone();
    }
    Ok(caps)
}

/// For a subtrak waiting at an ancestor's budget: whether that budget was raised above what
/// the ancestor's tree spent, so the subtrak may go on.
pub fn parent_budget_raised(store: &Store, workflow: &Workflow, trak: &Trak) -> Result<bool> {
    let Some(owner) = trak.state.budget_owner.as_deref() else {
        return Ok(false);
    };
    let Some(ancestor) = store.find(owner)? else {
        return Ok(true);
    };
    let limit = ancestor_budget(workflow, &ancestor);
    Ok(!limit.reached_by(&tree_usage(store, &ancestor)?))
}

impl Spend {
    /// Holds `caps` (from [`caps_for_run`]) over one run, tokens without a cost priced by
    /// `prices`.
    pub fn new(caps: Vec<Cap>, prices: Prices) -> Spend {
        Spend {
            caps,
            live: RefCell::new(LiveUsage::priced_by(prices)),
            crossed: Cell::new(None),
            race: None,
            rivals: Cell::new(Usage::default()),
        }
    }

    /// The run is attempt `no` of a race whose attempts spend into `account` (`None`: not
    /// a race's): its caps count what the rivals spend too.
    pub fn in_race(self, race: Option<(Arc<RaceSpend>, u32)>) -> Spend {
        Spend { race, ..self }
    }

    /// What the rivals in the run's race spent so far, remembered (nothing outside a race).
    fn look_at_rivals(&self) -> Usage {
        let rivals = match &self.race {
            Some((account, no)) => account.rivals_of(*no),
            None => Usage::default(),
        };
        self.rivals.set(rivals);
        rivals
    }

    /// `cap` with what the rivals spent, as last looked at, counted as spent before the run.
    fn with_rivals(&self, cap: &Cap) -> Cap {
        let mut cap = cap.clone();
        cap.before.add(&self.rivals.get());
        cap
    }

    /// What a finished run spent: `reported` as its CLI said, its tokens priced where the CLI
    /// gave no cost (Codex), so a dollar budget counts every run.
    pub fn priced(&self, reported: Usage, model: Option<&str>) -> Usage {
        let tokens = reported.input_tokens + reported.output_tokens;
        if reported.cost_usd > 0.0 || tokens == 0 {
            return reported;
        }
        Usage {
            cost_usd: self.live.borrow().prices.estimate(model, &reported),
            ..reported
        }
    }

    /// Whether anything is capped: without a cap no line is read for its usage.
    pub fn capped(&self) -> bool {
        !self.caps.is_empty()
    }

    /// The cap already reached before the run starts, if any: the run must not start. Its
    /// `before` counts the rivals' spend, in a race.
    pub fn reached_before(&self) -> Option<Cap> {
        let rivals = self.look_at_rivals();
        self.caps
            .iter()
            .find(|cap| cap.limit.reached_by(&cap.spent(&rivals)))
            .map(|cap| self.with_rivals(cap))
    }

    /// Reads one stdout line with `read` (the CLI's `live_usage`); true when this line is the
    /// one that crosses a cap, and the run is to be stopped.
    pub fn read_line(
        &self,
        line: &str,
        read: fn(&str, &mut LiveUsage, Option<&str>),
        model: Option<&str>,
    ) -> bool {
        if self.crossed.get().is_some() {
            return false;
        }
        let mut live = self.live.borrow_mut();
        read(line, &mut live, model);
        let mut spent = live.spent;
        if let Some((account, no)) = &self.race {
            account.streamed(*no, spent);
        }
        // A rival's spend counts at every line, so a run stops on a rival's turn too.
        spent.add(&self.look_at_rivals());
        let crossed = self
            .caps
            .iter()
            .position(|cap| cap.limit.reached_by(&cap.spent(&spent)));
        self.crossed.set(crossed);
        crossed.is_some()
    }

    /// The cap the run crossed, if it was stopped for one; its `before` counts what the
    /// rivals had spent then, in a race.
    pub fn crossed(&self) -> Option<Cap> {
        self.crossed.get().map(|i| self.with_rivals(&self.caps[i]))
    }

    /// What the ended run counts as, `reported` being what its CLI said (priced): that, or
    /// for a run stopped at a cap what it streamed when that is more (its CLI may not have
    /// said). A race's account counts it for the rivals.
    pub fn settle(&self, reported: Usage) -> Usage {
        let streamed = self.live();
        let counted = match self.crossed.get() {
            Some(_) if streamed.cost_usd >= reported.cost_usd => streamed,
            _ => reported,
        };
        if let Some((account, no)) = &self.race {
            account.run_ended(*no, counted);
        }
        counted
    }

    /// What the run spent, as streamed.
    pub fn live(&self) -> Usage {
        self.live.borrow().spent
    }
}
