//! The host's own requests for copies (`verify`, restore): signed as the components sign
//! them, over the host's one outbound connector. The components make theirs through
//! `wasi:http`; this is the one place the host reads or deletes a copy itself.
//!
//! May use: `wasm::outbound` (the connector).

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};
use tiergate_core::settings::BlobSettings;
use tiergate_core::{BlobKey, DeleteCopy, ObjectMeta, ReadCopy};

/// How long one object may take to arrive.
const OBJECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads and deletes copies in one blob store.
#[derive(Clone)]
pub struct BlobClient {
    client: Client<crate::wasm::outbound::Connector, Empty<bytes::Bytes>>,
    blob: BlobSettings,
}

impl std::fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobClient").finish_non_exhaustive()
    }
}

impl BlobClient {
    /// A client for the store `blob` describes.
    pub fn new(blob: &BlobSettings) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(crate::wasm::outbound::connector()),
            blob: blob.clone(),
        }
    }

    /// The object under `key` and its metadata, if there is one.
    pub async fn get(&self, key: &BlobKey) -> Result<Option<(ObjectMeta, bytes::Bytes)>, String> {
        let read = ReadCopy::get(&self.blob.backend, key);
        let url = read.sign(SystemTime::now(), self.blob.url_expiry);
        let response = self.send(read.method(), key, url.expose()).await?;
        let (parts, body) = response.into_parts();
        let Some(meta) = read
            .read(parts.status.as_u16(), |name| {
                parts.headers.get(name).and_then(|v| v.to_str().ok())
            })
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let stored = body
            .collect()
            .await
            .map_err(|e| format!("GET {key}: body cut off: {e}"))?
            .to_bytes();
        Ok(Some((meta, stored)))
    }

    /// Deletes the object under `key`; one that is absent already is no error.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), String> {
        let delete = DeleteCopy::new(&self.blob.backend, key);
        let url = delete.sign(SystemTime::now(), self.blob.url_expiry);
        let response = self.send("DELETE", key, url.expose()).await?;
        delete
            .read(response.status().as_u16())
            .map_err(|e| e.to_string())
    }

    async fn send(
        &self,
        method: &str,
        key: &BlobKey,
        url: &str,
    ) -> Result<http::Response<hyper::body::Incoming>, String> {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(OBJECT_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("{method} {key}: no answer in {OBJECT_TIMEOUT:?}"))?
            .map_err(|e| format!("{method} {key}: {e}"))
    }
}
