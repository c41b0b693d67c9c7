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

use crate::archive::job::{Fault, Job, RunProgress, unix_ms};
use crate::archive::report;
use crate::config::{ArchiveConfig, Config};
use crate::context::HostContext;
use crate::kv::KvBackend;
use crate::wasm::Allocation;
use crate::wasm::bindings::archiver::ArchiverPre;
use crate::wasm::outbound::{HttpClient, Outbound};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};
use tiergate_core::settings::names;
use tiergate_core::{RunReport, StaleSweeps, WalkResumes};
use tiergate_hotstore::{ColdCount, HotStore, RunRow, StoreError};
use tokio::sync::watch;
use wasmtime::component::Component;
use wasmtime::error::Context as _;
use wasmtime::{Engine, Store};

/// The archiver component, built by `build.rs` and embedded in the binary.
pub(super) const ARCHIVER_COMPONENT: &[u8] = include_bytes!(env!("TIERGATE_ARCHIVER_WASM"));

/// How long one storage request may take before it counts as failed.
const STORAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// How to run.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// Where to publish progress.
    pub progress: Option<watch::Sender<RunProgress>>,
    /// A crash to inject.
    pub fault: Option<Fault>,
    /// Walk the records table from the beginning rather than from where the last run's
    /// walk got to: finds at once what lies behind it (records restored without a write,
    /// holds lifted), which a resumed walk leaves for the next walk from the beginning.
    pub from_beginning: bool,
}

/// What a dry run finds: what a run would do now, with nothing changed.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Records old enough to be copied.
    pub cold: ColdCount,
    /// The cutoff: records last changed before it are cold.
    pub cutoff: SystemTime,
    /// With a retention period: the copies it would delete for good.
    pub expiring: Option<Expiring>,
}

/// The copies a run would delete at the end of their retention period.
#[derive(Debug, Clone)]
pub struct Expiring {
    /// How many, their stored bytes, the first ids.
    pub copies: ColdCount,
    /// Records last changed before it are past their retention period.
    pub changed_before: SystemTime,
}

/// What a run would copy now from `store`, under `config`'s archive window, and which
/// copies it would delete at the end of their retention period, changing nothing: it reads
/// the hot database only, with no component.
pub async fn dry_run(store: &HotStore, config: &ArchiveConfig) -> anyhow::Result<DryRun> {
    let now = SystemTime::now();
    let cutoff = now - config.settings.hot_window;
    let cold = store
        .count_cold(unix_ms(now), unix_ms(cutoff))
        .await
        .map_err(|e| anyhow::anyhow!("counting cold records: {e}"))?;
    let expiring = match config.settings.expire_after {
        Some(retention) => {
            let changed_before = now - retention;
            let copies = store
                .count_expiring(unix_ms(changed_before))
                .await
                .map_err(|e| anyhow::anyhow!("counting copies past their retention: {e}"))?;
            Some(Expiring {
                copies,
                changed_before,
            })
        }
        None => None,
    };
    Ok(DryRun {
        cold,
        cutoff,
        expiring,
    })
}

/// The archive settings of `config`, or the error that says they are missing.
pub fn archive_config(config: &Config) -> anyhow::Result<&ArchiveConfig> {
    config.archive.as_ref().ok_or_else(|| {
        anyhow::anyhow!("archiving is not configured: the config file has no [hot] section")
    })
}

/// Opens the hot database of `config` to read it, changing nothing there (no tables
/// created, no journal mode switched): what the commands that only read (`status`,
/// `verify`, `cost`, a dry run) open, without compiling the component.
pub async fn open_hot_store(config: &Config) -> anyhow::Result<HotStore> {
    opened(HotStore::open_read_only(&archive_config(config)?.hot).await)
}

/// The store's error stays the source, so that callers can tell an outage from a
/// configuration the database refuses (`StoreError::is_retryable`).
fn opened(store: Result<HotStore, StoreError>) -> anyhow::Result<HotStore> {
    store.map_err(|e| anyhow::Error::new(e).context("opening the hot database"))
}

/// The data of one archiver instance's store: the host context, with the run's job as the
/// archiver's own part.
type RunData = HostContext<Arc<Job>>;

/// What a run's instances are given: the instance count and each one's settings.
struct Instances {
    /// The variables each instance reads, one map per instance.
    variables: Vec<Arc<HashMap<String, String>>>,
}

impl Instances {
    /// `count` instances over `variables`, with the run's `max_records` (as the settings
    /// read it: 0 is no limit) shared out so that together they copy no more than it; an
    /// instance whose share is none is not started.
    fn new(count: usize, variables: &Arc<HashMap<String, String>>, max: Option<u32>) -> Self {
        let variables = tiergate_core::instance_shares(count, max.map(u64::from))
            .into_iter()
            .map(|share| match share {
                None => Arc::clone(variables),
                Some(share) => {
                    let mut own = HashMap::clone(variables);
                    own.insert(names::ARCHIVE_MAX_RECORDS.to_owned(), share.to_string());
                    Arc::new(own)
                }
            })
            .collect();
        Self { variables }
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
    /// What this archiver's stale passes have looked at so far.
    stale_sweeps: std::sync::Mutex<StaleSweeps>,
}

impl std::fmt::Debug for Archiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archiver")
            .field("blob_authority", &self.blob_authority)
            .field("instances", &self.instances)
            .finish_non_exhaustive()
    }
}

impl Archiver {
    /// Opens the hot database (migrating tiergate's ledger), compiles and links the
    /// embedded archiver component.
    pub async fn new(config: &Config, kv: Arc<dyn KvBackend>) -> anyhow::Result<Self> {
        let blob_authority = config.blob_authority.clone();
        let config = archive_config(config)?;
        // The archiver's own store creates and upgrades tiergate's tables.
        let store = opened(HotStore::open(&config.hot).await)?;
        if !store.changed_indexed() {
            let cost = match store {
                HotStore::Postgres(_) => "claims walk it in id order, not oldest first",
                HotStore::Sqlite(_) => "each claim scans it",
            };
            tracing::warn!(
                table = %config.hot.table,
                column = %config.hot.changed_column,
                "no index of the records table leads with its changed column: {cost}, and dry \
                 runs scan it; an index on that column lets both read only the cold records"
            );
        }
        let engine = crate::wasm::engine(Allocation::OnDemand)?;
        let component = Component::new(&engine, ARCHIVER_COMPONENT)
            .context("compiling the archiver component")?;
        let mut linker = crate::context::linker(&engine)?;
        crate::archive::hot_store::add_to_linker(&mut linker)?;
        crate::archive::digest::add_to_linker(&mut linker)?;
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
            stale_sweeps: std::sync::Mutex::default(),
        })
    }

    /// Runs with `count` component instances at once instead of one per core (the
    /// benchmark compares counts).
    pub fn with_instances(mut self, count: usize) -> Self {
        self.instances = count.max(1);
        self
    }

    fn sweeps(&self) -> std::sync::MutexGuard<'_, StaleSweeps> {
        self.stale_sweeps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hot database.
    pub fn store(&self) -> &HotStore {
        &self.store
    }

    /// About how many records a run would copy now, for a progress bar: an estimate, not
    /// a count, so that a run does not first read the whole table
    /// ([`HotStore::estimate_cold`]).
    pub async fn estimate_cold(&self) -> anyhow::Result<u64> {
        let now = SystemTime::now();
        let cutoff = now - self.config.settings.hot_window;
        self.store
            .estimate_cold(unix_ms(now), unix_ms(cutoff))
            .await
            .map_err(|e| anyhow::anyhow!("estimating the cold records: {e}"))
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
        let progress = options
            .progress
            .unwrap_or_else(|| watch::channel(RunProgress::default()).0);
        let stale_since = self.sweeps().changed_since_ms();
        // Where the last run's walk got to, whichever process made it.
        let mut walks = if self.store.walks_resume() && !options.from_beginning {
            self.store
                .walk()
                .await
                .map_err(|e| anyhow::anyhow!("reading where the last run's walk got to: {e}"))?
        } else {
            WalkResumes::default()
        };
        let resumed_walk = walks.start();
        let resumed = resumed_walk.is_some();
        let job = Arc::new(Job::new(
            self.store.clone(),
            owner.clone(),
            copied_before_ms,
            stale_since,
            resumed_walk.unwrap_or_default(),
            self.config.lease,
            progress,
            options.fault,
        ));
        // An injected crash is counted over one instance's hot-store calls, so that call
        // `n` is the same step in every test run.
        let count = if options.fault.is_some() {
            1
        } else {
            self.instances
        };
        let mut tasks = tokio::task::JoinSet::new();
        for variables in
            Instances::new(count, &self.variables, self.config.settings.max_records).variables
        {
            let outbound = Outbound {
                client: self.client.clone(),
                allowed_authorities: self.blob_authority.iter().cloned().collect(),
                in_process: None,
                default_timeout: STORAGE_TIMEOUT,
            };
            let data = RunData::new(
                "archiver",
                outbound,
                self.kv.clone(),
                variables,
                job.clone(),
            );
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
        let mut result: wasmtime::Result<RunReport> = Ok(RunReport::default());
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(report)) => {
                    if let Ok(total) = &mut result {
                        total.add(report::from_wit(report));
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
        job.let_go_of_locked_rows();
        if let Ok(report) = &result
            && report.aborted.is_none()
            && job.stale_pass_complete()
        {
            self.sweeps().ended(unix_ms(started), stale_since);
        }
        if let Ok(report) = &mut result {
            match self
                .store
                .waiting_for_retry(unix_ms(SystemTime::now()))
                .await
            {
                Ok(waiting) => report.waiting = waiting,
                Err(e) => tracing::warn!(error = %e, "counting records that wait for a retry"),
            }
        }
        if self.store.walks_resume() {
            // What a walk passed and could not take lies behind where it got to: records
            // left by a run that broke off, and every record whose copy is unfinished at
            // the end (given back for a retry, or claimed by another run, live or dead,
            // which may never finish it). The next walk starts over to find them.
            let behind = match &result {
                Ok(report) => {
                    report.aborted.is_some()
                        || self.store.copying_left().await.unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "looking for unfinished copies");
                            true
                        })
                }
                Err(_) => true,
            };
            walks.ended(resumed, job.walked_to().await, behind);
            if let Err(e) = self.store.keep_walk(&walks).await {
                // The next run goes on from where an earlier one kept, or starts over: at
                // worst it leaves a record behind for the next walk from the beginning.
                tracing::warn!(error = %e, "keeping where the walk got to");
            }
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
        crate::telemetry::metrics::archiver_run(
            result.as_ref().ok(),
            finished.duration_since(started).unwrap_or_default(),
        );
        result.map_err(|e| anyhow::anyhow!("archiver run broke off: {e:#}"))
    }
}

/// Returns once the wall clock reads `ms` (unix ms) or later: here, within a millisecond.
async fn wait_until_ms(ms: i64) {
    while unix_ms(SystemTime::now()) < ms {
        tokio::time::sleep(Duration::from_micros(250)).await;
    }
}
