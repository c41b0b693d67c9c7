//! The origin tier: the next hop of the middleware chain.

use crate::reply;
use spin_sdk::http::{EmptyBody, Request};
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use spin_sdk::wasip3::http_compat::IncomingResponseBody;
use tiergate_core::read_plan::{Failure, OriginFailure};

/// Request headers dropped when the edge asks the origin for a whole record: the edge
/// answers conditionals itself, with its own tags, and always needs the full body.
const DROPPED_ON_READ: &[&str] = &[
    "if-none-match",
    "if-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
];

/// Passes `request` to the next hop and its response back, both untouched: the WASI
/// messages themselves go through, so no body byte is copied through the guest. (The SDK's
/// conversions would copy both bodies through in 16 KiB frames: wasip3 0.7.1 looks for an
/// unstarted body by downcasting the whole message rather than its body, which never
/// matches.)
pub(crate) async fn forward(mut request: Request) -> Result<Response, ErrorCode> {
    let Some(raw) = request.body_mut().take_unstarted() else {
        return Err(ErrorCode::InternalError(Some(
            "request body already read".into(),
        )));
    };
    match spin_sdk::http::next(raw).await {
        Ok(response) => match response.into_body().take_unstarted() {
            Some(raw) => Ok(raw),
            None => Err(ErrorCode::InternalError(Some(
                "origin body already read".into(),
            ))),
        },
        Err(e) => reply::failure(&Failure::passing(&outcome_of(e)), None),
    }
}

/// Asks the next hop for a record, as the client asked but without conditionals.
pub(crate) async fn read(
    request: &Request,
    method: http::Method,
) -> Result<http::Response<IncomingResponseBody>, OriginFailure> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(request.uri().clone());
    for (name, value) in request.headers() {
        if !DROPPED_ON_READ.contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let request = builder
        .body(EmptyBody::new())
        .map_err(|e| OriginFailure::Unreachable(format!("cannot forward the request: {e}")))?;
    spin_sdk::http::next(request).await.map_err(outcome_of)
}

/// Classifies a failed exchange with the origin.
pub(crate) fn outcome_of(error: ErrorCode) -> OriginFailure {
    let detail = format!("{error:?}");
    if tiergate_core::timed_out!(&error, ErrorCode) {
        OriginFailure::TimedOut(detail)
    } else {
        OriginFailure::Unreachable(detail)
    }
}
