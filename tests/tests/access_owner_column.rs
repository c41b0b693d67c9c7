//! `[edge.auth] owner_column`: a record's owner is a column of the hot table, not a field of
//! its body. The archiver stores the column's value with each copy, and the host hands it to
//! the edge with the origin's answer, so that the same rule holds whichever tier answers:
//! the origin (hot, and in the grace period), blob storage and the cache, on SQLite and
//! PostgreSQL, with the real edge and archiver in the real host, a real token issuer, the
//! API over the hot database over HTTP, and s3s-fs.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use serde_json::json;
use std::time::Duration;
use tiergate::RunOptions;
use tiergate_tests::assertions::{assert_refused_as_missing, assert_served};
use tiergate_tests::issuer::Signer;
use tiergate_tests::{
    BlobStore, Gate, GateConfig, HotDb, HotOrigin, Issuer, Reply, billing_record,
};

/// Old enough to be archived.
const OLD: Duration = Duration::from_secs(40 * 86_400);
/// The grace period between a copy and the delete of its hot row.
const GRACE: Duration = Duration::from_secs(1);

struct Customers {
    gate: Gate,
    archiver: tiergate::Archiver,
    issuer: Issuer,
    _origin: HotOrigin,
    _blob: BlobStore,
}

impl Customers {
    async fn start(db: &HotDb) -> anyhow::Result<Self> {
        let issuer = Issuer::start().await?;
        let origin = HotOrigin::start(db.clone()).await?;
        let blob = BlobStore::start().await?;
        let auth = issuer.edge_auth(
            "owner_claim = \"customer_id\"\nowner_column = \"customer_id\"\n\
             read_all = \"records.read_all\"",
        );
        let config = GateConfig::new(origin.url())
            .blob_endpoint(blob.endpoint())
            .archive(&db.hot_toml(), "")
            .grace_seconds(GRACE.as_secs())
            .answer_hits_in_host(false)
            .edge_extra(&auth);
        let gate = Gate::start(&config).await?;
        let archiver = gate.archiver().await?;
        Ok(Self {
            gate,
            archiver,
            issuer,
            _origin: origin,
            _blob: blob,
        })
    }

    async fn get(&self, id: &str, customer: &str) -> anyhow::Result<Reply> {
        let token = self.issuer.token(customer);
        let request = Request::get(format!("/records/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::<Bytes>::default())?;
        let reply = self.gate.send(request).await?;
        assert_eq!(
            reply.header("tiergate-owner"),
            None,
            "the owner header is the edge's, never the client's"
        );
        Ok(reply)
    }

    async fn forget_cached(&self, ids: &[&str]) -> anyhow::Result<()> {
        for id in ids {
            self.gate.cache().delete(&format!("record:{id}")).await?;
        }
        Ok(())
    }

    async fn run_archiver(&self) -> anyhow::Result<()> {
        let report = self.archiver.run(RunOptions::default()).await?;
        anyhow::ensure!(report.failed == 0, "the archiver run failed: {report:?}");
        Ok(())
    }
}

async fn each_customer_reads_its_own_records_by_column(db: HotDb) -> anyhow::Result<()> {
    let table = db.table().to_owned();
    db.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN customer_id TEXT"))
        .await?;
    let stack = Customers::start(&db).await?;
    let (acme, globex) = ("INV-COL-ACME", "INV-COL-GLOBEX");
    // The bodies name another customer: only the column decides.
    let acme_body = billing_record(acme, 51, 20_000);
    let globex_body = billing_record(globex, 52, 20_000);
    for (id, body, owner) in [(acme, &acme_body, "ACME"), (globex, &globex_body, "GLOBEX")] {
        db.insert(id, body, OLD).await?;
        db.execute_batch(&format!(
            "UPDATE {table} SET customer_id = '{owner}' WHERE id = '{id}'"
        ))
        .await?;
    }

    // Hot: the origin answers, the host names the owner.
    assert_refused_as_missing(
        &stack.get(globex, "ACME").await?,
        "another's, from the origin",
    );
    assert_served(&stack.get(acme, "ACME").await?, acme, "origin", &acme_body);
    assert_refused_as_missing(&stack.get(acme, "GLOBEX").await?, "another's, cached");
    assert_served(
        &stack.get(globex, "GLOBEX").await?,
        globex,
        "cache",
        &globex_body,
    );

    // Copied, hot rows in their grace period: still the origin.
    stack.run_archiver().await?;
    stack.forget_cached(&[acme, globex]).await?;
    assert_refused_as_missing(
        &stack.get(acme, "GLOBEX").await?,
        "another's, in its grace period",
    );
    assert_served(
        &stack.get(globex, "GLOBEX").await?,
        globex,
        "origin",
        &globex_body,
    );

    // Archived: the copy's metadata names the owner, and the cache keeps it.
    tokio::time::sleep(GRACE + Duration::from_millis(200)).await;
    stack.run_archiver().await?;
    anyhow::ensure!(db.count().await? == 0, "both hot rows were deleted");
    stack.forget_cached(&[acme, globex]).await?;
    assert_refused_as_missing(&stack.get(globex, "ACME").await?, "another's, from blob");
    assert_served(
        &stack.get(globex, "GLOBEX").await?,
        globex,
        "cache",
        &globex_body,
    );
    assert_served(&stack.get(acme, "ACME").await?, acme, "blob", &acme_body);
    assert_refused_as_missing(
        &stack.get(acme, "GLOBEX").await?,
        "another's, cached from blob",
    );

    // Support staff read everything.
    let mut claims = Issuer::claims("support");
    claims["scope"] = json!("records.read_all");
    let staff = stack.issuer.sign(Signer::Rsa, &claims);
    let request = Request::get(format!("/records/{globex}"))
        .header("authorization", format!("Bearer {staff}"))
        .body(Full::<Bytes>::default())?;
    assert_served(
        &stack.gate.send(request).await?,
        globex,
        "cache",
        &globex_body,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_column_decides_on_every_tier_on_sqlite() -> anyhow::Result<()> {
    each_customer_reads_its_own_records_by_column(HotDb::sqlite()?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_column_decides_on_every_tier_on_postgres() -> anyhow::Result<()> {
    match HotDb::postgres().await? {
        Some(db) => each_customer_reads_its_own_records_by_column(db).await,
        None => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_column_needs_the_hot_database_and_one_source_of_owners() -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let auth = |lines: &str| issuer.edge_auth(&format!("owner_claim = \"customer_id\"\n{lines}"));
    let refused = |config: GateConfig| async move {
        match Gate::start(&config).await {
            Ok(_) => panic!("tiergate started with {}", config.to_toml()),
            Err(e) => format!("{e:#}"),
        }
    };
    let base = || GateConfig::new("http://127.0.0.1:9").answer_hits_in_host(false);
    let err = refused(base().edge_extra(&auth("owner_column = \"customer_id\""))).await;
    assert!(
        err.contains("edge.auth.owner_column") && err.contains("[hot]"),
        "{err}"
    );
    let err = refused(base().edge_extra(&auth(
        "owner_column = \"customer_id\"\nowner_pointer = \"/customer\"",
    )))
    .await;
    assert!(err.contains("not both"), "{err}");
    // A column the table does not have is named at the first use of the hot database.
    let db = HotDb::sqlite()?;
    let config = base()
        .blob_endpoint("http://127.0.0.1:9")
        .archive(&db.hot_toml(), "")
        .edge_extra(&auth("owner_column = \"customer\""));
    let gate = Gate::start(&config).await?;
    let err = match gate.archiver().await {
        Ok(_) => panic!("the archiver opened a table without the owner column"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("edge.auth.owner_column") && err.contains("no column"),
        "{err}"
    );
    Ok(())
}
