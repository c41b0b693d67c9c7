//! One run, in passes over claims the host leases to it: stale copies first (so no stale
//! copy outlives a run), then copies past their retention period (when one is set), then
//! hot rows whose grace period is over, then cold records.
//! Each pass works batch by batch, `archive_concurrency` records at once; a failure on one
//! record is reported and the run goes on, unless the hot database or blob storage is
//! unreachable, which stops the run with the reason.

use crate::copy::{self, Copied};
use crate::exports::tiergate::records::archival::RunReport;
use crate::prune::{self, Pruned};
use crate::report::{Failure, Tally};
use crate::tiergate::records::{digest, hot_store};
use futures::StreamExt;
use std::time::SystemTime;
use tiergate_core::ArchiverSettings;
use tiergate_core::settings::names;

/// Runs once and reports.
pub(crate) async fn run() -> RunReport {
    let mut tally = Tally::default();
    match prepare().await {
        Ok(settings) => passes(&settings, &mut tally).await,
        Err(message) => tally.stop(message),
    }
    tally.finish()
}

/// The settings, with hashing handed to the host (natively several times faster than here).
async fn prepare() -> Result<ArchiverSettings, String> {
    tiergate_core::digest::hash_with(digest::sha256)
        .map_err(|e| format!("the host's SHA-256: {e}"))?;
    settings()
        .await
        .map_err(|message| format!("archiver settings: {message}"))
}

async fn passes(settings: &ArchiverSettings, tally: &mut Tally) {
    let batch = settings.batch_size;
    while !tally.stopped() {
        let ids = match hot_store::claim_stale(batch).await {
            Ok(ids) if ids.is_empty() => break,
            Ok(ids) => ids,
            Err(e) => return tally.stop(Failure::from(e).message),
        };
        let results = each(settings, ids, |id| async move {
            let result = prune::remove_stale(settings, &id).await;
            (id, result)
        })
        .await;
        for (id, result) in results {
            match result {
                Ok(()) => tally.report().restored += 1,
                Err(failure) => tally.fail(&id, failure),
            }
        }
    }
    if let Some(retention) = settings.expire_after {
        let changed_before = copy::unix_ms(SystemTime::now() - retention);
        while !tally.stopped() {
            let ids = match hot_store::claim_expired(changed_before, batch).await {
                Ok(ids) if ids.is_empty() => break,
                Ok(ids) => ids,
                Err(e) => return tally.stop(Failure::from(e).message),
            };
            let results = each(settings, ids, |id| async move {
                let result = prune::expire(settings, &id).await;
                (id, result)
            })
            .await;
            for (id, result) in results {
                match result {
                    Ok(true) => tally.report().expired += 1,
                    Ok(false) => {}
                    Err(failure) => tally.fail(&id, failure),
                }
            }
        }
    }
    while !tally.stopped() {
        let due = match hot_store::claim_due(batch).await {
            Ok(due) if due.is_empty() => break,
            Ok(due) => due,
            Err(e) => return tally.stop(Failure::from(e).message),
        };
        let results = each(settings, due, |due| async move {
            let result = prune::delete_due(settings, &due).await;
            (due.id, result)
        })
        .await;
        for (id, result) in results {
            match result {
                Ok(Pruned::Deleted) => tally.report().deleted += 1,
                Ok(Pruned::Restored) => tally.report().restored += 1,
                Ok(Pruned::LeaseLost) => {}
                Err(failure) => tally.fail(&id, failure),
            }
        }
    }
    let cutoff = copy::unix_ms(SystemTime::now() - settings.hot_window);
    while !tally.stopped() {
        let left = settings.max_records.map_or(batch, |max| {
            max.saturating_sub(tally.report().claimed).min(batch)
        });
        if left == 0 {
            break;
        }
        let claims = match hot_store::claim_cold(cutoff, left).await {
            Ok(claims) if claims.is_empty() => break,
            Ok(claims) => claims,
            Err(e) => return tally.stop(Failure::from(e).message),
        };
        tally.report().claimed += claims.len() as u32;
        let results = each(settings, claims, |claim| async move {
            let result = copy::copy(settings, &claim).await;
            if let Err(failure) = &result {
                release(settings, &claim.id, failure).await;
            }
            (claim.id, result)
        })
        .await;
        for (id, result) in results {
            match result {
                Ok(Copied::Archived { size, stored_size }) => {
                    let report = tally.report();
                    report.archived += 1;
                    report.bytes_in += size;
                    report.bytes_out += stored_size;
                }
                Ok(Copied::Gone | Copied::LeaseLost) => {}
                Err(failure) => tally.fail(&id, failure),
            }
        }
    }
}

/// Runs `step` on every item, `archive_concurrency` at once.
async fn each<T, R, F: Future<Output = R>>(
    settings: &ArchiverSettings,
    items: Vec<T>,
    step: impl Fn(T) -> F,
) -> Vec<R> {
    futures::stream::iter(items)
        .map(step)
        .buffer_unordered(settings.concurrency)
        .collect()
        .await
}

/// Gives a failed claim back, to be tried again after `archive_retry_seconds` (at once if
/// the run is stopping: the failure was not the record's).
async fn release(settings: &ArchiverSettings, id: &str, failure: &Failure) {
    let retry_after = if failure.stops_run {
        0
    } else {
        settings.retry_after.as_millis() as u64
    };
    if let Err(e) = hot_store::release(id.to_owned(), failure.message.clone(), retry_after).await {
        // The lease runs out by itself; the record is only delayed.
        eprintln!("tiergate archiver: releasing record {id} failed: {e:?}");
    }
}

/// The settings, from Spin variables (unset and empty both mean the default).
async fn settings() -> Result<ArchiverSettings, String> {
    let mut values = Vec::new();
    for &name in names::EDGE.iter().chain(names::ARCHIVER) {
        if let Ok(value) = spin_sdk::variables::get(name).await
            && !value.is_empty()
        {
            values.push((name, value));
        }
    }
    ArchiverSettings::from_variables(|name| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .map_err(|e| e.to_string())
}
