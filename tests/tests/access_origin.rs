//! `[edge.auth] mode = "origin"` end to end: an API that knows its clients by a session
//! cookie, and a check endpoint of its own the edge asks before the cache or blob storage
//! answers. Allowed, refused (the API's own status passed on), and the remembered grant
//! expiring.

use http::StatusCode;
use http_body_util::Full;
use hyper::Request;
use std::time::Duration;
use tiergate_tests::assertions::{assert_served, excerpt};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{BlobStore, Gate, GateConfig, Origin, Reply, Stack, billing_record};

fn path(id: &str) -> String {
    format!("/records/{id}")
}

async fn start(decision_seconds: u64) -> anyhow::Result<Stack> {
    // The check URL is the origin's own, known once it runs.
    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let config = GateConfig::new(origin.url())
        .blob_endpoint(store.endpoint())
        .answer_hits_in_host(false)
        .edge_extra(&format!(
            "[edge.auth]\nmode = \"origin\"\ncheck_url = \"{}/access/records/{{id}}\"\n\
             decision_seconds = {decision_seconds}",
            origin.url()
        ));
    let gate = Gate::start(&config).await?;
    Ok(Stack {
        origin,
        store,
        gate,
    })
}

async fn get_as(gate: &Gate, id: &str, session: Option<&str>) -> anyhow::Result<Reply> {
    let mut request = Request::get(path(id));
    if let Some(session) = session {
        request = request.header("cookie", format!("theme=dark; session={session}"));
    }
    gate.send(request.body(Full::default())?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_decides_who_reads_cached_and_archived_records() -> anyhow::Result<()> {
    let stack = start(30).await?;
    let (hot, archived) = ("INV-2024-000800", "INV-2024-000801");
    let hot_body = billing_record(hot, 1, LARGE_RECORD_BYTES);
    let archived_body = billing_record(archived, 2, LARGE_RECORD_BYTES);
    stack.origin.insert(hot, hot_body.clone(), CONTENT_TYPE);
    stack
        .store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    stack.origin.grant("alice-session-secret", hot);
    stack.origin.grant("alice-session-secret", archived);
    stack.origin.grant("bob-session-secret", "INV-2024-000899");
    let alice = Some("alice-session-secret");
    let bob = Some("bob-session-secret");

    // Allowed: every tier, the check asked once per record while the grant is remembered.
    let reply = get_as(&stack.gate, archived, alice).await?;
    assert_served(&reply, archived, "blob", &archived_body);
    assert_served(
        &get_as(&stack.gate, archived, alice).await?,
        archived,
        "cache",
        &archived_body,
    );
    assert_served(
        &get_as(&stack.gate, hot, alice).await?,
        hot,
        "origin",
        &hot_body,
    );
    assert_served(
        &get_as(&stack.gate, hot, alice).await?,
        hot,
        "cache",
        &hot_body,
    );
    assert_eq!(
        stack
            .origin
            .requests_to(&format!("/access{}", path(archived))),
        1
    );
    assert_eq!(
        stack.origin.requests_to(&format!("/access{}", path(hot))),
        1
    );

    // Refused: the API's own answers, passed on, from cache and blob alike.
    let blob_gets = stack.store.gets();
    for id in [hot, archived] {
        let reply = get_as(&stack.gate, id, bob).await?;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", excerpt(&reply));
        assert_eq!(reply.text(), format!("origin: no record {id}"));
        let reply = get_as(&stack.gate, id, None).await?;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            excerpt(&reply)
        );
        assert_eq!(reply.text(), "origin: log in");
    }
    assert_eq!(stack.store.gets(), blob_gets, "refused reads read nothing");

    // The edge keeps grants by a digest: no session reaches its store.
    let keys = stack.gate.cache().keys().await?;
    assert!(keys.iter().any(|k| k.starts_with("access:")), "{keys:?}");
    assert!(
        keys.iter().all(|k| !k.contains("session-secret")),
        "a credential in the cache: {keys:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_grant_expires_and_the_api_is_asked_again() -> anyhow::Result<()> {
    let stack = start(1).await?;
    let id = "INV-2024-000810";
    let body = billing_record(id, 3, LARGE_RECORD_BYTES);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;
    stack.origin.grant("carol-session-secret", id);
    let carol = Some("carol-session-secret");

    assert_served(&get_as(&stack.gate, id, carol).await?, id, "blob", &body);
    // Taken back in the API: still served while remembered, refused once the grant expired.
    stack.origin.revoke("carol-session-secret");
    assert_served(&get_as(&stack.gate, id, carol).await?, id, "cache", &body);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let reply = get_as(&stack.gate, id, carol).await?;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", excerpt(&reply));
    assert_eq!(stack.origin.requests_to(&format!("/access{}", path(id))), 2);
    Ok(())
}
