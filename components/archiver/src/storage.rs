//! Blob storage through signed URLs: PUT a copy, GET it back, DELETE a stale one. Each
//! request is signed afresh (URLs live a minute) and retried with backoff while storage
//! answers with a transient failure.

use bytes::Bytes;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{EmptyBody, FullBody, Method};
use spin_sdk::wasip3::clocks::monotonic_clock;
use std::time::SystemTime;
use tiergate_core::archival::{ATTEMPTS, Retry, backoff};
use tiergate_core::settings::BlobSettings;
use tiergate_core::{
    BlobError, BlobKey, DeleteCopy, ObjectMeta, PutChecksum, PutCopy, PutReceipt, ReadCopy,
    SignedUrl,
};

/// A storage step that did not succeed.
#[derive(Debug)]
pub(crate) struct StorageError {
    /// What happened, naming the step, the key and the answer.
    pub(crate) message: String,
    /// Whether storage looked unreachable or overloaded (then the run stops) rather than
    /// refusing this one request.
    pub(crate) retry: Retry,
}

impl From<BlobError> for StorageError {
    fn from(e: BlobError) -> Self {
        Self {
            retry: e.retry(),
            message: e.to_string(),
        }
    }
}

/// Writes `body` under `key` with `meta`, replacing any object there (a rerun after a
/// crash rewrites it), for the store to check against `checksum`. Retries share the one
/// buffer. What the store's answer says it kept is the receipt.
pub(crate) async fn put(
    blob: &BlobSettings,
    key: &BlobKey,
    meta: &ObjectMeta,
    checksum: &PutChecksum,
    body: Bytes,
) -> Result<PutReceipt, StorageError> {
    with_retries(|| async {
        let put = PutCopy::new(&blob.backend, key, meta, checksum);
        let signed = put.sign(SystemTime::now(), blob.url_expiry);
        let mut request = http::Request::builder()
            .method(Method::PUT)
            .uri(signed.url.expose())
            .header(http::header::CONTENT_LENGTH, body.len());
        for (name, value) in &signed.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(FullBody::new(body.clone()))
            .map_err(|e| permanent(format!("PUT {key}: cannot build the request: {e}")))?;
        let response = send("PUT", key, &signed.url, request).await?;
        let headers = response.headers();
        let receipt = put.read(response.status().as_u16(), |name| {
            headers.get(name).and_then(|v| v.to_str().ok())
        })?;
        Ok(receipt)
    })
    .await
}

/// Reads the object under `key` back: its metadata and stored bytes, or none if absent.
pub(crate) async fn get(
    blob: &BlobSettings,
    key: &BlobKey,
) -> Result<Option<(ObjectMeta, Bytes)>, StorageError> {
    with_retries(|| async {
        let read = ReadCopy::get(&blob.backend, key);
        let url = read.sign(SystemTime::now(), blob.url_expiry);
        let response = send(read.method(), key, &url, request(read.method(), &url)?).await?;
        let (parts, body) = response.into_parts();
        let answered = read.read(parts.status.as_u16(), |name| {
            parts.headers.get(name).and_then(|v| v.to_str().ok())
        })?;
        let Some(meta) = answered else {
            return Ok(None);
        };
        let stored = body.bytes().await.map_err(|e| StorageError {
            message: format!("GET {key}: body cut off: {e:?}"),
            retry: Retry::Transient,
        })?;
        Ok(Some((meta, stored)))
    })
    .await
}

/// Removes the object under `key`; an absent object is already removed.
pub(crate) async fn delete(blob: &BlobSettings, key: &BlobKey) -> Result<(), StorageError> {
    with_retries(|| async {
        let delete = DeleteCopy::new(&blob.backend, key);
        let url = delete.sign(SystemTime::now(), blob.url_expiry);
        let response = send("DELETE", key, &url, request("DELETE", &url)?).await?;
        Ok(delete.read(response.status().as_u16())?)
    })
    .await
}

async fn with_retries<T, F: Future<Output = Result<T, StorageError>>>(
    attempt: impl Fn() -> F,
) -> Result<T, StorageError> {
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.retry == Retry::Transient && tries < ATTEMPTS => {
                monotonic_clock::wait_for(backoff(tries).as_nanos() as u64).await;
                tries += 1;
            }
            Err(e) if tries > 1 => {
                return Err(StorageError {
                    message: format!("{} (after {tries} attempts)", e.message),
                    ..e
                });
            }
            result => return result,
        }
    }
}

fn request(method: &str, url: &SignedUrl) -> Result<http::Request<EmptyBody>, StorageError> {
    http::Request::builder()
        .method(method)
        .uri(url.expose())
        .body(EmptyBody::new())
        .map_err(|e| permanent(format!("cannot build a request for {url}: {e}")))
}

async fn send(
    method: &str,
    key: &BlobKey,
    url: &SignedUrl,
    request: impl spin_sdk::http::IntoRequest,
) -> Result<spin_sdk::http::Response, StorageError> {
    spin_sdk::http::send(request)
        .await
        .map_err(|e| StorageError {
            // The URL's Display hides its signature.
            message: format!("{method} {key} at {url}: storage unreachable: {e:?}"),
            retry: Retry::Transient,
        })
}

fn permanent(message: String) -> StorageError {
    StorageError {
        message,
        retry: Retry::Permanent,
    }
}
