//! The shared edge cache: entries in a Redis server that every tiergate host reads and
//! writes, and the archiver too, wherever it runs. A write through one host drops the
//! cached copy for all of them at once, and each record is warmed once, not once per host.
//!
//! Redis bounds it, not tiergate: `maxmemory` with `maxmemory-policy allkeys-lru` (checked
//! once at start, with a warning when it is missing), and every entry expires with the
//! cache TTL (`SET ... EX`).
//!
//! Redis down, slow or refusing is a skipped cache, never a failed request: every call
//! gives up after `timeout`, and after a failure Redis is skipped for [`BACKOFF`] (so an
//! outage costs one timeout a second, not one per request). A delete that could not reach
//! Redis is kept and sent again every [`BACKOFF`], and before anything else this host asks,
//! until Redis takes it; meanwhile reads of that key are misses here. So this host never
//! serves a copy it was told to drop, and the others stop within about a second of Redis
//! answering again (a Redis that kept the entry through the outage, frozen or cut off).

use super::{KvBackend, KvError};
use crate::config::RedisCache;
use bytes::Bytes;
use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long Redis is skipped after a call failed.
const BACKOFF: Duration = Duration::from_secs(1);

/// The edge cache in Redis.
pub struct RedisKv(Arc<Shared>);

/// What the store and its task that resends deletes share.
struct Shared {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    ttl_seconds: u64,
    /// Until when Redis is skipped after a failure.
    down_until: Mutex<Option<Instant>>,
    /// Keys whose delete did not reach Redis yet.
    undeleted: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv")
            .field("prefix", &self.0.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisKv {
    /// A store for `config`. It connects at its first call, so a host starts (and serves
    /// from the other tiers) while Redis is down.
    pub fn new(config: &RedisCache) -> Result<Self, KvError> {
        let invalid = |e: redis::RedisError| KvError::Storage(format!("cache.url: {e}"));
        let mut info = redis::IntoConnectionInfo::into_connection_info(config.url.as_str())
            .map_err(invalid)?;
        if let Some(password) = &config.password {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(invalid)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            // Reconnects happen in the background; a call never waits for retries.
            .set_number_of_retries(1)
            .set_max_delay(BACKOFF);
        let conn = ConnectionManager::new_lazy_with_config(client, manager).map_err(invalid)?;
        let shared = Arc::new(Shared {
            conn,
            prefix: config.key_prefix.clone(),
            timeout: config.timeout,
            ttl_seconds: config.entry_ttl.as_secs().max(1),
            down_until: Mutex::new(None),
            undeleted: Mutex::new(HashSet::new()),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(check_eviction(shared.conn.clone(), config.url.clone()));
            runtime.spawn(resend_deletes(Arc::downgrade(&shared)));
        }
        Ok(Self(shared))
    }
}

/// Every [`BACKOFF`], sends the deletes Redis did not take, for as long as the store lives.
async fn resend_deletes(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(BACKOFF);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let owed = !lock(&shared.undeleted).is_empty();
        if owed && !shared.skipped() {
            // A failure is counted and logged by `call`; the next tick tries again.
            let _ = shared.catch_up().await;
        }
    }
}

impl Shared {
    /// Whether Redis is being skipped after a recent failure.
    fn skipped(&self) -> bool {
        lock(&self.down_until).is_some_and(|until| Instant::now() < until)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `call` unless Redis is being skipped, within the timeout; a failure skips
    /// Redis for a while and is counted.
    async fn call<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, KvError> {
        if self.skipped() {
            return Err(KvError::Storage(
                "Redis skipped after a recent failure".into(),
            ));
        }
        let now = Instant::now();
        let failed = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                *lock(&self.down_until) = None;
                return Ok(value);
            }
            Ok(Err(e)) => format!("Redis {op}: {e}"),
            Err(_) => format!("Redis {op}: no answer within {:?}", self.timeout),
        };
        let mut down = lock(&self.down_until);
        if down.is_none() {
            tracing::warn!(error = %failed, "the shared cache is skipped until Redis answers");
        }
        *down = Some(now + BACKOFF);
        crate::telemetry::metrics::cache_error(op);
        Err(KvError::Storage(failed))
    }

    /// Sends the deletes that did not reach Redis, before any other call.
    async fn catch_up(&self) -> Result<(), KvError> {
        let keys: Vec<String> = lock(&self.undeleted).iter().cloned().collect();
        if keys.is_empty() {
            return Ok(());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let mut conn = self.conn.clone();
        self.call("delete", conn.del::<_, ()>(full)).await?;
        let mut undeleted = lock(&self.undeleted);
        for key in keys {
            undeleted.remove(&key);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl KvBackend for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        self.0.catch_up().await?;
        if lock(&self.0.undeleted).contains(key) {
            return Ok(None);
        }
        let mut conn = self.0.conn.clone();
        let value: Option<Vec<u8>> = self.0.call("get", conn.get(self.0.key(key))).await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.0.catch_up().await?;
        let mut conn = self.0.conn.clone();
        let set = conn.set_ex::<_, _, ()>(self.0.key(key), value.as_ref(), self.0.ttl_seconds);
        self.0.call("set", set).await?;
        // Redis evicts by itself; it does not say what.
        Ok(0)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        lock(&self.0.undeleted).insert(key.to_owned());
        self.0.catch_up().await
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        self.0.catch_up().await?;
        let mut conn = self.0.conn.clone();
        let pattern = format!("{}*", self.0.prefix);
        let keys: Vec<String> = self.0.call("keys", conn.keys(pattern)).await?;
        let prefix = self.0.prefix.len();
        Ok(keys.into_iter().map(|k| k[prefix..].to_owned()).collect())
    }

    /// Redis reports its own (`INFO memory`); the other hosts' entries are not this one's.
    fn used_bytes(&self) -> u64 {
        0
    }
}

/// Warns once when Redis is not set up to bound the cache: with no `maxmemory` it grows
/// until the machine runs out, and with `noeviction` writes fail once it is full (they are
/// then skipped, so the cache stops filling). Managed services that refuse `CONFIG` are
/// trusted.
async fn check_eviction(mut conn: ConnectionManager, url: String) {
    let config: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory*")
        .query_async(&mut conn)
        .await;
    let Ok(pairs) = config else { return };
    let value = |name: &str| {
        pairs
            .chunks(2)
            .find(|pair| pair[0] == name)
            .and_then(|pair| pair.get(1).cloned())
    };
    let maxmemory = value("maxmemory").unwrap_or_default();
    let policy = value("maxmemory-policy").unwrap_or_default();
    if maxmemory == "0" || !policy.starts_with("allkeys-") {
        tracing::warn!(
            redis = %url,
            maxmemory = %maxmemory,
            policy = %policy,
            "the shared cache's Redis does not bound it: set maxmemory and maxmemory-policy allkeys-lru"
        );
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is a single assignment or insert: a panic cannot leave it half done.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
