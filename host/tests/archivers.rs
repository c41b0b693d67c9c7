//! Three `tiergate archive --once` processes at once on one PostgreSQL database, as on three
//! hosts: each does part of the work (its run's row in the ledger's runs table counts what
//! it claimed), no record is claimed twice, and none is lost: every record's bytes are read
//! back through the edge afterwards. The blob store is s3s-fs, which checks signatures.

use std::path::Path;
use std::process::{Command, Output};
use tiergate::config::{ENV_BLOB_ACCESS_KEY_ID, ENV_BLOB_SECRET_ACCESS_KEY};
use tiergate_tests::assertions::assert_same_bytes;
use tiergate_tests::blob_store::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use tiergate_tests::scratch_dir::ScratchDir;
use tiergate_tests::{BlobStore, Gate, GateConfig, HotDb, HotOrigin, billing_record};

const TIERGATE: &str = env!("CARGO_BIN_EXE_tiergate");

/// Enough records, in small batches, that a run lasts well past the start of the others.
const RECORDS: usize = 600;
const OLD: std::time::Duration = std::time::Duration::from_secs(40 * 86_400);

/// Runs `tiergate archive --once` with `config` in `processes` processes at once.
fn archive_at_once(config: &Path, processes: usize) -> Vec<Output> {
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(TIERGATE)
                .args(["archive", "--once", "--config"])
                .arg(config)
                .env(ENV_BLOB_ACCESS_KEY_ID, ACCESS_KEY_ID)
                .env(ENV_BLOB_SECRET_ACCESS_KEY, SECRET_ACCESS_KEY)
                .env("RUST_LOG", "warn")
                .spawn()
                .expect("tiergate starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| child.wait_with_output().expect("tiergate ends"))
        .collect()
}

/// Each run's count of `column` in the runs table, oldest run first.
async fn per_run(db: &HotDb, column: &str, runs: usize) -> anyhow::Result<Vec<i64>> {
    let mut counts = Vec::new();
    for nth in 0..runs {
        let sql = format!(
            "SELECT CAST({column} AS bigint) FROM {}_ledger_runs \
             ORDER BY started_ms, id LIMIT 1 OFFSET {nth}",
            db.table()
        );
        counts.push(db.number(&sql).await?);
    }
    Ok(counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_archiver_processes_share_the_work_on_one_postgres() -> anyhow::Result<()> {
    let Some(db) = HotDb::postgres().await? else {
        return Ok(());
    };
    let mut records = Vec::new();
    for i in 0..RECORDS {
        let id = format!("INV-P-{i:04}");
        let body = billing_record(&id, i as u64, 2_000);
        db.insert(&id, &body, OLD).await?;
        records.push((id, body));
    }
    let origin = HotOrigin::start(db.clone()).await?;
    let blob = BlobStore::start().await?;
    let config = GateConfig::new(origin.url())
        .blob_endpoint(blob.endpoint())
        .archive(&db.hot_toml(), "lease_seconds = 60")
        .archive_batch(4, 1);
    let dir = ScratchDir::create("archivers")?;
    let path = dir.path().join("tiergate.toml");
    std::fs::write(&path, config.to_toml())?;

    let outputs = archive_at_once(&path, 3);
    for output in &outputs {
        assert!(output.status.success(), "an archiver failed: {output:?}");
    }
    let claimed = per_run(&db, "claimed", 3).await?;
    let archived = per_run(&db, "archived", 3).await?;
    eprintln!("records claimed by each process: {claimed:?}; copied: {archived:?}");
    assert!(
        claimed.iter().all(|&n| n > 0),
        "every process claimed part of the work: {claimed:?}"
    );
    assert_eq!(claimed, archived, "every claim was copied");
    assert_eq!(
        claimed.iter().sum::<i64>() as usize,
        RECORDS,
        "each record claimed once: {claimed:?}"
    );

    // The next three delete the hot rows, again sharing the work.
    let outputs = archive_at_once(&path, 3);
    for output in &outputs {
        assert!(output.status.success(), "an archiver failed: {output:?}");
    }
    let deleted: i64 = db
        .number(&format!(
            "SELECT CAST(sum(deleted) AS bigint) FROM {}_ledger_runs",
            db.table()
        ))
        .await?;
    assert_eq!(deleted as usize, RECORDS);
    assert_eq!(db.count().await?, 0, "every hot row went");
    assert_eq!(blob.object_count(), RECORDS, "one copy per record");

    let gate = Gate::start(&config).await?;
    for (id, body) in &records {
        let reply = gate.get(&format!("/records/{id}")).await?;
        assert_eq!(reply.status, 200, "record {id}: {}", reply.text());
        assert_eq!(reply.source(), Some("blob"), "record {id}");
        assert_same_bytes(&reply.body, body, id);
    }
    Ok(())
}
