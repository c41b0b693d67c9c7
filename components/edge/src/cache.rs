//! The edge KV cache tier. A cache that fails is a miss, never a failed read.

use crate::read::Record;
use spin_sdk::key_value::Store;
use tiergate_core::{CacheEntry, RecordId};

/// The fresh cached copy of `id`, if any.
pub async fn lookup(id: &RecordId, now: u64) -> Option<Record> {
    let store = open().await?;
    let mut value = match store.get(id.cache_key()).await {
        Ok(value) => value?,
        Err(e) => {
            eprintln!("tiergate edge: cache read of record {id} failed: {e:?}");
            return None;
        }
    };
    let (body_len, content_type, etag) = match CacheEntry::decode(&value) {
        Ok(entry) if entry.is_fresh(now) => {
            (entry.body.len(), entry.content_type.to_owned(), entry.etag)
        }
        Ok(_) => return None,
        Err(e) => {
            eprintln!("tiergate edge: cached value of record {id} dropped: {e}");
            let _ = store.delete(id.cache_key()).await;
            return None;
        }
    };
    // The body is the start of the value: what the host handed over is served as it is.
    value.truncate(body_len);
    Some(Record {
        body: value,
        content_type,
        etag,
        stored: None,
    })
}

/// Caches `record` until `expires_at` (unix seconds).
pub async fn store(id: &RecordId, record: &Record, expires_at: u64) {
    let Some(value) =
        CacheEntry::encode(&record.body, &record.content_type, &record.etag, expires_at)
    else {
        return;
    };
    if let Some(store) = open().await
        && let Err(e) = store.set(id.cache_key(), value).await
    {
        eprintln!("tiergate edge: caching record {id} failed: {e:?}");
    }
}

/// Drops the cached copy of `id` after a write.
pub async fn forget(id: &RecordId) {
    if let Some(store) = open().await
        && let Err(e) = store.delete(id.cache_key()).await
    {
        eprintln!("tiergate edge: dropping cached record {id} failed: {e:?}");
    }
}

async fn open() -> Option<Store> {
    match Store::open_default().await {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("tiergate edge: cache store unavailable: {e:?}");
            None
        }
    }
}
