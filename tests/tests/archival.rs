//! The archiver end to end: the real archiver component in the real host, moving records
//! from a real hot database (SQLite, and PostgreSQL where one runs) to s3s-fs, with the
//! edge serving every record throughout. Each behaviour runs on both engines.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tiergate::{Fault, RunOptions, RunReport};
use tiergate_tests::assertions::assert_served;
use tiergate_tests::{BlobStore, Gate, GateConfig, HotDb, HotOrigin, billing_record};

const OLD: Duration = Duration::from_secs(40 * 86_400);
const NEW: Duration = Duration::from_secs(86_400);
/// The claims' lease in the test config, and a little more: a crashed run's claims are free
/// again after it.
const LEASE_EXPIRY: Duration = Duration::from_millis(1_100);

/// A hot database, the API over it, blob storage and tiergate with the archiver.
struct World {
    db: HotDb,
    origin: HotOrigin,
    blob: BlobStore,
    gate: Gate,
    archiver: tiergate::Archiver,
    /// Every record inserted, by id.
    records: BTreeMap<String, bytes::Bytes>,
}

impl World {
    async fn start(db: HotDb, archive: &str) -> anyhow::Result<Self> {
        Self::start_in_style(db, archive, false).await
    }

    /// With `virtual_hosted`, blob storage is addressed with the bucket in the host name
    /// (`records.localhost:{port}`), as AWS recommends, rather than in the path.
    async fn start_in_style(
        db: HotDb,
        archive: &str,
        virtual_hosted: bool,
    ) -> anyhow::Result<Self> {
        let origin = HotOrigin::start(db.clone()).await?;
        let blob = BlobStore::start().await?;
        let config = GateConfig::new(origin.url());
        let config = if virtual_hosted {
            config.blob_virtual_hosted(blob.virtual_hosted_endpoint())
        } else {
            config.blob_endpoint(blob.endpoint())
        };
        let config = config.archive(&db.hot_toml(), archive);
        let gate = Gate::start(&config).await?;
        let archiver = gate.archiver().await?;
        Ok(Self {
            db,
            origin,
            blob,
            gate,
            archiver,
            records: BTreeMap::new(),
        })
    }

    async fn insert(&mut self, id: &str, age: Duration, size: usize) -> anyhow::Result<()> {
        let body = billing_record(id, self.records.len() as u64, size);
        self.db.insert(id, &body, age).await?;
        self.records.insert(id.to_owned(), body);
        Ok(())
    }

    async fn run(&self) -> anyhow::Result<RunReport> {
        self.archiver.run(RunOptions::default()).await
    }

    /// Every record reads back through the edge with its original bytes (and so its
    /// SHA-256), from wherever it lives.
    async fn assert_every_record_served(&self) -> anyhow::Result<()> {
        for (id, body) in &self.records {
            let reply = self.gate.get(&format!("/records/{id}")).await?;
            assert_eq!(reply.status, 200, "record {id}: {}", reply.text());
            tiergate_tests::assertions::assert_same_bytes(
                &reply.body,
                body,
                &format!("record {id}"),
            );
        }
        Ok(())
    }

    async fn verify(&self, sample: u8) -> anyhow::Result<tiergate::ops::verify::Audit> {
        tiergate::ops::verify::verify(self.gate.config(), self.archiver.store(), sample, |_| {})
            .await
    }

    async fn origin_status(&self, id: &str) -> anyhow::Result<u16> {
        let client = tiergate_tests::HttpClient::new();
        Ok(client
            .get(&format!("{}/records/{id}", self.origin.url()))
            .await?
            .status
            .as_u16())
    }
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name(tiergate_tests::HotDb::sqlite()?).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    match tiergate_tests::HotDb::postgres().await? {
                        Some(db) => super::$name(db).await,
                        None => Ok(()),
                    }
                }
            )*
        }
    };
}

on_both_engines!(
    old_records_move_to_blob_and_stay_served_after_their_hot_rows_go,
    a_record_changed_after_its_copy_keeps_its_new_content,
    records_under_legal_hold_are_never_archived,
    blob_storage_down_mid_run_deletes_nothing_and_the_next_run_resumes,
    a_crash_at_any_step_loses_nothing,
    three_archivers_at_once_share_the_work,
    verify_names_every_record_whose_copy_is_missing_or_damaged,
    a_copy_the_store_confirms_is_not_read_back_and_one_it_does_not_is,
    a_put_damaged_on_its_way_is_refused_and_nothing_is_marked,
    max_records_zero_means_no_limit,
    runs_after_refused_copies_say_which_records_wait_for_a_retry,
    virtual_hosted_s3_archives_serves_and_audits,
    copies_past_their_retention_period_are_deleted_for_good,
    claims_a_dead_run_left_are_taken_once_their_lease_expires,
);

async fn verify_names_every_record_whose_copy_is_missing_or_damaged(
    db: HotDb,
) -> anyhow::Result<()> {
    let mut world = World::start(db, "").await?;
    for i in 0..6 {
        world.insert(&format!("INV-{i}"), OLD, 30_000).await?;
    }
    world.run().await?;
    world.run().await?;
    let audit = world.verify(100).await?;
    assert_eq!((audit.rows, audit.checked), (6, 6));
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);

    std::fs::remove_file(world.blob.object_path("INV-1"))?;
    let damaged = world.blob.object_path("INV-4");
    let mut bytes = std::fs::read(&damaged)?;
    bytes[100] ^= 1;
    std::fs::write(&damaged, bytes)?;
    let audit = world.verify(100).await?;
    let named: Vec<(&str, &str)> = audit
        .problems
        .iter()
        .map(|p| (p.id.as_str(), p.what.as_str()))
        .collect();
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(
        named[0].0 == "INV-1" && named[0].1.contains("missing"),
        "{named:?}"
    );
    assert!(
        named[1].0 == "INV-4" && named[1].1.contains("SHA-256"),
        "{named:?}"
    );
    let sample = world.verify(50).await?;
    assert!(sample.checked < 6 && sample.checked > 0, "{sample:?}");

    let webhook = tiergate_tests::Webhook::start().await?;
    let alert = tiergate::ops::verify::alert(&audit).expect("problems call for an alert");
    tiergate::telemetry::alert::send(Some(&webhook.url()), &alert).await;
    let received = webhook.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["event"], "verify_found_problems");
    let details = received[0]["details"].to_string();
    assert!(
        details.contains("INV-1") && details.contains("INV-4"),
        "{details}"
    );
    Ok(())
}

/// Three archivers at once, as on three hosts (each its own connections and run): each
/// does part of the work, none copies a record another copied, and none is left.
async fn three_archivers_at_once_share_the_work(db: HotDb) -> anyhow::Result<()> {
    const RECORDS: usize = 90;
    let mut world = World::start(db, "").await?;
    for i in 0..RECORDS {
        world.insert(&format!("INV-{i}"), OLD, 20_000).await?;
    }
    let (second, third) = (world.gate.archiver().await?, world.gate.archiver().await?);
    let runs = tokio::join!(
        world.run(),
        second.run(RunOptions::default()),
        third.run(RunOptions::default())
    );
    let reports = [runs.0?, runs.1?, runs.2?];
    let archived: Vec<u32> = reports.iter().map(|r| r.archived).collect();
    eprintln!("records copied by each archiver: {archived:?}");
    for report in &reports {
        assert_eq!(report.failed, 0, "{report:?}");
        assert_eq!(report.claimed, report.archived, "a claim lost: {report:?}");
    }
    assert!(
        archived.iter().all(|&n| n > 0),
        "every archiver did part of the work: {archived:?}"
    );
    assert_eq!(
        archived.iter().sum::<u32>() as usize,
        RECORDS,
        "each record copied once: {archived:?}"
    );
    let runs = tokio::join!(
        world.run(),
        second.run(RunOptions::default()),
        third.run(RunOptions::default())
    );
    let deleted = runs.0?.deleted + runs.1?.deleted + runs.2?.deleted;
    assert_eq!(deleted as usize, RECORDS);
    assert_eq!(world.blob.object_count(), RECORDS);
    world.assert_every_record_served().await
}

async fn old_records_move_to_blob_and_stay_served_after_their_hot_rows_go(
    db: HotDb,
) -> anyhow::Result<()> {
    let mut world = World::start(db, "").await?;
    for i in 0..6 {
        world.insert(&format!("INV-OLD-{i}"), OLD, 300_000).await?;
    }
    world.insert("INV-NEW-0", NEW, 300_000).await?;

    let first = world.run().await?;
    assert_eq!(
        (first.archived, first.deleted, first.failed),
        (6, 0, 0),
        "{first:?}"
    );
    assert!(
        first.bytes_out * 3 < first.bytes_in,
        "compressed: {first:?}"
    );
    assert_eq!(world.blob.object_count(), 6);
    // Copied, still hot: the copy is staged, and the hot row answers until it goes.
    let reply = world.gate.get("/records/INV-OLD-0").await?;
    assert_served(&reply, "INV-OLD-0", "origin", &world.records["INV-OLD-0"]);

    let second = world.run().await?;
    assert_eq!(
        (second.archived, second.deleted, second.failed),
        (0, 6, 0),
        "{second:?}"
    );
    for i in 0..6 {
        let id = format!("INV-OLD-{i}");
        assert_eq!(
            world.origin_status(&id).await?,
            404,
            "record {id} left the hot database"
        );
    }
    assert_eq!(world.db.count().await?, 1);
    let reply = world.gate.get("/records/INV-OLD-1").await?;
    assert_served(&reply, "INV-OLD-1", "blob", &world.records["INV-OLD-1"]);
    let reply = world.gate.get("/records/INV-NEW-0").await?;
    assert_served(&reply, "INV-NEW-0", "origin", &world.records["INV-NEW-0"]);
    world.assert_every_record_served().await?;

    let status = world.archiver.store().status().await?;
    let deleted = status
        .states
        .iter()
        .find(|s| s.state.as_str() == "deleted")
        .unwrap();
    assert_eq!((deleted.records, deleted.bytes), (6, 6 * 300_000));
    let third = world.run().await?;
    assert_eq!(
        (third.claimed, third.archived, third.deleted, third.restored),
        (0, 0, 0, 0)
    );
    Ok(())
}

async fn virtual_hosted_s3_archives_serves_and_audits(db: HotDb) -> anyhow::Result<()> {
    let mut world = World::start_in_style(db, "", true).await?;
    for i in 0..3 {
        world.insert(&format!("INV-VH-{i}"), OLD, 50_000).await?;
    }
    let copied = world.run().await?;
    let deleted = world.run().await?;
    assert_eq!(
        (copied.archived, deleted.deleted),
        (3, 3),
        "{copied:?} {deleted:?}"
    );
    assert_eq!(world.blob.object_count(), 3);
    let reply = world.gate.get("/records/INV-VH-1").await?;
    assert_served(&reply, "INV-VH-1", "blob", &world.records["INV-VH-1"]);
    world.assert_every_record_served().await?;
    let audit = world.verify(100).await?;
    assert!(tiergate::ops::verify::alert(&audit).is_none(), "{audit:?}");
    Ok(())
}

/// Retention: a deleted record whose last change is past `expire_after_days` loses its copy
/// for good (`--dry-run` lists it first), the ledger says `expired`, `verify` checks that the
/// copy is gone, and the edge answers what the API answers for a record it does not have.
/// A younger copy stays; a held record was never archived. The API can create the id
/// again, and the new record is hot.
async fn copies_past_their_retention_period_are_deleted_for_good(db: HotDb) -> anyhow::Result<()> {
    let mut world = World::start(db, "expire_after_days = 35").await?;
    let younger = Duration::from_secs(32 * 86_400);
    world.insert("INV-EXPIRE", OLD, 30_000).await?;
    world.insert("INV-KEPT", younger, 30_000).await?;
    world.insert("INV-HELD", OLD, 30_000).await?;
    world.db.hold("INV-HELD").await?;
    let copied = world.run().await?;
    // The retention pass comes before the delete pass: a copy expires in the run after the
    // one that deleted its hot row.
    let deleted = world.run().await?;
    assert_eq!(
        (copied.archived, deleted.deleted, deleted.expired),
        (2, 2, 0),
        "{copied:?} {deleted:?}"
    );

    let config = tiergate::archive::archive_config(world.gate.config())?;
    let plan = tiergate::archive::dry_run(world.archiver.store(), config).await?;
    let expiring = plan.expiring.expect("a retention period is configured");
    assert_eq!(
        (expiring.copies.records, expiring.copies.sample.clone()),
        (1, vec!["INV-EXPIRE".to_owned()])
    );
    assert!(world.blob.holds("INV-EXPIRE"), "a dry run deleted the copy");

    let expired = world.run().await?;
    assert_eq!((expired.expired, expired.failed), (1, 0), "{expired:?}");
    assert!(!world.blob.holds("INV-EXPIRE"));
    assert!(world.blob.holds("INV-KEPT"));
    let status = world.archiver.store().status().await?;
    let count = |name: &str| {
        status
            .states
            .iter()
            .find(|s| s.state.as_str() == name)
            .map_or(0, |s| s.records)
    };
    assert_eq!((count("expired"), count("deleted")), (1, 1));
    let reply = world.gate.get("/records/INV-EXPIRE").await?;
    assert_eq!(reply.status, 404, "{}", reply.text());
    let reply = world.gate.get("/records/INV-KEPT").await?;
    assert_served(&reply, "INV-KEPT", "blob", &world.records["INV-KEPT"]);
    let reply = world.gate.get("/records/INV-HELD").await?;
    assert_served(&reply, "INV-HELD", "origin", &world.records["INV-HELD"]);
    let audit = world.verify(100).await?;
    assert!(tiergate::ops::verify::alert(&audit).is_none(), "{audit:?}");
    assert_eq!(audit.checked, 2, "{audit:?}");
    let again = world.run().await?;
    assert_eq!(again.expired, 0, "expired twice: {again:?}");

    // A write finds what the API has: this API's PUT only updates, so 404.
    let body = bytes::Bytes::from_static(b"{\"id\": \"INV-EXPIRE\", \"total\": 1}");
    let request =
        http::Request::put("/records/INV-EXPIRE").body(http_body_util::Full::new(body.clone()))?;
    let put = world.gate.send(request).await?;
    assert_eq!(put.status, 404, "{}", put.text());
    // The API creates the id again (as its POST would): the new record is hot and served,
    // and the next run forgets the expired row so that it can be archived again one day.
    world.db.insert("INV-EXPIRE", &body, Duration::ZERO).await?;
    let reply = world.gate.get("/records/INV-EXPIRE").await?;
    assert_served(&reply, "INV-EXPIRE", "origin", &body);
    let after = world.run().await?;
    assert_eq!(after.restored, 1, "{after:?}");
    let status = world.archiver.store().status().await?;
    assert!(
        status
            .states
            .iter()
            .all(|s| s.state.as_str() != "expired" || s.records == 0),
        "{status:?}"
    );
    Ok(())
}

/// s3s-fs checks the PUT's `x-amz-checksum-sha256` and answers with it: the copy is known
/// without a GET. A store that answers without it gets each copy read back.
async fn a_copy_the_store_confirms_is_not_read_back_and_one_it_does_not_is(
    db: HotDb,
) -> anyhow::Result<()> {
    let mut world = World::start(db, "").await?;
    for i in 0..4 {
        world.insert(&format!("INV-SUM-{i}"), OLD, 100_000).await?;
    }
    let confirmed = world.run().await?;
    assert_eq!(
        (confirmed.archived, confirmed.failed),
        (4, 0),
        "{confirmed:?}"
    );
    assert_eq!(world.blob.gets(), 0, "confirmed copies are not read back");

    world.blob.hide_checksums(true);
    for i in 4..6 {
        world.insert(&format!("INV-SUM-{i}"), OLD, 100_000).await?;
    }
    let unconfirmed = world.run().await?;
    assert_eq!(
        (
            unconfirmed.archived,
            unconfirmed.deleted,
            unconfirmed.failed
        ),
        (2, 4, 0),
        "{unconfirmed:?}"
    );
    // One GET for each copy read back (2 staged, 4 published), one for each re-check
    // before a delete.
    assert_eq!(world.blob.gets(), 2 + 4 + 4);

    let last = world.run().await?;
    assert_eq!((last.deleted, last.failed), (2, 0), "{last:?}");
    world.assert_every_record_served().await
}

/// A PUT whose body changes on its way (a bit flipped before the store reads it) does not
/// match its checksum: the store refuses it, the copy is not marked, the record stays hot
/// and served, and the next run copies it whole.
async fn a_put_damaged_on_its_way_is_refused_and_nothing_is_marked(
    db: HotDb,
) -> anyhow::Result<()> {
    // The harness retries failed records at once (`retry_seconds = 0`) and claims 4 at a
    // time: a run must still try each of the 6 once, the youngest too, and end.
    let mut world = World::start(db, "").await?;
    for i in 0..6 {
        world.insert(&format!("INV-DMG-{i}"), OLD, 100_000).await?;
    }
    world.blob.damage_puts(true);
    let damaged = world.run().await?;
    assert_eq!(
        (damaged.claimed, damaged.archived, damaged.failed),
        (6, 0, 6),
        "{damaged:?}"
    );
    assert!(damaged.aborted.is_none(), "{damaged:?}");
    for error in &damaged.errors {
        assert!(
            error
                .message
                .contains("400 Bad Request from storage (S3's BadDigest"),
            "{error:?}"
        );
    }
    let status = world.archiver.store().status().await?;
    assert!(
        status
            .states
            .iter()
            .all(|s| s.state.as_str() == "copying" || s.records == 0),
        "{:?}",
        status.states
    );
    assert_eq!(world.db.count().await?, 6);
    world.assert_every_record_served().await?;

    world.blob.damage_puts(false);
    let copied = world.run().await?;
    assert_eq!((copied.archived, copied.failed), (6, 0), "{copied:?}");
    let deleted = world.run().await?;
    assert_eq!((deleted.deleted, deleted.failed), (6, 0), "{deleted:?}");
    assert_eq!(world.db.count().await?, 0);
    world.assert_every_record_served().await
}

async fn a_record_changed_after_its_copy_keeps_its_new_content(db: HotDb) -> anyhow::Result<()> {
    let mut world = World::start(db, "").await?;
    world.insert("INV-7", OLD, 50_000).await?;
    world.insert("INV-8", OLD, 50_000).await?;
    let first = world.run().await?;
    assert_eq!(first.archived, 2, "{first:?}");

    // The API changes INV-7 between its copy and its delete, through the edge.
    let changed = billing_record("INV-7", 99, 40_000);
    let put =
        http::Request::put("/records/INV-7").body(http_body_util::Full::new(changed.clone()))?;
    assert_eq!(world.gate.send(put).await?.status, 204);
    world.records.insert("INV-7".into(), changed.clone());

    let second = world.run().await?;
    assert_eq!(
        (second.deleted, second.restored, second.failed),
        (1, 1, 0),
        "{second:?}"
    );
    assert_eq!(world.db.get("INV-7").await?.as_deref(), Some(&changed[..]));
    assert!(
        !world.blob.holds("INV-7"),
        "the stale copy of INV-7 is gone"
    );
    assert!(world.blob.holds("INV-8"));
    let reply = world.gate.get("/records/INV-7").await?;
    assert_served(&reply, "INV-7", "origin", &changed);
    world.assert_every_record_served().await?;
    Ok(())
}

/// A run that dies leaves its claims leased. Runs meanwhile walk past them and archive the
/// rest; once the lease has expired, the next run takes them: a walk does not go on from
/// beyond records it could not take, in this archiver or another.
async fn claims_a_dead_run_left_are_taken_once_their_lease_expires(
    db: HotDb,
) -> anyhow::Result<()> {
    const DEAD_LEASE: Duration = Duration::from_secs(4);
    let mut world = World::start(db, "").await?;
    for i in 0..6 {
        world
            .insert(
                &format!("INV-{i}"),
                OLD + Duration::from_secs(i * 60),
                10_000,
            )
            .await?;
    }
    // Walks by changed time, which go on from where the last one got to (on PostgreSQL,
    // only with an index on the changed column, which an archiver looks for as it opens).
    let table = world.db.table().to_owned();
    world
        .db
        .execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS {table}_changed ON {table} (updated_at)"
        ))
        .await?;
    let (archiver, another) = (world.gate.archiver().await?, world.gate.archiver().await?);
    assert!(archiver.store().walks_resume());

    let started = tokio::time::Instant::now();
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let dead = tiergate_hotstore::Lease {
        owner: "a-run-that-died".into(),
        now_ms,
        duration_ms: DEAD_LEASE.as_millis() as i64,
    };
    let cutoff_ms = now_ms - NEW.as_millis() as i64;
    let taken = archiver
        .store()
        .claim_cold(
            &dead,
            cutoff_ms,
            2,
            &mut tiergate_hotstore::ColdCursor::default(),
        )
        .await?;
    assert_eq!(taken.len(), 2, "{taken:?}");
    let meanwhile = archiver.run(RunOptions::default()).await?;
    assert_eq!(meanwhile.archived, 4, "{meanwhile:?}");
    let report = another.run(RunOptions::default()).await?;
    assert_eq!(report.archived, 0, "{report:?}");
    assert!(
        started.elapsed() < DEAD_LEASE,
        "the runs outlasted the dead run's lease: the test proves nothing"
    );
    tokio::time::sleep_until(started + DEAD_LEASE + Duration::from_millis(100)).await;
    let report = another.run(RunOptions::default()).await?;
    assert_eq!(report.archived, 2, "the dead run's claims: {report:?}");
    world.assert_every_record_served().await
}

async fn records_under_legal_hold_are_never_archived(db: HotDb) -> anyhow::Result<()> {
    let mut world = World::start(db, "").await?;
    world.insert("INV-HELD", OLD, 20_000).await?;
    world.insert("INV-FREE", OLD, 20_000).await?;
    world.db.hold("INV-HELD").await?;
    let report = world.run().await?;
    assert_eq!(report.archived, 1, "{report:?}");
    assert!(!world.blob.holds("INV-HELD"));
    world.run().await?;
    assert!(world.db.get("INV-HELD").await?.is_some());
    assert!(world.db.get("INV-FREE").await?.is_none());
    Ok(())
}

/// The example config's `max_records = 0` ("no limit") copies every cold record, whichever
/// the instance count: it is not a limit of zero shared among the instances.
async fn max_records_zero_means_no_limit(db: HotDb) -> anyhow::Result<()> {
    let mut world = World::start(db, "max_records = 0").await?;
    for i in 0..5 {
        world.insert(&format!("INV-{i}"), OLD, 10_000).await?;
    }
    let report = world.run().await?;
    assert_eq!((report.claimed, report.archived), (5, 5), "{report:?}");
    world.assert_every_record_served().await
}

async fn blob_storage_down_mid_run_deletes_nothing_and_the_next_run_resumes(
    db: HotDb,
) -> anyhow::Result<()> {
    let mut world = World::start(db, "max_records = 3").await?;
    for i in 0..6 {
        world.insert(&format!("INV-{i}"), OLD, 30_000).await?;
    }
    let first = world.run().await?;
    assert_eq!(first.archived, 3, "{first:?}");

    world.blob.stop().await;
    let down = world.run().await?;
    let reason = down.aborted.clone().unwrap_or_default();
    assert!(
        reason.contains("storage unreachable"),
        "the reason names storage: {down:?}"
    );
    assert_eq!((down.archived, down.deleted), (0, 0), "{down:?}");
    assert_eq!(
        world.db.count().await?,
        6,
        "nothing deleted while storage is down"
    );
    let webhook = tiergate_tests::Webhook::start().await?;
    let alert =
        tiergate::archive::schedule::alert(&down).expect("a stopped run calls for an alert");
    tiergate::telemetry::alert::send(Some(&webhook.url()), &alert).await;
    let received = webhook.received();
    assert_eq!(received[0]["event"], "archive_run_failed", "{received:?}");
    assert!(
        received[0]["summary"]
            .as_str()
            .unwrap()
            .contains("storage unreachable")
    );

    world.blob.restart().await?;
    tokio::time::sleep(LEASE_EXPIRY).await;
    let mut runs = 0;
    while world.db.count().await? > 0 {
        let report = world.run().await?;
        assert_eq!(report.failed, 0, "{report:?}");
        runs += 1;
        assert!(runs <= 5, "the archive settles within a few runs");
    }
    assert_eq!(world.blob.object_count(), 6);
    world.assert_every_record_served().await?;
    Ok(())
}

async fn runs_after_refused_copies_say_which_records_wait_for_a_retry(
    db: HotDb,
) -> anyhow::Result<()> {
    let mut world = World::start(db, "retry_seconds = 300").await?;
    for i in 0..4 {
        world.insert(&format!("INV-{i}"), OLD, 10_000).await?;
    }
    // Storage refuses every copy (400, as for a body damaged on its way): the records
    // wait for their retry time. An unreachable store is not the records' fault, and its
    // records are handed back at once.
    world.blob.damage_puts(true);
    let started_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let refused = world.run().await?;
    assert_eq!(refused.failed, 4, "{refused:?}");
    assert_eq!(
        refused.waiting.records, 4,
        "the failed records wait: {refused:?}"
    );

    // Storage is fine again, but the records wait for their retry time: the next run
    // claims nothing, and must say why rather than look like a run with nothing to do.
    world.blob.damage_puts(false);
    let next = world.run().await?;
    assert_eq!((next.claimed, next.failed), (0, 0), "{next:?}");
    assert_eq!(next.waiting.records, 4, "{next:?}");
    let retry_at = next.waiting.next_retry_ms.expect("a retry time");
    assert!(
        (started_ms + 299_000..started_ms + 400_000).contains(&retry_at),
        "retry at {retry_at}, run started at {started_ms}"
    );
    assert!(
        tiergate::archive::schedule::alert(&next).is_none(),
        "waiting is not a new failure"
    );
    Ok(())
}

/// Crashes a run at the k-th hot-store call, before or after it takes effect, for every k
/// a run reaches, with new records arriving and an update in between, then lets clean runs
/// finish and audits: every record served with its bytes, none lost, none half done, and
/// blob storage holding exactly the archived ones.
async fn a_crash_at_any_step_loses_nothing(db: HotDb) -> anyhow::Result<()> {
    let mut world = World::start(db, "").await?;
    let mut next = 0;
    let mut crashes = 0;
    for call in 1..=14 {
        for after in [false, true] {
            for _ in 0..2 {
                world
                    .insert(&format!("INV-{next}"), OLD, 20_000 + next * 97)
                    .await?;
                next += 1;
            }
            if call % 5 == 0 {
                // A record changes through the API, perhaps after its copy: the copy must
                // not win once the archive has settled.
                let id = format!("INV-{}", next - 3);
                let body = billing_record(&id, 1_000 + next as u64, 10_000);
                let put = http::Request::put(format!("/records/{id}"))
                    .body(http_body_util::Full::new(body.clone()))?;
                if world.gate.send(put).await?.status == 204 {
                    world.records.insert(id, body);
                }
            }
            let fault = Fault { call, after };
            let result = world
                .archiver
                .run(RunOptions {
                    fault: Some(fault),
                    ..Default::default()
                })
                .await;
            if result.is_err() {
                crashes += 1;
            }
            tokio::time::sleep(LEASE_EXPIRY).await;
            // Never lost, not even between crashes (until the next run removes it, a changed
            // record's old copy may still be what blob storage serves).
            for id in world.records.keys() {
                let reply = world.gate.get(&format!("/records/{id}")).await?;
                assert_eq!(
                    reply.status,
                    200,
                    "record {id} after crash {fault:?}: {}",
                    reply.text()
                );
            }
        }
    }
    assert!(crashes >= 20, "most faults hit a call: {crashes}");

    let mut runs = 0;
    loop {
        let report = world.run().await?;
        assert_eq!(report.failed, 0, "{report:?}");
        if report.claimed + report.deleted + report.restored == 0 {
            break;
        }
        runs += 1;
        assert!(runs <= 6, "the archive settles within a few clean runs");
    }
    world.assert_every_record_served().await?;
    let mut archived = 0;
    for page in world.archiver.store().ledger_page(None, 10_000).await? {
        assert_eq!(
            page.state.as_str(),
            "deleted",
            "record {} left half done",
            page.id
        );
        assert!(
            world.blob.holds(&page.id),
            "record {} lost its copy",
            page.id
        );
        assert!(
            world.db.get(&page.id).await?.is_none(),
            "record {} still hot",
            page.id
        );
        archived += 1;
    }
    let hot = world.db.count().await?;
    assert_eq!(
        archived as u64 + hot,
        world.records.len() as u64,
        "every record is somewhere"
    );
    assert_eq!(
        world.blob.object_count(),
        archived,
        "blob storage holds exactly the archived"
    );
    Ok(())
}
