//! What an archiver run did, added up over its instances: the one report type the host
//! converts the component's WIT report into, and that its CLI, metrics and logs read.

/// A record that failed in a run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record.
    pub id: String,
    /// What went wrong, for the operator.
    pub message: String,
}

/// What a run did, added up over its instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Records claimed for copying.
    pub claimed: u32,
    /// Records copied, verified and marked archived.
    pub archived: u32,
    /// Hot rows deleted after their grace period.
    pub deleted: u32,
    /// Stale copies removed (their records are hot again).
    pub restored: u32,
    /// Copies deleted for good at the end of their retention period.
    pub expired: u32,
    /// Records that failed; each one is in `errors`.
    pub failed: u32,
    /// Bytes of records copied.
    pub bytes_in: u64,
    /// Bytes stored for them.
    pub bytes_out: u64,
    /// Every failed record, with its reason.
    pub errors: Vec<RecordError>,
    /// Set when the run stopped early (the hot database or blob storage unreachable).
    pub aborted: Option<String>,
    /// What the run left waiting: records that failed (in it or before) and that no run
    /// takes again before their retry time. Read once the run is over, not added up.
    pub waiting: WaitingForRetry,
}

/// Records that failed to copy and wait for their retry time (`archive.retry_seconds`): a
/// run that claims nothing while they wait has not archived everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitingForRetry {
    /// How many.
    pub records: u64,
    /// When the first of them may be tried again (unix ms).
    pub next_retry_ms: Option<i64>,
}

impl RunReport {
    /// Adds another instance's report to this one; the first reason to stop early stays.
    pub fn add(&mut self, other: RunReport) {
        self.claimed += other.claimed;
        self.archived += other.archived;
        self.deleted += other.deleted;
        self.restored += other.restored;
        self.expired += other.expired;
        self.failed += other.failed;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.errors.extend(other.errors);
        if self.aborted.is_none() {
            self.aborted = other.aborted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_reports_sums_counts_and_keeps_the_first_reason_to_stop() {
        let mut total = RunReport {
            claimed: 2,
            archived: 1,
            failed: 1,
            bytes_in: 10,
            errors: vec![RecordError {
                id: "A".into(),
                message: "first".into(),
            }],
            ..RunReport::default()
        };
        total.add(RunReport {
            claimed: 3,
            archived: 3,
            bytes_in: 5,
            bytes_out: 4,
            aborted: Some("storage unreachable".into()),
            ..RunReport::default()
        });
        total.add(RunReport {
            aborted: Some("later".into()),
            ..RunReport::default()
        });
        assert_eq!(
            (
                total.claimed,
                total.archived,
                total.failed,
                total.bytes_in,
                total.bytes_out
            ),
            (5, 4, 1, 15, 4)
        );
        assert_eq!(total.errors.len(), 1);
        assert_eq!(total.aborted.as_deref(), Some("storage unreachable"));
    }
}
