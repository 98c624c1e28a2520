//! What a race's attempts spend, shared between their threads while they run side by side:
//! each attempt's runs since the race started and what its current run streams. Every cap of
//! an attempt's run counts its rivals' spend from here too (`budget::Spend`), so attempts under
//! one budget stop together once their sum reaches it, not each at the whole budget.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::Result;

use crate::store::Store;
use crate::store::event::Usage;
use crate::store::git::Oid;
use crate::store::state::Race;

/// One race's account: by attempt number, what it spent.
#[derive(Debug, Default)]
pub struct RaceSpend {
    attempts: Mutex<BTreeMap<u32, Spent>>,
}

/// What one attempt spent since the race started.
#[derive(Debug, Default, Clone, Copy)]
struct Spent {
    /// Its runs that ended.
    finished: Usage,
    /// What its current run has streamed so far.
    live: Usage,
}

impl RaceSpend {
    /// The account of `race` (of trak `id` at `stage`, started at `from`) as it is picked up:
    /// an attempt that finished with what the trak's record says it spent, an open one (a race
    /// interrupted) with the runs its own ref holds since the race started.
    pub fn seeded(store: &Store, id: &str, stage: &str, race: &Race, from: Oid) -> Result<Self> {
        let mut attempts = BTreeMap::new();
        for attempt in &race.attempts {
            let finished = match attempt.gate {
                Some(_) => attempt.usage,
                // Read, never made: another machine may be running it.
                None => match store.race_attempt_here(id, stage, attempt.no, from)? {
                    Some(racer) => super::race::spent_since(store, &racer, from)?.0,
                    None => Usage::default(),
                },
            };
            let live = Usage::default();
            attempts.insert(attempt.no, Spent { finished, live });
        }
        Ok(RaceSpend {
            attempts: Mutex::new(attempts),
        })
    }

    /// What every attempt but `no` spent, their current runs' streams included.
    pub fn rivals_of(&self, no: u32) -> Usage {
        let mut sum = Usage::default();
        for (_, spent) in self.lock().iter().filter(|(other, _)| **other != no) {
            sum.add(&spent.finished);
            sum.add(&spent.live);
        }
        sum
    }

    /// Attempt `no`'s current run has streamed `live` so far.
    pub fn streamed(&self, no: u32, live: Usage) {
        self.lock().entry(no).or_default().live = live;
    }

    /// Attempt `no`'s current run ended, counted as `spent`.
    pub fn run_ended(&self, no: u32, spent: Usage) {
        let mut attempts = self.lock();
        let attempt = attempts.entry(no).or_default();
        attempt.finished.add(&spent);
        attempt.live = Usage::default();
    }

    /// The attempts `race`'s record holds as over count what it says they spent: one that ran
    /// on another machine is counted here once its end is recorded.
    pub fn recorded(&self, race: &Race) {
        let mut attempts = self.lock();
        for attempt in race.attempts.iter().filter(|a| a.gate.is_some()) {
            attempts.insert(
                attempt.no,
                Spent {
                    finished: attempt.usage,
                    live: Usage::default(),
                },
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Spent>> {
        // A thread that panicked holding it left numbers, not a broken invariant.
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(cost_usd: f64) -> Usage {
        Usage {
            cost_usd,
            ..Usage::default()
        }
    }

    #[test]
    fn an_attempt_sees_its_rivals_runs_and_streams_not_its_own() {
        let account = RaceSpend::default();
        account.run_ended(1, usd(0.5));
        account.streamed(1, usd(0.25));
        account.streamed(2, usd(0.125));
        account.streamed(3, usd(1.0));
        assert_eq!(account.rivals_of(3).cost_usd, 0.875);
        assert_eq!(account.rivals_of(1).cost_usd, 1.125);
        // A run that ends replaces its stream by what it is counted as.
        account.run_ended(3, usd(1.5));
        assert_eq!(account.rivals_of(1).cost_usd, 1.625);
    }
}
