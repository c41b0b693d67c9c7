//! Whole bodies in and out of the guest with as few copies as the interface allows: read
//! into one buffer of the expected size, written as that one buffer.

use spin_sdk::http::{HeaderMap, StatusCode};
use spin_sdk::wasip3::http::types::{ErrorCode, Fields, Response};
use spin_sdk::wasip3::http_compat::IncomingResponseBody;
use spin_sdk::wasip3::wit_bindgen::StreamResult;
use spin_sdk::wasip3::{spawn, wit_future, wit_stream};

/// Room added when a body outgrows its expected size.
const GROWTH: usize = 64 * 1024;

/// Most room taken on a sender's word (`content-length`, an object's recorded size) before
/// the bytes arrive: a bogus length must not take the instance's memory.
const TRUSTED_CAPACITY: usize = 4 << 20;

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The transfer failed.
    Transfer(ErrorCode),
    /// It holds more than the reader's limit of bytes; reading stopped there.
    TooLarge(usize),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transfer(e) => write!(f, "{e:?}"),
            Self::TooLarge(limit) => {
                write!(f, "longer than the {limit} bytes the edge reads whole")
            }
        }
    }
}

/// Reads `body` to its end into one buffer, sized for `expected` bytes (the response's
/// `content-length`) up to a bound, without the per-chunk buffers and final concatenation
/// of a collect; more than `limit` bytes is an error.
pub(crate) async fn read_whole(
    mut body: IncomingResponseBody,
    expected: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if expected.is_some_and(|expected| expected > limit) {
        return Err(ReadError::TooLarge(limit));
    }
    let Some(response) = body.take_unstarted() else {
        return Err(ReadError::Transfer(ErrorCode::InternalError(Some(
            "response body already read".into(),
        ))));
    };
    // Dropped once read: the sender then learns the body was consumed (the default, Ok).
    let (consumed, consumed_rx) = wit_future::new(|| Ok(()));
    let (mut contents, trailers) = Response::consume_body(response, consumed_rx);
    let mut buffer = Vec::with_capacity(expected.unwrap_or(GROWTH).clamp(1, TRUSTED_CAPACITY));
    loop {
        if buffer.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        if buffer.len() == buffer.capacity() {
            buffer.reserve(GROWTH);
        }
        let (result, filled) = contents.read(buffer).await;
        buffer = filled;
        match result {
            StreamResult::Complete(_) => {}
            StreamResult::Dropped | StreamResult::Cancelled => break,
        }
    }
    if buffer.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    drop(contents);
    drop(consumed);
    // The body ended cleanly only if its trailers (or their absence) arrive without error.
    trailers.await.map_err(ReadError::Transfer)?;
    Ok(buffer)
}

/// A response of `status` and `headers` whose body is `body`, handed to the host as the one
/// buffer it is: the guest makes no copy of its own.
pub(crate) fn respond(
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Response, ErrorCode> {
    let headers = Fields::try_from(headers)
        .map_err(|e| ErrorCode::InternalError(Some(format!("response headers: {e:?}"))))?;
    let (mut contents, contents_rx) = wit_stream::new::<u8>();
    let (trailers, trailers_rx) = wit_future::new(|| Ok(None));
    let (response, _transmitted) = Response::new(headers, Some(contents_rx), trailers_rx);
    response
        .set_status_code(status.as_u16())
        .map_err(|()| ErrorCode::InternalError(Some(format!("status {status}"))))?;
    spawn(async move {
        // A client that hangs up drops the stream; what is left unwritten has no one to go to.
        let _ = contents.write_all(body).await;
        drop(contents);
        let _ = trailers.write(Ok(None)).await;
    });
    Ok(response)
}
