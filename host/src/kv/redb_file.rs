//! A cache store on disk (redb) that survives restarts. Entries are evicted oldest-written
//! first: tracking reads would turn every cache hit into a disk write.

use super::{KvBackend, KvError, entry_size, fitting_size};
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Mutex;

/// key -> (write sequence number, value).
const ENTRIES: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("entries");
/// write sequence number -> key, oldest first.
const ORDER: TableDefinition<u64, &str> = TableDefinition::new("order");

/// A redb file bounded by bytes.
pub struct RedbKv {
    db: Database,
    budget: u64,
    /// Bytes used and the next sequence number; writes are serialised by redb anyway.
    counters: Mutex<(u64, u64)>,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbKv")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

fn storage(e: impl std::fmt::Display) -> KvError {
    KvError::Storage(e.to_string())
}

impl RedbKv {
    /// Opens (or creates) the file at `path`.
    pub fn open(path: &Path, budget: u64) -> Result<Self, KvError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => KvError::InUse(path.to_owned()),
            e => KvError::Storage(format!("cannot open {}: {e}", path.display())),
        })?;
        let txn = db.begin_write().map_err(storage)?;
        let (mut used, mut next) = (0, 0);
        {
            let entries = txn.open_table(ENTRIES).map_err(storage)?;
            txn.open_table(ORDER).map_err(storage)?;
            for row in entries.iter().map_err(storage)? {
                let (key, value) = row.map_err(storage)?;
                let (seq, bytes) = value.value();
                used += entry_size(key.value(), bytes);
                next = next.max(seq + 1);
            }
        }
        txn.commit().map_err(storage)?;
        Ok(Self {
            db,
            budget,
            counters: Mutex::new((used, next)),
        })
    }
}

#[async_trait::async_trait]
impl KvBackend for RedbKv {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let entries = txn.open_table(ENTRIES).map_err(storage)?;
        Ok(entries
            .get(key)
            .map_err(storage)?
            .map(|v| Bytes::copy_from_slice(v.value().1)))
    }

    async fn set(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        let size = fitting_size(key, &value, self.budget)?;
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let (mut used, seq) = *counters;
        let mut evicted = 0;
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut entries = txn.open_table(ENTRIES).map_err(storage)?;
            let mut order = txn.open_table(ORDER).map_err(storage)?;
            if let Some(old) = entries.insert(key, (seq, &value[..])).map_err(storage)? {
                let (old_seq, old_bytes) = old.value();
                used -= entry_size(key, old_bytes);
                order.remove(old_seq).map_err(storage)?;
            }
            order.insert(seq, key).map_err(storage)?;
            used += size;
            while used > self.budget {
                evicted += 1;
                let (_, oldest) = order.pop_first().map_err(storage)?.expect("over budget");
                let oldest = oldest.value().to_owned();
                if let Some(gone) = entries.remove(oldest.as_str()).map_err(storage)? {
                    used -= entry_size(&oldest, gone.value().1);
                }
            }
        }
        txn.commit().map_err(storage)?;
        *counters = (used, seq + 1);
        Ok(evicted)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut entries = txn.open_table(ENTRIES).map_err(storage)?;
            if let Some(old) = entries.remove(key).map_err(storage)? {
                let (seq, bytes) = old.value();
                counters.0 -= entry_size(key, bytes);
                txn.open_table(ORDER)
                    .map_err(storage)?
                    .remove(seq)
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let entries = txn.open_table(ENTRIES).map_err(storage)?;
        entries
            .iter()
            .map_err(storage)?
            .map(|row| row.map(|(k, _)| k.value().to_owned()).map_err(storage))
            .collect()
    }

    fn used_bytes(&self) -> u64 {
        self.counters.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_survive_reopening_and_the_oldest_write_is_evicted() {
        let dir = std::env::temp_dir().join(format!("tiergate-redb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.redb");
        let _ = std::fs::remove_file(&path);
        {
            // Entries of 10 bytes: two fit in 25, the third evicts one.
            let kv = RedbKv::open(&path, 25).unwrap();
            kv.set("a", Bytes::from_static(&[1; 9])).await.unwrap();
            kv.set("b", Bytes::from_static(&[2; 9])).await.unwrap();
        }
        let kv = RedbKv::open(&path, 25).unwrap();
        assert_eq!(
            kv.get("a").await.unwrap().unwrap(),
            Bytes::from_static(&[1; 9])
        );
        assert_eq!(kv.used_bytes(), 20, "the byte count survives reopening");
        assert_eq!(
            kv.set("c", Bytes::from_static(&[3; 9])).await.unwrap(),
            1,
            "one evicted"
        );
        assert!(!kv.exists("a").await.unwrap(), "a was written first");
        assert_eq!(
            kv.keys().await.unwrap(),
            vec!["b".to_owned(), "c".to_owned()]
        );
        kv.delete("b").await.unwrap();
        assert!(!kv.exists("b").await.unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
