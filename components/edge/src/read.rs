//! The read path: cache, then blob storage, then the origin (docs/architecture.md, "Read
//! path").

use crate::record::Record;
use crate::{access, blob, body, cache, origin, reply};
use spin_sdk::http::{HeaderMap, Request, StatusCode};
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tiergate_core::access::{OWNER_HEADER, OwnerAt, Reader, RefusalAnswer};
use tiergate_core::blob_object::unescape_owner;
use tiergate_core::server_timing::{Outcome, ServerTiming, Tier};
use tiergate_core::shared_cache;
use tiergate_core::{
    BlobMiss, ETag, EdgeSettings, MAX_RECORD_BYTES, OriginFailure, ReadPlan, ReadRequest, RecordId,
    Source, Verdict,
};

/// Serves a `GET` or `HEAD` of record `id`; with a `reader` (access is checked), only if the
/// record is theirs, whichever tier has it.
pub(crate) async fn serve(
    settings: &EdgeSettings,
    reader: Option<&Reader<'_>>,
    request: Request,
    id: &RecordId,
    head: bool,
) -> Result<Response, ErrorCode> {
    let asked = ReadRequest::from_headers(head, |name| {
        request.headers().get(name).and_then(|v| v.to_str().ok())
    });
    let mut timing = ServerTiming::default();
    let now = unix_now();

    let started = Instant::now();
    let hit = cache::lookup(id, now, |entry| {
        timing.record(Tier::Cache, Outcome::Hit, started.elapsed());
        let owner = entry.owner.map(str::to_owned);
        (
            asked.answer(&entry.facts(), &timing),
            entry.etag.clone(),
            owner,
        )
    })
    .await;
    if let Some((body, (answer, etag, owner))) = hit {
        if let Some(refused) = access::refusal(reader, &etag, &body, owner.as_deref()).await {
            return reply::refused(&refused);
        }
        return reply::record(&answer, None, body, None);
    }
    timing.record(Tier::Cache, Outcome::Miss, started.elapsed());

    let miss = match &settings.blob {
        None => BlobMiss::Disabled,
        Some(blob) => {
            let started = Instant::now();
            let fetched = blob::fetch(blob, id).await;
            timing.record(Tier::Blob, Outcome::of_blob(&fetched), started.elapsed());
            match fetched {
                Ok(record) => {
                    fill(settings, id, &record, now).await;
                    if let Some(refused) = refusal(reader, &record).await {
                        return reply::refused(&refused);
                    }
                    return serve_record(&asked, Source::Blob, record, None, &timing);
                }
                Err(miss) => {
                    if let BlobMiss::Unavailable(why) | BlobMiss::Timeout(why) = &miss {
                        let request_id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        eprintln!(
                            "tiergate edge: request {request_id}: record {id}: blob storage failed: {why}"
                        );
                    }
                    miss
                }
            }
        }
    };
    let plan = ReadPlan::after_blob(miss);

    let started = Instant::now();
    // A HEAD too is a GET to the origin: its answer needs the record's etag and length,
    // which only the bytes give, and the record is then cached as after a GET.
    let fetched = origin::read(&request, http::Method::GET).await;
    let mut response = match fetched {
        Ok(response) => response,
        Err(failure) => return fail(&plan, id, &failure, started, timing),
    };
    // The owner the tiergate host found for a record still hot: the edge's, never the
    // client's to see.
    let owner = response
        .headers_mut()
        .remove(OWNER_HEADER)
        .and_then(|value| unescape_owner(value.to_str().ok()?).ok());
    let status = response.status();
    if status != StatusCode::OK {
        timing.record(
            Tier::Origin,
            Outcome::of_status(status.as_u16()),
            started.elapsed(),
        );
        return match plan.after_origin_status(id.as_str(), status.as_u16()) {
            Verdict::UseOrigin => reply::relay(response, Source::Origin, &timing),
            Verdict::Fail(failure) => reply::failure(&failure, Some(&timing)),
        };
    }

    let length: Option<usize> = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    if length.is_some_and(|length| length > MAX_RECORD_BYTES) {
        // More than the edge holds whole: the origin's answer goes on as it streams, never
        // cached (nor archived: the archiver leaves such records hot). Its owner is known
        // without the body only from an owner column; otherwise its access is the API's
        // own check of the client's credential, which went with the request.
        timing.record(Tier::Origin, Outcome::Hit, started.elapsed());
        if let Some(reader) = reader
            && matches!(reader.owner_at(), Some(OwnerAt::Column(_)))
            && let Some(refused) = reader.refusal(owner.as_deref())
        {
            return reply::refused(&refused);
        }
        return reply::relay(response, Source::Origin, &timing);
    }
    // Read whole even when too large to cache: the tag must be the same from every tier.
    let (parts, body) = response.into_parts();
    let body = match body::read_whole(body, length, MAX_RECORD_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            let failure = OriginFailure::Unreachable(format!("response body: {e}"));
            return fail(&plan, id, &failure, started, timing);
        }
    };
    timing.record(Tier::Origin, Outcome::Hit, started.elapsed());
    let record = Record {
        etag: ETag::of(&body),
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned(),
        body,
        stored: None,
        owner,
    };
    let values = |name| {
        parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
    };
    if settings.cache_origin_reads
        && shared_cache::may_store(
            values(http::header::CACHE_CONTROL),
            values(http::header::VARY),
        )
    {
        fill(settings, id, &record, now).await;
    }
    if let Some(refused) = refusal(reader, &record).await {
        return reply::refused(&refused);
    }
    serve_record(&asked, Source::Origin, record, Some(parts.headers), &timing)
}

/// What to answer instead of `record`, if it is not the `reader`'s.
async fn refusal(reader: Option<&Reader<'_>>, record: &Record) -> Option<RefusalAnswer> {
    access::refusal(reader, &record.etag, &record.body, record.owner.as_deref()).await
}

/// Serves `record`, which `source` had, as the client `asked`; `base` holds the origin's
/// headers when the origin served it.
fn serve_record(
    asked: &ReadRequest<'_>,
    source: Source,
    record: Record,
    base: Option<HeaderMap>,
    timing: &ServerTiming,
) -> Result<Response, ErrorCode> {
    let answer = asked.answer(&record.facts(source), timing);
    let stored = record.stored.map(|(_, stored)| stored);
    reply::record(&answer, base, record.body, stored)
}

async fn fill(settings: &EdgeSettings, id: &RecordId, record: &Record, now: u64) {
    if record.body.len() <= settings.cache_max_record_bytes {
        cache::store(id, record, now + settings.cache_ttl.as_secs()).await;
    }
}

fn fail(
    plan: &ReadPlan,
    id: &RecordId,
    failure: &OriginFailure,
    started: Instant,
    mut timing: ServerTiming,
) -> Result<Response, ErrorCode> {
    timing.record(
        Tier::Origin,
        Outcome::of_origin_failure(failure),
        started.elapsed(),
    );
    let answer = plan.after_origin_failure(id.as_str(), failure);
    reply::failure(&answer, Some(&timing))
}

/// The time, in unix seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
