//! The default cache store: process memory, least recently used evicted first. Large values
//! are kept in sealed memory files, which connections send without copying
//! ([`crate::kv::zero_copy`]).

use super::{KvBackend, KvError, entry_size, fitting_size};
use bytes::Bytes;
use lru::LruCache;
use std::sync::Mutex;

/// An in-memory LRU bounded by bytes. Values are `Bytes`, so a hit hands out a reference
/// to the stored value rather than a copy.
pub struct MemoryKv {
    budget: u64,
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKv")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

struct State {
    entries: LruCache<String, Bytes>,
    used: u64,
}

impl MemoryKv {
    /// An empty store holding at most `budget` bytes.
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            state: Mutex::new(State {
                entries: LruCache::unbounded(),
                used: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent map: every update is one call.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl KvBackend for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        Ok(self.state().entries.get(key).cloned())
    }

    async fn set(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        let size = fitting_size(key, &value, self.budget)?;
        let value = crate::kv::zero_copy::seal(value);
        let mut state = self.state();
        if let Some(old) = state.entries.put(key.to_owned(), value) {
            state.used -= entry_size(key, &old);
        }
        state.used += size;
        let mut evicted = 0;
        while state.used > self.budget {
            let (gone_key, gone) = state.entries.pop_lru().expect("used > 0 means entries");
            state.used -= entry_size(&gone_key, &gone);
            evicted += 1;
        }
        Ok(evicted)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let mut state = self.state();
        if let Some(old) = state.entries.pop(key) {
            state.used -= entry_size(key, &old);
        }
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.state().entries.contains(key))
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        Ok(self
            .state()
            .entries
            .iter()
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn used_bytes(&self) -> u64 {
        self.state().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn evicts_least_recently_used_to_stay_within_budget() {
        // Entries of 10 bytes: two fit in 25, the third evicts one.
        let kv = MemoryKv::new(25);
        kv.set("a", Bytes::from_static(&[0; 9])).await.unwrap();
        kv.set("b", Bytes::from_static(&[0; 9])).await.unwrap();
        kv.get("a").await.unwrap();
        assert_eq!(
            kv.set("c", Bytes::from_static(&[0; 9])).await.unwrap(),
            1,
            "one evicted"
        );
        assert!(kv.exists("a").await.unwrap() && kv.exists("c").await.unwrap());
        assert!(!kv.exists("b").await.unwrap(), "b was least recently used");
        assert_eq!(kv.used_bytes(), 20);
    }

    #[tokio::test]
    async fn replacing_and_deleting_keep_the_byte_count() {
        let kv = MemoryKv::new(100);
        kv.set("a", Bytes::from_static(&[0; 50])).await.unwrap();
        kv.set("a", Bytes::from_static(&[0; 10])).await.unwrap();
        assert_eq!(kv.state().used, 11);
        kv.delete("a").await.unwrap();
        assert_eq!(kv.state().used, 0);
    }

    #[tokio::test]
    async fn a_value_over_the_whole_budget_is_refused() {
        let kv = MemoryKv::new(10);
        assert!(matches!(
            kv.set("a", Bytes::from_static(&[0; 10])).await,
            Err(KvError::TooLarge {
                size: 11,
                budget: 10
            })
        ));
    }
}
