//! `writes`: what tiergate adds to a write and to a read in the grace period, beside the same
//! request sent straight to the API, in the same run.
//!
//! One world on loopback, in this process: a SQLite hot database with the API over it
//! (`HotDb`, `HotOrigin`, whose PUT creates or replaces), s3s-fs blob storage, and tiergate
//! (`Gate`) with archiving on and its cache off (so every read goes to its tier). It times,
//! one request at a time, interleaved with the reference:
//!
//! - `PUT` of a hot record through the edge, beside the same `PUT` straight to the API: the
//!   edge asks the host where the record lives (a ledger lookup) before it forwards;
//! - `PUT` of an archived record (its hot row gone) through the edge: the restore path (the
//!   copy read and checked, the row put back, the copy removed) and then the write, beside
//!   a `PUT` of a hot record straight to the API (what the write costs with every record
//!   hot);
//! - `GET` of a record in its grace period (copy staged, row hot: answered by the API through
//!   the edge), beside a `GET` of an archived record (answered from blob storage).
//!
//! It prints the median and p99 of each in milliseconds, and writes them as JSON to
//! `bench/results/<YYYY-MM-DD>-writes.json`. Run it in release:
//!
//! ```sh
//! cargo run --release -p tiergate-bench --bin writes -- [--samples N]
//! ```

use anyhow::ensure;
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tiergate::RunOptions;
use tiergate_tests::{
    BlobStore, Gate, GateConfig, HotDb, HotOrigin, HttpClient, PutKind, billing_record,
};

/// Records this old are cold (the harness archives after 30 days).
const AGE: Duration = Duration::from_secs(40 * 86_400);

/// Time writes and grace-period reads through tiergate beside the API alone.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Requests of each kind.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Size of each record in bytes.
    #[arg(long, default_value_t = 300_000)]
    size: usize,
    /// Where to write the JSON [default: bench/results/<YYYY-MM-DD>-writes.json].
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Latencies of one kind of request, in milliseconds.
struct Latencies(Vec<f64>);

impl Latencies {
    fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[index]
    }

    fn json(&self) -> serde_json::Value {
        json!({ "median_ms": self.quantile(0.5), "p99_ms": self.quantile(0.99), "samples": self.0.len() })
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let n = args.samples;
    let db = HotDb::sqlite()?;
    let origin = HotOrigin::start_with(db.clone(), PutKind::Creates).await?;
    let blob = BlobStore::start().await?;
    let config = GateConfig::new(origin.url())
        .blob_endpoint(blob.endpoint())
        .cache_max_record_bytes(0)
        .archive(&db.hot_toml(), "");
    let gate = Gate::start(&config).await?;
    let archiver = gate.archiver().await?;
    let client = HttpClient::new();

    // Records to archive (restored by the writes), records in their grace period, hot ones.
    let body = |id: &str, n: usize| billing_record(id, n as u64, args.size);
    for i in 0..n {
        for prefix in ["ARC", "GRACE"] {
            let id = format!("{prefix}-{i:06}");
            db.insert(&id, &body(&id, i), AGE).await?;
        }
    }
    // Copy all; delete the hot rows of the archived ones only (the others keep their rows
    // by being copied after the delete pass: grace is 0, so age them in afterwards).
    for i in 0..n {
        db.age(&format!("GRACE-{i:06}"), Duration::ZERO).await?;
    }
    let copied = archiver.run(RunOptions::default()).await?;
    let deleted = archiver.run(RunOptions::default()).await?;
    ensure!(
        (copied.archived, deleted.deleted) == (n as u32, n as u32),
        "archiving: {copied:?} {deleted:?}"
    );
    for i in 0..n {
        db.age(&format!("GRACE-{i:06}"), AGE).await?;
    }
    let staged = archiver.run(RunOptions::default()).await?;
    ensure!(staged.archived == n as u32, "staging: {staged:?}");
    for i in 0..n {
        let id = format!("HOT-{i:06}");
        db.insert(&id, &body(&id, i), Duration::ZERO).await?;
    }

    let put = |base: String, id: String, body: Bytes| {
        let client = &client;
        async move {
            let request = http::Request::put(format!("{base}/records/{id}"))
                .header("content-type", "application/json")
                .body(Full::new(body))?;
            let started = Instant::now();
            let reply = client.send(request).await?;
            let took = started.elapsed().as_secs_f64() * 1e3;
            ensure!(reply.status.is_success(), "PUT {id}: {}", reply.status);
            Ok::<_, anyhow::Error>(took)
        }
    };
    let get = |base: String, id: String, source: &'static str| {
        let client = &client;
        async move {
            let started = Instant::now();
            let reply = client.get(&format!("{base}/records/{id}")).await?;
            let took = started.elapsed().as_secs_f64() * 1e3;
            ensure!(
                reply.status == 200 && reply.source() == Some(source),
                "GET {id}: {} from {:?}",
                reply.status,
                reply.source()
            );
            Ok::<_, anyhow::Error>(took)
        }
    };
    let edge = gate.url("");
    let api = origin.url();
    let (mut hot_edge, mut hot_api, mut restore_edge) = (Vec::new(), Vec::new(), Vec::new());
    let (mut grace_read, mut blob_read) = (Vec::new(), Vec::new());
    for i in 0..n {
        let hot = format!("HOT-{i:06}");
        let new = body(&hot, i + n);
        hot_edge.push(put(edge.clone(), hot.clone(), new.clone()).await?);
        hot_api.push(put(api.clone(), hot, new).await?);
        let archived = format!("ARC-{i:06}");
        restore_edge.push(put(edge.clone(), archived.clone(), body(&archived, i + n)).await?);
        let grace = format!("GRACE-{i:06}");
        grace_read.push(get(edge.clone(), grace, "origin").await?);
        // Read before its write above restored it: the next one, still archived.
        let next = format!("ARC-{:06}", (i + 1) % n);
        if i + 1 < n {
            blob_read.push(get(edge.clone(), next, "blob").await?);
        }
    }

    let rows = [
        ("PUT, hot record, through tiergate", Latencies(hot_edge)),
        ("PUT, hot record, straight to the API", Latencies(hot_api)),
        (
            "PUT, archived record (restore, then write), through tiergate",
            Latencies(restore_edge),
        ),
        (
            "GET, record in its grace period (row hot, copy staged), through tiergate",
            Latencies(grace_read),
        ),
        (
            "GET, archived record (from blob), through tiergate",
            Latencies(blob_read),
        ),
    ];
    println!(
        "| request ({} KB records, {n} each, one at a time) | median ms | p99 ms |",
        args.size / 1000
    );
    println!("|---|---|---|");
    for (label, latencies) in &rows {
        println!(
            "| {label} | {:.2} | {:.2} |",
            latencies.quantile(0.5),
            latencies.quantile(0.99)
        );
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let date = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("results/{date}-writes.json"))
    });
    let results = json!({
        "date": jiff::Zoned::now().strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "size": args.size,
        "rows": rows.iter().map(|(label, l)| json!({ "request": label, "latency": l.json() })).collect::<Vec<_>>(),
    });
    std::fs::write(&out, serde_json::to_string_pretty(&results)?)?;
    println!("\nwritten to {}", out.display());
    Ok(())
}
