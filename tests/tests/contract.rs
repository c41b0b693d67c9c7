//! The contract (docs/architecture.md): through the edge, a client gets what the API alone
//! would answer with every record still hot, whatever the archiver did in between.
//!
//! A reference model (the API's records, as if none were ever archived) runs beside the real
//! stack: the real edge and archiver components in the host, a hot database (SQLite, and
//! PostgreSQL where one runs), the API over it over HTTP, and s3s-fs. Seeded random steps
//! read, write, delete, age records, run the archiver and let grace periods pass (a grace
//! period above zero, so that reads land between a copy and the delete of its hot row); every
//! answer is compared with the model's. The API comes in two kinds: one whose `PUT` only
//! replaces and one whose `PUT` creates (at version 1 again, so versions repeat).
//!
//! Not yet sent: writes to a record whose hot row is already gone (only its published copy
//! is left). Those need the record restored to the hot table first, which is still to be
//! built (the writes-and-restores issue); until then such a write reaches an API that no
//! longer holds the record.
//!
//! A failure prints the seed and every step; `TIERGATE_TEST_SEED=n` replays one seed.

use bytes::Bytes;
use http_body_util::Full;
use std::collections::BTreeMap;
use std::time::Duration;
use tiergate::RunOptions;
use tiergate_tests::{
    BlobStore, Gate, GateConfig, HotDb, HotOrigin, PutKind, SplitMix64, billing_record,
};

/// Old enough to be archived.
const OLD: Duration = Duration::from_secs(40 * 86_400);
/// The grace period between a copy and the delete of its hot row.
const GRACE: Duration = Duration::from_secs(1);
/// Ids the steps pick from: few, so that steps meet the same records often.
const IDS: u64 = 6;
/// Steps per seed.
const STEPS: usize = 60;
/// Seeds per test, unless `TIERGATE_TEST_SEED` names one.
const SEEDS: u64 = 2;

/// The stack under test and the model beside it.
struct World {
    db: HotDb,
    _origin: HotOrigin,
    _blob: BlobStore,
    gate: Gate,
    archiver: tiergate::Archiver,
    put: PutKind,
    /// What the API would hold with every record hot.
    model: BTreeMap<String, Bytes>,
    rng: SplitMix64,
    seed: u64,
    /// Every step so far, for the failure message.
    steps: Vec<String>,
}

impl World {
    async fn start(db: HotDb, put: PutKind, seed: u64) -> anyhow::Result<Self> {
        let origin = HotOrigin::start_with(db.clone(), put).await?;
        let blob = BlobStore::start().await?;
        let config = GateConfig::new(origin.url())
            .blob_endpoint(blob.endpoint())
            .archive(&db.hot_toml(), "")
            .grace_seconds(GRACE.as_secs());
        let gate = Gate::start(&config).await?;
        let archiver = gate.archiver().await?;
        Ok(Self {
            db,
            _origin: origin,
            _blob: blob,
            gate,
            archiver,
            put,
            model: BTreeMap::new(),
            rng: SplitMix64(seed),
            seed,
            steps: Vec::new(),
        })
    }

    /// Stops the test with `what`, the seed and the steps that led there.
    fn fail(&self, what: String) -> ! {
        panic!(
            "{what}\nseed {} ({:?} origin); replay with TIERGATE_TEST_SEED={}\nsteps:\n  {}",
            self.seed,
            self.put,
            self.seed,
            self.steps.join("\n  ")
        )
    }

    fn note(&mut self, step: String) {
        self.steps.push(step);
    }

    /// Whether the record's hot row is gone while the API still holds the record: only
    /// its published copy is left.
    async fn only_archived(&self, id: &str) -> anyhow::Result<bool> {
        Ok(self.model.contains_key(id) && self.db.get(id).await?.is_none())
    }

    async fn step(&mut self, n: usize) -> anyhow::Result<()> {
        let id = format!("INV-{}", self.rng.below(IDS));
        match self.rng.below(100) {
            0..=39 => self.read(&id).await,
            40..=54 => {
                if self.only_archived(&id).await? {
                    return Ok(());
                }
                let body = billing_record(&id, 1_000 + n as u64, 2_000 + n * 37);
                self.write(&id, body).await
            }
            55..=64 => {
                if self.only_archived(&id).await? {
                    return Ok(());
                }
                self.delete(&id).await
            }
            65..=74 => {
                // A record the application created long ago, straight in its table (it
                // is not served by anything yet, so nothing can hide it).
                if !self.model.contains_key(&id) && self.db.get(&id).await?.is_none() {
                    let body = billing_record(&id, n as u64, 1_000 + n * 53);
                    self.db.insert(&id, &body, OLD).await?;
                    self.note(format!("insert {id} (old, straight into the table)"));
                    self.model.insert(id, body);
                }
                Ok(())
            }
            75..=82 => {
                // Time passes for one record: it becomes cold.
                if self.db.age(&id, OLD).await? {
                    self.note(format!("age {id}"));
                }
                Ok(())
            }
            83..=92 => self.run().await,
            _ => {
                self.note("wait out the grace period".to_owned());
                tokio::time::sleep(GRACE + Duration::from_millis(100)).await;
                Ok(())
            }
        }
    }

    async fn read(&mut self, id: &str) -> anyhow::Result<()> {
        let reply = self.gate.get(&format!("/records/{id}")).await?;
        self.note(format!(
            "GET {id} -> {} from {}",
            reply.status,
            reply.source().unwrap_or("?")
        ));
        match self.model.get(id) {
            Some(body) => {
                if reply.status != 200 || reply.body != *body {
                    self.fail(format!(
                        "GET {id}: expected 200 with the API's {} bytes, got {} with {} bytes \
                         from {:?}",
                        body.len(),
                        reply.status,
                        reply.body.len(),
                        reply.source()
                    ));
                }
            }
            None => {
                if reply.status != 404 {
                    self.fail(format!(
                        "GET {id}: expected 404 (the API holds no such record), got {} from {:?}",
                        reply.status,
                        reply.source()
                    ));
                }
            }
        }
        Ok(())
    }

    async fn write(&mut self, id: &str, body: Bytes) -> anyhow::Result<()> {
        let request = http::Request::put(format!("/records/{id}")).body(Full::new(body.clone()))?;
        let reply = self.gate.send(request).await?;
        self.note(format!(
            "PUT {id} ({} bytes) -> {}",
            body.len(),
            reply.status
        ));
        let expected = match (self.model.contains_key(id), self.put) {
            (true, _) => 204,
            (false, PutKind::Creates) => 201,
            (false, PutKind::Updates) => 404,
        };
        if reply.status != expected {
            self.fail(format!(
                "PUT {id}: expected {expected}, got {}",
                reply.status
            ));
        }
        if expected != 404 {
            self.model.insert(id.to_owned(), body);
        }
        Ok(())
    }

    async fn delete(&mut self, id: &str) -> anyhow::Result<()> {
        let request =
            http::Request::delete(format!("/records/{id}")).body(Full::new(Bytes::new()))?;
        let reply = self.gate.send(request).await?;
        self.note(format!("DELETE {id} -> {}", reply.status));
        let expected = if self.model.remove(id).is_some() {
            204
        } else {
            404
        };
        if reply.status != expected {
            self.fail(format!(
                "DELETE {id}: expected {expected}, got {}",
                reply.status
            ));
        }
        Ok(())
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let report = self.archiver.run(RunOptions::default()).await?;
        self.note(format!(
            "archiver run: {} archived, {} deleted, {} restored, {} failed",
            report.archived, report.deleted, report.restored, report.failed
        ));
        if report.failed > 0 || report.aborted.is_some() {
            self.fail(format!("the archiver run failed: {report:?}"));
        }
        Ok(())
    }

    /// At the end: every id answers as the model says, after one more full cycle.
    async fn settle(&mut self) -> anyhow::Result<()> {
        self.run().await?;
        tokio::time::sleep(GRACE + Duration::from_millis(100)).await;
        self.run().await?;
        for n in 0..IDS {
            self.read(&format!("INV-{n}")).await?;
        }
        Ok(())
    }
}

/// The seeds to run: the one `TIERGATE_TEST_SEED` names, or a few drawn from the clock.
fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("TIERGATE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (0..SEEDS)
        .map(|n| SplitMix64(base.wrapping_add(n)).next_u64())
        .collect()
}

async fn every_answer_equals_the_apis(
    db: impl AsyncFn() -> anyhow::Result<Option<HotDb>>,
    put: PutKind,
) -> anyhow::Result<()> {
    for seed in seeds() {
        let Some(db) = db().await? else {
            return Ok(());
        };
        let mut world = World::start(db, put, seed).await?;
        // Half the ids start as old records, the rest absent.
        for n in 0..IDS / 2 {
            let id = format!("INV-{n}");
            let body = billing_record(&id, n, 1_500);
            world.db.insert(&id, &body, OLD).await?;
            world.model.insert(id, body);
        }
        for n in 0..STEPS {
            world.step(n).await?;
        }
        world.settle().await?;
    }
    Ok(())
}

macro_rules! contract_on_both_engines {
    ($($name:ident: $put:expr),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    every_answer_equals_the_apis(async || Ok(Some(HotDb::sqlite()?)), $put).await
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    every_answer_equals_the_apis(HotDb::postgres, $put).await
                }
            )*
        }
    };
}

contract_on_both_engines!(
    an_api_whose_put_only_replaces: PutKind::Updates,
    an_api_whose_put_creates: PutKind::Creates,
);
