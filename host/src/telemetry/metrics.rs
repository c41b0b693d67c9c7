//! Prometheus metrics: what the host counts, and the recorder that renders it.
//!
//! The edge component tells which tiers a request asked, what each said and how long each
//! took in its `server-timing` header (`tiergate_core::server_timing`), and where the answer
//! came from in `x-tiergate-source`; the host counts from those, so the component needs no
//! second channel and runs unchanged under Spin. The cache store and the archiver's run
//! reports are counted where they happen. Until [`install`] is called (library use, tests
//! in-process), every recording is a no-op.

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use tiergate_core::RunReport;
use tiergate_core::server_timing::ServerTiming;
use tiergate_hotstore::Status;

const REQUESTS: &str = "tiergate_requests_total";
const REQUEST_SECONDS: &str = "tiergate_request_duration_seconds";
const RESPONSE_BYTES: &str = "tiergate_response_body_bytes_total";
const TIER_REQUESTS: &str = "tiergate_tier_requests_total";
const TIER_SECONDS: &str = "tiergate_tier_duration_seconds";
const CACHE_LOOKUPS: &str = "tiergate_cache_lookups_total";
const CACHE_WRITES: &str = "tiergate_cache_writes_total";
const CACHE_WRITTEN_BYTES: &str = "tiergate_cache_written_bytes_total";
const CACHE_EVICTIONS: &str = "tiergate_cache_evictions_total";
const CACHE_BYTES: &str = "tiergate_cache_bytes";
const CACHE_ERRORS: &str = "tiergate_cache_errors_total";
const RUNS: &str = "tiergate_archiver_runs_total";
const RUN_SECONDS: &str = "tiergate_archiver_run_duration_seconds";
const RUN_RECORDS: &str = "tiergate_archiver_records_total";
const RUN_BYTES: &str = "tiergate_archiver_bytes_total";
const LAST_SUCCESS: &str = "tiergate_archiver_last_success_timestamp_seconds";
const WAITING_RETRY: &str = "tiergate_archiver_records_waiting_retry";
const LEDGER_RECORDS: &str = "tiergate_ledger_records";
const LEDGER_BYTES: &str = "tiergate_ledger_bytes";
const LEDGER_STORED_BYTES: &str = "tiergate_ledger_stored_bytes";
const HOT_RECORDS: &str = "tiergate_hot_records";
const HOT_BYTES: &str = "tiergate_hot_bytes";

/// Latency buckets, in seconds: a cache hit takes well under a millisecond, a blob read a
/// few, an origin that times out seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

/// Installs the process-wide recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .expect("the bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "Requests answered, by route kind (read, write, pass), source tier and status class."
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time to response headers, by route kind and source tier."
    );
    describe_counter!(
        RESPONSE_BYTES,
        Unit::Bytes,
        "Response body bytes announced in content-length, by source tier."
    );
    describe_counter!(
        TIER_REQUESTS,
        "Tier lookups on the read path, by tier (cache, blob, origin) and outcome (hit, miss, error, timeout, unreachable)."
    );
    describe_histogram!(
        TIER_SECONDS,
        Unit::Seconds,
        "Time each tier took on the read path, by tier and outcome."
    );
    describe_counter!(CACHE_LOOKUPS, "Edge cache lookups, by result (hit, miss).");
    describe_counter!(
        CACHE_ERRORS,
        "Calls to a shared cache (Redis) that failed or timed out, by operation; each one skipped the cache."
    );
    describe_counter!(CACHE_WRITES, "Entries written to the edge cache.");
    describe_counter!(
        CACHE_WRITTEN_BYTES,
        Unit::Bytes,
        "Bytes written to the edge cache."
    );
    describe_counter!(
        CACHE_EVICTIONS,
        "Entries evicted from the edge cache to stay within its budget."
    );
    describe_gauge!(
        CACHE_BYTES,
        Unit::Bytes,
        "Bytes (keys and values) in the edge cache."
    );
    describe_counter!(
        RUNS,
        "Archiver runs, by outcome (ok, failed: some records failed, aborted: stopped early, broken: trapped)."
    );
    describe_histogram!(RUN_SECONDS, Unit::Seconds, "How long archiver runs took.");
    describe_counter!(
        RUN_RECORDS,
        "Records the archiver handled, by action (archived, deleted, restored, expired, failed)."
    );
    describe_counter!(
        RUN_BYTES,
        Unit::Bytes,
        "Bytes the archiver copied, by side (read: original records, stored: in blob storage)."
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time at which the last archiver run with no failure finished."
    );
    describe_gauge!(
        WAITING_RETRY,
        "Records whose copy failed and that no run takes before their retry time, after the last run."
    );
    describe_gauge!(
        LEDGER_RECORDS,
        "Records in tiergate's ledger, by state (copying, archived, deleted)."
    );
    describe_gauge!(
        LEDGER_BYTES,
        Unit::Bytes,
        "Original bytes of the ledger's records, by state."
    );
    describe_gauge!(
        LEDGER_STORED_BYTES,
        Unit::Bytes,
        "Bytes stored in blob storage for the ledger's records, by state."
    );
    describe_gauge!(HOT_RECORDS, "Rows in the hot database's records table.");
    describe_gauge!(
        HOT_BYTES,
        Unit::Bytes,
        "Body bytes of the rows in the hot database's records table."
    );
}

/// The route kinds, as labels.
pub mod route {
    /// A record `GET` or `HEAD`.
    pub const READ: &str = "read";
    /// A record write.
    pub const WRITE: &str = "write";
    /// Anything else, passed to the origin.
    pub const PASS: &str = "pass";
}

/// Counts one answered request of route kind `route` from its response headers.
pub fn response(route: &'static str, status: u16, headers: &http::HeaderMap, elapsed: Duration) {
    let source = match headers.get("x-tiergate-source").map(|v| v.as_bytes()) {
        Some(b"cache") => "cache",
        Some(b"blob") => "blob",
        Some(b"origin") => "origin",
        // The edge answered itself: the tiers it needed were down.
        _ if route == route::READ => "edge",
        _ => "origin",
    };
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    counter!(REQUESTS, "route" => route, "source" => source, "status" => class).increment(1);
    histogram!(REQUEST_SECONDS, "route" => route, "source" => source).record(elapsed);
    if let Some(length) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        counter!(RESPONSE_BYTES, "source" => source).increment(length);
    }
    let timings = headers
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .into_iter()
        .flat_map(ServerTiming::parse);
    for t in timings {
        let (tier, outcome) = (t.tier.as_str(), t.outcome.as_str());
        counter!(TIER_REQUESTS, "tier" => tier, "outcome" => outcome).increment(1);
        histogram!(TIER_SECONDS, "tier" => tier, "outcome" => outcome).record(t.spent);
    }
}

/// Counts a cache lookup.
pub fn cache_lookup(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    counter!(CACHE_LOOKUPS, "result" => result).increment(1);
}

/// Counts a cache write of `bytes` that evicted `evicted` entries.
pub fn cache_write(bytes: u64, evicted: u64) {
    counter!(CACHE_WRITES).increment(1);
    counter!(CACHE_WRITTEN_BYTES).increment(bytes);
    counter!(CACHE_EVICTIONS).increment(evicted);
}

/// Counts a shared cache call that failed, by operation (`get`, `set`, `delete`, ...).
pub fn cache_error(op: &'static str) {
    counter!(CACHE_ERRORS, "op" => op).increment(1);
}

/// Sets the cache's size.
pub fn cache_used(bytes: u64) {
    gauge!(CACHE_BYTES).set(bytes as f64);
}

/// Counts a finished archiver run (`None`: it broke off).
pub fn archiver_run(report: Option<&RunReport>, took: Duration) {
    histogram!(RUN_SECONDS).record(took);
    let Some(report) = report else {
        counter!(RUNS, "outcome" => "broken").increment(1);
        return;
    };
    // A run that left records waiting for a retry has not succeeded, even if it claimed
    // nothing: the last-success time must not move past an outage.
    let outcome = match (&report.aborted, report.failed, report.waiting.records) {
        (Some(_), _, _) => "aborted",
        (None, 0, 0) => "ok",
        (None, _, _) => "failed",
    };
    counter!(RUNS, "outcome" => outcome).increment(1);
    for (action, n) in [
        ("archived", report.archived),
        ("deleted", report.deleted),
        ("restored", report.restored),
        ("expired", report.expired),
        ("failed", report.failed),
    ] {
        counter!(RUN_RECORDS, "action" => action).increment(n.into());
    }
    gauge!(WAITING_RETRY).set(report.waiting.records as f64);
    counter!(RUN_BYTES, "side" => "read").increment(report.bytes_in);
    counter!(RUN_BYTES, "side" => "stored").increment(report.bytes_out);
    if outcome == "ok" {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        gauge!(LAST_SUCCESS).set(now.as_secs_f64());
    }
}

/// Sets the ledger and hot-table gauges from a status read.
pub fn ledger(status: &Status) {
    gauge!(HOT_RECORDS).set(status.hot_records as f64);
    gauge!(HOT_BYTES).set(status.hot_bytes as f64);
    for s in &status.states {
        let state = s.state.as_str();
        gauge!(LEDGER_RECORDS, "state" => state).set(s.records as f64);
        gauge!(LEDGER_BYTES, "state" => state).set(s.bytes as f64);
        gauge!(LEDGER_STORED_BYTES, "state" => state).set(s.stored_bytes as f64);
    }
}
