//! The read path end to end (docs/architecture.md, "Read path"): tiergate's host running the edge
//! component in front of a real origin and a real S3-compatible store, each test on fresh
//! servers of its own.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::Request;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tiergate_core::ETag;
use tiergate_tests::assertions::{assert_same_bytes, assert_served, assert_tier_outage, excerpt};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{
    CacheBackend, Gate, GateConfig, Origin, ScratchDir, Stack, StalledBlobStore, billing_record,
};

fn path(id: &str) -> String {
    format!("/records/{id}")
}

fn large(id: &str) -> Bytes {
    billing_record(id, 1, LARGE_RECORD_BYTES)
}

fn get_if_none_match(path: &str, tags: &str) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::get(path)
        .header("if-none-match", tags)
        .body(Full::default())?)
}

// Order of the tiers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_record_comes_from_blob_then_from_cache() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let id = "INV-2024-000101";
    let body = large(id);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;

    let first = stack.gate.get(&path(id)).await?;
    assert_served(&first, id, "blob", &body);
    assert_eq!(
        first.header("content-type"),
        Some(CONTENT_TYPE),
        "content type of record {id} from blob (from the object's metadata)"
    );
    assert!(
        first
            .header("server-timing")
            .is_some_and(|t| t.contains("cache;desc=miss;dur=") && t.contains("blob;desc=hit;dur=")),
        "server-timing of record {id} from blob: {:?}",
        first.header("server-timing")
    );
    let store_requests = stack.store.requests();

    let second = stack.gate.get(&path(id)).await?;
    assert_served(&second, id, "cache", &body);
    assert_eq!(
        stack.store.requests(),
        store_requests,
        "record {id} served from cache must not ask blob storage"
    );
    assert_eq!(
        stack.origin.requests_to(&path(id)),
        0,
        "record {id} is archived: the origin must not be asked"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_record_comes_from_origin_then_from_cache() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let id = "INV-2024-000102";
    let body = large(id);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);

    let first = stack.gate.get(&path(id)).await?;
    assert_served(&first, id, "origin", &body);
    assert!(
        stack.store.requests() >= 1,
        "record {id}: blob storage must be asked before the origin"
    );

    let second = stack.gate.get(&path(id)).await?;
    assert_served(&second, id, "cache", &body);
    assert_eq!(
        stack.origin.requests_to(&path(id)),
        1,
        "record {id} served from cache must not ask the origin again"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_in_blob_and_origin_comes_from_blob_without_asking_the_origin() -> anyhow::Result<()>
{
    let stack = Stack::start().await?;
    let id = "INV-2024-000103";
    let body = large(id);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);

    let reply = stack.gate.get(&path(id)).await?;

    assert_served(&reply, id, "blob", &body);
    assert_eq!(
        stack.origin.requests_to(&path(id)),
        0,
        "record {id} served from blob must not ask the origin"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_in_no_tier_is_the_origins_404() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let id = "INV-2024-000104";

    let reply = stack.gate.get(&path(id)).await?;

    assert_eq!(
        (reply.status, reply.source()),
        (StatusCode::NOT_FOUND, Some("origin")),
        "record {id} exists nowhere: the origin's 404 should pass; body: {}",
        excerpt(&reply)
    );
    assert_eq!(
        reply.text(),
        format!("origin: no record {id}"),
        "record {id}: the origin's own 404 body"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_of_an_archived_record_has_its_etag_and_no_body() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let id = "INV-2024-000105";
    let body = large(id);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;

    let reply = stack
        .gate
        .send(Request::head(path(id)).body(Full::default())?)
        .await?;

    assert_eq!(
        (reply.status, reply.source()),
        (StatusCode::OK, Some("blob")),
        "HEAD of record {id}"
    );
    assert_eq!(
        reply.header("etag"),
        Some(ETag::of(&body).as_str()),
        "etag of record {id} on HEAD from blob"
    );
    assert!(reply.body.is_empty(), "HEAD of record {id} carries no body");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_carries_what_its_get_would_from_every_tier() -> anyhow::Result<()> {
    // Through the component and with hits answered in the host: the same headers.
    for in_host in [true, false] {
        let stack = Stack::start_with(|config| config.answer_hits_in_host(in_host)).await?;
        let (archived, hot) = ("INV-2024-000107", "INV-2024-000108");
        stack
            .store
            .archive(archived, &large(archived), CONTENT_TYPE)
            .await?;
        stack.origin.insert(hot, large(hot), CONTENT_TYPE);
        // blob, origin, then cache (both are cached by the first reads).
        for (id, first, second) in [(archived, "blob", "cache"), (hot, "origin", "cache")] {
            for tier in [first, second] {
                let head = stack
                    .gate
                    .send(Request::head(path(id)).body(Full::default())?)
                    .await?;
                assert_eq!(head.source(), Some(tier), "HEAD {id} (in host: {in_host})");
                assert!(
                    head.body.is_empty(),
                    "HEAD {id} from {tier} carries no body"
                );
                let get = stack.gate.get(&path(id)).await?;
                for name in ["content-length", "etag", "content-type"] {
                    assert_eq!(
                        head.header(name),
                        get.header(name),
                        "{name} of HEAD {id} from {tier} (in host: {in_host})"
                    );
                }
                assert_eq!(
                    head.header("content-length"),
                    Some(get.body.len().to_string().as_str()),
                    "HEAD {id} from {tier}"
                );
            }
        }
    }
    Ok(())
}

// Record routes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_record_route_is_served_and_the_default_one_passes_through()
-> anyhow::Result<()> {
    let stack =
        Stack::start_with(|config| config.record_route("/v1/invoices/{id}/document")).await?;
    let id = "INV-2024-000106";
    let body = large(id);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);

    let routed = stack
        .gate
        .get(&format!("/v1/invoices/{id}/document"))
        .await?;
    assert_served(&routed, id, "blob", &body);

    let passed = stack.gate.get(&path(id)).await?;
    assert_eq!(
        (passed.status, passed.source()),
        (StatusCode::OK, None),
        "record {id} outside the configured route passes through to the origin untouched"
    );
    assert_same_bytes(&passed.body, &body, &format!("record {id} passed through"));

    // An id the edge does not handle is the origin's to answer, in any route.
    let bad = stack.gate.get("/v1/invoices/a%2Fb/document").await?;
    assert_eq!(
        (bad.status, bad.source()),
        (StatusCode::NOT_FOUND, None),
        "a bad id in the configured route: {}",
        excerpt(&bad)
    );
    assert_eq!(stack.origin.requests_to("/v1/invoices/a%2Fb/document"), 1);
    Ok(())
}

// Conditional reads.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_if_none_match_is_304_from_every_tier_and_other_tags_get_200() -> anyhow::Result<()>
{
    let stack = Stack::start().await?;
    let archived = "INV-2024-000111";
    let archived_body = large(archived);
    stack
        .store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000112";
    let hot_body = large(hot);
    stack.origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    for (id, body, tiers) in [
        (archived, &archived_body, ["blob", "cache"]),
        (hot, &hot_body, ["origin", "cache"]),
    ] {
        let tag = ETag::of(body);
        for source in tiers {
            let reply = stack
                .gate
                .send(get_if_none_match(&path(id), tag.as_str())?)
                .await?;
            assert_eq!(
                (reply.status, reply.source()),
                (StatusCode::NOT_MODIFIED, Some(source)),
                "record {id} with its own etag from {source}: {}",
                excerpt(&reply)
            );
            assert_eq!(
                reply.header("etag"),
                Some(tag.as_str()),
                "etag of record {id} on 304 from {source}"
            );
            assert!(reply.body.is_empty(), "304 of record {id} has no body");
        }

        let other = stack
            .gate
            .send(get_if_none_match(&path(id), "\"not-this-one\"")?)
            .await?;
        assert_served(&other, id, "cache", body);
    }
    Ok(())
}

// Only the plain record is served from the cache and blob storage.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_with_a_query_goes_to_the_origin_and_never_poisons_the_cached_record()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let id = "INV-2024-000104";
    let body = large(id);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);
    let partial = format!(r#"{{"fields":"total","length":{}}}"#, body.len());

    // First of all a partial read, as a client with a sparse-fieldset query would make.
    for round in 0..2 {
        let reply = stack
            .gate
            .get(&format!("{}?fields=total", path(id)))
            .await?;
        assert_eq!(
            (reply.status, reply.source()),
            (StatusCode::OK, None),
            "round {round}: the origin's own answer, passed on: {}",
            excerpt(&reply)
        );
        assert_same_bytes(
            &reply.body,
            partial.as_bytes(),
            "the partial representation",
        );
        // The plain record is still the whole record, from the origin then from the cache.
        let plain = stack.gate.get(&path(id)).await?;
        assert_served(
            &plain,
            id,
            if round == 0 { "origin" } else { "cache" },
            &body,
        );
    }
    assert_eq!(
        stack.origin.requests_to(&path(id)),
        3,
        "two partial reads, one plain"
    );

    // An archived record is the same: the query goes to the origin, the plain read to blob.
    let archived = "INV-2024-000105";
    let archived_body = large(archived);
    stack
        .store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let reply = stack
        .gate
        .get(&format!("{}?fields=total", path(archived)))
        .await?;
    assert_eq!(
        (reply.status, reply.source()),
        (StatusCode::NOT_FOUND, None)
    );
    assert_served(
        &stack.gate.get(&path(archived)).await?,
        archived,
        "blob",
        &archived_body,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_listed_as_ignored_still_read_the_plain_record() -> anyhow::Result<()> {
    let origin = Origin::start().await?;
    let id = "INV-2024-000106";
    let body = large(id);
    origin.insert(id, body.clone(), CONTENT_TYPE);
    let gate = Gate::start(
        &GateConfig::new(origin.url())
            .edge_extra(r#"ignored_query_params = ["utm_source", "utm_medium"]"#),
    )
    .await?;

    let tagged = format!("{}?utm_source=mail&utm_medium=pdf", path(id));
    assert_served(&gate.get(&tagged).await?, id, "origin", &body);
    assert_served(&gate.get(&path(id)).await?, id, "cache", &body);
    assert_served(&gate.get(&tagged).await?, id, "cache", &body);
    let other = gate
        .get(&format!("{}?utm_source=mail&fields=total", path(id)))
        .await?;
    assert_eq!((other.status, other.source()), (StatusCode::OK, None));
    assert_eq!(origin.requests_to(&path(id)), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_answers_for_one_client_or_one_variant_are_never_cached() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let cases = [
        ("x-test-cache-control", "no-store"),
        ("x-test-cache-control", "private, max-age=600"),
        ("x-test-cache-control", "no-cache"),
        ("x-test-vary", "Authorization"),
        ("x-test-vary", "Accept-Encoding, Cookie"),
    ];
    for (n, (header, value)) in cases.into_iter().enumerate() {
        let id = format!("INV-2024-00020{n}");
        let body = large(&id);
        stack.origin.insert(&id, body.clone(), CONTENT_TYPE);
        for _ in 0..2 {
            let request = Request::get(path(&id))
                .header(header, value)
                .body(Full::default())?;
            assert_served(&stack.gate.send(request).await?, &id, "origin", &body);
        }
        assert!(
            stack
                .gate
                .cache()
                .get(&format!("record:{id}"))
                .await?
                .is_none(),
            "{header}: {value}: nothing cached"
        );
    }
    // A vary on the encoding alone is what every compressing API sends: that is cached.
    let id = "INV-2024-000299";
    let body = large(id);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);
    let request = Request::get(path(id))
        .header("x-test-vary", "Accept-Encoding")
        .body(Full::default())?;
    assert_served(&stack.gate.send(request).await?, id, "origin", &body);
    assert_served(&stack.gate.get(&path(id)).await?, id, "cache", &body);
    Ok(())
}

// Ids the edge does not handle are the origin's business.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_the_edge_does_not_handle_go_to_the_origin_unchanged_and_are_never_cached()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let too_long = format!("/records/{}", "x".repeat(129));
    let paths = [
        "/records/a%2Fb",
        "/records/",
        too_long.as_str(),
        "/records/.hidden",
        "/records/a%20b",
        "/records/caf%C3%A9",
        "/records/%2E%2E",
    ];
    for path in paths {
        for method in [http::Method::GET, http::Method::HEAD, http::Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri(path)
                .body(Full::default())?;
            let reply = stack.gate.send(request).await?;
            // The origin's own answer (its router knows no such record), untouched.
            assert_eq!(
                (reply.status, reply.source()),
                (StatusCode::NOT_FOUND, None),
                "{method} {path}: {}",
                excerpt(&reply)
            );
        }
        // The origin saw the path as the client sent it.
        let raw = path.split_once('?').map_or(path, |(p, _)| p);
        assert_eq!(
            stack.origin.requests_to(raw),
            3,
            "{path} reached the origin unchanged"
        );
    }
    assert_eq!(
        stack.store.requests(),
        0,
        "such ids never reach blob storage"
    );
    assert!(stack.gate.cache().keys().await?.is_empty(), "nor the cache");

    let longest = "x".repeat(128);
    let reply = stack.gate.get(&path(&longest)).await?;
    assert_eq!(
        (reply.status, reply.source()),
        (StatusCode::NOT_FOUND, Some("origin")),
        "a 128-character id is valid and goes through the tiers: {}",
        excerpt(&reply)
    );
    Ok(())
}

// Tier outages: never a wrong 404.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_blob_storage_down_hot_records_are_served_by_the_origin() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let id = "INV-2024-000121";
    let body = large(id);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);
    stack.store.stop().await;

    let reply = stack.gate.get(&path(id)).await?;

    assert_served(&reply, id, "origin", &body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_origin_down_archived_records_are_served_from_blob() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let id = "INV-2024-000122";
    let body = large(id);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;
    stack.origin.stop().await;

    let reply = stack.gate.get(&path(id)).await?;

    assert_served(&reply, id, "blob", &body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_blob_storage_and_the_origin_down_reads_are_5xx_never_404() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let archived = "INV-2024-000123";
    stack
        .store
        .archive(archived, &large(archived), CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000124";
    stack.origin.insert(hot, large(hot), CONTENT_TYPE);
    stack.store.stop().await;
    stack.origin.stop().await;

    for id in [archived, hot, "INV-2024-000125"] {
        let reply = stack.gate.get(&path(id)).await?;
        assert_tier_outage(&reply, id);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_blob_storage_down_a_record_the_origin_lacks_is_503_not_404() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let id = "INV-2024-000126";
    stack.store.archive(id, &large(id), CONTENT_TYPE).await?;
    stack.store.stop().await;

    let reply = stack.gate.get(&path(id)).await?;

    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "record {id} (archived, blob down, not at origin): {}",
        excerpt(&reply)
    );
    assert_tier_outage(&reply, id);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_origin_down_a_record_not_archived_is_502() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let id = "INV-2024-000127";
    stack.origin.stop().await;

    let reply = stack.gate.get(&path(id)).await?;

    assert_eq!(
        reply.status,
        StatusCode::BAD_GATEWAY,
        "record {id} (not archived, origin down): {}",
        excerpt(&reply)
    );
    assert_tier_outage(&reply, id);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_blob_signatures_make_archived_records_503_not_404() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.blob_secret("not-the-store-secret")).await?;
    let archived = "INV-2024-000128";
    stack
        .store
        .archive(archived, &large(archived), CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000129";
    let hot_body = large(hot);
    stack.origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    let reply = stack.gate.get(&path(archived)).await?;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "record {archived} (archived, signature refused by storage): {}",
        excerpt(&reply)
    );
    assert_tier_outage(&reply, archived);

    let reply = stack.gate.get(&path(hot)).await?;
    assert_served(&reply, hot, "origin", &hot_body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_blob_storage_is_given_up_after_its_timeout() -> anyhow::Result<()> {
    let id = "INV-2024-000131";
    let stalled = StalledBlobStore::start().await?;
    assert_stalled_storage_given_up(&stalled, id, large(id), "hangs").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_storage_that_hangs_mid_object_is_given_up_after_its_timeout() -> anyhow::Result<()> {
    let id = "INV-2024-000132";
    let body = large(id);
    let stalled = StalledBlobStore::start_mid_body(&body, CONTENT_TYPE).await?;
    assert_stalled_storage_given_up(&stalled, id, body, "stops sending mid-object").await
}

/// Reads `id` (hot at the origin) through a gate whose blob storage is `stalled`, with a
/// blob timeout of 300 ms: storage is tried first, and the origin answers well within 2 s.
async fn assert_stalled_storage_given_up(
    stalled: &StalledBlobStore,
    id: &str,
    body: Bytes,
    how: &str,
) -> anyhow::Result<()> {
    let origin = Origin::start().await?;
    let blob_timeout = Duration::from_millis(300);
    let config = GateConfig::new(origin.url())
        .blob_endpoint(stalled.endpoint())
        .blob_timeout_ms(blob_timeout.as_millis() as u64);
    let gate = Gate::start(&config).await?;
    origin.insert(id, body.clone(), CONTENT_TYPE);

    let started = Instant::now();
    let reply = gate.get(&path(id)).await?;
    let took = started.elapsed();

    assert_served(&reply, id, "origin", &body);
    assert!(
        took < Duration::from_secs(2),
        "record {id}: blob storage {how}, its timeout is {blob_timeout:?}, yet the answer took {took:?}"
    );
    let timing = reply.header("server-timing").unwrap_or_default();
    assert!(
        timing.contains("blob;desc=timeout"),
        "record {id}: blob storage {how}: its tier should say timeout: {timing}"
    );
    assert!(
        stalled.connections() >= 1,
        "record {id}: the edge should have tried blob storage first"
    );
    Ok(())
}

// Writes.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_the_origin_and_drop_the_cached_copy() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let id = "INV-2024-000141";
    let old = billing_record(id, 1, LARGE_RECORD_BYTES);
    let new = billing_record(id, 2, LARGE_RECORD_BYTES);
    stack.origin.insert(id, old.clone(), CONTENT_TYPE);
    stack.gate.get(&path(id)).await?;
    assert_served(&stack.gate.get(&path(id)).await?, id, "cache", &old);

    let put = stack
        .gate
        .send(
            Request::put(path(id))
                .header("content-type", CONTENT_TYPE)
                .body(Full::new(new.clone()))?,
        )
        .await?;
    assert_eq!(
        put.status,
        StatusCode::NO_CONTENT,
        "PUT of record {id} through the edge: {}",
        excerpt(&put)
    );
    let stored = stack.origin.record(id).map(|r| r.body);
    assert_same_bytes(
        stored.as_deref().unwrap_or_default(),
        &new,
        &format!("record {id} at the origin after the PUT"),
    );
    assert_served(&stack.gate.get(&path(id)).await?, id, "origin", &new);

    let delete = stack
        .gate
        .send(Request::delete(path(id)).body(Full::default())?)
        .await?;
    assert_eq!(
        delete.status,
        StatusCode::NO_CONTENT,
        "DELETE of record {id} through the edge: {}",
        excerpt(&delete)
    );
    let gone = stack.gate.get(&path(id)).await?;
    assert_eq!(
        (gone.status, gone.source()),
        (StatusCode::NOT_FOUND, Some("origin")),
        "record {id} after its DELETE must not come from the cache: {}",
        excerpt(&gone)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_an_alias_of_a_record_path_drop_its_cached_copy() -> anyhow::Result<()> {
    // Many routers take `/records/X/` and a percent-encoded id for record X: a write there
    // may change X, so X's cached copy must go as after a write to its own path.
    let stack = Stack::start().await?;
    let id = "INV-2024-000149";
    let body = billing_record(id, 1, 20_000);
    for alias in ["/records/INV-2024-000149/", "/records/%49NV-2024-000149"] {
        stack.origin.insert(id, body.clone(), CONTENT_TYPE);
        assert_served(&stack.gate.get(&path(id)).await?, id, "origin", &body);
        assert_eq!(stack.gate.cache().keys().await?.len(), 1, "{id} is cached");
        let write = stack
            .gate
            .send(Request::put(alias).body(Full::new(Bytes::from_static(b"{}")))?)
            .await?;
        assert!(
            write.status.is_success(),
            "PUT {alias}: {}",
            excerpt(&write)
        );
        assert_eq!(
            stack.origin.requests_to(alias),
            1,
            "{alias} reached the origin unchanged"
        );
        assert!(
            stack.gate.cache().keys().await?.is_empty(),
            "PUT {alias} left {id}'s cached copy"
        );
    }
    Ok(())
}

// The cache's limits.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_records_expire_after_their_ttl() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.cache_ttl_seconds(1)).await?;
    let id = "INV-2024-000151";
    let old = billing_record(id, 1, LARGE_RECORD_BYTES);
    let new = billing_record(id, 2, LARGE_RECORD_BYTES);
    stack.origin.insert(id, old.clone(), CONTENT_TYPE);

    // Expiry is kept in whole seconds: start just after a second begins, so that the entry
    // has (almost) its whole second to be served from the cache.
    let into_second = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
    tokio::time::sleep(Duration::from_nanos(u64::from(1_000_000_000 - into_second))).await;
    assert_served(&stack.gate.get(&path(id)).await?, id, "origin", &old);
    assert_served(&stack.gate.get(&path(id)).await?, id, "cache", &old);

    // Changed behind the edge's back: only a fetch after expiry can see it.
    stack.origin.insert(id, new.clone(), CONTENT_TYPE);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    assert_served(&stack.gate.get(&path(id)).await?, id, "origin", &new);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_entry_is_deleted_when_met() -> anyhow::Result<()> {
    // Stores that never expire entries themselves (Spin's, the host's) would otherwise keep
    // the entry of a record that is never read again successfully.
    let stack = Stack::start_with(|config| config.cache_ttl_seconds(1)).await?;
    let id = "INV-2024-000152";
    let body = billing_record(id, 1, 20_000);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);
    assert_served(&stack.gate.get(&path(id)).await?, id, "origin", &body);
    assert_eq!(
        stack.gate.cache().keys().await?.len(),
        1,
        "the record is cached"
    );

    stack.origin.remove(id);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let gone = stack.gate.get(&path(id)).await?;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", excerpt(&gone));
    assert_eq!(
        stack.gate.cache().keys().await?,
        Vec::<String>::new(),
        "the expired entry met by the read is gone from the store"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_over_the_cache_size_limit_are_never_served_from_cache() -> anyhow::Result<()> {
    let stack = Stack::start_with(|config| config.cache_max_record_bytes(100_000)).await?;
    let archived = "INV-2024-000161";
    let archived_body = large(archived);
    stack
        .store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000162";
    let hot_body = large(hot);
    stack.origin.insert(hot, hot_body.clone(), CONTENT_TYPE);
    let small = "INV-2024-000163";
    let small_body = billing_record(small, 1, 50_000);
    stack.origin.insert(small, small_body.clone(), CONTENT_TYPE);

    for _ in 0..2 {
        assert_served(
            &stack.gate.get(&path(archived)).await?,
            archived,
            "blob",
            &archived_body,
        );
        assert_served(&stack.gate.get(&path(hot)).await?, hot, "origin", &hot_body);
    }
    assert_served(
        &stack.gate.get(&path(small)).await?,
        small,
        "origin",
        &small_body,
    );
    assert_served(
        &stack.gate.get(&path(small)).await?,
        small,
        "cache",
        &small_body,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_cache_serves_repeated_reads() -> anyhow::Result<()> {
    let dir = ScratchDir::create("redb-cache")?;
    let file = dir.path().join("cache.redb");
    let stack = Stack::start_with(|config| config.cache_backend(CacheBackend::Redb(file))).await?;
    let archived = "INV-2024-000171";
    let archived_body = large(archived);
    stack
        .store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000172";
    let hot_body = large(hot);
    stack.origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    for (id, body, first) in [
        (archived, &archived_body, "blob"),
        (hot, &hot_body, "origin"),
    ] {
        assert_served(&stack.gate.get(&path(id)).await?, id, first, body);
        assert_served(&stack.gate.get(&path(id)).await?, id, "cache", body);
    }
    Ok(())
}
