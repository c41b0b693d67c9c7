//! Requests that are not a record's pass through to the origin untouched, whether the host
//! sends them itself (`[edge] pass_in_host`, the default) or through the edge component (as
//! under Spin): every test runs both ways and expects the same.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::Request;
use tiergate_tests::Stack;
use tiergate_tests::assertions::{assert_same_bytes, excerpt};

/// Both ways a passed request can take, as their `pass_in_host` setting and a name.
const WAYS: [(bool, &str); 2] = [(true, "host"), (false, "component")];

async fn stack(pass_in_host: bool) -> anyhow::Result<Stack> {
    Stack::start_with(|config| config.pass_in_host(pass_in_host)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_requests_pass_through_byte_for_byte() -> anyhow::Result<()> {
    let body: Bytes = (0..=255u8).cycle().take(100_000).collect();
    let path_and_query = "/echo?customer=C-1&filter=a%2Fb&empty=&x=%00%FF";
    let mut seen = Vec::new();
    for (in_host, way) in WAYS {
        let stack = stack(in_host).await?;
        let origin = stack.origin.url();
        let reply = stack
            .gate
            .send(
                Request::post(path_and_query)
                    .header("content-type", "application/octet-stream")
                    .header("x-test-trace", "trace-42")
                    .header("x-test-empty", "")
                    // Hop-by-hop: for this connection only, never the origin's.
                    .header("proxy-authorization", "Basic dGllcmdhdGU6dGVzdA==")
                    .header("keep-alive", "timeout=5")
                    .body(Full::new(body.clone()))?,
            )
            .await?;

        assert_eq!(
            reply.status,
            StatusCode::OK,
            "POST /echo via the {way}: {}",
            excerpt(&reply)
        );
        assert_same_bytes(&reply.body, &body, &format!("body echoed via the {way}"));
        assert_eq!(reply.header("x-echo-method"), Some("POST"), "via the {way}");
        assert_eq!(
            reply.header("x-echo-path-and-query"),
            Some(path_and_query),
            "path and query as the origin received them via the {way}"
        );
        assert_eq!(
            reply.header("x-echo-host"),
            origin.strip_prefix("http://"),
            "the origin's Host via the {way}"
        );
        let names = reply.header("x-echo-header-names").unwrap_or_default();
        for name in ["proxy-authorization", "keep-alive", "connection"] {
            assert!(
                !names.split(',').any(|n| n == name),
                "{name} reached the origin via the {way}: {names}"
            );
        }
        assert_eq!(
            reply.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(reply.header("x-test-trace"), Some("trace-42"));
        assert_eq!(reply.header("x-test-empty"), Some(""));
        assert_eq!(
            reply.source(),
            None,
            "a passed-through answer is not marked as tiergate's ({way})"
        );
        assert_eq!(stack.origin.requests_to("/echo"), 1);
        seen.push(names.to_owned());
    }
    assert_eq!(
        seen[0], seen[1],
        "the origin must see the same headers from the host as from the component"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_statuses_and_their_headers_pass_through() -> anyhow::Result<()> {
    for (in_host, way) in WAYS {
        let stack = stack(in_host).await?;
        for code in [418u16, 299, 204, 404, 503] {
            let reply = stack.gate.get(&format!("/status/{code}")).await?;

            assert_eq!(
                reply.status.as_u16(),
                code,
                "origin status {code} passed through via the {way}: {}",
                excerpt(&reply)
            );
            assert_eq!(
                reply.header("x-origin-status"),
                Some(code.to_string().as_str()),
                "the origin's own header on its {code} via the {way}"
            );
            let expected = if code == 204 {
                String::new()
            } else {
                format!("origin: status {code}")
            };
            assert_eq!(
                reply.text(),
                expected,
                "the origin's body on its {code} via the {way}"
            );
            assert_eq!(
                reply.source(),
                None,
                "status {code} passed through untouched via the {way}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_origin_down_passed_requests_are_502_either_way() -> anyhow::Result<()> {
    let mut answers = Vec::new();
    for (in_host, way) in WAYS {
        let mut stack = stack(in_host).await?;
        stack.origin.stop().await;

        let reply = stack.gate.get("/status/200").await?;

        assert_eq!(
            reply.status,
            StatusCode::BAD_GATEWAY,
            "a passed request with the origin down, via the {way}: {}",
            excerpt(&reply)
        );
        assert!(
            reply
                .text()
                .starts_with("tiergate: the origin is unreachable ("),
            "via the {way}: {}",
            reply.text()
        );
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        answers.push(reply.text());
    }
    assert_eq!(
        answers[0], answers[1],
        "the same answer from host and component"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_after_its_request_gets_its_answer() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let stack = Stack::start().await?;
    let id = "INV-2024-000190";
    let body = tiergate_tests::billing_record(id, 1, 5_000);
    stack
        .origin
        .insert(id, body.clone(), tiergate_tests::records::CONTENT_TYPE);
    for path in [format!("/records/{id}"), "/echo".to_owned()] {
        let url = stack.gate.url("/");
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nhost: tiergate\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        // Done sending: only the write side closes; the answer is still wanted.
        stream.shutdown().await?;
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await??;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "GET {path} after a half-close: {:?}",
            &answer[..answer.len().min(200)]
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_answers_before_reading_a_large_body_is_relayed() -> anyhow::Result<()> {
    // The origin refuses a 2 MB upload at its headers (413) without reading it; the
    // client must get that 413, not a 502 for the body the origin never took.
    let body = Bytes::from(vec![b'x'; 2 << 20]);
    for (in_host, way) in WAYS {
        let stack = stack(in_host).await?;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let reply = stack
                .gate
                .send(
                    // One connection per upload: a kept-alive connection that the server
                    // closes after an early answer may be picked for the next request in
                    // the moment before its close is seen, a race of the client's pool.
                    Request::post("/status/413")
                        .header("connection", "close")
                        .body(Full::new(body.clone()))?,
                )
                .await;
            statuses.push(match reply {
                Ok(reply) => {
                    if reply.status != StatusCode::PAYLOAD_TOO_LARGE {
                        eprintln!("via the {way}: {}", excerpt(&reply));
                    }
                    reply.status.as_u16()
                }
                Err(e) => {
                    eprintln!("via the {way}: {e:#}");
                    0
                }
            });
        }
        assert!(
            statuses.iter().all(|&s| s == 413),
            "via the {way}: {statuses:?}"
        );
    }
    Ok(())
}
