//! The hot database as the archiver sees it: claim cold records under a lease, read them,
//! keep tiergate's ledger, and delete a record only if it is unchanged since its copy.
//!
//! The host implements the archiver's `hot-store` interface with [`HotStore`]. The steps are
//! crash-safe because each one is a single transaction guarded by the caller's [`Lease`]:
//! a run that dies leaves rows that another run takes over once the lease has expired.
//! The store never reads a clock; time comes in with every call.
//!
//! - `lib.rs`: [`HotStore`], one type over both backends, chosen by configuration.
//! - `config.rs`: the `[hot]` section of the host's TOML file ([`HotConfig`]).
//! - `error.rs`: [`StoreError`], split into retry-worthy and permanent.
//! - `types.rs`: the values going in and out ([`Lease`], [`Claim`], [`ArchivedCopy`], ...).
//! - `cold_cursor.rs`: [`ColdCursor`], where a run's walk over cold records has got to.
//! - `sql_name.rs`: configured table and column names, checked before they enter SQL.
//! - `sqlite.rs`, `postgres.rs`: the backends; each holds all of its SQL, but for
//!   `ledger_upgrade.rs`: what both do alike to an older ledger.
//! - `row_image.rs`: a SQLite row as JSON, the whole row the ledger keeps.
//! - `pg_env.rs`: what `hot.url` leaves out, from `PG*` variables and the password file.
//!
//! Ledger state names come from [`tiergate_core::LedgerState`], the one place that names them.

#![deny(missing_docs, missing_debug_implementations)]

mod cold_cursor;
mod config;
mod error;
mod ledger_upgrade;
mod pg_env;
mod postgres;
mod row_image;
mod sql_name;
mod sqlite;
mod types;

pub use cold_cursor::ColdCursor;
pub use config::{Engine, HotConfig};
pub use error::StoreError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use tiergate_core::{WaitingForRetry, WalkResumes};
pub use types::{
    ArchivedCopy, BeforeWrite, Claim, ColdCount, DeleteOutcome, HotRecord, Lease, LedgerRow,
    MAX_RUN_ERRORS, RestoredRow, RunRow, StaleCopy, StateCount, Status,
};

/// Whether a store may change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The archiver's: creates and upgrades tiergate's tables, sets SQLite's journal mode.
    ReadWrite,
    /// The reading commands': changes nothing.
    ReadOnly,
}

/// What the delete step clears from a ledger row: the times of its claim, its copy and
/// its grace period, which a finished record no longer needs (the index of copies due for
/// the delete step leaves it too). What `verify`, a restore, the stale pass and retention
/// read stays.
pub(crate) const COMPACTED_AT_DELETE: &str =
    "claimed_at = NULL, archived_at = NULL, delete_after = NULL";

/// How many ids [`HotStore::count_cold`] lists: enough for `--dry-run` to show what kind of
/// records would move, few enough for one line each on a terminal.
pub const COLD_SAMPLE: u32 = 10;

/// The records table and tiergate's ledger, in whichever database the configuration names.
#[derive(Debug, Clone)]
pub enum HotStore {
    /// A local SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL server.
    Postgres(PostgresStore),
}

/// A hot store opened at its first use, and shared by whoever needs it then: a server's
/// restores before writes and its owner look-ups. Serving reads never waits for the hot
/// database to start, and a failed open is tried again at the next use.
#[derive(Debug)]
pub struct LazyHotStore {
    config: HotConfig,
    store: tokio::sync::OnceCell<HotStore>,
}

impl LazyHotStore {
    /// A store of `config`, not opened yet.
    pub fn new(config: HotConfig) -> Self {
        Self {
            config,
            store: tokio::sync::OnceCell::new(),
        }
    }

    /// The store, opened (as [`HotStore::open`]) at the first call.
    pub async fn get(&self) -> Result<&HotStore, StoreError> {
        self.store
            .get_or_try_init(|| HotStore::open(&self.config))
            .await
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            HotStore::Sqlite(store) => store.$method($($arg),*).await,
            HotStore::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl HotStore {
    /// Connects, checks that the records table and every configured column exist (the error
    /// names the missing one), and creates or upgrades tiergate's tables. The records table
    /// is never altered.
    pub async fn open(config: &HotConfig) -> Result<HotStore, StoreError> {
        Self::open_with(config, Access::ReadWrite).await
    }

    /// Connects and checks the records table, as [`open`](Self::open) does, but changes
    /// nothing in the database: no tables created or upgraded, no journal mode switched.
    /// Before tiergate's first run, its tables are empty stand-ins for this connection
    /// only. For the commands that only read (`status`, `--dry-run`, `verify`, `cost`);
    /// calls that write fail.
    pub async fn open_read_only(config: &HotConfig) -> Result<HotStore, StoreError> {
        Self::open_with(config, Access::ReadOnly).await
    }

    async fn open_with(config: &HotConfig, access: Access) -> Result<HotStore, StoreError> {
        config.validate().map_err(StoreError::Invalid)?;
        let names = config.names().map_err(StoreError::Invalid)?;
        Ok(match config.engine {
            Engine::Sqlite => HotStore::Sqlite(SqliteStore::open(config, names, access).await?),
            Engine::Postgres => {
                HotStore::Postgres(PostgresStore::open(config, names, access).await?)
            }
        })
    }

    /// Claims up to `limit` records that changed before `cutoff_ms`, after `cursor` in the
    /// walk's order, skipping held and excluded ones, those without a body, and those
    /// another run holds (or that wait for a retry, or are archived already): their ledger
    /// rows become `copying` under `lease`, with the version to copy, and `cursor` moves past
    /// every record looked at. Empty only when the walk has reached the cutoff. Concurrent
    /// callers never get the same id; a claim that raced another for every row it found
    /// walks on rather than come back empty.
    ///
    /// The walk goes oldest first (changed time, then id) where the changed column leads an
    /// index, which serves it; on PostgreSQL without such an index it goes in id order,
    /// which the primary key's index serves (see [`changed_indexed`](Self::changed_indexed)).
    pub async fn claim_cold(
        &self,
        lease: &Lease,
        cutoff_ms: i64,
        limit: u32,
        cursor: &mut ColdCursor,
    ) -> Result<Vec<Claim>, StoreError> {
        dispatch!(self.claim_cold(lease, cutoff_ms, limit, cursor))
    }

    /// Whether an index of the records table leads with the changed column, as found when
    /// the store was opened. Without one, a PostgreSQL claim walks the table in id order
    /// (records are then not taken oldest first) and a SQLite claim scans the table.
    pub fn changed_indexed(&self) -> bool {
        match self {
            HotStore::Sqlite(store) => store.changed_indexed(),
            HotStore::Postgres(store) => store.changed_indexed(),
        }
    }

    /// Whether a run's walk may go on from where an earlier run's stopped: only where the
    /// walk goes by changed time (always on SQLite; on PostgreSQL with an index on the
    /// changed column), since records that turn cold later come after it then. A walk in id
    /// order must start over: a record that turns cold may have any id.
    pub fn walks_resume(&self) -> bool {
        match self {
            HotStore::Sqlite(_) => true,
            HotStore::Postgres(store) => store.changed_indexed(),
        }
    }

    /// Where the archivers' walk over cold records got to, as the last run to end left it
    /// ([`keep_walk`](Self::keep_walk)): kept in the database, beside the ledger, so that
    /// the next run goes on from there whichever process makes it. Nothing kept yet reads
    /// as a walk to start at the beginning.
    pub async fn walk(&self) -> Result<WalkResumes<ColdCursor>, StoreError> {
        dispatch!(self.walk())
    }

    /// Keeps where a run's walk got to, for the next run ([`walk`](Self::walk)); the last
    /// run to end sets it.
    pub async fn keep_walk(&self, walk: &WalkResumes<ColdCursor>) -> Result<(), StoreError> {
        dispatch!(self.keep_walk(walk))
    }

    /// Reads a record for copying; `None` when it is not in the hot table.
    pub async fn read(&self, id: &str) -> Result<Option<HotRecord>, StoreError> {
        dispatch!(self.read(id))
    }

    /// The owner of record `id` (the owner column's value), for the edge's access check of
    /// a record the origin answered: from its hot row, or, once that is deleted after its
    /// copy, from the ledger's image of the row, so that a read racing the delete still
    /// finds it. `None` without an owner column, or when neither has the record.
    pub async fn owner(&self, id: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self.owner(id))
    }

    /// Records a verified copy: the ledger row goes `copying` -> `archived`, and the lease
    /// is released. False when the row is no longer ours to advance (the lease was taken
    /// over): the caller must not go on with this record.
    pub async fn mark_archived(
        &self,
        lease: &Lease,
        copy: &ArchivedCopy,
    ) -> Result<bool, StoreError> {
        dispatch!(self.mark_archived(lease, copy))
    }

    /// After a failed copy: keeps the row `copying`, records `error`, and holds it from
    /// every run until `retry_at_ms`, so a failing record is retried with backoff instead of
    /// on every claim. False when the row is not ours.
    pub async fn release(
        &self,
        lease: &Lease,
        id: &str,
        error: &str,
        retry_at_ms: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self.release(lease, id, error, retry_at_ms))
    }

    /// Claims up to `limit` archived records whose grace period is over and whose copy was
    /// marked before `copied_before_ms` (the archiver passes the millisecond after its run
    /// began, and begins no sooner: a copy waits for a later run, even with no grace period,
    /// when several instances of one run copy and delete at once).
    pub async fn claim_due(
        &self,
        lease: &Lease,
        copied_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<ArchivedCopy>, StoreError> {
        dispatch!(self.claim_due(lease, copied_before_ms, limit))
    }

    /// The delete step of a due record, in one transaction: if the ledger row is ours and
    /// `archived`, locks the hot row and checks that it is not held or excluded, that its
    /// version is still `version` and that its body still hashes to `sha256`. Only then is
    /// `publish` awaited, with the row locked: it makes the copy the record (the edge serves
    /// it from then on) and says whether it did. If it did, the hot row is deleted and the
    /// ledger row marked `deleted`, keeping every other column of the row as it was at that
    /// moment (for a restore) and its changed time, and the transaction commits.
    ///
    /// The application's writes to the row wait for the lock meanwhile, so no write can
    /// land between the check and the delete, and a published copy never hides a newer
    /// row: a crash after `publish` leaves the copy equal to the row, and the next run
    /// finishes the step. `publish` gets until the lease runs out (30 s at most); after
    /// that the row is let go unchanged.
    pub async fn delete_if_unchanged(
        &self,
        lease: &Lease,
        id: &str,
        version: &str,
        sha256: &str,
        publish: impl Future<Output = bool> + Send + 'static,
    ) -> Result<DeleteOutcome, StoreError> {
        let publish = bounded(lease.duration_ms, publish);
        dispatch!(self.delete_if_unchanged(lease, id, version, sha256, publish))
    }

    /// Where record `id` lives, for a write about to go to the origin, decided under a lock
    /// on its ledger row (so no archiver step on it runs meanwhile). A copy in its grace
    /// period has its delete put off until `hold_until_ms` at least: the archiver cannot
    /// take the row away between this answer and the write.
    pub async fn before_write(
        &self,
        id: &str,
        hold_until_ms: i64,
    ) -> Result<BeforeWrite, StoreError> {
        dispatch!(self.before_write(id, hold_until_ms))
    }

    /// Puts `row` back in the records table, in one transaction with a check that the
    /// ledger still says `deleted` and that no hot row came back: true when it did. The row
    /// comes back whole: every column the ledger kept when the hot row was deleted, exactly
    /// (generated columns compute themselves; columns added since get their default), with
    /// `row.body` from the copy. A row deleted before the ledger kept whole rows (schema
    /// version 1) gets back its configured columns from `row`. The
    /// ledger row stays `deleted` until [`forget_restored`](Self::forget_restored), so that
    /// a crash before the copy is removed leaves a `deleted` row whose id is back in the
    /// hot table, which the next run's stale pass cleans up.
    pub async fn restore_row(&self, row: &RestoredRow) -> Result<bool, StoreError> {
        dispatch!(self.restore_row(row))
    }

    /// Forgets the ledger row of a restored record (`deleted`, its hot row back), once its
    /// copy is gone. False when there was none.
    pub async fn forget_restored(&self, id: &str) -> Result<bool, StoreError> {
        dispatch!(self.forget_restored(id))
    }

    /// Claims up to `limit` ledger rows whose blob copy no longer matches the hot table, so
    /// that the caller removes the copy and [`forget`](Self::forget)s the row: `archived` or
    /// `copying` rows whose record is gone, changed, held or excluded, and `deleted` rows
    /// whose id is back in the hot table.
    ///
    /// With `changed_since_ms`, only among the records whose changed column is at or after
    /// it: what the application wrote since, found through the changed column's index
    /// rather than by joining the whole ledger with the table. That misses a record deleted
    /// from the table (the delete step finds its staged copy when due) and one written
    /// without moving its changed column, so a caller still looks at everything now and
    /// then.
    pub async fn claim_stale(
        &self,
        lease: &Lease,
        limit: u32,
        changed_since_ms: Option<i64>,
    ) -> Result<Vec<StaleCopy>, StoreError> {
        dispatch!(self.claim_stale(lease, limit, changed_since_ms))
    }

    /// Deletes our ledger row, after the caller removed its stale copy; the record is then
    /// hot and unclaimed again. False when the row is not ours.
    pub async fn forget(&self, lease: &Lease, id: &str) -> Result<bool, StoreError> {
        dispatch!(self.forget(lease, id))
    }

    /// Claims up to `limit` deleted records whose retention period is over: last changed
    /// before `changed_before_ms` (rows deleted before the ledger kept the changed time
    /// count from their claim). The caller deletes each copy, then
    /// [`mark_expired`](Self::mark_expired)s it.
    pub async fn claim_expired(
        &self,
        lease: &Lease,
        changed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self.claim_expired(lease, changed_before_ms, limit))
    }

    /// Marks our claimed `deleted` row `expired`, its copy gone, and forgets the rest of
    /// the record's row that the ledger kept: the record is gone for good. False when the
    /// row is not ours.
    pub async fn mark_expired(&self, lease: &Lease, id: &str) -> Result<bool, StoreError> {
        dispatch!(self.mark_expired(lease, id))
    }

    /// What [`claim_expired`](Self::claim_expired) would take, without taking it: for
    /// `--dry-run`. Bytes are the copies' stored sizes.
    pub async fn count_expiring(&self, changed_before_ms: i64) -> Result<ColdCount, StoreError> {
        dispatch!(self.count_expiring(changed_before_ms))
    }

    /// Up to `limit` ids of records whose hot row was deleted and whose last change was at
    /// or after `from_ms` and before `until_ms` (rows deleted before the ledger kept the
    /// changed time count from their claim), after `after` in id order: pages through what
    /// an operator restores by time range.
    pub async fn deleted_between(
        &self,
        from_ms: i64,
        until_ms: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self.deleted_between(from_ms, until_ms, after, limit))
    }

    /// What [`claim_cold`](Self::claim_cold) would take at `now_ms` with no limit, without
    /// taking it: for `--dry-run` and the progress bar's total.
    pub async fn count_cold(&self, now_ms: i64, cutoff_ms: i64) -> Result<ColdCount, StoreError> {
        dispatch!(self.count_cold(now_ms, cutoff_ms))
    }

    /// About how many records [`claim_cold`](Self::claim_cold) would take at `now_ms`, for
    /// the progress bar of a run, without reading the table: PostgreSQL's planner estimate
    /// (which can be off either way), SQLite's count of the records alone (its bodies are
    /// not read).
    pub async fn estimate_cold(&self, now_ms: i64, cutoff_ms: i64) -> Result<u64, StoreError> {
        dispatch!(self.estimate_cold(now_ms, cutoff_ms))
    }

    /// The records whose copy failed and that wait for their retry time at `now_ms`, and
    /// when the first of them comes free.
    pub async fn waiting_for_retry(&self, now_ms: i64) -> Result<WaitingForRetry, StoreError> {
        dispatch!(self.waiting_for_retry(now_ms))
    }

    /// Whether any record's copy is unfinished (its ledger row still `copying`): a claim in
    /// progress, this host's or another's; a dead run's claim, not yet taken over; a failed
    /// copy waiting for its retry, or past it.
    pub async fn copying_left(&self) -> Result<bool, StoreError> {
        dispatch!(self.copying_left())
    }

    /// Counts and sizes per tier for `tiergate status`; sizes are computed in SQL, bodies
    /// are not fetched.
    pub async fn status(&self) -> Result<Status, StoreError> {
        dispatch!(self.status())
    }

    /// Keeps the outcome of an archiver run, for `tiergate status`.
    pub async fn record_run(&self, run: &RunRow) -> Result<(), StoreError> {
        dispatch!(self.record_run(run))
    }

    /// Up to `limit` ledger rows with ids after `after`, in id order: pages through the
    /// whole ledger for an audit.
    pub async fn ledger_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        dispatch!(self.ledger_page(after, limit))
    }
}

/// The longest a delete waits for its copy to be published, with the row (in SQLite, the
/// whole database) locked: one PUT of one record.
const PUBLISH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// `publish`, given up (as not published) after the lease's length or [`PUBLISH_LIMIT`],
/// whichever is shorter: a row is never kept locked by an archiver that stopped answering.
async fn bounded(lease_ms: i64, publish: impl Future<Output = bool> + Send + 'static) -> bool {
    let limit = std::time::Duration::from_millis(lease_ms.max(0) as u64).min(PUBLISH_LIMIT);
    tokio::time::timeout(limit, publish).await.unwrap_or(false)
}
