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

    /// The header value naming the owner of `id`; `None` when the record has none.
    pub(super) async fn header_for(
        &self,
        id: &RecordId,
    ) -> Result<Option<HeaderValue>, StoreError> {
        let owner = self.store.get().await?.owner(id.as_str()).await?;
        Ok(owner.map(|owner| {
            HeaderValue::from_str(&escape_owner(&owner))
                .expect("percent-encoded text is a header value")
        }))
    }
}

/// Sets the owner header of `response` to `owner`, after removing any the origin sent: only
/// the host names owners.
pub(super) fn set_owner(headers: &mut http::HeaderMap, owner: Option<HeaderValue>) {
    headers.remove(OWNER_HEADER);
    if let Some(owner) = owner {
        headers.insert(OWNER_HEADER, owner);
    }
}
