//! Restore: an archived record put back in the hot table, so that a write through the edge
//! reaches a record the API still holds ("updates require copy-back, update, and
//! re-archival, managed by the access layer"). The edge asks before every record write, through
//! the restore endpoint ([`endpoint`]); the host answers it in process, and on its admin
//! address for edges that run elsewhere (Spin).
//!
//! A restore reads the published copy, checks it as the archiver did, inserts the row
//! (in a transaction that re-checks the ledger), then removes the copy, drops the cached
//! copy and forgets the ledger row, in that order: a crash after the insert leaves a
//! `deleted` ledger row whose id is back in the hot table, which the next archiver run's
//! stale pass cleans up. The record is archived again when it is cold again.
//!
//! May use: `config`, `kv`, `wasm::outbound` (the in-process hook), `blob_client`.

pub mod endpoint;

use crate::blob_client::BlobClient;
use crate::kv::KvBackend;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tiergate_core::archival::CopyFacts;
use tiergate_core::{ArchiverSettings, BlobKey, RecordId};
use tiergate_hotstore::{BeforeWrite, HotStore, LazyHotStore, RestoredRow, StoreError};

/// How long after the answer a write has to reach the origin: the archiver does not delete
/// the record's hot row before then.
const WRITE_HOLD: Duration = Duration::from_secs(60);

/// What a write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// The hot row was there (or there is no such record): nothing to do.
    Hot,
    /// The record was put back from its copy.
    Restored,
    /// Its copy was deleted at the end of its retention period: nothing to put back.
    Expired,
}

/// Why a record could not be restored. Nothing is lost either way: the copy stays until
/// the row is back.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The hot database or blob storage did not answer; worth a retry.
    #[error("{0}")]
    Unavailable(String),
    /// The copy or the table is not as the ledger says; an operator must look.
    #[error("{0}")]
    Invalid(String),
}

impl From<StoreError> for RestoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            StoreError::Invalid(m) => Self::Invalid(m),
        }
    }
}

/// Puts archived records back in the hot table.
pub struct Restorer {
    /// Opened at the first write that needs it: serving reads never waits for the hot
    /// database.
    store: Arc<LazyHotStore>,
    blob: BlobClient,
    /// The cache the edge serves from, whose copy of a restored record must go.
    cache: Option<Arc<dyn KvBackend>>,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Restorer {
    /// A restorer over the hot database `store` and the blob storage of `settings`,
    /// dropping cached copies from `cache`.
    pub fn new(
        store: Arc<LazyHotStore>,
        settings: &ArchiverSettings,
        cache: Option<Arc<dyn KvBackend>>,
    ) -> Self {
        Self {
            store,
            blob: BlobClient::new(&settings.blob),
            cache,
        }
    }

    /// The hot database it restores into, for others of the same server to share.
    pub fn hot_store(&self) -> &Arc<LazyHotStore> {
        &self.store
    }

    async fn store(&self) -> Result<&HotStore, RestoreError> {
        Ok(self.store.get().await?)
    }

    /// Makes sure the hot row of record `id` is there for a write: restores it if only its
    /// copy is left, hides a copy that a row came back beside, and puts off the delete of
    /// a copy in its grace period.
    pub async fn before_write(&self, id: &RecordId) -> Result<Restored, RestoreError> {
        let now = unix_ms(SystemTime::now());
        let hold_until = now.saturating_add(WRITE_HOLD.as_millis() as i64);
        match self
            .store()
            .await?
            .before_write(id.as_str(), hold_until)
            .await?
        {
            BeforeWrite::Hot => Ok(Restored::Hot),
            BeforeWrite::Expired => Ok(Restored::Expired),
            BeforeWrite::StaleCopy => {
                self.hide(id).await?;
                Ok(Restored::Hot)
            }
            BeforeWrite::Archived(copy) => {
                let key = BlobKey::for_record(id);
                let facts = CopyFacts {
                    key: key.clone(),
                    version: copy.version.clone(),
                    sha256: copy.sha256,
                    size: copy.size,
                    stored_sha256: copy.stored_sha256,
                    stored_size: copy.stored_size,
                    encoding: copy.encoding.parse().map_err(|e| {
                        RestoreError::Invalid(format!("record {id}: ledger row unusable: {e}"))
                    })?,
                };
                let (meta, stored) = self
                    .blob
                    .get(&key)
                    .await
                    .map_err(RestoreError::Unavailable)?
                    .ok_or_else(|| {
                        RestoreError::Invalid(format!(
                            "record {id}: the ledger says its hot row was deleted, but its \
                             copy {key} is missing; run `tiergate verify`"
                        ))
                    })?;
                facts.check(&meta, &stored).map_err(|e| {
                    RestoreError::Invalid(format!("record {id}: copy {key} is damaged: {e}"))
                })?;
                let body = meta
                    .open(&stored)
                    .map_err(|e| RestoreError::Invalid(format!("record {id}: copy {key}: {e}")))?
                    .into_owned();
                let row = RestoredRow {
                    id: id.as_str().to_owned(),
                    body,
                    content_type: Some(meta.content_type),
                    version: copy.version,
                    now_ms: now,
                };
                // False: another restore got there first; the copy goes either way.
                self.store().await?.restore_row(&row).await?;
                self.hide(id).await?;
                Ok(Restored::Restored)
            }
        }
    }

    /// Removes the copy of a record whose hot row is back, its cached copy, and its ledger
    /// row.
    async fn hide(&self, id: &RecordId) -> Result<(), RestoreError> {
        self.blob
            .delete(&BlobKey::for_record(id))
            .await
            .map_err(RestoreError::Unavailable)?;
        if let Some(cache) = &self.cache
            && let Err(e) = cache.delete(&id.cache_key()).await
        {
            tracing::warn!(record = %id, error = %e, "dropping the cached copy of a restored record");
        }
        self.store().await?.forget_restored(id.as_str()).await?;
        Ok(())
    }
}

/// A range of last-change times, for restoring every archived record in it.
#[derive(Debug, Clone, Copy)]
pub struct ChangedBetween {
    from: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

impl ChangedBetween {
    /// At or after `from` and before `until`; either may be open. Refuses an empty range.
    pub fn new(
        from: Option<chrono::DateTime<chrono::Utc>>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<Self> {
        if let (Some(from), Some(until)) = (from, until)
            && from >= until
        {
            anyhow::bail!("--changed-from ({from}) must come before --changed-until ({until})");
        }
        Ok(Self { from, until })
    }

    /// The ids of the archived records (hot row deleted) last changed in the range, in id
    /// order, read page by page.
    pub async fn ids(&self, store: &HotStore) -> anyhow::Result<Vec<String>> {
        const PAGE: u32 = 1_000;
        let from = self.from.map_or(i64::MIN, |t| t.timestamp_millis());
        let until = self.until.map_or(i64::MAX, |t| t.timestamp_millis());
        let mut ids: Vec<String> = Vec::new();
        loop {
            let after = ids.last().map(String::as_str);
            let page = store.deleted_between(from, until, after, PAGE).await?;
            let full = page.len() == PAGE as usize;
            ids.extend(page);
            if !full {
                return Ok(ids);
            }
        }
    }
}

impl std::fmt::Display for ChangedBetween {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match (self.from, self.until) {
            (Some(from), Some(until)) => write!(f, "from {} until {}", time(from), time(until)),
            (Some(from), None) => write!(f, "from {}", time(from)),
            (None, Some(until)) => write!(f, "before {}", time(until)),
            (None, None) => write!(f, "at any time"),
        }
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
