//! Azure Blob Storage behind service SAS URLs, on Azurite: archived records are served
//! through the edge, and every kind of bad SAS is refused by Azurite itself. Each test says
//! SKIPPED on stderr and passes where Azurite is not installed (CI requires it).

use http::StatusCode;
use std::time::{Duration, SystemTime};
use tiergate_core::azure::Access;
use tiergate_core::{AzureSigner, BlobKey, ObjectMeta, PutChecksum, PutReceipt, RecordId};
use tiergate_tests::assertions::{assert_served, assert_tier_outage};
use tiergate_tests::azurite::{ACCOUNT, CONTAINER};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{Azurite, Gate, GateConfig, HttpClient, Origin, billing_record};

fn path(id: &str) -> String {
    format!("/records/{id}")
}

fn key(id: &str) -> BlobKey {
    BlobKey::for_record(&RecordId::parse(id).unwrap())
}

/// A key of the right length and encoding that is not the account's.
const WRONG_KEY: &str =
    "AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_record_is_served_from_azure_then_from_cache() -> anyhow::Result<()> {
    let Some(azurite) = Azurite::start_if_installed("archived_record_is_served_from_azure").await?
    else {
        return Ok(());
    };
    let origin = Origin::start().await?;
    let gate = Gate::start(&GateConfig::new(origin.url()).azure_blob(azurite.endpoint())).await?;
    let id = "INV-2024-000301";
    let body = billing_record(id, 301, LARGE_RECORD_BYTES);
    azurite.archive(id, &body, CONTENT_TYPE).await?;

    assert_served(&gate.get(&path(id)).await?, id, "blob", &body);
    assert_served(&gate.get(&path(id)).await?, id, "cache", &body);
    assert_eq!(
        origin.total_requests(),
        0,
        "record {id} is archived: the origin is not asked"
    );
    Ok(())
}

/// What the archiver relies on to skip reading a copy back: Azure checks a Put Blob's
/// `Content-MD5`, refuses a body that does not match it and stores nothing, and answers a
/// PUT it kept with the same `Content-MD5`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_checks_and_confirms_the_content_md5_of_a_put() -> anyhow::Result<()> {
    let Some(azurite) = Azurite::start_if_installed("azure_checks_the_content_md5").await? else {
        return Ok(());
    };
    let client = HttpClient::new();
    let put = |id: &str, checksum: &PutChecksum, body: &[u8]| {
        let meta = ObjectMeta::describe(body, CONTENT_TYPE);
        azurite.signer().presign_put(
            &key(id),
            &meta,
            checksum,
            SystemTime::now(),
            Duration::from_secs(60),
        )
    };
    let stored = |id: &str| {
        let url =
            azurite
                .signer()
                .presign_get(&key(id), SystemTime::now(), Duration::from_secs(60));
        let client = &client;
        async move { anyhow::Ok(client.get(url.expose()).await?.status) }
    };

    let id = "INV-2024-000408";
    let body = billing_record(id, 408, 10_000);
    let checksum = PutChecksum::md5(&body);
    let kept = client.put_signed(&put(id, &checksum, &body), &body).await?;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.text());
    assert_eq!(
        checksum.receipt(kept.header(checksum.header)),
        Ok(PutReceipt::Confirmed)
    );
    assert_eq!(stored(id).await?, StatusCode::OK);

    let id = "INV-2024-000409";
    let body = billing_record(id, 409, 10_000);
    let wrong = PutChecksum::md5(b"other bytes");
    let refused = client.put_signed(&put(id, &wrong, &body), &body).await?;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.text()
    );
    assert_eq!(stored(id).await?, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_refuses_expired_wrong_key_tampered_and_wrong_permission_sas() -> anyhow::Result<()>
{
    let Some(azurite) = Azurite::start_if_installed("azurite_refuses_bad_sas").await? else {
        return Ok(());
    };
    let id = "INV-2024-000302";
    let body = billing_record(id, 302, 10_000);
    azurite.archive(id, &body, CONTENT_TYPE).await?;
    let client = HttpClient::new();
    let get = |url: String| {
        let client = &client;
        async move { client.get(&url).await }
    };
    let signer = azurite.signer();
    let fresh = signer.presign_get(&key(id), SystemTime::now(), Duration::from_secs(60));
    let ok = get(fresh.expose().to_owned()).await?;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "a fresh read SAS for {id}: {}",
        ok.text()
    );
    assert_eq!(ok.body, body, "record {id} read back from Azurite");

    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = signer.presign_get(&key(id), an_hour_ago, Duration::from_secs(60));
    let wrong_key = AzureSigner::new(&azurite.endpoint(), ACCOUNT, CONTAINER, WRONG_KEY, true)?
        .presign_get(&key(id), SystemTime::now(), Duration::from_secs(60));
    let tampered = fresh.expose().replace("sp=r", "sp=rw");
    for (what, url) in [
        ("expired", expired.expose().to_owned()),
        ("wrong key", wrong_key.expose().to_owned()),
        ("tampered", tampered),
    ] {
        let reply = get(url).await?;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{what} SAS for {id}: {}",
            reply.text()
        );
    }

    // A read SAS must not write: the edge's URLs cannot change the archive.
    let read_only = signer.sign(
        &key(id),
        Access::Read,
        SystemTime::now(),
        Duration::from_secs(60),
    );
    let put = hyper::Request::put(read_only.expose())
        .header("x-ms-blob-type", "BlockBlob")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"overwritten",
        )))?;
    let reply = client.send(put).await?;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "PUT with a read SAS: {}",
        reply.text()
    );
    assert_eq!(
        get(fresh.expose().to_owned()).await?.body,
        body,
        "record {id} unchanged"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_wrong_account_key_archived_records_are_503_and_hot_ones_still_served()
-> anyhow::Result<()> {
    let Some(azurite) = Azurite::start_if_installed("wrong_account_key_is_503").await? else {
        return Ok(());
    };
    let origin = Origin::start().await?;
    let config = GateConfig::new(origin.url())
        .azure_blob(azurite.endpoint())
        .blob_secret(WRONG_KEY);
    let gate = Gate::start(&config).await?;
    let archived = "INV-2024-000303";
    azurite
        .archive(
            archived,
            &billing_record(archived, 303, 5_000),
            CONTENT_TYPE,
        )
        .await?;
    let hot = "INV-2024-000304";
    let hot_body = billing_record(hot, 304, 5_000);
    origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    let reply = gate.get(&path(archived)).await?;
    assert_tier_outage(&reply, archived);
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "record {archived}"
    );
    let shown = format!("{:?} {}", reply.headers, reply.text());
    assert!(
        !shown.contains("sig="),
        "record {archived}: the SAS leaked: {shown}"
    );
    assert_served(&gate.get(&path(hot)).await?, hot, "origin", &hot_body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_azure_down_archived_records_are_503_and_hot_ones_still_served() -> anyhow::Result<()>
{
    let Some(azurite) = Azurite::start_if_installed("azure_down_is_503").await? else {
        return Ok(());
    };
    let origin = Origin::start().await?;
    let gate = Gate::start(&GateConfig::new(origin.url()).azure_blob(azurite.endpoint())).await?;
    let archived = "INV-2024-000305";
    azurite
        .archive(
            archived,
            &billing_record(archived, 305, 5_000),
            CONTENT_TYPE,
        )
        .await?;
    let hot = "INV-2024-000306";
    let hot_body = billing_record(hot, 306, 5_000);
    origin.insert(hot, hot_body.clone(), CONTENT_TYPE);
    drop(azurite);

    assert_tier_outage(&gate.get(&path(archived)).await?, archived);
    assert_served(&gate.get(&path(hot)).await?, hot, "origin", &hot_body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archiver_moves_records_to_azure_and_removes_stale_copies() -> anyhow::Result<()> {
    let Some(azurite) = Azurite::start_if_installed("archiver_to_azure").await? else {
        return Ok(());
    };
    let db = tiergate_tests::HotDb::sqlite()?;
    let old = Duration::from_secs(40 * 86_400);
    let ids = ["INV-2023-000401", "INV-2023-000402", "INV-2023-000403"];
    let mut bodies = Vec::new();
    for (seed, id) in ids.iter().enumerate() {
        let body = billing_record(id, seed as u64, LARGE_RECORD_BYTES);
        db.insert(id, &body, old).await?;
        bodies.push(body);
    }
    let origin = tiergate_tests::HotOrigin::start(db.clone()).await?;
    let config = GateConfig::new(origin.url())
        .azure_blob(azurite.endpoint())
        .archive(&db.hot_toml(), "");
    let gate = Gate::start(&config).await?;
    let archiver = gate.archiver().await?;

    let first = archiver.run(tiergate::RunOptions::default()).await?;
    assert_eq!((first.archived, first.failed), (3, 0), "{first:?}");
    // The last record changes through the API before its hot row may go.
    let changed = billing_record(ids[2], 99, 1_000);
    let put = http::Request::put(path(ids[2])).body(http_body_util::Full::new(changed.clone()))?;
    assert_eq!(gate.send(put).await?.status, StatusCode::NO_CONTENT);

    let second = archiver.run(tiergate::RunOptions::default()).await?;
    assert_eq!(
        (second.deleted, second.restored, second.failed),
        (2, 1, 0),
        "{second:?}"
    );
    for (id, body) in ids[..2].iter().zip(&bodies) {
        assert!(
            db.get(id).await?.is_none(),
            "record {id} left the hot database"
        );
        assert_served(&gate.get(&path(id)).await?, id, "blob", body);
    }
    let stale =
        azurite
            .signer()
            .presign_get(&key(ids[2]), SystemTime::now(), Duration::from_secs(60));
    let reply = HttpClient::new().get(stale.expose()).await?;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "the stale copy of {} is gone",
        ids[2]
    );
    assert_served(&gate.get(&path(ids[2])).await?, ids[2], "origin", &changed);
    Ok(())
}
