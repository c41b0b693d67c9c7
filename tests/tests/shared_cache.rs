//! Several tiergate hosts sharing one edge cache in Redis, in front of one origin: what one
//! host caches the others serve, a write through one is seen through all at once, and Redis
//! going away (killed, or frozen with connections open) fails no request and serves nothing
//! stale when it comes back.

use bytes::Bytes;
use http_body_util::Full;
use std::time::{Duration, Instant};
use tiergate_tests::assertions::assert_served;
use tiergate_tests::records::CONTENT_TYPE;
use tiergate_tests::{CacheBackend, Gate, GateConfig, Origin, RedisServer, billing_record};

const ID: &str = "INV-2024-000777";
const PATH: &str = "/records/INV-2024-000777";

async fn put(gate: &Gate, body: &Bytes) -> anyhow::Result<()> {
    let request = http::Request::put(PATH)
        .header("content-type", CONTENT_TYPE)
        .body(Full::new(body.clone()))?;
    let reply = gate.send(request).await?;
    anyhow::ensure!(reply.status == 204, "PUT answered {}", reply.status);
    Ok(())
}

/// Reads through `gate` until it serves from `source` (the cache skips Redis for a second
/// after a failure), failing at the first read that is not `expected` from some tier.
async fn read_until(gate: &Gate, source: &str, expected: &Bytes) -> anyhow::Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reads = 0;
    loop {
        let reply = gate.get(PATH).await?;
        reads += 1;
        assert_eq!(reply.status, 200, "read {reads}: {}", reply.text());
        assert_eq!(
            reply.body,
            *expected,
            "read {reads} from {:?}",
            reply.source()
        );
        if reply.source() == Some(source) {
            return Ok(reads);
        }
        anyhow::ensure!(Instant::now() < deadline, "never served from {source}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_sharing_redis_see_one_cache_and_survive_its_outages() -> anyhow::Result<()> {
    let Some(mut redis) = RedisServer::start_if_installed().await? else {
        return Ok(());
    };
    let origin = Origin::start().await?;
    let config = GateConfig::new(origin.url()).cache_backend(CacheBackend::Redis(redis.url()));
    let (a, b) = (Gate::start(&config).await?, Gate::start(&config).await?);
    let first = billing_record(ID, 1, 20_000);
    origin.insert(ID, first.clone(), CONTENT_TYPE);

    // Warmed once, through a, for both.
    assert_served(&a.get(PATH).await?, ID, "origin", &first);
    assert_served(&b.get(PATH).await?, ID, "cache", &first);
    assert_eq!(origin.requests_to(PATH), 1);

    // A write through b drops the copy for a too.
    let second = billing_record(ID, 2, 20_000);
    put(&b, &second).await?;
    assert_served(&a.get(PATH).await?, ID, "origin", &second);
    assert_served(&b.get(PATH).await?, ID, "cache", &second);

    // Redis killed: every read is answered, by the origin.
    redis.stop();
    for _ in 0..10 {
        for gate in [&a, &b] {
            assert_served(&gate.get(PATH).await?, ID, "origin", &second);
        }
    }
    // Started again, empty: the cache fills and serves again.
    redis.restart().await?;
    read_until(&a, "cache", &second).await?;
    read_until(&b, "cache", &second).await?;

    // Redis frozen with the copy in it: a write through a cannot drop the copy, but is
    // answered; reads go on from the origin with the new content.
    redis.pause()?;
    let third = billing_record(ID, 3, 20_000);
    put(&a, &third).await?;
    for gate in [&a, &b] {
        assert_served(&gate.get(PATH).await?, ID, "origin", &third);
    }
    // Thawed, the old copy is still in Redis: a sends the delete it owes within a second,
    // unasked, so b, which owes nothing and reads first, never serves the second version.
    redis.resume()?;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    read_until(&b, "cache", &third).await?;
    read_until(&a, "cache", &third).await?;
    Ok(())
}
