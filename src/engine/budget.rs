//! Budgets held while an agent runs (docs/design.md rule 13): what the trak and its stage may
//! spend, what they spent before this run, and what the run spends as its CLI streams it. When
//! a cap is crossed the run's process group is stopped at once: the overshoot is at most the
//! model turn whose usage crossed it.

use std::cell::{Cell, RefCell};

use crate::agent::LiveUsage;
use crate::config::workflow::{Flow, Stage};
use crate::store::Trak;
use crate::store::event::{Budget, Usage};

/// One cap over one run: the trak's (`scope: None`) or its stage's.
#[derive(Debug, Clone)]
pub struct Cap {
    pub scope: Option<String>,
    pub limit: Budget,
    /// What was spent under this cap before the run.
    pub before: Usage,
}

impl Cap {
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
}

impl Spend {
    /// The caps over a run of `stage`: the trak's own budget (else its flow's) against the
    /// trak's whole spend, and the stage's (raised, else the workflow's) against the stage's.
    pub fn for_run(trak: &Trak, flow: &Flow, stage: &Stage) -> Spend {
        let state = &trak.state;
        let trak_cap = state.budget.unwrap_or(flow.budget);
        let stage_cap = state
            .stage_budgets
            .get(&stage.name)
            .copied()
            .unwrap_or(stage.budget);
        let mut caps = Vec::new();
        if trak_cap != Budget::default() {
            caps.push(Cap {
                scope: None,
                limit: trak_cap,
                before: state.total_usage(),
            });
        }
        if stage_cap != Budget::default() {
            caps.push(Cap {
                scope: Some(stage.name.clone()),
                limit: stage_cap,
                before: state.usage.get(&stage.name).copied().unwrap_or_default(),
            });
        }
        Spend {
            caps,
            live: RefCell::default(),
            crossed: Cell::new(None),
        }
    }

    /// Whether anything is capped: without a cap no line is read for its usage.
    pub fn capped(&self) -> bool {
        !self.caps.is_empty()
    }

    /// The cap already reached before the run starts, if any: the run must not start.
    pub fn reached_before(&self) -> Option<&Cap> {
        self.caps
            .iter()
            .find(|cap| cap.limit.reached_by(&cap.before))
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
        let crossed = self
            .caps
            .iter()
            .position(|cap| cap.limit.reached_by(&cap.spent(&live.spent)));
        self.crossed.set(crossed);
        crossed.is_some()
    }

    /// The cap the run crossed, if it was stopped for one.
    pub fn crossed(&self) -> Option<&Cap> {
        self.crossed.get().map(|i| &self.caps[i])
    }

    /// What the run spent, as streamed.
    pub fn live(&self) -> Usage {
        self.live.borrow().spent
    }
}
