//! Responses the edge makes itself.

use crate::body;
use spin_sdk::http::{EmptyBody, FullBody, HeaderMap, HeaderValue, IntoResponse, StatusCode};
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use spin_sdk::wasip3::http_compat::IncomingResponseBody;
use spin_sdk::wasip3::{spawn, wit_future};
use tiergate_core::access::RefusalAnswer;
use tiergate_core::record_answer::{REPLACED_HEADERS, SERVER_TIMING_HEADER, SOURCE_HEADER};
use tiergate_core::server_timing::ServerTiming;
use tiergate_core::{AnswerBody, Failure, RecordAnswer, Source};

/// Serves a record as `answer` says (from [`ReadRequest::answer`]): `body` is the record's
/// bytes and `stored` the archived object's, when they are compressed. `base` holds the
/// origin's headers when the origin served it, so the API's own headers are kept.
///
/// [`ReadRequest::answer`]: tiergate_core::ReadRequest::answer
pub(crate) fn record(
    answer: &RecordAnswer,
    base: Option<HeaderMap>,
    body: Vec<u8>,
    stored: Option<Vec<u8>>,
) -> Result<Response, ErrorCode> {
    let mut headers = base.unwrap_or_default();
    for name in REPLACED_HEADERS {
        headers.remove(*name);
    }
    for (name, value) in &answer.headers {
        headers.insert(*name, header_value(value));
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    match answer.body {
        AnswerBody::Empty => (status, headers, EmptyBody::new()).into_response(),
        AnswerBody::Record => body::respond(status, headers, body),
        AnswerBody::Stored => body::respond(status, headers, stored.unwrap_or_default()),
    }
}

/// Passes the origin's `response` on, telling where it came from, with its body stream
/// handed over as it is (not copied through the guest).
pub(crate) fn relay(
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
    set(SOURCE_HEADER, source.as_str())?;
    set(SERVER_TIMING_HEADER, &timing.header_value())?;

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

/// The tiers needed for an answer are down: the failure's status (502/503/504) with its
/// message, which says which one and what to do.
pub(crate) fn failure(
    failure: &Failure,
    timing: Option<&ServerTiming>,
) -> Result<Response, ErrorCode> {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY);
    text(status, failure.body(), timing)
}

/// 503 with `message`: a tier the request needs could not be reached, and nothing was
/// done.
pub(crate) fn unavailable(message: String) -> Result<Response, ErrorCode> {
    text(StatusCode::SERVICE_UNAVAILABLE, message, None)
}

/// A request refused by the access rules: 401 with its challenge, or the status of a record
/// that is someone else's.
pub(crate) fn refused(answer: &RefusalAnswer) -> Result<Response, ErrorCode> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut headers = text_headers();
    if let Some(challenge) = &answer.www_authenticate {
        headers.insert(http::header::WWW_AUTHENTICATE, header_value(challenge));
    }
    (
        status,
        headers,
        FullBody::new(bytes::Bytes::from(answer.body.clone())),
    )
        .into_response()
}

/// 500: the edge's settings are unusable; says which setting is wrong.
pub(crate) fn misconfigured(message: &str) -> Result<Response, ErrorCode> {
    let body = format!("tiergate: the edge is misconfigured: {message}\n");
    text(StatusCode::INTERNAL_SERVER_ERROR, body, None)
}

fn text(
    status: StatusCode,
    body: String,
    timing: Option<&ServerTiming>,
) -> Result<Response, ErrorCode> {
    let mut headers = text_headers();
    if let Some(timing) = timing {
        headers.insert(SERVER_TIMING_HEADER, header_value(&timing.header_value()));
    }
    (status, headers, FullBody::new(bytes::Bytes::from(body))).into_response()
}

fn text_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
