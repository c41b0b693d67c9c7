//! `origin` mode at the edge: before a read, the API is asked whether this client may read
//! this record, with the client's credential headers (an authorization subrequest, as
//! nginx's `auth_request`). A 2xx lets the tiers answer and is remembered in the KV store for
//! `auth_decision_seconds`, under a digest of the credential and the id; any other answer is
//! the API's own, passed on as it is.

use crate::{outbound, reply};
use spin_sdk::http::{EmptyBody, HeaderMap};
use spin_sdk::key_value::Store;
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use std::time::Duration;
use tiergate_core::access::OriginCheck;
use tiergate_core::server_timing::ServerTiming;
use tiergate_core::{RecordId, Source};

/// How long the API has to answer a check.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the client whose request carries `headers` may read record `id`: `Ok`, or the
/// answer to give instead.
pub(crate) async fn allowed(
    check: &OriginCheck,
    headers: &HeaderMap,
    id: &RecordId,
    now: u64,
) -> Result<(), Result<Response, ErrorCode>> {
    let credentials: Vec<(&str, &[u8])> = check
        .credential_headers
        .iter()
        .flat_map(|name| {
            headers
                .get_all(name.as_str())
                .iter()
                .map(move |value| (name.as_str(), value.as_bytes()))
        })
        .collect();
    let key = check.decision_key(id.as_str(), credentials.iter().copied());
    let remember = !check.decision_ttl.is_zero();
    let store = if remember {
        Store::open_default().await.ok()
    } else {
        None
    };
    if let Some(store) = &store
        && let Ok(Some(value)) = store.get(&key).await
        && let Some(until) = value.first_chunk::<8>()
        && now < u64::from_be_bytes(*until)
    {
        return Ok(());
    }

    let url = check.url_for(id.as_str());
    let mut request = http::Request::get(&url);
    for (name, value) in &credentials {
        request = request.header(*name, *value);
    }
    let request = request
        .extension(outbound::bounded(TIMEOUT))
        .body(EmptyBody::new())
        .map_err(|e| reply::unavailable(format!("tiergate: cannot check access: {e}\n")))?;
    let response = spin_sdk::http::send(request).await.map_err(|e| {
        eprintln!("tiergate edge: access check of record {id} at {url} failed: {e:?}");
        reply::unavailable(format!(
            "tiergate: access to record {id} could not be checked (the API's check did not \
             answer); nothing was served, try again\n"
        ))
    })?;
    if !response.status().is_success() {
        return Err(reply::relay(
            response,
            Source::Origin,
            &ServerTiming::default(),
        ));
    }
    if let Some(store) = &store {
        let until = now + check.decision_ttl.as_secs();
        if let Err(e) = store.set(&key, until.to_be_bytes()).await {
            eprintln!("tiergate edge: remembering an access grant failed: {e:?}");
        }
    }
    Ok(())
}
