//! The contract (docs/architecture.md): through the edge, a client gets what the API alone
//! would answer with every record still hot, whatever the archiver did in between.
//!
//! A reference model (the API's records, as if none were ever archived) runs beside the real
//! stack: the real edge and archiver components in the host, a hot database (SQLite, and
//! PostgreSQL where one runs), the API over it over HTTP, and s3s-fs. Seeded random steps
//! read, write (PUT, PATCH), delete, age records, run the archiver and let grace periods pass (a grace
//! period above zero, so that reads land between a copy and the delete of its hot row); every
//! answer is compared with the model's. The API comes in two kinds: one whose `PUT` only
//! replaces and one whose `PUT` creates (at version 1 again, so versions repeat).
//!
//! Writes reach records in every state: hot, copied and in their grace period, and archived
//! with only their published copy left (which the edge has the host restore first).
//!
//! A failure prints the seed and every step; `TIERGATE_TEST_SEED=n` replays one seed.

use bytes::Bytes;
use http_body_util::Full;
use std::collections::BTreeMap;
use std::ops::Range;
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
    blob: BlobStore,
    config: GateConfig,
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
            blob,
            config,
            gate,
            archiver,
            put,
            model: BTreeMap::new(),
            rng: SplitMix64(seed),
            seed,
            steps: Vec::new(),
        })
    }

    /// [`start`](Self::start) on the database `db` makes, if its engine runs here.
    async fn on(
        db: &impl AsyncFn() -> anyhow::Result<Option<HotDb>>,
        put: PutKind,
        seed: u64,
    ) -> anyhow::Result<Option<Self>> {
        match db().await? {
            Some(db) => Ok(Some(Self::start(db, put, seed).await?)),
            None => Ok(None),
        }
    }

    /// A new tiergate over the same database, origin and blob storage, as after an upgrade.
    async fn restart(&mut self) -> anyhow::Result<()> {
        self.gate = Gate::start(&self.config).await?;
        self.archiver = self.gate.archiver().await?;
        self.note("tiergate restarted".to_owned());
        Ok(())
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

    async fn step(&mut self, n: usize) -> anyhow::Result<()> {
        let id = format!("INV-{}", self.rng.below(IDS));
        match self.rng.below(100) {
            0..=39 => self.read(&id).await,
            40..=54 => {
                let body = billing_record(&id, 1_000 + n as u64, 2_000 + n * 37);
                self.write(&id, body).await
            }
            55..=59 => self.delete(&id).await,
            60..=64 => self.patch(&id, n).await,
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

    async fn patch(&mut self, id: &str, n: usize) -> anyhow::Result<()> {
        let patch = Bytes::from(format!(",\"note{n}\":\"patched\""));
        let request =
            http::Request::patch(format!("/records/{id}")).body(Full::new(patch.clone()))?;
        let reply = self.gate.send(request).await?;
        self.note(format!("PATCH {id} -> {}", reply.status));
        let expected = match self.model.get_mut(id) {
            Some(body) => {
                *body = [body.as_ref(), patch.as_ref()].concat().into();
                204
            }
            None => 404,
        };
        if reply.status != expected {
            self.fail(format!(
                "PATCH {id}: expected {expected}, got {}",
                reply.status
            ));
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

    /// Records `INV-{n}` for every `n` in `ids`, `size` bytes each, created long ago
    /// straight in the table.
    async fn insert_old(&mut self, ids: Range<u64>, size: usize) -> anyhow::Result<()> {
        for n in ids {
            let id = format!("INV-{n}");
            let body = billing_record(&id, n, size);
            self.db.insert(&id, &body, OLD).await?;
            self.model.insert(id, body);
        }
        Ok(())
    }

    /// Reads `INV-{n}` for every `n` in `ids`.
    async fn read_every(&mut self, ids: Range<u64>) -> anyhow::Result<()> {
        for n in ids {
            self.read(&format!("INV-{n}")).await?;
        }
        Ok(())
    }

    /// At the end: every id answers as the model says, after one more full cycle.
    async fn settle(&mut self) -> anyhow::Result<()> {
        self.run().await?;
        tokio::time::sleep(GRACE + Duration::from_millis(100)).await;
        self.run().await?;
        self.read_every(0..IDS).await
    }
}

/// The four cases found by hand on `tiergate demo`, in order, on one record each: a write
/// and a delete in the grace period, a re-creation in it followed by the delete step, and
/// writes to records whose hot row is gone. Every read is compared with the API's answer.
async fn writes_in_the_grace_period_and_after_it(
    db: impl AsyncFn() -> anyhow::Result<Option<HotDb>>,
    put: PutKind,
) -> anyhow::Result<()> {
    let Some(mut world) = World::on(&db, put, 0).await? else {
        return Ok(());
    };
    world.insert_old(0..6, 20_000).await?;
    world.run().await?; // every record copied, in its grace period now
    world.read_every(0..6).await?;
    // 1. A write in the grace period is read back, not the copy.
    world
        .write("INV-0", billing_record("INV-0", 100, 10_000))
        .await?;
    world.read("INV-0").await?;
    // 2. A delete in the grace period is not undone by the copy.
    world.delete("INV-1").await?;
    world.read("INV-1").await?;
    // 3. Deleted and created again in the grace period (at version 1 again where the API
    //    creates on PUT): the delete step must not take the new row.
    world.delete("INV-2").await?;
    world
        .write("INV-2", billing_record("INV-2", 102, 12_000))
        .await?;
    world.read("INV-2").await?;
    tokio::time::sleep(GRACE + Duration::from_millis(100)).await;
    world.run().await?; // the hot rows of INV-3..5 go; INV-0..2 changed and stay
    world.read_every(0..6).await?;
    // 4. Writes to records whose hot row is gone: each reaches the API as if the record
    //    had stayed hot, and the copy stops answering.
    world.delete("INV-3").await?;
    world.read("INV-3").await?;
    world
        .write("INV-4", billing_record("INV-4", 104, 9_000))
        .await?;
    world.read("INV-4").await?;
    world.read("INV-5").await?;
    world.settle().await?;
    world
        .write("INV-5", billing_record("INV-5", 105, 8_000))
        .await?;
    world.read("INV-5").await
}

/// A ledger and copies left by a tiergate from before copies were staged (ledger schema 1):
/// copies of records in their grace period sit at the key the edge reads, beside their hot
/// rows. After the upgrade, writes to those records are read back, not the copy; a write
/// around the API is hidden by the new version's first run; records whose hot row the old
/// version deleted are restored on a write, as ever.
async fn an_older_versions_ledger_and_copies_keep_answering(
    db: impl AsyncFn() -> anyhow::Result<Option<HotDb>>,
    put: PutKind,
) -> anyhow::Result<()> {
    let Some(mut world) = World::on(&db, put, 0).await? else {
        return Ok(());
    };
    // INV-0..1: hot rows deleted by the old version, copies published.
    world.insert_old(0..2, 6_000).await?;
    world.run().await?;
    tokio::time::sleep(GRACE + Duration::from_millis(100)).await;
    world.run().await?;
    // INV-2..5: copied, in their grace period; the old version published copies at once.
    world.insert_old(2..6, 6_000).await?;
    world.run().await?;
    for n in 2..6 {
        world.blob.publish_staged(&format!("INV-{n}"))?;
    }
    let l = format!("{}_ledger", world.db.table());
    world
        .db
        .execute_batch(&format!(
            "DROP INDEX \"{l}_state_changed\"; ALTER TABLE {l} DROP COLUMN row_columns; \
             ALTER TABLE {l} DROP COLUMN record_changed_at; UPDATE {l}_schema SET version = 1"
        ))
        .await?;
    world.note("the ledger and copies made as a tiergate before staged copies left them".into());
    world.restart().await?;
    world.read_every(0..6).await?;
    // Writes through the edge before the new version's first run.
    world
        .write("INV-2", billing_record("INV-2", 102, 7_000))
        .await?;
    world.read("INV-2").await?;
    world.delete("INV-3").await?;
    world.read("INV-3").await?;
    world.patch("INV-0", 1).await?;
    world.read("INV-0").await?;
    // A write around the API shows from the first run on.
    let body = billing_record("INV-4", 104, 5_000);
    world.db.update("INV-4", &body).await?;
    world.note("INV-4 updated straight in the table".into());
    world.model.insert("INV-4".into(), body);
    world.run().await?;
    world.read_every(0..6).await?;
    world
        .write("INV-5", billing_record("INV-5", 105, 4_000))
        .await?;
    world.read("INV-5").await?;
    world.settle().await
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
        let Some(mut world) = World::on(&db, put, seed).await? else {
            return Ok(());
        };
        // Half the ids start as old records, the rest absent.
        world.insert_old(0..IDS / 2, 1_500).await?;
        for n in 0..STEPS {
            world.step(n).await?;
        }
        world.settle().await?;
    }
    Ok(())
}

macro_rules! contract_on_both_engines {
    ($($name:ident: $test:ident($put:expr)),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    $test(async || Ok(Some(HotDb::sqlite()?)), $put).await
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    $test(HotDb::postgres, $put).await
                }
            )*
        }
    };
}

contract_on_both_engines!(
    random_steps_on_an_api_whose_put_only_replaces: every_answer_equals_the_apis(PutKind::Updates),
    random_steps_on_an_api_whose_put_creates: every_answer_equals_the_apis(PutKind::Creates),
    writes_around_the_grace_period_on_an_api_whose_put_only_replaces:
        writes_in_the_grace_period_and_after_it(PutKind::Updates),
    writes_around_the_grace_period_on_an_api_whose_put_creates:
        writes_in_the_grace_period_and_after_it(PutKind::Creates),
    an_upgrade_on_an_api_whose_put_only_replaces:
        an_older_versions_ledger_and_copies_keep_answering(PutKind::Updates),
    an_upgrade_on_an_api_whose_put_creates:
        an_older_versions_ledger_and_copies_keep_answering(PutKind::Creates),
);
