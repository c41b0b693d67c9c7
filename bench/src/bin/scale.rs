//! `scale`: the archiver's first backfill of a large PostgreSQL table with small records:
//! whether it keeps its pace from the first tenth of the cold records to the last, and what
//! one claim costs before the backfill and after it (issue 23, "Proof and measurement").
//!
//! For each index setting (`--index`: none, one on the changed column, or both, one after
//! the other) it builds a fresh world on loopback, in this process: a table of its own in
//! the machine's PostgreSQL (`HotDb::postgres`: `TIERGATE_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), the API over it (`HotOrigin`), s3s-fs blob
//! storage (`BlobStore`) and tiergate (`Gate`) with archiving on. Then it:
//!
//! - fills the table with `--rows` records of about 1.4 KB (JSON-like text built from
//!   `md5()`) in one `INSERT ... SELECT ... FROM generate_series`: a `--cold-share` of them,
//!   scattered through the table, last changed between one day and about two years before
//!   the archive window (30 days), the others within the last 23 days; creates the index
//!   on the changed column if asked, and runs `VACUUM ANALYZE` (each timed), before the
//!   archiver opens its hot store (which looks for that index then);
//! - times one claim of a batch through the hot store, as a run's first (a fresh
//!   `ColdCursor`), and gives the claimed records back for the run to take;
//! - runs the archiver once, to completion, with a grace period (`--grace-seconds`, 7 days)
//!   longer than the run, so that no hot row is deleted and every copy made stays in its
//!   grace period; from the run's progress it notes when each tenth of the cold records
//!   was archived, and prints records/s per tenth (the first counted from the first record
//!   archived, so that the run's start-up is not taken for a slow first tenth);
//! - makes a batch of recent records just cold (the newest cold records, of the highest
//!   ids: the last in the walk, by changed time or by id) and times one claim again with a
//!   fresh cursor: a run's first claim from the beginning, with every copy of the backfill
//!   in its grace period; then makes as many more just cold and times a claim that goes on
//!   from where that one stopped, as an archiver's next run does (with the index);
//! - with `--delete-pass` (and `--grace-seconds 0`, so that every copy's grace period is
//!   over when the backfill ends): runs the archiver again, whose delete step reads back
//!   each copy, checks it and deletes its hot row, and measures that run and the ledger
//!   after it (`VACUUM`ed first, as autovacuum would have it), table and indexes apart.
//!
//! The bar (issue 23): at 2M rows with 90% cold, with and without the index, the last
//! tenth's records/s within 1.5x of the first tenth's, and the whole backfill under one
//! hour.
//!
//! Peak RSS is this process's VmHWM, reset before the run; CPU seconds are this process's
//! (host, archiver instances, s3s-fs, the API) during the run, PostgreSQL's not included.
//! s3s-fs keeps three files per object (the object, its metadata, its checksums), two of
//! them in one directory: the 1.8M copies of a 2M-row backfill at 90% cold are 5.4M files,
//! more than /dev/shm has inodes on a machine like this one, so they go in the temp
//! directory unless `--scratch-dir` says otherwise. That directory's growth is part of what
//! the tenths measure, and removing the files after a world takes minutes.
//!
//! The archiver runs with the production defaults `batch_size = 64`, `concurrency = 8` and
//! one instance per core (`--batch-size`, `--concurrency`, `--instances`). It prints two
//! markdown tables and writes JSON (machine, rustc, git revision, command, load, numbers)
//! to `bench/results/<YYYY-MM-DD>-scale.json` (`-scale-quick.json` with `--quick`). Run it
//! in release, with PostgreSQL running:
//!
//! ```sh
//! cargo run --release -p tiergate-bench --bin scale -- [--rows N] [--cold-share 0.9] \
//!     [--index none|changed|both] [--quick]
//! ```

// The peak memory and CPU time of a process, as the read-path benchmark reads them.
#[path = "../proc_stats.rs"]
mod proc_stats;
// The machine, its load and the revision, as the other benchmarks record them.
#[path = "../run_facts.rs"]
mod run_facts;

use anyhow::{Context as _, bail, ensure};
use clap::{Parser, ValueEnum};
use proc_stats::Process;
use run_facts::{git_revision, loadavg, machine};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tiergate::{RunOptions, RunProgress, RunReport};
use tiergate_hotstore::{Claim, ColdCursor, HotStore, Lease};
use tiergate_tests::{BlobStore, Gate, GateConfig, HotDb, HotOrigin, ScratchDir};
use tokio::sync::watch;

/// HotDb's changed column, which the archiver walks (its default `changed_column`).
const CHANGED_COLUMN: &str = "updated_at";
/// A record is cold when `g * COLD_STRIDE % 1000` is under the cold share in thousandths:
/// 389 is prime to 1000, so every 1,000 consecutive rows hold exactly that many cold ones,
/// scattered among the recent ones rather than in one block of the table.
const COLD_STRIDE: u64 = 389;
/// 32-character MD5s per body: with the JSON around them, bodies of about 1.4 KB, small
/// enough for PostgreSQL to keep in the row (no TOAST), as the issue's measurements had.
const BODY_MD5S: u32 = 40;
/// Who the benchmark's own claims are leased to.
const BENCH_OWNER: &str = "scale-bench";
/// How often the run's progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
const KIB_PER_MIB: f64 = 1024.0;

/// The first backfill of a large PostgreSQL table: records/s per tenth, one claim's time.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Rows in the table [default: 100000, or 20000 with --quick].
    #[arg(long)]
    rows: Option<u64>,
    /// A smoke run: 20,000 rows (unless --rows is given).
    #[arg(long)]
    quick: bool,
    /// The share of the rows older than the archive window, above 0 to 1 (to a thousandth).
    #[arg(long, default_value_t = 0.9)]
    cold_share: f64,
    /// Without an index on the changed column, with one, or both (two worlds, without
    /// first).
    #[arg(long, value_enum, default_value_t = IndexChoice::Both)]
    index: IndexChoice,
    /// Records the archiver claims at a time (`[archive] batch_size`).
    #[arg(long, default_value_t = 64)]
    batch_size: u32,
    /// Records it copies at once (`[archive] concurrency`).
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
    /// Archiver instances in the run [default: one per core, as `tiergate` runs them].
    #[arg(long)]
    instances: Option<usize>,
    /// `[archive] grace_seconds`: longer than the run, so that no hot row is deleted in it.
    #[arg(long, default_value_t = 7 * 86_400)]
    grace_seconds: u64,
    /// After the backfill, run the archiver again to delete the hot rows of the copies
    /// whose grace period is over (all of them with --grace-seconds 0), and measure the
    /// ledger after it.
    #[arg(long)]
    delete_pass: bool,
    /// Where s3s-fs keeps its files [default: the temp directory].
    #[arg(long)]
    scratch_dir: Option<PathBuf>,
    /// Where to write the JSON [default: bench/results/<YYYY-MM-DD>-scale.json].
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Which tables to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IndexChoice {
    /// No index but the primary key.
    None,
    /// `CREATE INDEX ON <table> (<changed column>)`.
    Changed,
    /// One world without the index, then one with it.
    Both,
}

impl IndexChoice {
    /// Whether each world, in order, has the index.
    fn worlds(self) -> Vec<bool> {
        match self {
            IndexChoice::None => vec![false],
            IndexChoice::Changed => vec![true],
            IndexChoice::Both => vec![false, true],
        }
    }
}

impl Args {
    fn rows(&self) -> u64 {
        self.rows
            .unwrap_or(if self.quick { 20_000 } else { 100_000 })
    }

    /// The cold share in thousandths, as the fill uses it.
    fn cold_per_mille(&self) -> u64 {
        (self.cold_share * 1000.0).round() as u64
    }

    /// The rows the fill makes cold: as many as its SQL's `CASE` picks.
    fn cold_rows(&self) -> u64 {
        let per_mille = self.cold_per_mille();
        (1..=self.rows())
            .filter(|g| g * COLD_STRIDE % 1000 < per_mille)
            .count() as u64
    }

    fn out(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            run_facts::results_path(if self.quick { "scale-quick" } else { "scale" })
        })
    }
}

/// A hot database, the API over it, blob storage and tiergate, whose archiver opens once
/// the table is built. Dropping it drops the table and removes the blob store's files.
struct World {
    db: HotDb,
    _origin: HotOrigin,
    _blob: BlobStore,
    gate: Gate,
    /// Records last changed this long ago are cold (`[archive] after_days`).
    window: Duration,
}

impl World {
    async fn start(args: &Args) -> anyhow::Result<Self> {
        let Some(db) = HotDb::postgres().await? else {
            bail!("the scale benchmark needs PostgreSQL (see TIERGATE_TEST_POSTGRES_URL)");
        };
        let origin = HotOrigin::start(db.clone()).await?;
        let blob = BlobStore::start().await?;
        let config = GateConfig::new(origin.url())
            .blob_endpoint(blob.endpoint())
            // Leases as in production: a claim that waited on the others' is not lost.
            .archive(&db.hot_toml(), "lease_seconds = 300")
            .archive_batch(u64::from(args.batch_size), args.concurrency)
            .grace_seconds(args.grace_seconds);
        let gate = Gate::start(&config).await?;
        let window = gate
            .config()
            .archive
            .as_ref()
            .context("the config has no [archive] section")?
            .settings
            .hot_window;
        Ok(Self {
            db,
            _origin: origin,
            _blob: blob,
            gate,
            window,
        })
    }

    /// The archiver, opened after the table is built: its hot store looks for an index on
    /// the changed column when it opens, and walks by it only if there is one.
    async fn archiver(&self, instances: Option<usize>) -> anyhow::Result<tiergate::Archiver> {
        let archiver = self.gate.archiver().await?;
        Ok(match instances {
            Some(count) => archiver.with_instances(count),
            None => archiver,
        })
    }

    /// The cutoff of a run starting now: records changed before it are cold.
    fn cutoff_ms(&self) -> i64 {
        now_ms() - self.window.as_millis() as i64
    }

    /// Fills the table in one statement: `rows` records, those the cold share picks
    /// changed from a day to about two years before the cutoff, the others within the
    /// last 23 days (well inside the window, however long the run). Both spreads follow
    /// `g * 7919 % 1000003`, so a record's changed time is not its place in the table.
    async fn fill(&self, rows: u64, cold_per_mille: u64) -> anyhow::Result<()> {
        let table = self.db.table();
        let cold_before_s = seconds(self.cutoff_ms()) - 86_400.0;
        let now_s = seconds(now_ms());
        self.db
            .execute_batch(&format!(
                "INSERT INTO {table} (id, body, content_type, version, {CHANGED_COLUMN}) \
                 SELECT 'INV-' || lpad(g::text, 8, '0'), \
                   convert_to(format('{{\"id\":\"INV-%s\",\"customer\":\"CUST-%s\",\
                     \"amount_cents\":%s,\"lines\":\"%s\"}}', lpad(g::text, 8, '0'), g % 9973, \
                     g * 7919 % 1000003, repeat(md5(g::text), {BODY_MD5S})), 'UTF8'), \
                   'application/json', 1, \
                   CASE WHEN g * {COLD_STRIDE} % 1000 < {cold_per_mille} \
                     THEN to_timestamp({cold_before_s:.3}) \
                       - g * 7919 % 1000003 * interval '1 minute' \
                     ELSE to_timestamp({now_s:.3}) - g * 7919 % 1000003 * interval '2 seconds' \
                   END \
                 FROM generate_series(1::bigint, {rows}) AS g"
            ))
            .await
    }

    /// Makes `count` recent records just cold: the newest cold records, and those of the
    /// highest ids, so that a run's walk reaches them last whether it goes by changed time
    /// (with the index) or by id (without). Returns the cutoff they are cold against.
    async fn make_just_cold(&self, count: u32) -> anyhow::Result<i64> {
        let table = self.db.table();
        let cutoff_ms = self.cutoff_ms();
        let (cutoff_s, just_cold_s) = (seconds(cutoff_ms), seconds(cutoff_ms) - 3_600.0);
        self.db
            .execute_batch(&format!(
                "UPDATE {table} SET {CHANGED_COLUMN} = to_timestamp({just_cold_s:.3}) \
                 WHERE id IN (SELECT id FROM {table} \
                   WHERE {CHANGED_COLUMN} > to_timestamp({cutoff_s:.3}) \
                   ORDER BY id DESC LIMIT {count})"
            ))
            .await?;
        Ok(cutoff_ms)
    }
}

/// One claim, timed.
#[derive(Debug, Clone, Copy)]
struct ClaimTime {
    ms: f64,
    claimed: usize,
}

/// When each tenth of the cold records was archived, from the run's progress.
#[derive(Debug, Clone)]
struct Tenths {
    expected: u64,
    /// The first progress: records archived and seconds from the run's start. The first
    /// tenth counts from here, so that the run's start (instances, the delete and stale
    /// passes) does not pass for a slow first tenth.
    first: Option<(u64, f64)>,
    /// Seconds from the run's start to the first progress at or past each tenth.
    reached_s: Vec<f64>,
}

impl Tenths {
    fn new(expected: u64) -> Self {
        Self {
            expected,
            first: None,
            reached_s: Vec::with_capacity(10),
        }
    }

    /// Records archived by the end of tenth `k` (1 to 10).
    fn boundary(&self, k: usize) -> u64 {
        self.expected * k as u64 / 10
    }

    /// Progress: `archived` records at `at` into the run.
    fn saw(&mut self, archived: u64, at: Duration) {
        let at = at.as_secs_f64();
        if archived > 0 && self.first.is_none() {
            self.first = Some((archived, at));
        }
        while self.reached_s.len() < 10 && archived >= self.boundary(self.reached_s.len() + 1) {
            self.reached_s.push(at);
        }
    }

    /// Seconds from the run's start to its first archived record.
    fn startup_s(&self) -> f64 {
        self.first.map_or(0.0, |(_, at)| at)
    }

    /// Records/s within each tenth reached.
    fn rates(&self) -> Vec<f64> {
        let (mut done, mut since) = self.first.unwrap_or_default();
        (1..=self.reached_s.len())
            .map(|k| {
                let (boundary, at) = (self.boundary(k), self.reached_s[k - 1]);
                let rate = (boundary - done) as f64 / (at - since);
                (done, since) = (boundary, at);
                rate
            })
            .collect()
    }
}

/// The archiver run that backfilled a world.
#[derive(Debug, Clone)]
struct Backfill {
    report: RunReport,
    tenths: Tenths,
    /// From the run's start to its end, closing bookkeeping included.
    wall_s: f64,
    /// This process's CPU seconds in the run.
    cpu_s: f64,
    /// This process's peak RSS in the run.
    peak_rss_mib: f64,
}

/// One world's numbers.
#[derive(Debug, Clone)]
struct Measured {
    index: bool,
    rows: u64,
    cold: u64,
    fill_s: f64,
    index_s: Option<f64>,
    vacuum_s: f64,
    first_claim: ClaimTime,
    last_claim: ClaimTime,
    /// A claim going on from where the last one stopped, as an archiver's next run does.
    resumed_claim: ClaimTime,
    backfill: Backfill,
    /// The ledger's size on disk after the backfill (table, indexes, TOAST), per record
    /// it holds: every record copied and in its grace period.
    ledger_bytes_per_record: f64,
    /// With `--delete-pass`: the run that deleted the hot rows, and the ledger after it.
    delete_pass: Option<DeletePass>,
}

/// The run after the backfill that deleted the copied records' hot rows.
#[derive(Debug, Clone)]
struct DeletePass {
    deleted: u64,
    wall_s: f64,
    /// The ledger's bytes per deleted record after `VACUUM`: in all, then its table (with
    /// TOAST) and its indexes.
    ledger_bytes_per_record: f64,
    parts: Vec<(String, f64)>,
}

impl DeletePass {
    fn to_json(&self) -> Value {
        json!({
            "deleted": self.deleted,
            "seconds": self.wall_s,
            "records_per_second": self.deleted as f64 / self.wall_s,
            "ledger_bytes_per_record": self.ledger_bytes_per_record,
            "ledger_parts_bytes_per_record": self.parts.iter()
                .map(|(name, bytes)| json!({ "relation": name, "bytes_per_record": bytes }))
                .collect::<Vec<_>>(),
        })
    }
}

impl Measured {
    fn index_label(&self) -> &'static str {
        if self.index { "changed" } else { "none" }
    }

    fn records_per_s(&self) -> f64 {
        f64::from(self.backfill.report.archived) / self.backfill.wall_s
    }

    /// The first and last tenths' records/s, and last over first.
    fn first_last(&self) -> (f64, f64, f64) {
        let rates = self.backfill.tenths.rates();
        let (first, last) = (rates[0], rates[rates.len() - 1]);
        (first, last, last / first)
    }

    fn to_json(&self) -> Value {
        let (first, last, ratio) = self.first_last();
        let claim = |c: ClaimTime| json!({ "ms": c.ms, "claimed": c.claimed });
        let Backfill {
            report,
            tenths,
            wall_s,
            cpu_s,
            peak_rss_mib,
        } = &self.backfill;
        json!({
            "rows": self.rows,
            "cold_records": self.cold,
            "index": self.index_label(),
            "fill_seconds": self.fill_s,
            "index_seconds": self.index_s,
            "vacuum_analyze_seconds": self.vacuum_s,
            "claim_at_start": claim(self.first_claim),
            "claim_at_end": claim(self.last_claim),
            "claim_at_end_resumed": claim(self.resumed_claim),
            "backfill_seconds": wall_s,
            "seconds_to_first_archived": tenths.startup_s(),
            "records_per_second": self.records_per_s(),
            "tenths": tenths.reached_s.iter().zip(tenths.rates()).enumerate()
                .map(|(k, (at, rate))| json!({
                    "tenth": k + 1,
                    "archived": tenths.boundary(k + 1),
                    "reached_seconds": at,
                    "records_per_second": rate,
                }))
                .collect::<Vec<_>>(),
            "first_tenth_records_per_second": first,
            "last_tenth_records_per_second": last,
            "last_over_first": ratio,
            "cpu_seconds": cpu_s,
            "peak_rss_mib": peak_rss_mib,
            "ledger_bytes_per_record": self.ledger_bytes_per_record,
            "delete_pass": self.delete_pass.as_ref().map(DeletePass::to_json),
            "report": {
                "claimed": report.claimed,
                "archived": report.archived,
                "deleted": report.deleted,
                "failed": report.failed,
                "bytes_in": report.bytes_in,
                "bytes_out": report.bytes_out,
            },
        })
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.cold_share > 0.0 && args.cold_share <= 1.0,
        "--cold-share must be above 0 and at most 1"
    );
    let (rows, cold) = (args.rows(), args.cold_rows());
    ensure!(
        cold >= 100,
        "{rows} rows make {cold} cold ones: too few for tenths"
    );
    if let Some(dir) = &args.scratch_dir {
        ScratchDir::put_under(dir.clone())?;
    }
    let index_name = format!("{:?}", args.index).to_lowercase();
    let load_start = loadavg();
    println!(
        "scale benchmark: {rows} rows, {cold} cold ({:.1}%), index {index_name}, batch_size {}, \
         concurrency {}, instances {}, grace {} s",
        cold as f64 * 100.0 / rows as f64,
        args.batch_size,
        args.concurrency,
        args.instances
            .map_or_else(|| "one per core".to_owned(), |n| n.to_string()),
        args.grace_seconds,
    );
    println!("load at start: {load_start}");

    // Two workers, as on the machine: the servers, the host and the wasm guests share them.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut measured = Vec::new();
    for index in args.index.worlds() {
        measured.push(runtime.block_on(one_world(&args, index))?);
    }
    drop(runtime);
    let load_end = loadavg();

    println!();
    println!(
        "| rows | cold | index | fill s | backfill s | records/s | first tenth rec/s | \
         last tenth rec/s | last/first | claim ms at start | claim ms at end | resumed claim \
         ms at end | peak RSS MiB | ledger B/record |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in &measured {
        let (first, last, ratio) = m.first_last();
        println!(
            "| {} | {:.0}% | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} \
             | {:.1} | {:.0} | {:.0} |",
            m.rows,
            m.cold as f64 * 100.0 / m.rows as f64,
            m.index_label(),
            m.fill_s,
            m.backfill.wall_s,
            m.records_per_s(),
            first,
            last,
            ratio,
            m.first_claim.ms,
            m.last_claim.ms,
            m.resumed_claim.ms,
            m.backfill.peak_rss_mib,
            m.ledger_bytes_per_record,
        );
    }
    println!();
    println!("| index | records/s per tenth of the backfill, first to last |");
    println!("|---|---|");
    for m in &measured {
        let rates: Vec<String> = m
            .backfill
            .tenths
            .rates()
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect();
        println!("| {} | {} |", m.index_label(), rates.join(" · "));
    }
    println!();
    println!(
        "fill s: the INSERT alone (index and VACUUM ANALYZE below). backfill s and \
         records/s: the whole run; tenths count from its first archived record. A claim is \
         one batch of {} as a run's first (a fresh cursor): at start before the run, at end \
         with every copy of the backfill in its grace period and {} records just cold; the \
         resumed one goes on from there, as an archiver's next run does, to as many more. Bar \
         (issue 23, 2M rows, 90% cold): last/first at least 0.67, backfill under 3600 s. \
         Peak RSS is VmHWM of this process, reset before the run.",
        args.batch_size, args.batch_size,
    );
    for m in &measured {
        println!(
            "index {}: index {} s, VACUUM ANALYZE {:.1} s, first record archived {:.1} s into \
             the run, claims at start/end took {}/{} records, {:.0} CPU s in this process",
            m.index_label(),
            m.index_s
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
            m.vacuum_s,
            m.backfill.tenths.startup_s(),
            m.first_claim.claimed,
            m.last_claim.claimed,
            m.backfill.cpu_s,
        );
    }
    for m in &measured {
        let Some(pass) = &m.delete_pass else {
            continue;
        };
        let parts: Vec<String> = pass
            .parts
            .iter()
            .map(|(name, bytes)| format!("{name} {bytes:.0}"))
            .collect();
        println!(
            "index {}: delete pass: {} hot rows deleted in {:.1} s ({:.0}/s); ledger after it, \
             VACUUMed: {:.0} B/record ({})",
            m.index_label(),
            pass.deleted,
            pass.wall_s,
            pass.deleted as f64 / pass.wall_s,
            pass.ledger_bytes_per_record,
            parts.join(", "),
        );
    }
    println!("load at start: {load_start}; at end: {load_end}");

    let report = json!({
        "benchmark": "scale",
        "date": jiff::Zoned::now().strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
        "rustc": run_facts::first_line("rustc", &["-V"]),
        "git_rev": git_revision(),
        "settings": {
            "rows": rows,
            "cold_records": cold,
            "cold_share": args.cold_share,
            "index": index_name,
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
            "instances": args.instances.map_or_else(|| json!("one per core"), |n| json!(n)),
            "grace_seconds": args.grace_seconds,
            "delete_pass": args.delete_pass,
            "body_bytes": "about 1400",
            "runtime_worker_threads": 2,
            "hot_db": "postgresql",
            "blob_store": "s3s-fs 0.14.1 on loopback",
            "scratch_dir": args.scratch_dir.clone().unwrap_or_else(std::env::temp_dir),
        },
        "load": { "start": load_start, "end": load_end },
        "worlds": measured.iter().map(Measured::to_json).collect::<Vec<_>>(),
    });
    run_facts::write_report(&args.out(), &report)
}

/// A fresh world with or without the index: fill, first claim, backfill, last claim.
async fn one_world(args: &Args, index: bool) -> anyhow::Result<Measured> {
    let label = if index {
        "index on the changed column"
    } else {
        "no index"
    };
    let (rows, cold) = (args.rows(), args.cold_rows());
    eprintln!("{label}: starting the world");
    let world = World::start(args).await?;
    let table = world.db.table();

    let started = Instant::now();
    world.fill(rows, args.cold_per_mille()).await?;
    let fill_s = started.elapsed().as_secs_f64();
    eprintln!("{label}: filled {rows} rows in {fill_s:.1} s");
    let index_s = if index {
        let started = Instant::now();
        world
            .db
            .execute_batch(&format!("CREATE INDEX ON {table} ({CHANGED_COLUMN})"))
            .await?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };
    let started = Instant::now();
    // Alone in its batch: VACUUM cannot run inside the transaction a batch is.
    world
        .db
        .execute_batch(&format!("VACUUM ANALYZE {table}"))
        .await?;
    let vacuum_s = started.elapsed().as_secs_f64();

    let archiver = world.archiver(args.instances).await?;
    let store = archiver.store();
    let lease = bench_lease();
    let (first_claim, claims) = timed_claim(
        store,
        &lease,
        world.cutoff_ms(),
        args.batch_size,
        &mut ColdCursor::default(),
    )
    .await?;
    for claim in &claims {
        // Due again at once (retry time: now), for the run to take.
        let released = store
            .release(
                &lease,
                &claim.id,
                "given back by the scale benchmark",
                lease.now_ms,
            )
            .await?;
        ensure!(released, "giving back {} after the first claim", claim.id);
    }
    eprintln!(
        "{label}: first claim of {} took {:.1} ms",
        first_claim.claimed, first_claim.ms
    );

    let backfill = backfill(&archiver, cold, label).await?;
    let report = &backfill.report;
    if (u64::from(report.archived), report.failed, report.deleted) != (cold, 0, 0)
        || report.aborted.is_some()
    {
        bail!(
            "{label}: the run was to archive all {cold} cold records, failing and deleting \
             none (is --grace-seconds longer than the run?): {report:?}"
        );
    }

    let ledger_bytes = world
        .db
        .number(&format!(
            "SELECT pg_total_relation_size('{}_ledger')",
            world.db.table()
        ))
        .await?;
    let ledger_bytes_per_record = ledger_bytes as f64 / cold as f64;

    let cutoff_ms = world.make_just_cold(args.batch_size).await?;
    // Nothing to give back: the world goes next.
    let mut walk = ColdCursor::default();
    let (last_claim, _) =
        timed_claim(store, &bench_lease(), cutoff_ms, args.batch_size, &mut walk).await?;
    eprintln!(
        "{label}: claim after the backfill, of {} just cold, took {:.1} ms",
        last_claim.claimed, last_claim.ms
    );
    // An archiver's next run goes on from where its walk got to (with the index): past
    // the batch just claimed, with every copy of the backfill behind it.
    let cutoff_ms = world.make_just_cold(args.batch_size).await?;
    let (resumed_claim, _) =
        timed_claim(store, &bench_lease(), cutoff_ms, args.batch_size, &mut walk).await?;
    eprintln!(
        "{label}: claim going on from there, of {} more just cold, took {:.1} ms",
        resumed_claim.claimed, resumed_claim.ms
    );

    let delete_pass = if args.delete_pass {
        Some(delete_pass(&world, &archiver, cold, label).await?)
    } else {
        None
    };

    // Said and timed because it is long: s3s-fs's files go one by one (minutes for a
    // million copies on this machine's ext4).
    eprintln!("{label}: removing the table and the blob store's files");
    let started = Instant::now();
    drop(archiver);
    drop(world);
    eprintln!(
        "{label}: removed in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    Ok(Measured {
        index,
        rows,
        cold,
        fill_s,
        index_s,
        vacuum_s,
        first_claim,
        last_claim,
        resumed_claim,
        backfill,
        ledger_bytes_per_record,
        delete_pass,
    })
}

/// The archiver's next run after the backfill, which deletes the hot rows of the `cold`
/// copies (their grace period over), then the ledger's size per record after `VACUUM`.
async fn delete_pass(
    world: &World,
    archiver: &tiergate::Archiver,
    cold: u64,
    label: &str,
) -> anyhow::Result<DeletePass> {
    eprintln!("{label}: delete pass");
    let started = Instant::now();
    let report = archiver.run(RunOptions::default()).await?;
    let wall_s = started.elapsed().as_secs_f64();
    if u64::from(report.deleted) != cold || report.failed > 0 || report.aborted.is_some() {
        bail!(
            "{label}: the delete pass was to delete all {cold} copied records' hot rows \
             (is --grace-seconds 0?): {report:?}"
        );
    }
    let ledger = format!("{}_ledger", world.db.table());
    world.db.execute_batch(&format!("VACUUM {ledger}")).await?;
    let total = world
        .db
        .number(&format!("SELECT pg_total_relation_size('{ledger}')"))
        .await?;
    let mut parts = Vec::new();
    for (part, size) in [("table", "pg_table_size"), ("indexes", "pg_indexes_size")] {
        let bytes = world
            .db
            .number(&format!("SELECT {size}('{ledger}')"))
            .await?;
        parts.push((part.to_owned(), bytes as f64 / cold as f64));
    }
    Ok(DeletePass {
        deleted: report.deleted.into(),
        wall_s,
        ledger_bytes_per_record: total as f64 / cold as f64,
        parts,
    })
}

/// One claim of up to `limit` records, its walk at `cursor` (a fresh one: a run's first
/// claim from the beginning).
async fn timed_claim(
    store: &HotStore,
    lease: &Lease,
    cutoff_ms: i64,
    limit: u32,
    cursor: &mut ColdCursor,
) -> anyhow::Result<(ClaimTime, Vec<Claim>)> {
    let started = Instant::now();
    let claims = store.claim_cold(lease, cutoff_ms, limit, cursor).await?;
    let time = ClaimTime {
        ms: started.elapsed().as_secs_f64() * 1e3,
        claimed: claims.len(),
    };
    Ok((time, claims))
}

/// A lease from now for the benchmark's own claims, as long as production's default.
fn bench_lease() -> Lease {
    Lease {
        owner: BENCH_OWNER.to_owned(),
        now_ms: now_ms(),
        duration_ms: 600_000,
    }
}

/// One archiver run to completion, timing each tenth of the `cold` records it archives.
async fn backfill(
    archiver: &tiergate::Archiver,
    cold: u64,
    label: &str,
) -> anyhow::Result<Backfill> {
    let this = Process {
        pid: std::process::id(),
        with_children: false,
        helper: None,
    };
    // Resets VmHWM to the current RSS (Linux 4.0+), so that the peak is this run's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu_before = this.cpu_seconds();
    let (progress, mut seen) = watch::channel(RunProgress::default());
    let mut tenths = Tenths::new(cold);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let started = Instant::now();
    let run = archiver.run(RunOptions {
        progress: Some(progress),
        ..Default::default()
    });
    let mut run = std::pin::pin!(run);
    let report = loop {
        tokio::select! {
            // Progress first: a tenth is timed when it is reached, not after the run's
            // closing bookkeeping.
            biased;
            Ok(()) = seen.changed() => {
                tenths.saw(seen.borrow_and_update().archived, started.elapsed());
            }
            report = &mut run => break report?,
            _ = tick.tick() => {
                let archived = seen.borrow().archived;
                let elapsed = started.elapsed().as_secs_f64();
                eprintln!(
                    "{label}: {elapsed:>5.0} s, archived {archived} of {cold} ({:.0}/s)",
                    archived as f64 / elapsed
                );
            }
        }
    };
    let wall = started.elapsed();
    // Whatever the loop had not seen when the run ended.
    tenths.saw(seen.borrow().archived, wall);
    eprintln!(
        "{label}: backfill of {} records took {:.1} s",
        report.archived,
        wall.as_secs_f64()
    );
    Ok(Backfill {
        report,
        tenths,
        wall_s: wall.as_secs_f64(),
        cpu_s: this.cpu_seconds() - cpu_before,
        peak_rss_mib: this.peak_memory_kib().unwrap_or(0) as f64 / KIB_PER_MIB,
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix milliseconds as the seconds `to_timestamp` takes.
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1e3
}
