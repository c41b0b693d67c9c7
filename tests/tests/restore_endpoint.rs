//! The restore endpoint on the admin address, as an edge running elsewhere (Spin) calls it:
//! signed requests put an archived record back in the hot table; unsigned, stale or
//! wrongly signed ones are refused and change nothing.

use bytes::Bytes;
use http_body_util::Full;
use std::time::{Duration, SystemTime};
use tiergate::RunOptions;
use tiergate::ops::admin::{self, Admin};
use tiergate::restore::endpoint::InProcessRestore;
use tiergate_core::RecordId;
use tiergate_core::restore_auth::{HEADER, RestoreKey};
use tiergate_tests::{BlobStore, Gate, GateConfig, HotDb, HotOrigin, HttpClient, billing_record};

const OLD: Duration = Duration::from_secs(40 * 86_400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_restore_and_others_change_nothing() -> anyhow::Result<()> {
    let db = HotDb::sqlite()?;
    let origin = HotOrigin::start(db.clone()).await?;
    let blob = BlobStore::start().await?;
    let config = GateConfig::new(origin.url())
        .blob_endpoint(blob.endpoint())
        .archive(&db.hot_toml(), "");
    let gate = Gate::start(&config).await?;
    let archiver = gate.archiver().await?;
    let body = billing_record("INV-1", 1, 30_000);
    db.insert("INV-1", &body, OLD).await?;
    archiver.run(RunOptions::default()).await?;
    let deleted = archiver.run(RunOptions::default()).await?;
    assert_eq!(deleted.deleted, 1, "{deleted:?}");
    assert!(db.get("INV-1").await?.is_none());

    let cache = tiergate::kv::open(&gate.config().cache)?;
    let restore = InProcessRestore::from_config(gate.config(), cache);
    assert!(
        restore.is_some(),
        "a config with a hot database has a restore endpoint"
    );
    let admin = Admin::start(admin::bind("127.0.0.1:0".parse()?).await?, restore, None).await?;
    let url = format!("http://{}/restore/INV-1", admin.local_addr());
    let key = RestoreKey::new(&gate.config().edge_variables["restore_key"])
        .map_err(anyhow::Error::msg)?;
    let id = RecordId::parse("INV-1")?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    let client = HttpClient::new();
    let post = |signature: Option<String>| {
        let mut request = http::Request::post(&url);
        if let Some(signature) = signature {
            request = request.header(HEADER, signature);
        }
        request.body(Full::new(Bytes::new()))
    };

    let wrong_key = RestoreKey::new("not-the-shared-key").map_err(anyhow::Error::msg)?;
    for (signature, why) in [
        (None, "no signature"),
        (Some(wrong_key.sign("POST", &id, now)), "another key"),
        (Some(key.sign("POST", &id, now - 600)), "ten minutes old"),
        (Some(key.sign("DELETE", &id, now)), "another method"),
        (
            Some(key.sign("POST", &RecordId::parse("INV-2")?, now)),
            "another record",
        ),
    ] {
        let reply = client.send(post(signature)?).await?;
        assert_eq!(reply.status, 401, "{why}: {}", reply.text());
        assert!(
            !reply
                .text()
                .contains(&gate.config().edge_variables["restore_key"]),
            "the key leaked"
        );
        assert!(db.get("INV-1").await?.is_none(), "{why}: restored anyway");
    }
    assert!(blob.holds("INV-1"));

    let reply = client.send(post(Some(key.sign("POST", &id, now)))?).await?;
    assert_eq!(
        (reply.status.as_u16(), reply.text()),
        (200, "restored\n".to_owned())
    );
    assert_eq!(db.get("INV-1").await?.as_deref(), Some(&body[..]));
    assert!(
        !blob.holds("INV-1"),
        "the copy still answers beside the restored row"
    );
    let reply = gate.get("/records/INV-1").await?;
    tiergate_tests::assertions::assert_served(&reply, "INV-1", "origin", &body);
    // Asking again finds the record hot.
    let reply = client.send(post(Some(key.sign("POST", &id, now)))?).await?;
    assert_eq!(
        (reply.status.as_u16(), reply.text()),
        (200, "hot\n".to_owned())
    );
    // The row came back exactly as it left, its changed time too: a record nobody wrote to
    // is still cold. It lies behind where the last run's walk got to, so the next run,
    // which goes on from there, leaves it hot, in this archiver or another (the walk's end
    // is kept in the database); a walk from the beginning (`--from-beginning`, and one run
    // in every 24) copies it again.
    let resumed = archiver.run(RunOptions::default()).await?;
    assert_eq!(resumed.archived, 0, "{resumed:?}");
    let another = gate.archiver().await?;
    let resumed = another.run(RunOptions::default()).await?;
    assert_eq!(resumed.archived, 0, "{resumed:?}");
    let again = another
        .run(RunOptions {
            from_beginning: true,
            ..Default::default()
        })
        .await?;
    assert_eq!(again.archived, 1, "{again:?}");
    Ok(())
}
