//! The archiver component on wasmtime: compiled once, instantiated afresh for every run
//! (a run is minutes of work, an instance is milliseconds), with the hot store, native
//! SHA-256, the KV cache, the settings and outbound HTTP to blob storage only.
//!
//! A run starts one instance per core ([`Archiver::with_instances`] sets another count), each
//! a task of its own on tokio's worker threads: they share the run's lease owner, claim their
//! own batches from the hot store (which keeps claims apart, as it does for archivers on
//! several hosts), and their reports are added up into the run's. A run's delete pass takes
//! only copies made before the run began, so one instance never deletes the hot row of a
//! record another has just copied: as with one instance, a copy waits for a later run. On 2
//! cores, two instances against one: copy 55.5 against 50.7 MB/s, delete 173 against 88 MB/s
//! (`bench/results/2026-11-27-archiver-instances.md`).

use crate::bindings::archiver::ArchiverPre;
use crate::bindings::archiver::exports::tiergate::records::archival::RunReport;
use crate::bindings::archiver::tiergate::records::{digest, hot_store};
use crate::config::{ArchiveConfig, Config};
use crate::guest_log::GuestLog;
use crate::host_digest::Digest;
use crate::host_hot_store::{HotStoreAccess, HotStoreView};
use crate::host_kv::{Kv, KvView};
use crate::host_variables::{Variables, VariablesView};
use crate::kv::KvBackend;
use crate::outbound::{HttpClient, Outbound, authority_of};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tiergate_core::settings::names;
use tiergate_hotstore::{ColdCount, HotStore, Lease, RunRow};
use tokio::sync::watch;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The archiver component, built by `build.rs` and embedded in the binary.
pub const ARCHIVER_COMPONENT: &[u8] = include_bytes!(env!("TIERGATE_ARCHIVER_WASM"));

/// How long one storage request may take before it counts as failed.
const STORAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// A run's progress so far, as the host sees it through the hot store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunProgress {
    /// Records copied, verified and marked archived.
    pub archived: u64,
    /// Their bytes, and the bytes stored for them.
    pub bytes_in: u64,
    /// Stored bytes.
    pub bytes_out: u64,
    /// Hot rows deleted.
    pub deleted: u64,
    /// Records given back after a failure.
    pub failed: u64,
}

/// A crash injected into a run, for crash-safety tests: the run traps at its `call`-th
/// hot-store call (1-based), before the call is made or after it took effect, as a process
/// killed at that point would leave things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Which hot-store call.
    pub call: usize,
    /// After the call took effect (true) or before it was made (false).
    pub after: bool,
}

/// How to run.
#[derive(Default)]
pub struct RunOptions {
    /// Where to publish progress.
    pub progress: Option<watch::Sender<RunProgress>>,
    /// A crash to inject.
    pub fault: Option<Fault>,
}

/// What a dry run finds: what a run would do now, with nothing changed.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Records old enough to be copied.
    pub cold: ColdCount,
    /// The cutoff: records last changed before it are cold.
    pub cutoff: SystemTime,
}

/// One run's claims and counters, shared by the host functions of its instance.
pub struct Job {
    /// The hot database.
    pub store: Arc<HotStore>,
    /// Whose claims these are.
    pub owner: String,
    /// The delete pass takes only copies marked before this (unix ms): every earlier run's
    /// and none of this run's, so that one instance never deletes what another has just
    /// copied (a copy waits for a later run, as with one instance).
    pub copied_before_ms: i64,
    lease: Duration,
    /// Progress so far.
    pub progress: watch::Sender<RunProgress>,
    fault: Option<Fault>,
    calls: AtomicUsize,
    /// The records that failed in this run.
    failed: Mutex<HashMap<String, Failed>>,
}

/// A record that failed in this run: why, and how long it is to wait.
struct Failed {
    error: String,
    retry_after_ms: i64,
    /// Claimed again by this run (its wait was shorter than the run) and kept under its
    /// lease, to be handed back when the run ends.
    held: bool,
}

/// What a run's instances are given: the instance count and each one's settings.
struct Instances {
    /// The variables each instance reads, one map per instance.
    variables: Vec<Arc<HashMap<String, String>>>,
}

impl Instances {
    /// `count` instances over `variables`, with `archive_max_records` (if set) shared out
    /// so that together they copy no more than it; an instance whose share is none is not
    /// started.
    fn new(count: usize, variables: &Arc<HashMap<String, String>>) -> Self {
        let count = count.max(1);
        let max = variables
            .get(names::ARCHIVE_MAX_RECORDS)
            .and_then(|v| v.parse::<u64>().ok());
        let variables = match max {
            None => vec![Arc::clone(variables); count],
            Some(max) => (0..count as u64)
                .map(|i| max / count as u64 + u64::from(i < max % count as u64))
                .filter(|&share| share > 0)
                .map(|share| {
                    let mut own = HashMap::clone(variables);
                    own.insert(names::ARCHIVE_MAX_RECORDS.to_owned(), share.to_string());
                    Arc::new(own)
                })
                .collect(),
        };
        Self { variables }
    }
}

impl Job {
    /// A lease from now, for this run.
    pub fn lease(&self) -> Lease {
        Lease {
            owner: self.owner.clone(),
            now_ms: unix_ms(SystemTime::now()),
            duration_ms: self.lease.as_millis() as i64,
        }
    }

    /// Releases record `id`, which failed in this run, to wait `retry_after_ms`. It is noted
    /// as failed before the store frees it: with a short wait, another of the run's
    /// instances may claim it the moment it is free, and must find it noted.
    pub async fn release_failed(
        &self,
        id: String,
        error: String,
        retry_after_ms: i64,
    ) -> Result<bool, tiergate_hotstore::StoreError> {
        let failed = Failed {
            error: error.clone(),
            retry_after_ms,
            held: false,
        };
        self.failed.lock().unwrap().insert(id.clone(), failed);
        let released = self.release(&id, &error, retry_after_ms).await;
        if !matches!(released, Ok(true)) {
            // Not freed by this run (another holds it, or the store failed): nothing to hold.
            self.failed.lock().unwrap().remove(&id);
        }
        released
    }

    /// Claims cold records for one of the run's instances. A run tries each record once: one
    /// that failed in it comes back when its wait is shorter than the run (0 above all), and
    /// a lasting failure would then never let the run end. Such claims are held (their lease
    /// keeps them from the next claims, which go on to younger records) and not handed out.
    pub async fn claim_cold(
        &self,
        cutoff_ms: i64,
        limit: u32,
    ) -> Result<Vec<tiergate_hotstore::Claim>, tiergate_hotstore::StoreError> {
        loop {
            let claims = self
                .store
                .claim_cold(&self.lease(), cutoff_ms, limit)
                .await?;
            if claims.is_empty() {
                return Ok(claims);
            }
            let fresh: Vec<_> = {
                let mut failed = self.failed.lock().unwrap();
                claims
                    .into_iter()
                    .filter(|claim| match failed.get_mut(&claim.id) {
                        Some(again) => {
                            again.held = true;
                            false
                        }
                        None => true,
                    })
                    .collect()
            };
            if !fresh.is_empty() {
                return Ok(fresh);
            }
        }
    }

    /// Hands the held records back, each to wait as its failure said.
    async fn release_held(&self) -> Result<(), tiergate_hotstore::StoreError> {
        let held: Vec<_> = self
            .failed
            .lock()
            .unwrap()
            .drain()
            .filter(|(_, failed)| failed.held)
            .collect();
        for (id, failed) in held {
            self.release(&id, &failed.error, failed.retry_after_ms)
                .await?;
        }
        Ok(())
    }

    /// Frees record `id` in the store, with `error`, to wait `retry_after_ms` from now.
    async fn release(
        &self,
        id: &str,
        error: &str,
        retry_after_ms: i64,
    ) -> Result<bool, tiergate_hotstore::StoreError> {
        let lease = self.lease();
        let retry_at = lease.now_ms.saturating_add(retry_after_ms);
        self.store.release(&lease, id, error, retry_at).await
    }

    /// Performs hot-store call `step`, or traps where the injected fault says.
    pub async fn call<T>(
        &self,
        step: &'static str,
        work: impl Future<Output = Result<T, tiergate_hotstore::StoreError>>,
    ) -> wasmtime::Result<Result<T, hot_store::StoreError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self.fault.filter(|f| f.call == n);
        if let Some(Fault { after: false, .. }) = fault {
            wasmtime::bail!("injected crash before hot-store call {n} ({step})");
        }
        let result = work.await.map_err(hot_store::StoreError::from);
        if fault.is_some() {
            wasmtime::bail!("injected crash after hot-store call {n} ({step})");
        }
        Ok(result)
    }
}

/// The data of one run's store.
pub struct RunData {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    outbound: Outbound,
    job: Arc<Job>,
    kv: Arc<dyn KvBackend>,
    variables: Arc<HashMap<String, String>>,
}

impl WasiView for RunData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RunData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The compiled archiver, ready to run.
pub struct Archiver {
    engine: Engine,
    pre: ArchiverPre<RunData>,
    store: Arc<HotStore>,
    kv: Arc<dyn KvBackend>,
    config: ArchiveConfig,
    variables: Arc<HashMap<String, String>>,
    client: HttpClient,
    blob_authority: Option<String>,
    runs: AtomicUsize,
    instances: usize,
}

impl Archiver {
    /// Opens the hot database (migrating tiergate's ledger), compiles and links the
    /// embedded archiver component.
    pub async fn new(config: &Config, kv: Arc<dyn KvBackend>) -> anyhow::Result<Self> {
        let blob_authority = config.blob_endpoint.as_ref().map(authority_of);
        let config = config.archive.as_ref().ok_or_else(|| {
            anyhow::anyhow!("archiving is not configured: the config file has no [hot] section")
        })?;
        let store = HotStore::open(&config.hot)
            .await
            .map_err(|e| anyhow::anyhow!("opening the hot database: {e}"))?;
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model_async(true);
        let engine = Engine::new(&wasm)?;
        let component = Component::new(&engine, ARCHIVER_COMPONENT)
            .context("compiling the archiver component")?;
        let mut linker = Linker::<RunData>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
        hot_store::add_to_linker::<_, HotStoreAccess>(&mut linker, |d| HotStoreView(&d.job))?;
        digest::add_to_linker::<_, Digest>(&mut linker, |_| Digest)?;
        crate::bindings::spin::key_value::key_value::add_to_linker::<_, Kv>(&mut linker, |d| {
            KvView {
                table: &mut d.table,
                kv: &d.kv,
            }
        })?;
        crate::bindings::spin::variables::variables::add_to_linker::<_, Variables>(
            &mut linker,
            |d| VariablesView(&d.variables),
        )?;
        let pre = ArchiverPre::new(
            linker
                .instantiate_pre(&component)
                .context("linking the archiver component")?,
        )
        .context("the archiver must export tiergate:records/archival")?;
        Ok(Self {
            engine,
            pre,
            store: Arc::new(store),
            kv,
            variables: Arc::new(config.variables.clone()),
            config: config.clone(),
            client: HttpClient::new(),
            blob_authority,
            runs: AtomicUsize::new(0),
            instances: std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    /// Runs with `count` component instances at once instead of one per core (the
    /// benchmark compares counts).
    pub fn with_instances(mut self, count: usize) -> Self {
        self.instances = count.max(1);
        self
    }

    /// The hot database.
    pub fn store(&self) -> &HotStore {
        &self.store
    }

    /// What a run would copy now, changing nothing.
    pub async fn dry_run(&self) -> anyhow::Result<DryRun> {
        let now = SystemTime::now();
        let cutoff = now - self.config.settings.hot_window;
        let cold = self
            .store
            .count_cold(unix_ms(now), unix_ms(cutoff))
            .await
            .map_err(|e| anyhow::anyhow!("counting cold records: {e}"))?;
        Ok(DryRun { cold, cutoff })
    }

    /// Runs the archiver once and records the run in the hot database. An error means the
    /// run itself broke (a trap, or an injected fault); what it had done stays done, and
    /// the next run repairs the rest.
    pub async fn run(&self, options: RunOptions) -> anyhow::Result<RunReport> {
        let started = SystemTime::now();
        // Copies are marked with this clock's milliseconds: earlier runs' at or before
        // `started`'s, this run's from the next one on, once it has begun.
        let copied_before_ms = unix_ms(started) + 1;
        wait_until_ms(copied_before_ms).await;
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            unix_ms(started),
            self.runs.fetch_add(1, Ordering::Relaxed)
        );
        let job = Arc::new(Job {
            store: self.store.clone(),
            owner: owner.clone(),
            copied_before_ms,
            lease: self.config.lease,
            progress: options
                .progress
                .unwrap_or_else(|| watch::channel(RunProgress::default()).0),
            fault: options.fault,
            calls: AtomicUsize::new(0),
            failed: Mutex::default(),
        });
        // An injected crash is counted over one instance's hot-store calls, so that call
        // `n` is the same step in every test run.
        let count = if options.fault.is_some() {
            1
        } else {
            self.instances
        };
        let mut tasks = tokio::task::JoinSet::new();
        for variables in Instances::new(count, &self.variables).variables {
            let data = RunData {
                wasi: WasiCtx::builder().stderr(GuestLog::new("archiver")).build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                outbound: Outbound {
                    client: self.client.clone(),
                    allowed_authority: self.blob_authority.clone(),
                    default_timeout: STORAGE_TIMEOUT,
                },
                job: job.clone(),
                kv: self.kv.clone(),
                variables,
            };
            let (engine, pre) = (self.engine.clone(), self.pre.clone());
            tasks.spawn(async move {
                let mut store = Store::new(&engine, data);
                let archiver = pre.instantiate_async(&mut store).await?;
                store
                    .run_concurrent(async |accessor| {
                        archiver
                            .tiergate_records_archival()
                            .call_run(accessor)
                            .await
                    })
                    .await?
            });
        }
        // The first instance that breaks off ends the run (the others are dropped, as a
        // killed process would leave them); the next run repairs what they left.
        let mut result: wasmtime::Result<RunReport> = Ok(empty_report());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(report)) => {
                    if let Ok(total) = &mut result {
                        add_report(total, report);
                    }
                }
                Ok(Err(e)) => {
                    result = Err(e);
                    tasks.abort_all();
                }
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => {
                    if result.is_ok() {
                        result = Err(wasmtime::format_err!("archiver instance cancelled: {e}"));
                    }
                }
            }
        }
        if result.is_ok()
            && let Err(e) = job.release_held().await
        {
            // Their leases run out by themselves; the records are only delayed.
            tracing::warn!(error = %e, "handing back records that failed in the run");
        }
        let finished = SystemTime::now();
        let mut row = RunRow {
            owner,
            started_ms: unix_ms(started),
            finished_ms: unix_ms(finished),
            claimed: 0,
            archived: 0,
            deleted: 0,
            restored: 0,
            failed: 0,
            bytes_in: 0,
            bytes_out: 0,
            dry_run: false,
            errors: Vec::new(),
        };
        match &result {
            Ok(report) => {
                row.claimed = report.claimed.into();
                row.archived = report.archived.into();
                row.deleted = report.deleted.into();
                row.restored = report.restored.into();
                row.failed = report.failed.into();
                row.bytes_in = report.bytes_in;
                row.bytes_out = report.bytes_out;
                row.errors = report
                    .aborted
                    .iter()
                    .map(|reason| format!("run stopped: {reason}"))
                    .chain(
                        report
                            .errors
                            .iter()
                            .map(|e| format!("{}: {}", e.id, e.message)),
                    )
                    .collect();
            }
            Err(e) => row.errors = vec![format!("run broke off: {e:#}")],
        }
        if let Err(e) = self.store.record_run(&row).await {
            tracing::warn!(error = %e, "recording the archiver run failed");
        }
        crate::metrics::archiver_run(
            result.as_ref().ok(),
            finished.duration_since(started).unwrap_or_default(),
        );
        result.map_err(|e| anyhow::anyhow!("archiver run broke off: {e:#}"))
    }
}

/// A report of nothing done yet.
fn empty_report() -> RunReport {
    RunReport {
        claimed: 0,
        archived: 0,
        deleted: 0,
        restored: 0,
        failed: 0,
        bytes_in: 0,
        bytes_out: 0,
        errors: Vec::new(),
        aborted: None,
    }
}

/// Adds one instance's report to the run's.
fn add_report(total: &mut RunReport, report: RunReport) {
    total.claimed += report.claimed;
    total.archived += report.archived;
    total.deleted += report.deleted;
    total.restored += report.restored;
    total.failed += report.failed;
    total.bytes_in += report.bytes_in;
    total.bytes_out += report.bytes_out;
    total.errors.extend(report.errors);
    if total.aborted.is_none() {
        total.aborted = report.aborted;
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Returns once the wall clock reads `ms` (unix ms) or later: here, within a millisecond.
async fn wait_until_ms(ms: i64) {
    while unix_ms(SystemTime::now()) < ms {
        tokio::time::sleep(Duration::from_micros(250)).await;
    }
}
