//! Which records a run's stale pass looks at: now and then all of them, otherwise only
//! those changed since an earlier run began, which the changed column's index finds
//! without joining the whole ledger with the records table.

/// Runs in a row that look only at recent changes before one looks at everything again: a
/// day of hourly runs. The narrow pass misses a record deleted straight from the table (its
/// staged copy is found by the delete step when due) or written without moving its changed
/// column; the wide one finds those.
pub const NARROW_RUNS: u32 = 23;

/// How far before the earlier run's start a narrow pass looks: the changed column holds
/// the application's clock, not ours, and a transaction's changes carry the time it began.
pub const LOOK_BACK_MS: i64 = 10 * 60 * 1000;

/// One archiver's stale passes so far.
#[derive(Debug, Clone, Default)]
pub struct StaleSweeps {
    /// The latest start of a run whose stale pass ended: every change made before it was
    /// looked at.
    covered_ms: Option<i64>,
    /// Narrow passes since the last wide one.
    narrow: u32,
}

impl StaleSweeps {
    /// What the next run's stale pass looks at: records changed since the time given, or
    /// every record (`None`): the first run, and one in every [`NARROW_RUNS`] + 1.
    pub fn changed_since_ms(&self) -> Option<i64> {
        if self.narrow >= NARROW_RUNS {
            return None;
        }
        self.covered_ms.map(|t| t.saturating_sub(LOOK_BACK_MS))
    }

    /// Notes that the stale pass of a run that began at `started_ms` ended, having looked
    /// at what `changed_since_ms` said when the run began (a run that broke off is not
    /// noted: what it did not look at is looked at again).
    pub fn ended(&mut self, started_ms: i64, changed_since_ms: Option<i64>) {
        self.narrow = match changed_since_ms {
            None => 0,
            Some(_) => self.narrow + 1,
        };
        self.covered_ms = Some(self.covered_ms.map_or(started_ms, |t| t.max(started_ms)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_looks_at_everything_then_narrow_runs_look_back_from_the_last_start() {
        let mut sweeps = StaleSweeps::default();
        assert_eq!(sweeps.changed_since_ms(), None);
        sweeps.ended(1_000_000, None);
        assert_eq!(sweeps.changed_since_ms(), Some(1_000_000 - LOOK_BACK_MS));
        // A run that began earlier but ended later does not move the time back.
        sweeps.ended(2_000_000, Some(1_000_000 - LOOK_BACK_MS));
        sweeps.ended(1_500_000, Some(1_000_000 - LOOK_BACK_MS));
        assert_eq!(sweeps.changed_since_ms(), Some(2_000_000 - LOOK_BACK_MS));
    }

    #[test]
    fn every_so_many_narrow_runs_one_looks_at_everything() {
        let mut sweeps = StaleSweeps::default();
        sweeps.ended(0, None);
        for run in 1..=NARROW_RUNS {
            let since = sweeps.changed_since_ms();
            assert!(since.is_some(), "run {run}");
            sweeps.ended(i64::from(run), since);
        }
        assert_eq!(sweeps.changed_since_ms(), None);
        sweeps.ended(100, None);
        assert!(sweeps.changed_since_ms().is_some());
    }
}
