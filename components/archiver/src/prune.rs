//! The second half of the protocol: hot rows deleted once their grace period is over,
//! copies that went stale removed, and copies past their retention period deleted for good.
//! Each re-checks before it acts, and each is safe to repeat: a crash between steps leaves
//! a ledger row that the next run picks up again.

use crate::copy;
use crate::report::Failure;
use crate::storage;
use crate::tiergate::records::hot_store::{self, ArchivedCopy, LockOutcome};
use spin_sdk::key_value::Store;
use tiergate_core::archival::CopyFacts;
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
/// changed since it was copied, publishing the copy (writing it under the record key the
/// edge reads) while the row is locked: the copy becomes the record in the same step that
/// removes the row, so it never answers for a row that differs from it.
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
    let staged = BlobKey::staged_for_record(&id);
    // A copy made before copies were staged sits under the record key: already published.
    let (source, found) = match storage::get(&settings.blob, &staged).await? {
        Some(found) => (staged, Some(found)),
        None => (
            facts.key.clone(),
            storage::get(&settings.blob, &facts.key).await?,
        ),
    };
    let checked = match found {
        None => Err("is missing".to_owned()),
        Some((meta, stored)) => facts
            .check(&meta, &stored)
            .map(|()| (meta, stored))
            .map_err(|e| e.to_string()),
    };
    let (meta, stored) = match checked {
        Ok(copy) => copy,
        Err(problem) => {
            // The hot row stays; forgetting the ledger row lets the next claim copy it afresh.
            remove(settings, &id).await?;
            return Err(Failure::record(format!(
                "record {id}: copy {source} {problem} at its re-check before delete; \
                 the hot row was kept and the record will be copied again"
            )));
        }
    };
    let locked =
        hot_store::lock_for_delete(due.id.clone(), due.version.clone(), due.sha256.clone());
    match locked.await? {
        LockOutcome::Locked => {}
        LockOutcome::LeaseLost => return Ok(Pruned::LeaseLost),
        LockOutcome::Changed | LockOutcome::Held | LockOutcome::Missing => {
            remove(settings, &id).await?;
            return Ok(Pruned::Restored);
        }
    }
    let already_published = source == facts.key;
    if !already_published
        && let Err(failure) = copy::write(settings, &id, &facts.key, &meta, &facts, stored).await
    {
        // Still under the lock: a PUT that failed may have landed all the same, and the
        // copy must not answer for the row once the row is free to change.
        let unpublished = storage::delete(&settings.blob, &facts.key).await;
        hot_store::finish_delete(due.id.clone(), false).await?;
        unpublished?;
        return Err(failure);
    }
    // The staged copy goes before the commit, so that a crash leaves none behind: a next
    // run finds the copy published, equal to the row, and finishes the step from there.
    if !already_published && let Err(e) = storage::delete(&settings.blob, &source).await {
        // It is never served; it only costs its storage.
        eprintln!(
            "tiergate archiver: removing staged copy {source} of record {id} failed: {}",
            Failure::from(e).message
        );
    }
    // An error here leaves the outcome unknown (a commit whose answer was lost): the copy
    // stays published, equal to the row, and the next run finishes or undoes the step.
    if !hot_store::finish_delete(due.id.clone(), true).await? {
        if !already_published {
            storage::delete(&settings.blob, &facts.key).await?;
        }
        return Err(Failure::record(format!(
            "record {id}: the lock on its hot row was let go before the copy was published \
             (the PUT took too long); the hot row was kept"
        )));
    }
    drop_cached_copy(&id).await;
    Ok(Pruned::Deleted)
}

/// Removes a stale copy: the record is hot again (or gone), so its copy must not be
/// served. A `copying` row may have a copy too (a run can stop right after its PUT), so the
/// object is always deleted; deleting an absent one is no error.
pub(crate) async fn remove_stale(settings: &ArchiverSettings, id: &str) -> Result<(), Failure> {
    remove(settings, &record_id(id)?).await
}

/// Deletes the copy of a record whose retention period is over, then its cached copy, then
/// marks it `expired`: in this order a crash leaves a `deleted` row whose copy may be gone,
/// which the next run claims again (deleting an absent object is no error). False when
/// another archiver took the record over.
pub(crate) async fn expire(settings: &ArchiverSettings, id: &str) -> Result<bool, Failure> {
    let id = record_id(id)?;
    storage::delete(&settings.blob, &BlobKey::for_record(&id)).await?;
    storage::delete(&settings.blob, &BlobKey::staged_for_record(&id)).await?;
    drop_cached_copy(&id).await;
    Ok(hot_store::mark_expired(id.as_str().to_owned()).await?)
}

/// Deletes the copy (published or staged), then the cached copy, then the ledger row: in
/// this order a crash leaves a ledger row that points at nothing, which the next run
/// forgets.
async fn remove(settings: &ArchiverSettings, id: &RecordId) -> Result<(), Failure> {
    storage::delete(&settings.blob, &BlobKey::for_record(id)).await?;
    storage::delete(&settings.blob, &BlobKey::staged_for_record(id)).await?;
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
