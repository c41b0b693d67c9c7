//! The edge cache's key-value store: one trait, chosen by config, nothing else knowing which.
//!
//! The edge KV is a bounded hot cache, never the archive (docs/architecture.md): the local
//! backends hold at most `budget_bytes` of keys and values and evict to stay under it; a
//! Redis server bounds itself (`maxmemory`).
//!
//! - [`KvBackend`] and its backends: `memory` (large values in sealed memory files,
//!   [`zero_copy`]), `redb_file`, and `redis_store` (shared by many hosts; Redis bounds it);
//! - [`import`]: the guest-facing `spin:key-value` import over the backend;
//! - [`ServeDrops`]: a local cache as a run in another process reaches it, through its
//!   server's admin address.
//!
//! May use: `config`, `telemetry::metrics`, `wasm::bindings` (the import's generated traits).

pub mod import;
mod memory;
mod redb_file;
mod redis_store;
mod serve_drops;
pub mod zero_copy;

pub use memory::MemoryKv;
pub use redb_file::RedbKv;
pub use redis_store::RedisKv;
pub use serve_drops::{DROP_PREFIX, ServeDrops};

use crate::config::{CacheBackend, CacheConfig};
use bytes::Bytes;
use std::sync::Arc;

/// Why a KV operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The value alone is larger than the whole budget.
    #[error("value of {size} bytes exceeds the cache budget of {budget} bytes")]
    TooLarge {
        /// Key and value bytes.
        size: u64,
        /// The budget.
        budget: u64,
    },
    /// The cache file is open in another process (its server).
    #[error(
        "{} is open in another process: another `tiergate serve`, or an `archive --once` or \
         `restore` that drops cached copies from it while no server runs; start again once it ends",
        .0.display()
    )]
    InUse(std::path::PathBuf),
    /// The backend's storage failed.
    #[error("cache storage failed: {0}")]
    Storage(String),
}

/// A bounded key-value store. Async, since a shared store answers over the network.
#[async_trait::async_trait]
pub trait KvBackend: Send + Sync + 'static {
    /// The value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, KvError>;
    /// The value of `key`, like [`get`](Self::get) but not counted as a cache lookup: for
    /// the host's look ahead of the component, which counts its own lookups.
    async fn peek(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        self.get(key).await
    }
    /// Sets `key` to `value`, evicting other entries to stay within the budget; returns how
    /// many it evicted.
    async fn set(&self, key: &str, value: Bytes) -> Result<u64, KvError>;
    /// Removes `key`; absent keys are not an error.
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// Whether `key` is present.
    async fn exists(&self, key: &str) -> Result<bool, KvError>;
    /// Every key.
    async fn keys(&self) -> Result<Vec<String>, KvError>;
    /// Bytes (keys and values) held now.
    fn used_bytes(&self) -> u64;
}

/// Opens the backend the config names, counted for the metrics.
pub fn open(config: &CacheConfig) -> Result<Arc<dyn KvBackend>, KvError> {
    Ok(match &config.backend {
        CacheBackend::Memory => Arc::new(Metered(MemoryKv::new(config.budget_bytes))),
        CacheBackend::Redb(path) => Arc::new(Metered(RedbKv::open(path, config.budget_bytes)?)),
        CacheBackend::Redis(redis) => Arc::new(Metered(RedisKv::new(redis)?)),
    })
}

/// A backend whose lookups, writes, evictions and size are counted.
struct Metered<B>(B);

#[async_trait::async_trait]
impl<B: KvBackend> KvBackend for Metered<B> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        let value = self.0.get(key).await?;
        crate::telemetry::metrics::cache_lookup(value.is_some());
        Ok(value)
    }

    async fn peek(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        self.0.get(key).await
    }

    async fn set(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        let size = entry_size(key, &value);
        let evicted = self.0.set(key, value).await?;
        crate::telemetry::metrics::cache_write(size, evicted);
        crate::telemetry::metrics::cache_used(self.0.used_bytes());
        Ok(evicted)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await?;
        crate::telemetry::metrics::cache_used(self.0.used_bytes());
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.0.exists(key).await
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        self.0.keys().await
    }

    fn used_bytes(&self) -> u64 {
        self.0.used_bytes()
    }
}

/// Bytes an entry counts against the budget.
fn entry_size(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

/// The entry's size, if it can fit in `budget` at all.
fn fitting_size(key: &str, value: &[u8], budget: u64) -> Result<u64, KvError> {
    let size = entry_size(key, value);
    if size > budget {
        return Err(KvError::TooLarge { size, budget });
    }
    Ok(size)
}
