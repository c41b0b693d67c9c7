//! Cache hits answered by the host (`[cache] answer_hits_in_host`, the default) and by the
//! edge component (as under Spin) are the same answers: status, headers and bytes.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::Request;
use tiergate_core::ETag;
use tiergate_tests::assertions::assert_served;
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{BlobStore, Gate, GateConfig, Origin, Reply, billing_record};

/// Headers that differ between any two answers: the request's id, the time, and the
/// measured durations in `server-timing`.
const PER_REQUEST: &[&str] = &["x-request-id", "date", "server-timing"];

fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::default()).expect("a valid request")
}

/// The answer with what differs per request left out.
fn comparable(reply: &Reply) -> (StatusCode, Vec<(String, String)>, Bytes) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| !PER_REQUEST.contains(&name.as_str()))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    headers.sort();
    (reply.status, headers, reply.body.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_and_the_component_answer_cache_hits_alike() -> anyhow::Result<()> {
    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let config = GateConfig::new(origin.url()).blob_endpoint(store.endpoint());
    let in_host = Gate::start(&config.clone().answer_hits_in_host(true)).await?;
    let in_component = Gate::start(&config.answer_hits_in_host(false)).await?;

    let archived = "INV-2024-000301";
    let archived_body = billing_record(archived, 1, LARGE_RECORD_BYTES);
    store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2026-000302";
    let hot_body = billing_record(hot, 2, 2_000);
    origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    for (id, body, first) in [
        (archived, &archived_body, "blob"),
        (hot, &hot_body, "origin"),
    ] {
        let path = format!("/records/{id}");
        for gate in [&in_host, &in_component] {
            assert_served(&gate.get(&path).await?, id, first, body);
        }
        let tag = ETag::of(body);
        let asks: [(&str, &[(&str, &str)]); 5] = [
            ("GET", &[]),
            ("HEAD", &[]),
            ("GET", &[("if-none-match", tag.as_str())]),
            ("GET", &[("if-none-match", "\"another\", W/\"tag\"")]),
            ("GET", &[("accept-encoding", "gzip, br")]),
        ];
        for (method, headers) in asks {
            let host = in_host.send(request(method, &path, headers)).await?;
            let component = in_component.send(request(method, &path, headers)).await?;
            let what = format!("{method} {path} with {headers:?}");
            assert_eq!(host.source(), Some("cache"), "{what} from the host");
            assert_eq!(
                comparable(&host),
                comparable(&component),
                "{what}: the host's answer (left) and the component's (right) differ"
            );
            for reply in [&host, &component] {
                let timing = reply.header("server-timing").unwrap_or_default();
                assert!(
                    timing.starts_with("cache;desc=hit;dur="),
                    "{what}: server-timing {timing:?}"
                );
            }
        }
    }
    Ok(())
}
