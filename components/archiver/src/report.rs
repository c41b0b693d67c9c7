//! The run's tally, and the failures that end up in it.

use crate::exports::tiergate::records::archival::{RecordError, RunReport};
use crate::storage::StorageError;
use crate::tiergate::records::hot_store::StoreError;
use tiergate_core::archival::Retry;

/// Most per-record errors one report carries; the count in `failed` stays exact.
const MAX_ERRORS: usize = 100;

/// Why a record's step did not finish.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What happened, naming the record's step.
    pub(crate) message: String,
    /// Whether the run must stop: the hot database or blob storage is unreachable, so
    /// every further record would fail the same way.
    pub(crate) stops_run: bool,
}

impl Failure {
    /// A failure of this record only.
    pub(crate) fn record(message: String) -> Self {
        Self {
            message,
            stops_run: false,
        }
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Self {
            message: e.message,
            stops_run: e.retry == Retry::Transient,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let message = match e {
            StoreError::Unavailable(m) => format!("hot database unavailable: {m}"),
            StoreError::Invalid(m) => format!("hot database refused: {m}"),
        };
        Self {
            message,
            stops_run: true,
        }
    }
}

/// A run's report as it fills.
pub(crate) struct Tally(RunReport);

impl Default for Tally {
    fn default() -> Self {
        Self(RunReport {
            claimed: 0,
            archived: 0,
            deleted: 0,
            restored: 0,
            expired: 0,
            failed: 0,
            bytes_in: 0,
            bytes_out: 0,
            errors: Vec::new(),
            aborted: None,
        })
    }
}

impl Tally {
    /// The report so far.
    pub(crate) fn report(&mut self) -> &mut RunReport {
        &mut self.0
    }

    /// Counts a record that failed; stops the run if the failure says so.
    pub(crate) fn fail(&mut self, id: &str, failure: Failure) {
        self.0.failed += 1;
        if failure.stops_run {
            self.stop(failure.message.clone());
        }
        if self.0.errors.len() < MAX_ERRORS {
            self.0.errors.push(RecordError {
                id: id.to_owned(),
                message: failure.message,
            });
        }
    }

    /// Stops the run: no further claims are made.
    pub(crate) fn stop(&mut self, reason: String) {
        self.0.aborted.get_or_insert(reason);
    }

    /// Whether the run was stopped.
    pub(crate) fn stopped(&self) -> bool {
        self.0.aborted.is_some()
    }

    /// The final report.
    pub(crate) fn finish(self) -> RunReport {
        self.0
    }
}
