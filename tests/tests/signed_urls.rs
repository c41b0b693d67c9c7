//! Blob storage really checks the signed URLs the edge reads with: s3s-fs serves a fresh
//! one and refuses expired, tampered and wrongly keyed ones with 403. Requests go straight to
//! the store, so these show the store's checking, not tiergate's.

use std::time::{Duration, SystemTime};
use tiergate_core::s3::META_PREFIX;
use tiergate_core::{BlobKey, ObjectMeta, RecordId, S3Signer};
use tiergate_tests::assertions::assert_same_bytes;
use tiergate_tests::blob_store::{ACCESS_KEY_ID, BUCKET, REGION};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{BlobStore, HttpClient, billing_record};

const EXPIRY: Duration = Duration::from_secs(60);

/// A store holding archived record `id`, and that record's key.
async fn store_with(id: &str) -> anyhow::Result<(BlobStore, BlobKey)> {
    let store = BlobStore::start().await?;
    let body = billing_record(id, 1, LARGE_RECORD_BYTES);
    store.archive(id, &body, CONTENT_TYPE).await?;
    Ok((store, BlobKey::for_record(&RecordId::parse(id)?)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_serves_an_archived_record_and_its_metadata_through_a_fresh_signed_url()
-> anyhow::Result<()> {
    let (store, key) = store_with("INV-SIG-FRESH").await?;
    let url = store.signer().presign_get(&key, SystemTime::now(), EXPIRY);

    let reply = HttpClient::new().get(url.expose()).await?;

    assert_eq!(
        reply.status,
        200,
        "blob GET of record INV-SIG-FRESH with a fresh signature: {}",
        reply.text()
    );
    let body = billing_record("INV-SIG-FRESH", 1, LARGE_RECORD_BYTES);
    assert_same_bytes(&reply.body, &body, "record INV-SIG-FRESH from blob storage");
    let meta = ObjectMeta::from_headers(META_PREFIX, |name| reply.header(name))?;
    assert_eq!(
        meta,
        ObjectMeta::describe(&body, CONTENT_TYPE),
        "metadata of record INV-SIG-FRESH in blob storage"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_refuses_an_expired_signed_url_with_403() -> anyhow::Result<()> {
    let (store, key) = store_with("INV-SIG-EXPIRED").await?;
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3_600);
    let url = store.signer().presign_get(&key, an_hour_ago, EXPIRY);

    let reply = HttpClient::new().get(url.expose()).await?;

    assert_eq!(
        reply.status,
        403,
        "blob GET of record INV-SIG-EXPIRED signed an hour ago for 60 s: {}",
        reply.text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_refuses_a_tampered_signature_with_403() -> anyhow::Result<()> {
    let (store, key) = store_with("INV-SIG-TAMPERED").await?;
    let url = store.signer().presign_get(&key, SystemTime::now(), EXPIRY);
    let tampered = flip_signature_digit(url.expose());

    let reply = HttpClient::new().get(&tampered).await?;

    assert_eq!(
        reply.status,
        403,
        "blob GET of record INV-SIG-TAMPERED with one signature digit changed: {}",
        reply.text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_refuses_a_url_signed_with_another_secret_with_403() -> anyhow::Result<()> {
    let (store, key) = store_with("INV-SIG-WRONG-KEY").await?;
    let signer = S3Signer::new(
        &store.endpoint(),
        BUCKET,
        REGION,
        true,
        ACCESS_KEY_ID,
        "not-the-store-secret",
    )?;
    let url = signer.presign_get(&key, SystemTime::now(), EXPIRY);

    let reply = HttpClient::new().get(url.expose()).await?;

    assert_eq!(
        reply.status,
        403,
        "blob GET of record INV-SIG-WRONG-KEY signed with the wrong secret: {}",
        reply.text()
    );
    Ok(())
}

/// `url` with the first digit of its `X-Amz-Signature` changed.
fn flip_signature_digit(url: &str) -> String {
    const FIELD: &str = "X-Amz-Signature=";
    let at = url.find(FIELD).expect("a presigned URL has a signature") + FIELD.len();
    let flipped = if url[at..].starts_with('0') { "1" } else { "0" };
    format!("{}{flipped}{}", &url[..at], &url[at + 1..])
}
