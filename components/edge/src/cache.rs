//! The edge KV cache tier. A cache that fails is a miss, never a failed read.

use crate::record::Record;
use spin_sdk::key_value::Store;
use tiergate_core::{CacheEntry, RecordId};

/// Serves the fresh cached copy of `id`, if any: `answer` is given its entry and says how,
/// and the value comes back cut to the record's bytes, with what `answer` said. The entry
/// borrows the value, so the answer is made while both are at hand.
pub(crate) async fn lookup<R>(
    id: &RecordId,
    now: u64,
    answer: impl FnOnce(&CacheEntry<'_>) -> R,
) -> Option<(Vec<u8>, R)> {
    let store = open().await?;
    let mut value = match store.get(id.cache_key()).await {
        Ok(value) => value?,
        Err(e) => {
            eprintln!("tiergate edge: cache read of record {id} failed: {e:?}");
            return None;
        }
    };
    let (body_len, said) = match CacheEntry::fresh(&value, now) {
        Ok(Some(entry)) => (entry.body.len(), answer(&entry)),
        Ok(None) => {
            // Expired. Stores such as Spin's keep what they are given until it is deleted,
            // and a record that is never read again successfully would keep its entry
            // forever: whoever meets an expired entry deletes it.
            if let Err(e) = store.delete(id.cache_key()).await {
                eprintln!("tiergate edge: dropping expired cached record {id} failed: {e:?}");
            }
            return None;
        }
        Err(e) => {
            eprintln!("tiergate edge: cached value of record {id} dropped: {e}");
            let _ = store.delete(id.cache_key()).await;
            return None;
        }
    };
    // The body is the start of the value: what the host handed over is served as it is.
    value.truncate(body_len);
    Some((value, said))
}

/// Caches `record` until `expires_at` (unix seconds).
pub(crate) async fn store(id: &RecordId, record: &Record, expires_at: u64) {
    let Some(value) = CacheEntry::encode(
        &record.body,
        &record.content_type,
        &record.etag,
        record.owner.as_deref(),
        expires_at,
    ) else {
        return;
    };
    if let Some(store) = open().await
        && let Err(e) = store.set(id.cache_key(), value).await
    {
        eprintln!("tiergate edge: caching record {id} failed: {e:?}");
    }
}

/// Drops the cached copy of `id` after a write.
pub(crate) async fn forget(id: &RecordId) {
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
