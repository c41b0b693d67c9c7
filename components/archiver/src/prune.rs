//! The second half of the protocol: hot rows deleted once their grace period is over, and
//! copies that went stale removed. Both re-check before they act, and both are safe to
//! repeat: a crash between steps leaves a ledger row that the next run picks up again.

use crate::report::Failure;
use crate::storage;
use crate::tiergate::records::hot_store::{self, ArchivedCopy, DeleteOutcome};
use spin_sdk::key_value::Store;
use tiergate_core::archival::{AfterDelete, CopyFacts};
use tiergate_core::{ArchiverSettings, BlobKey, RecordId};

/// What became of a due record.
pub(crate) enum Pruned {
    /// Its hot row was deleted: the blob copy is the record now.
    Deleted,
    /// Its copy was stale (the record changed, is held or was deleted) and is gone.
    Restored,
    /// Another archiver took it over.
    LeaseLost,
}

/// Deletes the hot row of `due` if its copy still reads back intact and the record has not
/// changed since it was copied.
pub(crate) async fn delete_due(
    settings: &ArchiverSettings,
    due: &ArchivedCopy,
) -> Result<Pruned, Failure> {
    let id = record_id(&due.id)?;
    let facts = CopyFacts {
        key: BlobKey::for_record(&id),
        version: due.version.clone(),
        sha256: due.sha256.clone(),
        size: due.size,
        stored_sha256: due.stored_sha256.clone(),
        stored_size: due.stored_size,
        encoding: due
            .encoding
            .parse()
            .map_err(|e| Failure::record(format!("record {id}: ledger row unusable: {e}")))?,
    };
    let problem = match storage::get(&settings.blob, &facts.key).await? {
        None => Some("is missing".to_owned()),
        Some((meta, stored)) => facts.check(&meta, &stored).err().map(|e| e.to_string()),
    };
    if let Some(problem) = problem {
        // The hot row stays; forgetting the ledger row lets the next claim copy it afresh.
        hot_store::forget(due.id.clone()).await?;
        return Err(Failure::record(format!(
            "record {id}: copy {} {problem} at its re-check before delete; \
             the hot row was kept and the record will be copied again",
            facts.key
        )));
    }
    let outcome = match hot_store::delete_if_unchanged(due.id.clone(), due.version.clone()).await? {
        DeleteOutcome::Deleted => tiergate_core::archival::DeleteOutcome::Deleted,
        DeleteOutcome::Changed => tiergate_core::archival::DeleteOutcome::Changed,
        DeleteOutcome::Held => tiergate_core::archival::DeleteOutcome::Held,
        DeleteOutcome::Missing => tiergate_core::archival::DeleteOutcome::Missing,
        DeleteOutcome::LeaseLost => tiergate_core::archival::DeleteOutcome::LeaseLost,
    };
    match outcome.after() {
        AfterDelete::DropCachedCopy => {
            drop_cached_copy(&id).await;
            Ok(Pruned::Deleted)
        }
        AfterDelete::RemoveCopy => {
            remove(settings, &id).await?;
            Ok(Pruned::Restored)
        }
        AfterDelete::Nothing => Ok(Pruned::LeaseLost),
    }
}

/// Removes a stale copy: the record is hot again (or gone), so its copy must not be
/// served. A `copying` row may have a copy too (a run can stop right after its PUT), so the
/// object is always deleted; deleting an absent one is no error.
pub(crate) async fn remove_stale(settings: &ArchiverSettings, id: &str) -> Result<(), Failure> {
    remove(settings, &record_id(id)?).await
}

/// Deletes the copy, then the cached copy, then the ledger row: in this order a crash
/// leaves a ledger row that points at nothing, which the next run forgets.
async fn remove(settings: &ArchiverSettings, id: &RecordId) -> Result<(), Failure> {
    storage::delete(&settings.blob, &BlobKey::for_record(id)).await?;
    drop_cached_copy(id).await;
    hot_store::forget(id.as_str().to_owned()).await?;
    Ok(())
}

/// Drops the edge's cached copy; a cache that cannot be reached only delays this until the
/// entry expires, so it is logged, not failed.
async fn drop_cached_copy(id: &RecordId) {
    let result = match Store::open_default().await {
        Ok(store) => store.delete(id.cache_key()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("tiergate archiver: dropping the cached copy of record {id} failed: {e:?}");
    }
}

fn record_id(raw: &str) -> Result<RecordId, Failure> {
    RecordId::parse(raw)
        .map_err(|e| Failure::record(format!("ledger holds an unusable record id {raw:?}: {e}")))
}
