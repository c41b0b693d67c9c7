//! Responses the edge makes itself.

use crate::body;
use crate::read::Record;
use spin_sdk::http::{EmptyBody, FullBody, HeaderMap, HeaderValue, IntoResponse, StatusCode};
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use spin_sdk::wasip3::http_compat::IncomingResponseBody;
use spin_sdk::wasip3::{spawn, wit_future};
use tiergate_core::Source;
use tiergate_core::record_id::RecordIdError;
use tiergate_core::server_timing::ServerTiming;

const SOURCE: &str = "x-tiergate-source";
const SERVER_TIMING: &str = "server-timing";

/// Headers of the origin's response that the edge sets itself on the records it serves.
const REPLACED: &[http::HeaderName] = &[
    http::header::CONTENT_LENGTH,
    http::header::ETAG,
    http::header::TRANSFER_ENCODING,
];

/// How the client asked for a record.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// `HEAD`: headers only.
    pub head: bool,
    /// The client's `if-none-match`, if any.
    pub if_none_match: Option<&'a str>,
    /// The client's `accept-encoding`, if any.
    pub accept_encoding: Option<&'a str>,
}

impl Answer<'_> {
    /// Serves `record` from `source`: 200, or 304 when the client's copy matches. `base` holds
    /// the origin's headers when the origin served it, so the API's own headers are kept.
    pub fn record(
        &self,
        source: Source,
        record: Record,
        base: Option<HeaderMap>,
        timing: &ServerTiming,
    ) -> Result<Response, ErrorCode> {
        let mut headers = base.unwrap_or_default();
        for name in REPLACED {
            headers.remove(name);
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            header_value(&record.content_type),
        );
        headers.insert(http::header::ETAG, header_value(record.etag.as_str()));
        headers.insert(SOURCE, HeaderValue::from_static(source.as_str()));
        headers.insert(SERVER_TIMING, header_value(&timing.header_value()));

        let not_modified = self
            .if_none_match
            .is_some_and(|candidates| record.etag.matches_if_none_match(candidates));
        if not_modified || self.head {
            let status = if not_modified {
                StatusCode::NOT_MODIFIED
            } else {
                StatusCode::OK
            };
            return (status, headers, EmptyBody::new()).into_response();
        }
        if record.stored.is_some() {
            headers.insert(
                http::header::VARY,
                HeaderValue::from_static("accept-encoding"),
            );
        }
        let bytes = match record.stored {
            Some((encoding, stored))
                if self
                    .accept_encoding
                    .is_some_and(|accepted| encoding.accepted_by(accepted)) =>
            {
                headers.insert(
                    http::header::CONTENT_ENCODING,
                    header_value(encoding.as_str()),
                );
                // The same record in another coding: semantically equal, so a weak tag.
                headers.insert(
                    http::header::ETAG,
                    header_value(&format!("W/{}", record.etag.as_str())),
                );
                stored
            }
            _ => record.body,
        };
        headers.insert(http::header::CONTENT_LENGTH, bytes.len().into());
        body::respond(StatusCode::OK, headers, bytes)
    }
}

/// Passes the origin's `response` on, telling where it came from, with its body stream
/// handed over as it is (not copied through the guest).
pub fn relay(
    response: http::Response<IncomingResponseBody>,
    source: Source,
    timing: &ServerTiming,
) -> Result<Response, ErrorCode> {
    let Some(raw) = response.into_body().take_unstarted() else {
        return Err(ErrorCode::InternalError(Some(
            "origin body already read".into(),
        )));
    };
    let status = raw.get_status_code();
    let headers = raw.get_headers().clone();
    let set = |name: &str, value: &str| {
        headers
            .set(name, &[value.as_bytes().to_vec()])
            .map_err(|e| ErrorCode::InternalError(Some(format!("header {name}: {e:?}"))))
    };
    set(SOURCE, source.as_str())?;
    set(SERVER_TIMING, &timing.header_value())?;

    let (consumed_tx, consumed_rx) = wit_future::new(|| Ok(()));
    let (contents, trailers) = Response::consume_body(raw, consumed_rx);
    let (relayed, transmitted) = Response::new(headers, Some(contents), trailers);
    relayed
        .set_status_code(status)
        .map_err(|()| ErrorCode::InternalError(Some(format!("status {status}"))))?;
    // The origin learns how the transmission to the client ended.
    spawn(async move {
        let _ = consumed_tx.write(transmitted.await).await;
    });
    Ok(relayed)
}

/// The tiers needed for an answer are down: `status` (502/503/504) with a message that
/// says which one and what to do.
pub fn failure(
    status: u16,
    message: &str,
    timing: Option<&ServerTiming>,
) -> Result<Response, ErrorCode> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    text(status, format!("tiergate: {message}\n"), timing)
}

/// 400 for a malformed record id, before any I/O.
pub fn bad_id(error: &RecordIdError) -> Result<Response, ErrorCode> {
    text(
        StatusCode::BAD_REQUEST,
        format!("tiergate: invalid record id: {error}\n"),
        None,
    )
}

/// 500: the edge's settings are unusable; says which setting is wrong.
pub fn misconfigured(message: &str) -> Result<Response, ErrorCode> {
    let body = format!("tiergate: the edge is misconfigured: {message}\n");
    text(StatusCode::INTERNAL_SERVER_ERROR, body, None)
}

fn text(
    status: StatusCode,
    body: String,
    timing: Option<&ServerTiming>,
) -> Result<Response, ErrorCode> {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(timing) = timing {
        headers.insert(SERVER_TIMING, header_value(&timing.header_value()));
    }
    (status, headers, FullBody::new(bytes::Bytes::from(body))).into_response()
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
