//! `archiver`: throughput and memory of tiergate's archiver, per stored encoding, with
//! 300 KB records, beside the native speed of the same per-record work.
//!
//! For each encoding (identity, lz4, gzip, zstd) it builds a fresh world on loopback, in this
//! process: a SQLite hot database with the API over it (`HotDb`, `HotOrigin`), s3s-fs blob
//! storage (`BlobStore`), and tiergate (`Gate`) with archiving on, their files in memory
//! (`--scratch-dir`). It inserts N records of 300,000 bytes (`billing_record`) last changed
//! 40 days ago, so all are cold, then times:
//!
//! - the copy run: one `Archiver::run` that reads, encodes, hashes, PUTs (s3s-fs checks the
//!   PUT's checksum and confirms it) and marks every record (records/s, input MB/s,
//!   compression ratio from its report);
//! - the delete run: the next run (grace is 0), which re-checks each copy and deletes its hot
//!   row (delete MB/s, in record bytes).
//!
//! After each run it reads the process's peak RSS (VmHWM, reset before the run through
//! `/proc/self/clear_refs`) and current RSS (VmRSS). To show whether memory stays flat as
//! the set grows, lz4 also runs with N/4 and N/2 records (first, before anything larger has
//! run). The reference is the same per-record work done natively on one thread:
//! `PreparedCopy::prepare` (SHA-256 of the record, `Encoding::encode`, decoding and comparing
//! with the record, SHA-256 of the stored bytes), and that plus `CopyFacts::check_read_back`
//! (the copy pass's read-back check, for stores that do not confirm a PUT's checksum: the
//! bytes compared with those written, the metadata).
//!
//! The archiver runs with the production defaults `batch_size = 64`, `concurrency = 8`
//! (`--batch-size`, `--concurrency`), not the test harness's 4 and 3.
//!
//! It prints one markdown table and writes JSON (machine, rustc, git revision, command,
//! load, numbers) to `bench/results/<YYYY-MM-DD>-archiver.json`. Run it in release:
//!
//! ```sh
//! cargo run --release -p tiergate-bench --bin archiver -- [--records N] [--quick]
//! ```

// The machine, its load and the revision, as the other benchmarks record them.
#[path = "../run_facts.rs"]
mod run_facts;

use anyhow::{bail, ensure};
use clap::Parser;
use run_facts::{loadavg, machine};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tiergate::{RunOptions, RunProgress, RunReport};
use tiergate_core::{Encoding, PreparedCopy, RecordId};
use tiergate_tests::assertions::assert_served;
use tiergate_tests::{BlobStore, Gate, GateConfig, HotDb, HotOrigin, ScratchDir, billing_record};
use tokio::sync::watch;

/// Records this old are cold (the harness archives after 30 days).
const AGE: Duration = Duration::from_secs(40 * 86_400);
const MB: f64 = 1e6;

/// Benchmark the archiver per encoding, on loopback, beside the same work done natively.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Records per encoding [default: 2000, or 200 with --quick].
    #[arg(long)]
    records: Option<usize>,
    /// A short run: 200 records (unless --records is given) and fewer native rounds.
    #[arg(long)]
    quick: bool,
    /// Size of each record in bytes.
    #[arg(long, default_value_t = 300_000)]
    size: usize,
    /// Records the archiver claims at a time (`[archive] batch_size`).
    #[arg(long, default_value_t = 64)]
    batch_size: u64,
    /// Records it copies at once (`[archive] concurrency`).
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
    /// Archiver instances per run [default: one per core, as `tiergate` runs them].
    #[arg(long)]
    instances: Option<usize>,
    /// Worlds per encoding; the table shows medians.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Only this encoding, at --records only (no lz4 rows at N/4 and N/2): a quicker run.
    #[arg(long)]
    encoding: Option<Encoding>,
    /// Where each world keeps its files: the SQLite hot database and s3s-fs's objects
    /// [default: /dev/shm when there is one, else the temp directory]. Memory by default
    /// because blob storage is remote in production: on this machine's ext4, s3s-fs creating
    /// a file per object cost more CPU (inode allocation in the kernel) than the archiver.
    #[arg(long)]
    scratch_dir: Option<PathBuf>,
    /// Where to write the JSON [default: bench/results/<YYYY-MM-DD>-archiver.json].
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn records(&self) -> usize {
        self.records.unwrap_or(if self.quick { 200 } else { 2_000 })
    }

    fn encodings(&self) -> Vec<Encoding> {
        self.encoding.map_or(Encoding::ALL.to_vec(), |e| vec![e])
    }

    fn scratch_dir(&self) -> PathBuf {
        let shm = Path::new("/dev/shm");
        self.scratch_dir.clone().unwrap_or_else(|| {
            if shm.is_dir() {
                shm.to_owned()
            } else {
                std::env::temp_dir()
            }
        })
    }
}

/// A hot database, the API over it, blob storage, tiergate and its archiver. Dropping it
/// stops the servers and removes their files.
struct World {
    db: HotDb,
    _origin: HotOrigin,
    blob: BlobStore,
    gate: Gate,
    archiver: tiergate::Archiver,
}

impl World {
    async fn start(encoding: Encoding, args: &Args) -> anyhow::Result<Self> {
        let db = HotDb::sqlite()?;
        let origin = HotOrigin::start(db.clone()).await?;
        let blob = BlobStore::start().await?;
        let config = GateConfig::new(origin.url())
            .blob_endpoint(blob.endpoint())
            .archive(&db.hot_toml(), &format!("encoding = \"{encoding}\""))
            .archive_batch(args.batch_size, args.concurrency);
        let gate = Gate::start(&config).await?;
        let mut archiver = gate.archiver().await?;
        if let Some(count) = args.instances {
            archiver = archiver.with_instances(count);
        }
        Ok(Self {
            db,
            _origin: origin,
            blob,
            gate,
            archiver,
        })
    }
}

/// One world's numbers.
#[derive(Debug, Clone, Default)]
struct Row {
    records: f64,
    insert_s: f64,
    copy_s: f64,
    /// CPU seconds the whole process (servers, host, guest) spent in the copy run.
    copy_cpu_s: f64,
    bytes_in: f64,
    bytes_out: f64,
    copy_peak_mib: f64,
    copy_rss_mib: f64,
    /// The highest VmRSS sampled every 100 ms during the copy run.
    copy_sampled_max_mib: f64,
    delete_s: f64,
    deleted_bytes: f64,
    delete_peak_mib: f64,
    delete_rss_mib: f64,
    load_before: f64,
}

impl Row {
    fn records_per_s(&self) -> f64 {
        self.records / self.copy_s
    }
    fn copy_mb_s(&self) -> f64 {
        self.bytes_in / MB / self.copy_s
    }
    /// Record MB copied per CPU second: what the copy costs, whatever else the machine runs.
    fn copy_mb_per_cpu_s(&self) -> f64 {
        self.bytes_in / MB / self.copy_cpu_s
    }
    fn ratio(&self) -> f64 {
        self.bytes_in / self.bytes_out
    }
    fn delete_mb_s(&self) -> f64 {
        self.deleted_bytes / MB / self.delete_s
    }

    /// The median of each field over `rows`.
    fn median(rows: &[Row]) -> Row {
        let m = |f: fn(&Row) -> f64| median(rows.iter().map(f).collect());
        Row {
            records: m(|r| r.records),
            insert_s: m(|r| r.insert_s),
            copy_s: m(|r| r.copy_s),
            copy_cpu_s: m(|r| r.copy_cpu_s),
            bytes_in: m(|r| r.bytes_in),
            bytes_out: m(|r| r.bytes_out),
            copy_peak_mib: m(|r| r.copy_peak_mib),
            copy_rss_mib: m(|r| r.copy_rss_mib),
            copy_sampled_max_mib: m(|r| r.copy_sampled_max_mib),
            delete_s: m(|r| r.delete_s),
            deleted_bytes: m(|r| r.deleted_bytes),
            delete_peak_mib: m(|r| r.delete_peak_mib),
            delete_rss_mib: m(|r| r.delete_rss_mib),
            load_before: m(|r| r.load_before),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "records": self.records,
            "insert_seconds": self.insert_s,
            "copy_seconds": self.copy_s,
            "records_per_second": self.records_per_s(),
            "copy_mb_per_second": self.copy_mb_s(),
            "copy_cpu_seconds": self.copy_cpu_s,
            "copy_mb_per_cpu_second": self.copy_mb_per_cpu_s(),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "compression_ratio": self.ratio(),
            "copy_peak_rss_mib": self.copy_peak_mib,
            "copy_rss_after_mib": self.copy_rss_mib,
            "copy_sampled_max_rss_mib": self.copy_sampled_max_mib,
            "delete_seconds": self.delete_s,
            "delete_mb_per_second": self.delete_mb_s(),
            "delete_peak_rss_mib": self.delete_peak_mib,
            "delete_rss_after_mib": self.delete_rss_mib,
            "load1_before": self.load_before,
        })
    }
}

/// The native reference for one encoding, MB/s of record bytes on one thread (medians).
#[derive(Debug, Clone, Copy)]
struct Native {
    /// SHA-256 alone (the same for every encoding).
    sha256: f64,
    encode: f64,
    prepare: f64,
    prepare_check: f64,
    ratio: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.repeat >= 1, "--repeat must be at least 1");
    ensure!(
        args.records() >= 4,
        "--records must be at least 4 (lz4 also runs N/4)"
    );
    let n = args.records();
    let scratch = args.scratch_dir();
    ScratchDir::put_under(scratch.clone())?;
    let load_start = loadavg();
    let hwm_resettable = reset_peak_rss();
    println!(
        "archiver benchmark: {n} records of {} bytes per encoding, batch_size {}, \
         concurrency {}, instances {}, {} world(s) per row{}, files under {}",
        args.size,
        args.batch_size,
        args.concurrency,
        args.instances
            .map_or_else(|| "one per core".to_owned(), |n| n.to_string()),
        args.repeat,
        if args.repeat > 1 { " (medians)" } else { "" },
        scratch.display()
    );
    println!("load at start: {load_start}");
    if !hwm_resettable {
        println!("note: /proc/self/clear_refs refused; peak RSS is the process's since start");
    }

    let native = native_reference(&args);

    // Two workers, as on the machine: the servers, the host and the wasm guest share them.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let baseline_rss = status_kib("VmRSS").unwrap_or(0) as f64 / 1024.0;

    // lz4 at growing sizes first, before anything larger has grown the heap.
    let mut scaling = Vec::new();
    let sizes = if args.encoding.is_none() {
        vec![n / 4, n / 2, n]
    } else {
        Vec::new()
    };
    for size in sizes {
        let row = measure(&runtime, Encoding::Lz4, size, &args)?;
        scaling.push((size, row));
    }
    let mut rows = Vec::new();
    for encoding in args.encodings() {
        let row = match scaling.last() {
            Some((_, row)) if encoding == Encoding::Lz4 => row.clone(),
            _ => measure(&runtime, encoding, n, &args)?,
        };
        rows.push((encoding, row));
    }
    drop(runtime);
    let load_end = loadavg();

    println!();
    println!(
        "| encoding | records | records/s | MB/s | MB per CPU s | ratio | delete MB/s | peak RSS MiB (copy) | \
         RSS after copy MiB | peak RSS MiB (delete) | RSS after delete MiB | \
         native encode+SHA MB/s | native +check MB/s | e2e / native+check |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (encoding, row) in &rows {
        let native = native[encoding];
        println!(
            "| {encoding} | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.0} | {:.0} | {:.0} \
             | {:.0} | {:.0} | {:.0} | {:.2} |",
            row.records,
            row.records_per_s(),
            row.copy_mb_s(),
            row.copy_mb_per_cpu_s(),
            row.ratio(),
            row.delete_mb_s(),
            row.copy_peak_mib,
            row.copy_rss_mib,
            row.delete_peak_mib,
            row.delete_rss_mib,
            native.prepare,
            native.prepare_check,
            row.copy_mb_s() / native.prepare_check,
        );
    }
    for (size, row) in &scaling {
        println!(
            "| lz4, {size} records | {:.0} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.0} | {:.0} \
             | {:.0} | {:.0} | | | |",
            row.records,
            row.records_per_s(),
            row.copy_mb_s(),
            row.copy_mb_per_cpu_s(),
            row.ratio(),
            row.delete_mb_s(),
            row.copy_peak_mib,
            row.copy_rss_mib,
            row.delete_peak_mib,
            row.delete_rss_mib,
        );
    }
    println!();
    println!(
        "MB = 10^6 bytes of records (input); MB per CPU s = record MB per CPU second of the \
         whole process (servers, host and guest) during the copy run; ratio = bytes in / bytes stored; delete MB/s = \
         record bytes whose hot rows the second run deleted, per second. Peak RSS is VmHWM{}; \
         RSS counts the hot database's pages that SQLite reads through its memory map (OS \
         page cache, not heap); RSS before the first world: {baseline_rss:.0} MiB. Native columns: one thread, \
         median of rounds; encode+SHA = PreparedCopy::prepare, +check adds CopyFacts::check_read_back.",
        if hwm_resettable {
            ", reset before each run"
        } else {
            " since the process started"
        }
    );
    for (encoding, native) in args.encodings().iter().map(|e| (e, native[e])) {
        println!(
            "native {encoding}: encode only {:.0} MB/s, ratio {:.2}; SHA-256 alone {:.0} MB/s",
            native.encode, native.ratio, native.sha256
        );
    }
    println!("load at start: {load_start}; at end: {load_end}");

    let report = json!({
        "benchmark": "archiver",
        "date": jiff::Zoned::now().strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "command": command_line(),
        "machine": machine(),
        "rustc": run_facts::first_line("rustc", &["-V"]),
        "git_rev": run_facts::git_revision(),
        "settings": {
            "records": n,
            "record_bytes": args.size,
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "instances": args.instances.map_or_else(|| json!("one per core"), |n| json!(n)),
            "only_encoding": args.encoding.map(Encoding::as_str),
            "runtime_worker_threads": 2,
            "hot_db": "sqlite",
            "blob_store": "s3s-fs 0.14.1 on loopback",
            "scratch_dir": scratch,
            "peak_rss_reset_per_run": hwm_resettable,
        },
        "load": { "start": load_start, "end": load_end },
        "baseline_rss_mib": baseline_rss,
        "encodings": rows.iter().map(|(encoding, row)| {
            let native = native[encoding];
            let mut value = row.to_json();
            value["encoding"] = json!(encoding.as_str());
            value["native"] = json!({
                "sha256_mb_per_second": native.sha256,
                "encode_mb_per_second": native.encode,
                "prepare_mb_per_second": native.prepare,
                "prepare_and_check_mb_per_second": native.prepare_check,
                "compression_ratio": native.ratio,
            });
            value["e2e_over_native_prepare_and_check"] =
                json!(row.copy_mb_s() / native.prepare_check);
            value
        }).collect::<Vec<_>>(),
        "lz4_scaling": scaling.iter().map(|(size, row)| {
            let mut value = row.to_json();
            value["size"] = json!(size);
            value
        }).collect::<Vec<_>>(),
    });
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| run_facts::results_path("archiver"));
    run_facts::write_report(&out, &report)
}

/// `args.repeat` fresh worlds of `records` records in `encoding`, medians.
fn measure(
    runtime: &tokio::runtime::Runtime,
    encoding: Encoding,
    records: usize,
    args: &Args,
) -> anyhow::Result<Row> {
    let mut rows = Vec::new();
    for round in 0..args.repeat {
        eprintln!(
            "{encoding}, {records} records, world {}/{}",
            round + 1,
            args.repeat
        );
        let row = runtime.block_on(one_world(encoding, records, args))?;
        eprintln!(
            "  insert {:.1} s, copy {:.1} s ({:.1} MB/s, {:.1} CPU s, {:.1} MB per CPU s, \
             ratio {:.2}), delete {:.1} s, peak {:.0} MiB, RSS after {:.0} MiB",
            row.insert_s,
            row.copy_s,
            row.copy_mb_s(),
            row.copy_cpu_s,
            row.copy_mb_per_cpu_s(),
            row.ratio(),
            row.delete_s,
            row.copy_peak_mib,
            row.copy_rss_mib
        );
        rows.push(row);
    }
    Ok(Row::median(&rows))
}

async fn one_world(encoding: Encoding, records: usize, args: &Args) -> anyhow::Result<Row> {
    let world = World::start(encoding, args).await?;
    let started = Instant::now();
    for i in 0..records {
        let id = format!("INV-{i:06}");
        let body = billing_record(&id, i as u64, args.size);
        world.db.insert(&id, &body, AGE).await?;
    }
    let insert_s = started.elapsed().as_secs_f64();
    let load_before = load1();

    let copy = timed_run(&world.archiver, "copy").await?;
    let report = &copy.report;
    if (report.archived as usize, report.failed) != (records, 0) || report.aborted.is_some() {
        bail!("{encoding}: the copy run did not archive all {records} records: {report:?}");
    }
    ensure!(
        world.blob.object_count() == records,
        "{encoding}: blob storage holds {} objects, not {records}",
        world.blob.object_count()
    );

    let delete = timed_run(&world.archiver, "delete").await?;
    let report = &delete.report;
    if (report.deleted as usize, report.failed) != (records, 0) || report.aborted.is_some() {
        bail!("{encoding}: the delete run did not delete all {records} hot rows: {report:?}");
    }
    ensure!(
        world.db.count().await? == 0,
        "{encoding}: hot rows left after the delete run"
    );
    // The work was real: a record now comes from blob storage through the edge, byte for byte.
    let id = format!("INV-{:06}", records / 2);
    let reply = world.gate.get(&format!("/records/{id}")).await?;
    assert_served(
        &reply,
        &id,
        "blob",
        &billing_record(&id, (records / 2) as u64, args.size),
    );

    Ok(Row {
        records: records as f64,
        insert_s,
        copy_s: copy.wall.as_secs_f64(),
        copy_cpu_s: copy.cpu_s,
        bytes_in: copy.report.bytes_in as f64,
        bytes_out: copy.report.bytes_out as f64,
        copy_peak_mib: copy.peak_mib,
        copy_rss_mib: copy.rss_mib,
        copy_sampled_max_mib: copy.sampled_max_mib,
        delete_s: delete.wall.as_secs_f64(),
        deleted_bytes: (records * args.size) as f64,
        delete_peak_mib: delete.peak_mib,
        delete_rss_mib: delete.rss_mib,
        load_before,
    })
}

struct Timed {
    report: RunReport,
    wall: Duration,
    cpu_s: f64,
    peak_mib: f64,
    rss_mib: f64,
    sampled_max_mib: f64,
}

/// One archiver run, timed, with its peak RSS, its RSS after, and progress on stderr.
async fn timed_run(archiver: &tiergate::Archiver, what: &str) -> anyhow::Result<Timed> {
    reset_peak_rss();
    let (progress, mut seen) = watch::channel(RunProgress::default());
    let sampled_max = Arc::new(AtomicU64::new(0));
    let sampler = {
        let sampled_max = Arc::clone(&sampled_max);
        let what = what.to_owned();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut last_print = Instant::now();
            loop {
                tick.tick().await;
                if let Some(rss) = status_kib("VmRSS") {
                    sampled_max.fetch_max(rss, Ordering::Relaxed);
                }
                if last_print.elapsed() >= Duration::from_secs(5) {
                    last_print = Instant::now();
                    let p = *seen.borrow_and_update();
                    eprintln!(
                        "  {what} {:>4.0} s: archived {}, deleted {}, failed {}",
                        started.elapsed().as_secs_f64(),
                        p.archived,
                        p.deleted,
                        p.failed
                    );
                }
            }
        })
    };
    let started = Instant::now();
    let cpu_before = process_cpu_s();
    let result = archiver
        .run(RunOptions {
            progress: Some(progress),
            ..Default::default()
        })
        .await;
    let wall = started.elapsed();
    let cpu_s = process_cpu_s() - cpu_before;
    sampler.abort();
    let report = result?;
    Ok(Timed {
        report,
        wall,
        cpu_s,
        peak_mib: status_kib("VmHWM").unwrap_or(0) as f64 / 1024.0,
        rss_mib: status_kib("VmRSS").unwrap_or(0) as f64 / 1024.0,
        sampled_max_mib: sampled_max.load(Ordering::Relaxed) as f64 / 1024.0,
    })
}

/// The per-record work of a copy, natively on this thread, per encoding: MB/s of record
/// bytes, the median of several rounds over the same distinct records.
fn native_reference(args: &Args) -> std::collections::HashMap<Encoding, Native> {
    let (count, rounds) = if args.quick { (16, 3) } else { (32, 7) };
    let records: Vec<(RecordId, bytes::Bytes)> = (0..count)
        .map(|i| {
            let id = format!("INV-{i:06}");
            let body = billing_record(&id, i as u64, args.size);
            (RecordId::parse(&id).expect("a valid id"), body)
        })
        .collect();
    let total = (count * args.size) as f64;
    let rate = |work: &dyn Fn()| {
        let mut rates = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            work();
            rates.push(total / MB / started.elapsed().as_secs_f64());
        }
        median(rates)
    };
    let sha256 = rate(&|| {
        for (_, body) in &records {
            black_box(Sha256::digest(body));
        }
    });
    eprintln!("native SHA-256: {sha256:.0} MB/s");
    let mut out = std::collections::HashMap::new();
    for encoding in args.encodings() {
        let encode = rate(&|| {
            for (_, body) in &records {
                black_box(encoding.encode(body));
            }
        });
        let prepare = rate(&|| {
            for (id, body) in &records {
                black_box(PreparedCopy::prepare(id, "1", None, body, encoding).expect("encodes"));
            }
        });
        let prepare_check = rate(&|| {
            for (id, body) in &records {
                let copy = PreparedCopy::prepare(id, "1", None, body, encoding).expect("encodes");
                let read = copy.stored.clone();
                copy.facts
                    .check_read_back(&copy.meta, &read, &copy.stored)
                    .expect("a fresh copy checks");
                black_box(copy);
            }
        });
        let stored: usize = records
            .iter()
            .map(|(_, body)| encoding.encode(body).len())
            .sum();
        let native = Native {
            sha256,
            encode,
            prepare,
            prepare_check,
            ratio: total / stored as f64,
        };
        eprintln!(
            "native {encoding}: encode {:.0} MB/s, prepare {:.0} MB/s, prepare+check {:.0} MB/s",
            native.encode, native.prepare, native.prepare_check
        );
        out.insert(encoding, native);
    }
    out
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// A `kB` field of `/proc/self/status`, such as VmRSS or VmHWM.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU seconds (user and system) this process has used, from `/proc/self/stat`.
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line: 11 and 12 counted from the state.
    // SAFETY: sysconf reads a constant of the system; no memory is involved.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / hz
}

/// Resets VmHWM to the current RSS (Linux 4.0+); false where that is refused.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn load1() -> f64 {
    loadavg()
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// How this was run: the cargo command with this run's arguments, and the raw argv.
fn command_line() -> Value {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cargo = if args.is_empty() {
        "cargo run --release -p tiergate-bench --bin archiver".to_owned()
    } else {
        format!(
            "cargo run --release -p tiergate-bench --bin archiver -- {}",
            args.join(" ")
        )
    };
    json!({ "cargo": cargo, "argv": std::env::args().collect::<Vec<_>>() })
}
