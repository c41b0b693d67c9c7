//! The restore endpoint: `POST <restore_url>/{id}`, signed with the shared restore key
//! (`tiergate_core::restore_auth`). The edge calls it before it forwards a write; the host
//! answers it in process ([`InProcessRestore`]) and on its admin address.
//!
//! Answers: 200 `restored` or `hot`; 400 for an id the edge would not send; 401 with the
//! reason for a missing, stale or wrong signature (the key never appears); 503 when the hot
//! database or blob storage did not answer; 500 when the copy or the table is not as the
//! ledger says. Only a 200 lets the write go on.

use super::{RestoreError, Restored, Restorer};
use crate::config::{Config, IN_PROCESS_RESTORE};
use crate::kv::KvBackend;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::time::SystemTime;
use tiergate_core::RecordId;
use tiergate_core::restore_auth::{HEADER, RestoreKey};
use tiergate_hotstore::LazyHotStore;
use wasmtime_wasi_http::WasiBody;

/// The endpoint's answer to a request: `method` on `path`, whose signature header is
/// `signature`.
async fn respond(
    restorer: &Restorer,
    key: &RestoreKey,
    method: &str,
    path: &str,
    signature: Option<&str>,
) -> (StatusCode, String) {
    if method != "POST" {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "the restore endpoint takes POST /restore/{id}\n".into(),
        );
    }
    let raw = path.rsplit('/').next().unwrap_or_default();
    let id = match RecordId::parse(raw) {
        Ok(id) => id,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("record id {raw:?}: {e}\n")),
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Err(e) = key.check(signature, method, id.as_str(), now) {
        tracing::warn!(record = %id, reason = %e, "restore request refused");
        return (StatusCode::UNAUTHORIZED, format!("restore refused: {e}\n"));
    }
    match restorer.before_write(&id).await {
        Ok(Restored::Restored) => {
            tracing::info!(record = %id, "record restored to the hot table for a write");
            (StatusCode::OK, "restored\n".into())
        }
        Ok(Restored::Hot) => (StatusCode::OK, "hot\n".into()),
        // The write goes to the origin, which answers as for any record it does not have.
        Ok(Restored::Expired) => (StatusCode::OK, "expired\n".into()),
        Err(RestoreError::Unavailable(m)) => {
            tracing::warn!(record = %id, error = %m, "restore failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("record {id} could not be restored: {m}\n"),
            )
        }
        Err(RestoreError::Invalid(m)) => {
            tracing::error!(record = %id, error = %m, "restore failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("record {id} could not be restored: {m}\n"),
            )
        }
    }
}

/// The endpoint of this host: answered in process for its own edge instances (their
/// requests to its authority never reach the network), and on the admin address for edges
/// elsewhere.
#[derive(Debug)]
pub struct InProcessRestore {
    /// The authority (`host[:port]`) of the edge's `restore_url`.
    pub authority: String,
    /// The key the edge signs with.
    pub key: RestoreKey,
    /// The restorer.
    pub restorer: Arc<Restorer>,
}

impl InProcessRestore {
    /// The endpoint's answer to a request with `method`, `path` and `headers`, whichever
    /// way it arrived.
    pub async fn answer(
        &self,
        method: &str,
        path: &str,
        headers: &http::HeaderMap,
    ) -> (StatusCode, String) {
        let signature = headers.get(HEADER).and_then(|v| v.to_str().ok());
        respond(&self.restorer, &self.key, method, path, signature).await
    }

    /// The endpoint for `config`, with cached copies dropped from `cache`; none without a
    /// hot database.
    pub fn from_config(config: &Config, cache: Arc<dyn KvBackend>) -> Option<Arc<Self>> {
        let (archive, key) = (config.archive.as_ref()?, config.restore_key.as_ref()?);
        let store = Arc::new(LazyHotStore::new(archive.hot.clone()));
        Some(Arc::new(Self {
            authority: IN_PROCESS_RESTORE.to_owned(),
            key: key.clone(),
            restorer: Arc::new(Restorer::new(store, &archive.settings, Some(cache))),
        }))
    }
}

impl crate::wasm::outbound::InProcess for InProcessRestore {
    fn authority(&self) -> &str {
        &self.authority
    }

    fn answer(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
    ) -> std::pin::Pin<Box<dyn Future<Output = http::Response<WasiBody>> + Send>> {
        Box::pin(async move {
            let (status, text) = InProcessRestore::answer(
                &self,
                request.method().as_str(),
                request.uri().path(),
                request.headers(),
            )
            .await;
            let body = Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed_unsync();
            let mut response = http::Response::new(body);
            *response.status_mut() = status;
            response
        })
    }
}
