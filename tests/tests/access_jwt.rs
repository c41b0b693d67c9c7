//! `[edge.auth] mode = "jwt"` end to end: a real token issuer (keys made here, its JWKS served
//! over HTTP), the real edge in the real host, records in the origin, in blob storage and in
//! the cache. Each customer reads its own records from every tier and gets 404 for the
//! other's; tokens that do not check out are refused with 401 and go nowhere.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use hyper::Request;
use serde_json::json;
use tiergate_tests::assertions::{assert_refused_as_missing, assert_served, excerpt};
use tiergate_tests::issuer::{Signer, tampered, unsigned};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{Gate, GateConfig, Issuer, Reply, Stack, billing_record};

/// The HS256 secret of the gates that accept HS256 tokens.
const HS256_SECRET: &str = "an HS256 secret of at least 32 bytes, for tests";

fn path(id: &str) -> String {
    format!("/records/{id}")
}

/// `[edge.auth]` for `issuer`: the caller's `customer_id` claim must be the record's
/// `customer` field; the `records.read_all` scope reads everything.
fn auth(issuer: &Issuer, extra: &str) -> String {
    issuer.edge_auth(&format!(
        "owner_claim = \"customer_id\"\nowner_pointer = \"/customer\"\n\
         read_all = \"records.read_all\"\n{extra}"
    ))
}

async fn start(issuer: &Issuer, extra: &str) -> anyhow::Result<Stack> {
    Stack::start_with(|config| {
        config
            .answer_hits_in_host(false)
            .auth_hs256_secret(HS256_SECRET)
            .edge_extra(&auth(issuer, extra))
    })
    .await
}

/// A record of `seed` and the customer it belongs to.
fn record(id: &str, seed: u64) -> (Bytes, String) {
    let body = billing_record(id, seed, LARGE_RECORD_BYTES);
    let document: serde_json::Value = serde_json::from_slice(&body).expect("records are JSON");
    let customer = document["customer"]
        .as_str()
        .expect("a customer")
        .to_owned();
    (body, customer)
}

async fn get_as(gate: &Gate, id: &str, token: Option<&str>) -> anyhow::Result<Reply> {
    let mut request = Request::get(path(id));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    gate.send(request.body(Full::default())?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_customer_reads_its_own_records_from_every_tier_and_no_one_elses() -> anyhow::Result<()>
{
    let issuer = Issuer::start().await?;
    let stack = start(&issuer, "").await?;
    let (gate, origin, store) = (&stack.gate, &stack.origin, &stack.store);

    for (n, seed) in [(1, 11), (2, 12)] {
        // The records of one customer, read by them and by the other.
        let hot = format!("INV-HOT-{n}");
        let hot_unread = format!("INV-HOTX-{n}");
        let archived = format!("INV-ARC-{n}");
        let archived_unread = format!("INV-ARCX-{n}");
        let (body, owner) = record(&hot, seed);
        let (unread_body, _) = record(&hot_unread, seed);
        let (archived_body, _) = record(&archived, seed);
        let (archived_unread_body, _) = record(&archived_unread, seed);
        origin.insert(&hot, body.clone(), CONTENT_TYPE);
        origin.insert(&hot_unread, unread_body.clone(), CONTENT_TYPE);
        store
            .archive(&archived, &archived_body, CONTENT_TYPE)
            .await?;
        store
            .archive(&archived_unread, &archived_unread_body, CONTENT_TYPE)
            .await?;
        let (_, other) = record("x", if seed == 11 { 12 } else { 11 });
        assert_ne!(owner, other, "the two seeds make two customers");
        let mine = issuer.token(&owner);
        let theirs = issuer.token(&other);

        // Origin, then cache, for the owner; the cache refuses the other.
        assert_served(
            &get_as(gate, &hot, Some(&mine)).await?,
            &hot,
            "origin",
            &body,
        );
        assert_refused_as_missing(
            &get_as(gate, &hot, Some(&theirs)).await?,
            "another's, cached",
        );
        assert_served(
            &get_as(gate, &hot, Some(&mine)).await?,
            &hot,
            "cache",
            &body,
        );
        // Blob, then cache.
        let reply = get_as(gate, &archived, Some(&mine)).await?;
        assert_served(&reply, &archived, "blob", &archived_body);
        assert_refused_as_missing(
            &get_as(gate, &archived, Some(&theirs)).await?,
            "another's, cached",
        );
        // The other reads first: refused by the blob tier and by the origin tier.
        let reply = get_as(gate, &archived_unread, Some(&theirs)).await?;
        assert_refused_as_missing(&reply, "another's, from blob");
        let reply = get_as(gate, &archived_unread, Some(&mine)).await?;
        assert_served(&reply, &archived_unread, "cache", &archived_unread_body);
        let reply = get_as(gate, &hot_unread, Some(&theirs)).await?;
        assert_refused_as_missing(&reply, "another's, from the origin");

        // A conditional read of another's record learns nothing either: 404, not 304.
        let tag = get_as(gate, &hot, Some(&mine))
            .await?
            .header("etag")
            .map(str::to_owned);
        let request = Request::get(path(&hot))
            .header("authorization", format!("Bearer {theirs}"))
            .header("if-none-match", tag.unwrap_or_default())
            .body(Full::default())?;
        assert_refused_as_missing(&gate.send(request).await?, "another's, conditional");
        let request = Request::head(path(&hot))
            .header("authorization", format!("Bearer {theirs}"))
            .body(Full::default())?;
        assert_eq!(gate.send(request).await?.status, StatusCode::NOT_FOUND);

        // Support staff read everything.
        let mut claims = Issuer::claims("support");
        claims["scope"] = json!("openid records.read_all");
        let staff = issuer.sign(Signer::Rsa, &claims);
        assert_served(
            &get_as(gate, &hot, Some(&staff)).await?,
            &hot,
            "cache",
            &body,
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_good_token_get_401_and_go_nowhere() -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let stack = start(&issuer, "").await?;
    let id = "INV-2024-000500";
    let (body, owner) = record(id, 21);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);
    let archived = "INV-2024-000501";
    let (archived_body, _) = record(archived, 21);
    stack
        .store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;

    let good = Issuer::claims(&owner);
    let with = |key: &str, value: serde_json::Value| {
        let mut claims = good.clone();
        claims[key] = value;
        claims
    };
    let now = good["iat"].as_u64().expect("iat");
    let mut other = Issuer::claims("someone-else");
    other["scope"] = json!("records.read_all");
    let hs256 = |claims: &serde_json::Value| {
        use jsonwebtoken::{EncodingKey, Header, encode};
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(HS256_SECRET.as_bytes()),
        )
        .expect("signing works")
    };
    let refused = [
        (
            "expired",
            issuer.sign(Signer::Rsa, &with("exp", json!(now - 3_600))),
        ),
        (
            "not yet valid",
            issuer.sign(Signer::Rsa, &with("nbf", json!(now + 3_600))),
        ),
        ("tampered", tampered(&issuer.token(&owner), &other)),
        (
            "wrong issuer",
            issuer.sign(Signer::Rsa, &with("iss", json!("https://evil.test"))),
        ),
        (
            "wrong audience",
            issuer.sign(Signer::Rsa, &with("aud", json!("api://payroll"))),
        ),
        ("alg none", unsigned(&good)),
        (
            "HS256 keyed with the public key",
            issuer.forge_hs256_with_public_key(&good),
        ),
        ("unknown kid", issuer.sign(Signer::Unpublished, &good)),
        (
            "no owner claim",
            issuer.sign(Signer::Rsa, &with("customer_id", json!(null))),
        ),
        ("not a JWT", "not-a-token".to_owned()),
    ];
    for (case, token) in &refused {
        for record in [id, archived] {
            let reply = get_as(&stack.gate, record, Some(token)).await?;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{case}: {}",
                excerpt(&reply)
            );
            let challenge = reply.header("www-authenticate").unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer realm=\"tiergate\", error=\"invalid_token\""),
                "{case}: {challenge}"
            );
            let signature = token.rsplit('.').next().unwrap_or_default();
            assert!(
                !reply.text().contains(token.as_str())
                    && (signature.len() < 8 || !reply.text().contains(signature)),
                "{case}: the answer repeats the token: {}",
                reply.text()
            );
        }
    }
    // No token, another scheme.
    let reply = get_as(&stack.gate, id, None).await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"tiergate\"")
    );
    let basic = Request::get(path(id))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(Full::default())?;
    assert_eq!(
        stack.gate.send(basic).await?.status,
        StatusCode::UNAUTHORIZED
    );
    // Writes too: refused before the origin.
    let put = Request::put(path(id))
        .header("authorization", format!("Bearer {}", unsigned(&good)))
        .body(Full::new(Bytes::from_static(b"{}")))?;
    assert_eq!(stack.gate.send(put).await?.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        stack.origin.requests_to(&path(id)),
        0,
        "refused requests reach nobody"
    );
    assert_eq!(stack.store.gets(), 0, "refused requests reach nobody");
    // A made-up key id costs the issuer one more fetch, not one per request.
    assert!(
        issuer.jwks_requests() <= 3,
        "{} JWKS fetches for {} requests",
        issuer.jwks_requests(),
        2 * refused.len()
    );

    // The same requests with good tokens: RS256, ES256, and HS256 with the shared secret.
    for token in [
        issuer.token(&owner),
        issuer.sign(Signer::Ec, &good),
        hs256(&good),
    ] {
        assert_served(
            &get_as(&stack.gate, archived, Some(&token)).await?,
            archived,
            "blob",
            &archived_body,
        );
        assert_served(
            &get_as(&stack.gate, id, Some(&token)).await?,
            id,
            "origin",
            &body,
        );
        stack.gate.cache().delete(&format!("record:{id}")).await?;
        stack
            .gate
            .cache()
            .delete(&format!("record:{archived}"))
            .await?;
    }
    let put = Request::put(path(id))
        .header("authorization", format!("Bearer {}", issuer.token(&owner)))
        .header("content-type", CONTENT_TYPE)
        .body(Full::new(body.clone()))?;
    assert_eq!(stack.gate.send(put).await?.status, StatusCode::NO_CONTENT);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_fetched_without_a_restart() -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let stack = start(&issuer, "").await?;
    let id = "INV-2024-000600";
    let (body, owner) = record(id, 31);
    stack.store.archive(id, &body, CONTENT_TYPE).await?;

    let before = issuer.token(&owner);
    assert_served(
        &get_as(&stack.gate, id, Some(&before)).await?,
        id,
        "blob",
        &body,
    );
    let fetches = issuer.jwks_requests();
    assert_served(
        &get_as(&stack.gate, id, Some(&before)).await?,
        id,
        "cache",
        &body,
    );
    assert_eq!(
        issuer.jwks_requests(),
        fetches,
        "keys are kept, not fetched per request"
    );

    issuer.rotate("rsa-2")?;
    let after = issuer.token(&owner);
    assert_ne!(before, after);
    assert_served(
        &get_as(&stack.gate, id, Some(&after)).await?,
        id,
        "cache",
        &body,
    );
    assert_served(
        &get_as(&stack.gate, id, Some(&before)).await?,
        id,
        "cache",
        &body,
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customers_record_is_403_when_configured_and_503_while_keys_cannot_be_had()
-> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    issuer.set_available(false);
    let stack = start(&issuer, "refused_status = 403").await?;
    let id = "INV-2024-000700";
    let (body, owner) = record(id, 41);
    stack.origin.insert(id, body.clone(), CONTENT_TYPE);

    let reply = get_as(&stack.gate, id, Some(&issuer.token(&owner))).await?;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        excerpt(&reply)
    );
    assert!(
        reply.text().contains("tokens cannot be checked now"),
        "{}",
        reply.text()
    );
    assert_eq!(stack.origin.requests_to(&path(id)), 0);

    // The issuer is back: after the edge's pause between fetches, tokens check out again.
    issuer.set_available(true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let reply = loop {
        let reply = get_as(&stack.gate, id, Some(&issuer.token(&owner))).await?;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE || std::time::Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_served(&reply, id, "origin", &body);
    let reply = get_as(&stack.gate, id, Some(&issuer.token("CUST-999999"))).await?;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", excerpt(&reply));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_settings_that_cannot_work_stop_the_start() -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let refused = |config: GateConfig| async move {
        match Gate::start(&config).await {
            Ok(_) => panic!("tiergate started with {}", config.to_toml()),
            Err(e) => e.to_string(),
        }
    };
    let base = || GateConfig::new("http://127.0.0.1:9");
    let err = refused(base().edge_extra(&auth(&issuer, ""))).await;
    assert!(err.contains("cache.answer_hits_in_host"), "{err}");
    let err = refused(
        base()
            .answer_hits_in_host(false)
            .edge_extra(&auth(&issuer, "").replace("mode = \"jwt\"", "mode = \"origin\"")),
    )
    .await;
    assert!(err.contains("edge.auth.check_url is required"), "{err}");
    let err = refused(
        base()
            .answer_hits_in_host(false)
            .auth_hs256_secret("too short")
            .edge_extra(&auth(&issuer, "")),
    )
    .await;
    assert!(
        err.contains("at least 32") && !err.contains("too short"),
        "{err}"
    );
    Ok(())
}
