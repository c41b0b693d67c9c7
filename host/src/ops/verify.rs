//! `tiergate verify`: the audit that proves nothing was lost. It pages through tiergate's
//! ledger and reads the blob copy of every record that is archived or deleted (or a
//! deterministic sample of them), checking it exactly as the archiver did before it deleted
//! anything: stored bytes and hash, metadata, and the record's own SHA-256 after decoding.
//! One object is held in memory at a time.

use crate::blob_client::BlobClient;
use crate::config::Config;
use sha2::{Digest, Sha256};
use tiergate_core::archival::CopyFacts;
use tiergate_core::{BlobKey, LedgerState, RecordId};
use tiergate_hotstore::{HotStore, LedgerRow};

/// Ledger rows read at a time.
const PAGE: u32 = 500;

/// A record whose copy is not what the ledger says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The record.
    pub id: String,
    /// What is wrong.
    pub what: String,
}

/// What an audit found.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Ledger rows read.
    pub rows: u64,
    /// Copies read and checked, and expired records checked for a leftover copy.
    pub checked: u64,
    /// Bytes of records whose copies were checked.
    pub bytes: u64,
    /// Every problem, by record.
    pub problems: Vec<Problem>,
}

/// Audits the copies of archived and deleted records, and that expired records have none
/// left; `sample_percent` below 100 checks
/// that share of them, chosen by a hash of the id (the same ones every time). `checked` is
/// called after each row.
pub async fn verify(
    config: &Config,
    store: &HotStore,
    sample_percent: u8,
    mut checked: impl FnMut(&Audit),
) -> anyhow::Result<Audit> {
    let settings = &config
        .archive
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no [hot] section: there is no ledger to verify"))?
        .settings;
    let client = BlobClient::new(&settings.blob);
    let mut audit = Audit::default();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .ledger_page(after.as_deref(), PAGE)
            .await
            .map_err(|e| anyhow::anyhow!("reading the ledger: {e}"))?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id.clone());
        for row in &page {
            audit.rows += 1;
            let kept = matches!(row.state, LedgerState::Archived | LedgerState::Deleted);
            if (kept || row.state == LedgerState::Expired) && sampled(&row.id, sample_percent) {
                audit.checked += 1;
                let outcome = if kept {
                    audit.bytes += row.size.unwrap_or(0);
                    check(&client, row).await
                } else {
                    check_gone(&client, row).await
                };
                if let Err(what) = outcome {
                    audit.problems.push(Problem {
                        id: row.id.clone(),
                        what,
                    });
                }
            }
            checked(&audit);
        }
    }
    Ok(audit)
}

fn sampled(id: &str, percent: u8) -> bool {
    percent >= 100 || Sha256::digest(id.as_bytes())[0] as u16 * 100 / 256 < u16::from(percent)
}

/// An expired record's copy must be gone: retention is a promise to delete.
async fn check_gone(client: &BlobClient, row: &LedgerRow) -> Result<(), String> {
    let id = RecordId::parse(&row.id).map_err(|e| format!("unusable id: {e}"))?;
    for key in [BlobKey::for_record(&id), BlobKey::staged_for_record(&id)] {
        if client.get(&key).await?.is_some() {
            return Err(format!(
                "copy {key} is still there, but the record expired (its retention period is over)"
            ));
        }
    }
    Ok(())
}

async fn check(client: &BlobClient, row: &LedgerRow) -> Result<(), String> {
    let id = RecordId::parse(&row.id).map_err(|e| format!("unusable id: {e}"))?;
    let missing = |field: &str| format!("ledger row ({}) lacks {field}", row.state);
    let facts = CopyFacts {
        key: BlobKey::for_record(&id),
        version: row.version.clone(),
        sha256: row.sha256.clone().ok_or_else(|| missing("sha256"))?,
        size: row.size.ok_or_else(|| missing("size"))?,
        stored_sha256: row
            .stored_sha256
            .clone()
            .ok_or_else(|| missing("stored_sha256"))?,
        stored_size: row.stored_size.ok_or_else(|| missing("stored_size"))?,
        encoding: row
            .encoding
            .as_deref()
            .ok_or_else(|| missing("encoding"))?
            .parse()
            .map_err(|e| format!("{e}"))?,
    };
    // An archived record's copy is staged until the step that deletes its hot row; one
    // made before copies were staged is under the record key already.
    let mut found = None;
    if row.state == LedgerState::Archived {
        let staged = BlobKey::staged_for_record(&id);
        found = client.get(&staged).await?.map(|copy| (staged, copy));
    }
    if found.is_none() {
        found = client
            .get(&facts.key)
            .await?
            .map(|copy| (facts.key.clone(), copy));
    }
    let (key, (meta, stored)) =
        found.ok_or_else(|| format!("copy {} is missing ({} record)", facts.key, row.state))?;
    facts
        .check(&meta, &stored)
        .map_err(|e| format!("copy {key}: {e}"))
}

/// The alert an audit calls for: one when it found a problem.
pub fn alert(audit: &Audit) -> Option<crate::telemetry::alert::Alert> {
    if audit.problems.is_empty() {
        return None;
    }
    Some(crate::telemetry::alert::Alert::new(
        "verify_found_problems",
        format!(
            "verify: {} of {} archived copies have problems",
            audit.problems.len(),
            audit.checked
        ),
        audit
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.id, p.what))
            .collect(),
    ))
}
