//! What a run did, as the host reports it: the one conversion from the component's
//! WIT-generated report, so that nothing past the archiver's boundary sees binding types.

use crate::wasm::bindings::archiver::exports::tiergate::records::archival as wit;

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
}

impl RunReport {
    /// What the metrics count of this run.
    pub fn counts(&self) -> crate::telemetry::metrics::RunCounts {
        crate::telemetry::metrics::RunCounts {
            aborted: self.aborted.is_some(),
            archived: self.archived,
            deleted: self.deleted,
            restored: self.restored,
            failed: self.failed,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
        }
    }

    /// Adds another instance's report to this one; the first reason to stop early stays.
    pub fn add(&mut self, other: RunReport) {
        self.claimed += other.claimed;
        self.archived += other.archived;
        self.deleted += other.deleted;
        self.restored += other.restored;
        self.failed += other.failed;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.errors.extend(other.errors);
        if self.aborted.is_none() {
            self.aborted = other.aborted;
        }
    }
}

impl From<wit::RunReport> for RunReport {
    fn from(report: wit::RunReport) -> Self {
        Self {
            claimed: report.claimed,
            archived: report.archived,
            deleted: report.deleted,
            restored: report.restored,
            failed: report.failed,
            bytes_in: report.bytes_in,
            bytes_out: report.bytes_out,
            errors: report
                .errors
                .into_iter()
                .map(|e| RecordError {
                    id: e.id,
                    message: e.message,
                })
                .collect(),
            aborted: report.aborted,
        }
    }
}
