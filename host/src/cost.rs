//! `tiergate cost`: what the bill is computed from, measured in the hot database and the
//! ledger; the bill itself is `tiergate_cost`'s, with no I/O.

use crate::archiver::Archiver;
use crate::config::Config;
use tiergate_core::LedgerState;
use tiergate_cost::{Footprint, Report};

/// Measures the footprint through `archiver` and computes the report with `config`'s
/// `[cost]` settings and archive window.
pub async fn report(config: &Config, archiver: &Archiver) -> anyhow::Result<Report> {
    let window = config
        .archive
        .as_ref()
        .map(|a| a.settings.hot_window)
        .ok_or_else(|| anyhow::anyhow!("the cost report needs [hot] and [archive] configured"))?;
    let status = archiver
        .store()
        .status()
        .await
        .map_err(|e| anyhow::anyhow!("reading the ledger: {e}"))?;
    let cold = archiver.dry_run().await?.cold;
    let state = |wanted: LedgerState| {
        status
            .states
            .iter()
            .find(|s| s.state == wanted)
            .cloned()
            .expect("status lists every state")
    };
    // Copied and verified but still in the hot table for their grace period: due to leave.
    let in_grace = state(LedgerState::Archived);
    let deleted = state(LedgerState::Deleted);
    let footprint = Footprint {
        hot_records: status.hot_records,
        hot_bytes: status.hot_bytes,
        due_records: cold.records + in_grace.records,
        due_bytes: cold.bytes + in_grace.bytes,
        archived_records: deleted.records,
        archived_bytes: deleted.bytes,
        stored_bytes: deleted.stored_bytes,
    };
    Ok(Report::new(
        footprint,
        &config.cost,
        window.as_secs() / 86_400,
    ))
}
