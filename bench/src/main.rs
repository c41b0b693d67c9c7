//! `tiergate-bench`: requests/s and latency of the edge per source tier, with 300 KB records,
//! each beside a direct read of the same bytes in the same run:
//!
//! - cache hits, beside a direct GET to the origin;
//! - blob reads with caching off, beside a direct signed GET to the blob store;
//! - passthrough (a route that is not the record route), beside a direct GET to the origin.
//!
//! Everything runs in this process on loopback: the origin and s3s-fs from the test harness,
//! tiergate's real host with the real edge component, and the load generator on a runtime of
//! its own. Run it in release: `cargo run --release -p tiergate-bench -- --help`.

mod load;

use clap::Parser;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tiergate_core::{BlobKey, RecordId};
use tiergate_tests::records::CONTENT_TYPE;
use tiergate_tests::{BlobStore, Gate, GateConfig, Origin, billing_record};

/// Benchmark the edge per source tier against direct reads, on loopback.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Distinct records per scenario.
    #[arg(long, default_value_t = 64)]
    records: usize,
    /// Size of each record in bytes.
    #[arg(long, default_value_t = 300_000)]
    size: usize,
    /// Seconds of load per row.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Connection counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    connections: Vec<usize>,
}

struct Scenario {
    name: &'static str,
    edge: (SocketAddr, Arc<Vec<String>>),
    reference_name: &'static str,
    reference: (SocketAddr, Arc<Vec<String>>),
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The servers and the load generator each get a runtime, so neither schedules the other.
    let servers = tokio::runtime::Runtime::new()?;
    let loadgen = tokio::runtime::Runtime::new()?;
    let (scenarios, _running) = servers.block_on(start(&args))?;

    println!(
        "tiergate-bench: {} records of {} bytes, {} s per row, connections {:?}\n",
        args.records, args.size, args.seconds, args.connections
    );
    println!(
        "| scenario | conns | req/s | p50 ms | p99 ms | MB/s | errors | reference | ref req/s | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    for scenario in &scenarios {
        for &connections in &args.connections {
            let duration = Duration::from_secs(args.seconds);
            let (addr, targets) = &scenario.edge;
            let edge =
                loadgen.block_on(load::run(*addr, targets.clone(), connections, duration))?;
            let (addr, targets) = &scenario.reference;
            let reference =
                loadgen.block_on(load::run(*addr, targets.clone(), connections, duration))?;
            println!(
                "| {} | {connections} | {:.0} | {:.2} | {:.2} | {:.0} | {} | {} | {:.0} | {:.2} |",
                scenario.name,
                edge.rps,
                edge.p50.as_secs_f64() * 1e3,
                edge.p99.as_secs_f64() * 1e3,
                edge.bytes_per_second / 1e6,
                edge.errors + reference.errors,
                scenario.reference_name,
                reference.rps,
                edge.rps / reference.rps,
            );
        }
    }
    Ok(())
}

/// Starts the servers, loads the records, warms the cache, and returns what to measure (and
/// the servers, which stop when dropped).
async fn start(args: &Args) -> anyhow::Result<(Vec<Scenario>, (Origin, BlobStore, Vec<Gate>))> {
    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let mut hot = Vec::new();
    let mut archived = Vec::new();
    for n in 0..args.records {
        let id = format!("HOT-{n:06}");
        origin.insert(&id, billing_record(&id, n as u64, args.size), CONTENT_TYPE);
        hot.push(format!("/records/{id}"));
        let id = format!("ARC-{n:06}");
        store
            .archive(&id, &billing_record(&id, n as u64, args.size), CONTENT_TYPE)
            .await?;
        archived.push(id);
    }

    let cached =
        Gate::start(&GateConfig::new(origin.url()).blob_endpoint(store.endpoint())).await?;
    for path in &hot {
        let reply = cached.get(path).await?;
        anyhow::ensure!(reply.status == 200, "warming {path}: {}", reply.status);
    }
    let uncached = Gate::start(
        &GateConfig::new(origin.url())
            .blob_endpoint(store.endpoint())
            .cache_max_record_bytes(0),
    )
    .await?;
    let passthrough = Gate::start(
        &GateConfig::new(origin.url())
            .blob_endpoint(store.endpoint())
            .record_route("/elsewhere/{id}"),
    )
    .await?;

    let signer = store.signer();
    // Signed for longer than the run: the reference measures reads, not signing.
    let signed: Vec<String> = archived
        .iter()
        .map(|id| {
            let key = BlobKey::for_record(&RecordId::parse(id).expect("valid id"));
            let url = signer.presign_get(&key, SystemTime::now(), Duration::from_secs(3600));
            let url = url::Url::parse(url.expose()).expect("signed URLs parse");
            format!("{}?{}", url.path(), url.query().unwrap_or_default())
        })
        .collect();
    let archived_paths: Vec<String> = archived.iter().map(|id| format!("/records/{id}")).collect();

    let addr = |url: String| -> anyhow::Result<SocketAddr> {
        let url = url::Url::parse(&url)?;
        Ok(format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port().unwrap_or(80)
        )
        .parse()?)
    };
    let hot = Arc::new(hot);
    let scenarios = vec![
        Scenario {
            name: "cache hit",
            edge: (addr(cached.url("/"))?, hot.clone()),
            reference_name: "origin direct",
            reference: (addr(origin.url())?, hot.clone()),
        },
        Scenario {
            name: "blob read",
            edge: (addr(uncached.url("/"))?, Arc::new(archived_paths)),
            reference_name: "signed GET direct",
            reference: (addr(store.endpoint())?, Arc::new(signed)),
        },
        Scenario {
            name: "passthrough",
            edge: (addr(passthrough.url("/"))?, hot.clone()),
            reference_name: "origin direct",
            reference: (addr(origin.url())?, hot),
        },
    ];
    Ok((
        scenarios,
        (origin, store, vec![cached, uncached, passthrough]),
    ))
}
