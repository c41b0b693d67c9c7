//! The local cache of a `tiergate serve` on this machine, as an archiver run in another
//! process (`archive --once`) reaches it: a memory cache lives in its server's process and
//! a redb file is locked by it, so the run sends each entry it drops to the server's admin
//! address (`DELETE /cache/{key}`, `ops::admin`) and keeps nothing itself. A run only drops
//! entries; it never reads or writes the edge's cache.

use super::{KvBackend, KvError};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where a server's admin address takes drops: `DELETE /cache/{key}`, the key as it is
/// (cache keys are made of characters a path keeps as they are).
pub const DROP_PREFIX: &str = "/cache/";

/// How long the server has to drop one entry.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Drops entries from the cache of the server whose admin address is `admin`.
pub struct ServeDrops {
    client: Client<HttpConnector, Empty<Bytes>>,
    base: String,
    /// Whether "no server answers" was logged already: it is said once per run.
    said_absent: AtomicBool,
}

impl ServeDrops {
    /// Drops through the server at `admin` (an unspecified address means this machine).
    pub fn new(admin: SocketAddr) -> Self {
        let mut admin = admin;
        if admin.ip().is_unspecified() {
            admin.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(TIMEOUT));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: format!("http://{admin}{}", DROP_PREFIX),
            said_absent: AtomicBool::new(false),
        }
    }

    fn nothing_here() -> KvError {
        KvError::Storage("this process keeps no cache: it only drops the server's entries".into())
    }
}

impl std::fmt::Debug for ServeDrops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeDrops")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl KvBackend for ServeDrops {
    async fn get(&self, _key: &str) -> Result<Option<Bytes>, KvError> {
        Ok(None)
    }

    async fn set(&self, _key: &str, _value: Bytes) -> Result<u64, KvError> {
        Err(Self::nothing_here())
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-' | ':'))
        {
            return Err(KvError::Storage(format!(
                "cache key {key:?} cannot be sent in a path as it is"
            )));
        }
        let request = http::Request::delete(format!("{}{key}", self.base))
            .body(Empty::new())
            .map_err(|e| KvError::Storage(format!("dropping {key}: {e}")))?;
        let response = match tokio::time::timeout(TIMEOUT, self.client.request(request)).await {
            Err(_) => {
                return Err(KvError::Storage(format!(
                    "dropping {key}: the server at {} did not answer within {TIMEOUT:?}",
                    self.base
                )));
            }
            // No server: no process holds a cache to drop from (a redb file, unlocked, is
            // opened instead: see `main`'s `command_cache`).
            Ok(Err(e)) if e.is_connect() => {
                if !self.said_absent.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        url = %self.base,
                        "no tiergate serve answers at its admin address: no cached copies to drop"
                    );
                }
                return Ok(());
            }
            Ok(Err(e)) => return Err(KvError::Storage(format!("dropping {key}: {e}"))),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status == http::StatusCode::NO_CONTENT {
            return Ok(());
        }
        let text = response
            .into_body()
            .collect()
            .await
            .map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned())
            .unwrap_or_default();
        Err(KvError::Storage(format!(
            "dropping {key}: the server at {} answered {status}: {}",
            self.base,
            text.trim()
        )))
    }

    async fn exists(&self, _key: &str) -> Result<bool, KvError> {
        Ok(false)
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        Ok(Vec::new())
    }

    fn used_bytes(&self) -> u64 {
        0
    }
}
