//! Archiver runs on the configured cron schedule, one at a time: a run that outlasts its
//! slot delays the next one rather than overlapping it.

use crate::archive::{Archiver, RunOptions, RunReport};
use crate::config::Config;
use crate::kv::KvBackend;
use crate::telemetry::alert::Alert;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Makes the archiver for `serve`: `None` when the hot database cannot be reached now, so
/// that the edge serves anyway (reads never need the hot database) and the schedule makes
/// the archiver at the first run that reaches it. A configuration the database refuses
/// (no such table or column) is an error at once.
pub async fn archiver_unless_unreachable(
    config: &Config,
    kv: Arc<dyn KvBackend>,
) -> anyhow::Result<Option<Arc<Archiver>>> {
    match Archiver::new(config, kv).await {
        Ok(archiver) => Ok(Some(Arc::new(archiver))),
        Err(e) if unreachable(&e) => {
            tracing::warn!(
                error = %format!("{e:#}"),
                "the hot database is unreachable: serving reads; the archiver starts at the \
                 first scheduled run that reaches it"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn unreachable(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<tiergate_hotstore::StoreError>()
        .is_some_and(tiergate_hotstore::StoreError::is_retryable)
}

/// Starts running the archiver on `schedule` until the task is aborted: `archiver`, or,
/// while there is none, one made from `config` at each run until the hot database answers.
/// Aborting mid-run is safe: every step of a run is repaired by the next one.
pub fn spawn(
    mut archiver: Option<Arc<Archiver>>,
    config: Config,
    kv: Arc<dyn KvBackend>,
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
            let archiver = match &archiver {
                Some(ready) => ready.clone(),
                None => match Archiver::new(&config, kv.clone()).await {
                    Ok(made) => archiver.insert(Arc::new(made)).clone(),
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "archiver run failed");
                        crate::telemetry::alert::send(webhook.as_ref(), &broke_off(&e)).await;
                        continue;
                    }
                },
            };
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
                    crate::telemetry::alert::send(webhook.as_ref(), &broke_off(&e)).await;
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

/// The alert of a run that broke off (its store unreachable, its instance trapped) before it
/// could report.
pub fn broke_off(error: &anyhow::Error) -> Alert {
    Alert::new(
        "archive_run_failed",
        format!("archiver run broke off: {error:#}"),
        Vec::new(),
    )
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
        None if report.waiting.records > 0 => tracing::warn!(
            claimed = report.claimed,
            archived = report.archived,
            deleted = report.deleted,
            failed = report.failed,
            waiting_retry = report.waiting.records,
            next_retry_ms = report.waiting.next_retry_ms,
            "archiver run finished with records waiting for a retry"
        ),
        None => tracing::info!(
            claimed = report.claimed,
            archived = report.archived,
            deleted = report.deleted,
            restored = report.restored,
            expired = report.expired,
            failed = report.failed,
            bytes_in = report.bytes_in,
            bytes_out = report.bytes_out,
            "archiver run finished"
        ),
    }
}
