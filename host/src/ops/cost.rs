//! `tiergate cost`: what the bill is computed from, measured in the hot database and the
//! ledger; the bill itself is `tiergate_cost`'s, with no I/O.

use crate::config::Config;
use tiergate_core::LedgerState;
use tiergate_cost::{Footprint, Report};
use tiergate_hotstore::HotStore;

/// Measures the footprint in `store` and computes the report with `config`'s `[cost]`
/// settings and archive window.
pub async fn report(config: &Config, store: &HotStore) -> anyhow::Result<Report> {
    let archive = config
        .archive
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the cost report needs [hot] and [archive] configured"))?;
    let window = archive.settings.hot_window;
    let status = store
        .status()
        .await
        .map_err(|e| anyhow::anyhow!("reading the ledger: {e}"))?;
    let cold = crate::archive::dry_run(store, archive).await?.cold;
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
