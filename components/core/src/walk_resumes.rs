//! Where a run's walk over cold records starts: at the beginning now and then, otherwise
//! where the previous run got to.
//!
//! A walk that starts at the beginning passes every copy still in its grace period (each
//! costs a look-up in the ledger): after a backfill of 1.8M records with a 7-day grace
//! period, the next run's first claim took 7-20 s. A walk that goes on from the previous
//! run's end passes none of them, and its first claim costs its batch. What it passes by
//! is what became claimable behind that end since: a failed copy whose retry time came, a
//! record restored without a write, a legal hold lifted, a row written without moving its
//! changed column. So the walk starts at the beginning after a run that broke off or that
//! ended with any copy unfinished (given back for a retry, or claimed by another run,
//! live or dead, which the walk passed), and in one run of every [`RESUMED_RUNS`] + 1,
//! which finds the rest within a day of hourly runs. The host keeps this in the hot
//! database beside the ledger, so that the next run goes on from there whichever process
//! makes it (`tiergate archive --once` is a new process every time).

/// Runs in a row whose walks go on from the previous end before one starts over.
pub const RESUMED_RUNS: u32 = 23;

/// One archiver's walks so far, `P` being a walk's position.
#[derive(Debug, Clone)]
pub struct WalkResumes<P> {
    /// Where the last run's walk got to, if the next may go on from there.
    pub end: Option<P>,
    /// Walks in a row that went on from an earlier end.
    pub resumed: u32,
}

impl<P> Default for WalkResumes<P> {
    fn default() -> Self {
        Self {
            end: None,
            resumed: 0,
        }
    }
}

impl<P: Clone> WalkResumes<P> {
    /// Where the next run's walk starts: after the position given, or at the beginning
    /// (`None`).
    pub fn start(&self) -> Option<P> {
        if self.resumed >= RESUMED_RUNS {
            return None;
        }
        self.end.clone()
    }

    /// Notes that a run's walk, which went on from an earlier end if `resumed`, got to
    /// `end`; `behind` says that records may wait behind it (the run broke off, or copies
    /// were left unfinished), so that the next walk starts over.
    pub fn ended(&mut self, resumed: bool, end: P, behind: bool) {
        self.resumed = if resumed { self.resumed + 1 } else { 0 };
        self.end = (!behind).then_some(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_walk_starts_at_the_beginning_and_the_next_goes_on_from_its_end() {
        let mut walks = WalkResumes::default();
        assert_eq!(walks.start(), None);
        walks.ended(false, 10, false);
        assert_eq!(walks.start(), Some(10));
        walks.ended(true, 20, false);
        assert_eq!(walks.start(), Some(20));
    }

    #[test]
    fn records_left_behind_make_the_next_walk_start_over() {
        let mut walks = WalkResumes::default();
        walks.ended(false, 10, false);
        walks.ended(true, 20, true);
        assert_eq!(walks.start(), None);
        walks.ended(false, 30, false);
        assert_eq!(walks.start(), Some(30));
    }

    #[test]
    fn one_walk_in_every_resumed_runs_plus_one_starts_over() {
        let mut walks = WalkResumes::default();
        walks.ended(false, 0, false);
        for run in 1..=RESUMED_RUNS {
            let start = walks.start();
            assert_eq!(start, Some(run - 1), "run {run}");
            walks.ended(true, run, false);
        }
        assert_eq!(
            walks.start(),
            None,
            "a full walk after {RESUMED_RUNS} resumed ones"
        );
        walks.ended(false, 100, false);
        assert_eq!(walks.start(), Some(100));
    }
}
