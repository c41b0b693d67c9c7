//! The owner of a record the origin answers, for the edge's access check by an owner column
//! (`[edge.auth] owner_column`): the origin's body need not name its owner, so the host
//! reads the column and hands its value to the edge in a header ([`OWNER_HEADER`]) of the
//! answer, the way an archived copy carries it in its metadata. The edge takes the header
//! off before anything reaches the client.

use http::HeaderValue;
use std::sync::Arc;
use tiergate_core::access::OWNER_HEADER;
use tiergate_core::blob_object::escape_owner;
use tiergate_core::{RecordId, RecordRoute, RequestKind};
use tiergate_hotstore::{LazyHotStore, StoreError};
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;

/// Reads owners from the hot table for the records the edge asks the origin for.
#[derive(Debug)]
pub(super) struct Owners {
    route: RecordRoute,
    store: Arc<LazyHotStore>,
}

impl Owners {
    /// Owners of the records on `route`, read from `store` (whose configuration names the
    /// owner column).
    pub(super) fn new(route: RecordRoute, store: Arc<LazyHotStore>) -> Self {
        Self { route, store }
    }

    /// The record a request to the origin reads, if it is the edge's read of one (a `GET`
    /// of a record's plain path): only its answer carries an owner.
    pub(super) fn read_of(&self, method: &http::Method, uri: &http::Uri) -> Option<RecordId> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        match self.route.classify(method.as_str(), path) {
            RequestKind::Read { id, head: false } => Some(id),
            _ => None,
        }
    }

    /// The origin's answer to the edge's read of record `id`, which `exchange` gets, with
    /// the record's owner in [`OWNER_HEADER`] when it is a 200 (any such header the origin
    /// sent is removed: only the host names owners). The owner is read while the origin
    /// answers. A 200 whose owner cannot be read becomes an error: without its owner the
    /// edge would refuse the record to its owner too.
    pub(super) async fn answer<B>(
        &self,
        id: &RecordId,
        exchange: impl Future<Output = Result<http::Response<B>, ErrorCode>>,
    ) -> Result<http::Response<B>, ErrorCode> {
        let (response, owner) = tokio::join!(exchange, self.header_for(id));
        let mut response = response?;
        let served = response.status() == http::StatusCode::OK;
        let owner = match owner {
            Ok(owner) => owner.filter(|_| served),
            Err(_) if !served => None,
            Err(e) => {
                tracing::warn!(record = %id, error = %e, "reading a record's owner failed");
                return Err(ErrorCode::InternalError(Some(format!(
                    "reading the owner of record {id} failed: {e}"
                ))));
            }
        };
        let headers = response.headers_mut();
        headers.remove(OWNER_HEADER);
        if let Some(owner) = owner {
            headers.insert(OWNER_HEADER, owner);
        }
        Ok(response)
    }

    /// The header value naming the owner of `id`; `None` when the record has none.
    async fn header_for(&self, id: &RecordId) -> Result<Option<HeaderValue>, StoreError> {
        let owner = self.store.get().await?.owner(id.as_str()).await?;
        Ok(owner.map(|owner| {
            HeaderValue::from_str(&escape_owner(&owner))
                .expect("percent-encoded text is a header value")
        }))
    }
}
