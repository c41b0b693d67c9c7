//! One cold record copied: read with its version, encoded, hashed and proven to decode
//! back to it, written with a signed PUT, read back and compared byte for byte with what
//! was written, then marked archived. A crash anywhere before the mark leaves a `copying`
//! row whose lease runs out, and the next run copies it again.

use crate::report::Failure;
use crate::storage;
use crate::tiergate::records::hot_store::{self, ArchivedCopy, Claim};
use bytes::Bytes;
use std::time::SystemTime;
use tiergate_core::{ArchiverSettings, PreparedCopy, RecordId};

/// What became of a claimed record.
pub enum Copied {
    /// Copied, verified and marked: the record's size and its stored size.
    Archived { size: u64, stored_size: u64 },
    /// The application deleted it before it could be copied.
    Gone,
    /// Another archiver took it over (this one was too slow): nothing was marked.
    LeaseLost,
}

/// Copies the record `claim` names.
pub async fn copy(settings: &ArchiverSettings, claim: &Claim) -> Result<Copied, Failure> {
    let id = RecordId::parse(&claim.id).map_err(|e| {
        Failure::record(format!(
            "record id {:?} cannot be archived: {e} (the edge could not serve it)",
            claim.id
        ))
    })?;
    let Some(record) = hot_store::read(claim.id.clone()).await? else {
        hot_store::forget(claim.id.clone()).await?;
        return Ok(Copied::Gone);
    };
    let PreparedCopy {
        meta,
        stored,
        facts,
    } = PreparedCopy::prepare(
        &id,
        &record.version,
        record.content_type.as_deref(),
        &record.body,
        settings.encoding,
    )
    .map_err(|e| Failure::record(format!("record {id}: {e}; nothing was written")))?;
    drop(record);
    // One buffer for the PUT's body (and its retries) and the read-back comparison.
    let written = Bytes::from(stored);
    storage::put(&settings.blob, &facts.key, &meta, written.clone()).await?;
    let Some((meta, read)) = storage::get(&settings.blob, &facts.key).await? else {
        return Err(Failure::record(format!(
            "record {id}: copy {} was absent right after its PUT succeeded",
            facts.key
        )));
    };
    // The copy must be exactly the bytes written, which `prepare` proved decode to the
    // record; only then is it marked archived (the delete pass checks it in full again).
    facts.check_read_back(&meta, &read, &written).map_err(|e| {
        Failure::record(format!(
            "record {id}: copy {} read back wrong: {e}",
            facts.key
        ))
    })?;
    let delete_after = SystemTime::now() + settings.grace;
    let marked = hot_store::mark_archived(ArchivedCopy {
        id: claim.id.clone(),
        version: facts.version,
        blob_key: facts.key.to_string(),
        sha256: facts.sha256,
        size: facts.size,
        stored_sha256: facts.stored_sha256,
        stored_size: facts.stored_size,
        encoding: facts.encoding.to_string(),
        delete_after: unix_ms(delete_after),
    })
    .await?;
    Ok(if marked {
        Copied::Archived {
            size: facts.size,
            stored_size: facts.stored_size,
        }
    } else {
        Copied::LeaseLost
    })
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
