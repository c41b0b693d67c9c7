//! The one conversion from the archiver component's WIT-generated report to the host's
//! report type ([`RunReport`], from the core), so that nothing past the archiver's boundary
//! sees binding types.

use crate::wasm::bindings::archiver::exports::tiergate::records::archival as wit;
use tiergate_core::{RecordError, RunReport, WaitingForRetry};

/// Converts a component instance's report.
pub(crate) fn from_wit(report: wit::RunReport) -> RunReport {
    RunReport {
        claimed: report.claimed,
        archived: report.archived,
        deleted: report.deleted,
        restored: report.restored,
        expired: report.expired,
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
        // Not an instance's to know: the run reads it from the ledger once it is over.
        waiting: WaitingForRetry::default(),
    }
}
