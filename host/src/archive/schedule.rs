//! Archiver runs on the configured cron schedule, one at a time: a run that outlasts its
//! slot delays the next one rather than overlapping it.

use crate::archive::{Archiver, RunOptions, RunReport};
use crate::telemetry::alert::Alert;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Starts running `archiver` on `schedule` until the task is aborted. Aborting mid-run is
/// safe: every step of a run is repaired by the next one.
pub fn spawn(
    archiver: Arc<Archiver>,
    schedule: croner::Cron,
    webhook: Option<url::Url>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = chrono::Utc::now();
            let next = match schedule.find_next_occurrence(&now, false) {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "archive schedule has no next run; scheduling stopped");
                    return;
                }
            };
            tracing::info!(next = %next.to_rfc3339(), "next archiver run");
            tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
            let run = archiver.run(RunOptions::default()).await;
            // The ledger gauges, for the scrapes until the next run: a status read counts
            // the hot table, so only runs that serve metrics pay for it.
            match archiver.store().status().await {
                Ok(status) => crate::telemetry::metrics::ledger(&status),
                Err(e) => tracing::warn!(error = %e, "reading the ledger for the metrics failed"),
            }
            match run {
                Ok(report) => {
                    log(&report);
                    if let Some(alert) = alert(&report) {
                        crate::telemetry::alert::send(webhook.as_ref(), &alert).await;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "archiver run failed");
                    let alert = Alert::new(
                        "archive_run_failed",
                        format!("archiver run broke off: {e:#}"),
                        Vec::new(),
                    );
                    crate::telemetry::alert::send(webhook.as_ref(), &alert).await;
                }
            }
        }
    })
}

/// The alert a run's report calls for: one when it stopped early or a record failed.
pub fn alert(report: &RunReport) -> Option<Alert> {
    if report.aborted.is_none() && report.failed == 0 {
        return None;
    }
    let summary = match &report.aborted {
        Some(reason) => format!("archiver run stopped early: {reason}"),
        None => format!("archiver run: {} records failed", report.failed),
    };
    let details = report
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.id, e.message))
        .collect();
    Some(Alert::new("archive_run_failed", summary, details))
}

/// Logs a run's report: one line, and one more per failed record.
pub fn log(report: &RunReport) {
    for error in &report.errors {
        tracing::warn!(record = %error.id, error = %error.message, "record not archived");
    }
    match &report.aborted {
        Some(reason) => tracing::error!(
            reason = %reason,
            archived = report.archived,
            deleted = report.deleted,
            failed = report.failed,
            "archiver run stopped early"
        ),
        None => tracing::info!(
            claimed = report.claimed,
            archived = report.archived,
            deleted = report.deleted,
            restored = report.restored,
            failed = report.failed,
            bytes_in = report.bytes_in,
            bytes_out = report.bytes_out,
            "archiver run finished"
        ),
    }
}
