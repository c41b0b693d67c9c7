//! The blob storage tier: one signed GET per read, decoded and checked against the
//! object's recorded size and checksum.

use crate::record::Record;
use crate::{body, outbound};
use spin_sdk::http::EmptyBody;
use spin_sdk::wasip3::http::types::ErrorCode;
use std::borrow::Cow;
use std::time::SystemTime;
use tiergate_core::read_plan::BlobMiss;
use tiergate_core::settings::BlobSettings;
use tiergate_core::{BlobKey, MAX_RECORD_BYTES, ReadCopy, RecordId};

/// Fetches and verifies the archived copy of `id`.
pub(crate) async fn fetch(blob: &BlobSettings, id: &RecordId) -> Result<Record, BlobMiss> {
    let key = BlobKey::for_record(id);
    let read = ReadCopy::get(&blob.backend, &key);
    let url = read.sign(SystemTime::now(), blob.url_expiry);
    let request = http::Request::builder()
        .method(read.method())
        .uri(url.expose())
        .extension(outbound::bounded(blob.timeout))
        .body(EmptyBody::new())
        .map_err(|e| BlobMiss::Unavailable(format!("cannot build request for {url}: {e}")))?;

    let response = spin_sdk::http::send(request)
        .await
        .map_err(|e| failed(format!("GET {key} failed"), e))?;
    let (parts, body) = response.into_parts();
    let answered = read.read(parts.status.as_u16(), |name| {
        parts.headers.get(name).and_then(|v| v.to_str().ok())
    });
    let meta = match answered {
        Ok(Some(meta)) => meta,
        Ok(None) => return Err(BlobMiss::NotFound),
        Err(e) => return Err(BlobMiss::Unavailable(e.to_string())),
    };
    let expected = usize::try_from(meta.size).unwrap_or(usize::MAX);
    let body = match body::read_whole(body, Some(expected), MAX_RECORD_BYTES).await {
        Ok(body) => body,
        Err(body::ReadError::Transfer(e)) => {
            return Err(failed(format!("GET {key}: body failed"), e));
        }
        // Not a record the archiver writes: an object put there by something else.
        Err(too_large @ body::ReadError::TooLarge(_)) => {
            return Err(BlobMiss::Unavailable(format!(
                "GET {key}: the object ({} bytes by its metadata) is {too_large}; not served",
                meta.size
            )));
        }
    };
    let decoded = match meta
        .open_to_serve(&body)
        .map_err(|e| BlobMiss::Unavailable(format!("object {key}: {e}")))?
    {
        Cow::Borrowed(_) => None,
        Cow::Owned(decoded) => Some(decoded),
    };
    let (body, stored) = match decoded {
        None => (body, None),
        Some(decoded) => (decoded, Some((meta.encoding, body))),
    };
    let record = Record {
        body,
        stored,
        etag: meta.etag(),
        content_type: meta.content_type,
        owner: meta.owner,
    };
    Ok(record)
}

/// The miss for a transfer that failed with `error` while doing `what`: a timeout (the
/// options set above, as the host enforces them) or another failure.
fn failed(what: String, error: ErrorCode) -> BlobMiss {
    let why = format!("{what}: {error:?}");
    if tiergate_core::timed_out!(&error, ErrorCode) {
        BlobMiss::Timeout(why)
    } else {
        BlobMiss::Unavailable(why)
    }
}
