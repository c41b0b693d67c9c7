//! The SQLite backend: one connection to a local file, used on tokio's blocking threads.
//!
//! Several archivers on one file (several processes, or stores in one process) take turns
//! through `BEGIN IMMEDIATE`: a claim selects and writes its rows while holding the
//! database's write lock, so no two claims see the same free row. WAL mode lets readers
//! (the origin API) go on meanwhile; the busy timeout makes writers wait for each other.

use crate::Access;
use crate::cold_cursor::{ColdCursor, Position};
use crate::config::{HotConfig, Names};
use crate::error::StoreError;
use crate::row_image;
use crate::sql_name::{SqlName, quote};
use crate::types::{
    ArchivedCopy, BeforeWrite, Claim, ColdCount, DeleteOutcome, HotRecord, Lease, LedgerRow,
    RestoredRow, RunRow, StaleCopy, StateCount, Status, from_sql, to_sql,
};
use rusqlite::types::{Type, Value, ValueRef};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, params,
};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tiergate_core::archival::LockedRow;
use tiergate_core::{LedgerState, WaitingForRetry, WalkResumes};

/// How long a writer waits for another one before the call fails as
/// [`StoreError::Unavailable`]; claims and deletes hold the lock for milliseconds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of the database file SQLite reads through a memory map instead of `read` calls.
/// Records of hundreds of KB live in chains of overflow pages, and a column after the body
/// (the changed time, the hold flag) is reached only by walking that chain: through a map
/// the walk touches pages in the OS cache instead of copying each one into SQLite's own.
/// SQLite caps it at its compiled maximum (2 GiB by default); the rest of a larger file is
/// read as before.
const MMAP_BYTES: i64 = 1 << 30;

/// The version of the ledger tables this code creates and expects.
const SCHEMA_VERSION: i64 = 3;

/// The hot store on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    sql: Sql,
}

/// The statements, built once from the configured names.
#[derive(Debug)]
struct Sql {
    /// What a user sees in messages: the records table's name.
    table: String,
    /// The records table, quoted for SQL, and its unquoted name and body column's, for the
    /// catalog and the row images.
    table_sql: String,
    table_name: String,
    body_name: String,
    /// Whether the body column has TEXT affinity.
    body_is_text: bool,
    /// The ledger's schema version: older than [`SCHEMA_VERSION`] only when read-only.
    schema: i64,
    /// The last row of a claim's window (`?1` rows of the walk): from the beginning, and
    /// after the last record passed (`?3`, `?4`: its changed and id cells).
    claim_edge_first: String,
    claim_edge_after: String,
    /// A run's first claim's candidates, and the candidates after the last record passed
    /// (`?4`, `?5`: its changed and id cells), up to the window's last row (the two
    /// cells after those).
    claim_candidates_first: String,
    claim_candidates_after: String,
    /// Whether an index leads with the changed column.
    changed_indexed: bool,
    claim_upsert: String,
    read: String,
    /// The owner of a record: its row's owner column, else the ledger's image of its row.
    owner: String,
    mark_archived: String,
    release: String,
    due: String,
    stale: String,
    /// The same among the records changed since `?3`.
    stale_since: String,
    take_lease: String,
    owned_archived: String,
    delete_record: String,
    mark_deleted: String,
    lock_record: String,
    /// The locked row, every column and its changed time, for the ledger to keep.
    capture: String,
    /// The row the ledger kept, for a restore.
    captured: String,
    /// Whether the table has a version column (otherwise the changed column is the version).
    versioned: bool,
    write_lookup: String,
    hold_back: String,
    restore: String,
    forget_restored: String,
    forget: String,
    expired: String,
    mark_expired: String,
    expiring_totals: String,
    expiring_sample: String,
    deleted_between: String,
    cold_totals: String,
    cold_estimate: String,
    cold_sample: String,
    hot_totals: String,
    state_totals: String,
    last_run: String,
    waiting: String,
    insert_run: String,
    ledger_page: String,
    walk: String,
    keep_walk: String,
    copying_left: String,
}

impl SqliteStore {
    /// Opens the file, checks the records table and its configured columns, and creates or
    /// upgrades tiergate's tables; with [`Access::ReadOnly`], changes nothing in the file.
    pub(crate) async fn open(
        config: &HotConfig,
        names: Names,
        access: Access,
    ) -> Result<Self, StoreError> {
        let path = config.path.clone().ok_or_else(|| {
            StoreError::Invalid("hot.path: required for engine = \"sqlite\"".into())
        })?;
        let exclude_where = config.exclude_where.clone();
        let (conn, sql) = tokio::task::spawn_blocking(move || {
            connect(&path, &names, exclude_where.as_deref(), access)
        })
        .await
        .map_err(join_error)??;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                sql,
            }),
        })
    }

    /// Runs `work` on a blocking thread with the connection; `doing` says what for, in
    /// error messages.
    async fn run<T: Send + 'static>(
        &self,
        doing: &str,
        work: impl FnOnce(&mut Connection, &Sql) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            // A panic elsewhere left no transaction open (rusqlite rolls back on drop).
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn, &inner.sql)
        })
        .await
        .map_err(join_error)?;
        result.map_err(|e| classify(&format!("{doing} ({})", self.inner.sql.table), e))
    }

    pub(crate) async fn claim_cold(
        &self,
        lease: &Lease,
        cutoff_ms: i64,
        limit: u32,
        cursor: &mut ColdCursor,
    ) -> Result<Vec<Claim>, StoreError> {
        loop {
            let at = match &cursor.at {
                None => None,
                Some(Position::Sqlite { changed, id }) => Some((changed.clone(), id.clone())),
                Some(Position::Postgres { .. }) => return Err(crate::cold_cursor::foreign()),
            };
            let window = cursor.window(limit);
            let lease = lease.clone();
            let looked = self
                .run("claiming cold records", move |conn, sql| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let to_position =
                        |row: &Row<'_>| Ok((row.get::<_, Value>(0)?, row.get::<_, Value>(1)?));
                    let edge = match &at {
                        None => tx
                            .prepare_cached(&sql.claim_edge_first)?
                            .query_row(params![window, cutoff_ms], to_position)
                            .optional()?,
                        Some((changed, id)) => tx
                            .prepare_cached(&sql.claim_edge_after)?
                            .query_row(params![window, cutoff_ms, changed, id], to_position)
                            .optional()?,
                    };
                    // No row: the window is empty, the walk is at its end.
                    let Some((edge_changed, edge_id)) = edge else {
                        return Ok(None);
                    };
                    let to_candidate = |row: &Row<'_>| {
                        let claim = Claim {
                            id: row.get(0)?,
                            version: row.get(1)?,
                        };
                        Ok((claim, row.get::<_, Value>(2)?, row.get::<_, Value>(3)?))
                    };
                    let now = lease.now_ms;
                    let candidates = match &at {
                        None => tx
                            .prepare_cached(&sql.claim_candidates_first)?
                            .query_map(
                                params![now, cutoff_ms, limit, edge_changed, edge_id],
                                to_candidate,
                            )?
                            .collect::<rusqlite::Result<Vec<_>>>()?,
                        Some((changed, id)) => tx
                            .prepare_cached(&sql.claim_candidates_after)?
                            .query_map(
                                params![now, cutoff_ms, limit, changed, id, edge_changed, edge_id],
                                to_candidate,
                            )?
                            .collect::<rusqlite::Result<Vec<_>>>()?,
                    };
                    let found = candidates.len();
                    let last_found = candidates
                        .last()
                        .map(|(_, changed, id)| (changed.clone(), id.clone()));
                    // SQLite has one writer: no claim runs between this one's read and its
                    // upserts, whose condition is the candidates' own, so each one takes
                    // its row.
                    let mut claims = Vec::with_capacity(found);
                    {
                        let mut upsert = tx.prepare_cached(&sql.claim_upsert)?;
                        for (claim, ..) in candidates {
                            let params = params![
                                claim.id,
                                claim.version,
                                lease.owner,
                                lease.until_ms(),
                                lease.now_ms
                            ];
                            if upsert.execute(params)? == 1 {
                                claims.push(claim);
                            }
                        }
                    }
                    tx.commit()?;
                    Ok(Some((claims, found, last_found, (edge_changed, edge_id))))
                })
                .await?;
            let Some((claims, found, last_found, (changed, id))) = looked else {
                return Ok(Vec::new());
            };
            let last_found = last_found.map(|(changed, id)| Position::Sqlite { changed, id });
            let edge = Position::Sqlite { changed, id };
            cursor.pass(window, limit, found, last_found, edge);
            if !claims.is_empty() {
                return Ok(claims);
            }
        }
    }

    pub(crate) fn changed_indexed(&self) -> bool {
        self.inner.sql.changed_indexed
    }

    pub(crate) async fn walk(&self) -> Result<WalkResumes<ColdCursor>, StoreError> {
        self.run("reading where the last walk got to", |conn, sql| {
            let kept = conn
                .prepare_cached(&sql.walk)?
                .query_row([], |row| {
                    Ok((
                        row.get::<_, Value>(0)?,
                        row.get::<_, Value>(1)?,
                        row.get::<_, u32>(2)?,
                    ))
                })
                .optional()?;
            Ok(match kept {
                None => WalkResumes::default(),
                Some((changed, id, resumed)) => WalkResumes {
                    end: (changed != Value::Null && id != Value::Null)
                        .then_some(ColdCursor::after(Position::Sqlite { changed, id })),
                    resumed,
                },
            })
        })
        .await
    }

    pub(crate) async fn keep_walk(&self, walk: &WalkResumes<ColdCursor>) -> Result<(), StoreError> {
        let (changed, id) = match walk.end.as_ref().and_then(|end| end.at.as_ref()) {
            None => (Value::Null, Value::Null),
            Some(Position::Sqlite { changed, id }) => (changed.clone(), id.clone()),
            Some(Position::Postgres { .. }) => return Err(crate::cold_cursor::foreign()),
        };
        let resumed = walk.resumed;
        self.run("keeping where the walk got to", move |conn, sql| {
            conn.prepare_cached(&sql.keep_walk)?
                .execute(params![changed, id, resumed])?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn read(&self, id: &str) -> Result<Option<HotRecord>, StoreError> {
        let id = id.to_owned();
        self.run("reading a record", move |conn, sql| {
            conn.prepare_cached(&sql.read)?
                .query_row([&id], |row| {
                    Ok(HotRecord {
                        id: row.get(0)?,
                        version: row.get(1)?,
                        changed_ms: row.get(2)?,
                        content_type: row.get(3)?,
                        body: bytes(row, 4)?,
                        owner: row.get(5)?,
                    })
                })
                .optional()
        })
        .await
    }

    pub(crate) async fn owner(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_owned();
        self.run("reading a record's owner", move |conn, sql| {
            Ok(conn
                .prepare_cached(&sql.owner)?
                .query_row([&id], |row| row.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
        .await
    }

    pub(crate) async fn mark_archived(
        &self,
        lease: &Lease,
        copy: &ArchivedCopy,
    ) -> Result<bool, StoreError> {
        let (lease, copy) = (lease.clone(), copy.clone());
        self.run("marking a record archived", move |conn, sql| {
            let changed = conn.prepare_cached(&sql.mark_archived)?.execute(params![
                copy.id,
                lease.owner,
                copy.version,
                copy.blob_key,
                copy.sha256,
                to_sql(copy.size),
                to_sql(copy.stored_size),
                copy.stored_sha256,
                copy.encoding,
                copy.delete_after_ms,
                lease.now_ms
            ])?;
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn release(
        &self,
        lease: &Lease,
        id: &str,
        error: &str,
        retry_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let (lease, id, error) = (lease.clone(), id.to_owned(), error.to_owned());
        self.run("releasing a failed record", move |conn, sql| {
            let changed = conn.prepare_cached(&sql.release)?.execute(params![
                id,
                lease.owner,
                error,
                retry_at_ms,
                lease.now_ms
            ])?;
            Ok(changed == 1)
        })
        .await
    }

    pub(crate) async fn claim_due(
        &self,
        lease: &Lease,
        copied_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<ArchivedCopy>, StoreError> {
        let lease = lease.clone();
        self.run("claiming records due for deletion", move |conn, sql| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let due = tx
                .prepare_cached(&sql.due)?
                .query_map(params![lease.now_ms, limit, copied_before_ms], |row| {
                    Ok(ArchivedCopy {
                        id: row.get(0)?,
                        version: row.get(1)?,
                        blob_key: row.get(2)?,
                        sha256: row.get(3)?,
                        size: from_sql(row.get(4)?),
                        stored_size: from_sql(row.get(5)?),
                        stored_sha256: row.get(6)?,
                        encoding: row.get(7)?,
                        delete_after_ms: row.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            take_leases(&tx, sql, &lease, due.iter().map(|copy| copy.id.as_str()))?;
            tx.commit()?;
            Ok(due)
        })
        .await
    }

    pub(crate) async fn delete_if_unchanged(
        &self,
        lease: &Lease,
        id: &str,
        version: &str,
        sha256: &str,
        publish: impl Future<Output = bool> + Send + 'static,
    ) -> Result<DeleteOutcome, StoreError> {
        let (lease, id) = (lease.clone(), id.to_owned());
        let (version, sha256) = (version.to_owned(), sha256.to_owned());
        // This blocking thread waits for `publish` with the database's write lock held, as
        // PostgreSQL waits with the row's: SQLite has no lock on one row.
        let runtime = tokio::runtime::Handle::current();
        self.run("deleting an archived record", move |conn, sql| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let owned = tx
                .prepare_cached(&sql.owned_archived)?
                .exists(params![id, lease.owner])?;
            if !owned {
                return Ok(DeleteOutcome::LeaseLost);
            }
            let row = tx
                .prepare_cached(&sql.lock_record)?
                .query_row([&id], |row| {
                    Ok((
                        row.get::<_, Option<String>>(0)?,
                        bytes(row, 1)?,
                        row.get(2)?,
                    ))
                })
                .optional()?;
            let locked = row.as_ref().map(|(version, body, held)| LockedRow {
                version: version.as_deref(),
                body,
                held: *held,
            });
            if let Some(refused) = DeleteOutcome::of_locked_row(locked, &version, &sha256) {
                return Ok(refused);
            }
            if !runtime.block_on(publish) {
                return Ok(DeleteOutcome::NotPublished);
            }
            let (image, changed_ms) = capture(&tx, sql, &id)?;
            tx.prepare_cached(&sql.delete_record)?.execute([&id])?;
            tx.prepare_cached(&sql.mark_deleted)?.execute(params![
                id,
                lease.now_ms,
                image,
                changed_ms
            ])?;
            tx.commit()?;
            Ok(DeleteOutcome::Deleted)
        })
        .await
    }

    pub(crate) async fn before_write(
        &self,
        id: &str,
        hold_until_ms: i64,
    ) -> Result<BeforeWrite, StoreError> {
        let id = id.to_owned();
        self.run("looking up a record before a write", move |conn, sql| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found = tx
                .prepare_cached(&sql.write_lookup)?
                .query_row([&id], |row| {
                    let copy = ArchivedCopy {
                        id: id.clone(),
                        version: row.get(1)?,
                        blob_key: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        sha256: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        size: row.get::<_, Option<i64>>(4)?.map_or(0, from_sql),
                        stored_size: row.get::<_, Option<i64>>(5)?.map_or(0, from_sql),
                        stored_sha256: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        encoding: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
                        delete_after_ms: row.get::<_, Option<i64>>(8)?.unwrap_or(0),
                    };
                    Ok((state(row, 0)?, copy, row.get::<_, bool>(9)?))
                })
                .optional()?;
            let before = match found {
                None | Some((LedgerState::Copying, ..)) => BeforeWrite::Hot,
                // A record the API created again after its copy expired is hot.
                Some((LedgerState::Expired, _, true)) => BeforeWrite::Hot,
                Some((LedgerState::Expired, _, false)) => BeforeWrite::Expired,
                Some((LedgerState::Archived, ..)) => {
                    tx.prepare_cached(&sql.hold_back)?
                        .execute(params![id, hold_until_ms])?;
                    BeforeWrite::Hot
                }
                Some((LedgerState::Deleted, _, true)) => BeforeWrite::StaleCopy,
                Some((LedgerState::Deleted, copy, false)) => BeforeWrite::Archived(copy),
            };
            tx.commit()?;
            Ok(before)
        })
        .await
    }

    pub(crate) async fn restore_row(&self, row: &RestoredRow) -> Result<bool, StoreError> {
        let row = row.clone();
        self.run("restoring a record to the hot table", move |conn, sql| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let still_deleted = tx
                .prepare_cached(&sql.write_lookup)?
                .query_row([&row.id], |found| {
                    Ok(state(found, 0)? == LedgerState::Deleted && !found.get::<_, bool>(9)?)
                })
                .optional()?
                .unwrap_or(false);
            if !still_deleted {
                return Ok(false);
            }
            let image: Option<String> = tx
                .prepare_cached(&sql.captured)?
                .query_row([&row.id], |found| found.get(0))?;
            if let Some(image) = image {
                restore_image(&tx, sql, &row, &image)?;
                tx.commit()?;
                return Ok(true);
            }
            // A row deleted before the ledger kept whole rows: its configured columns.
            // The changed column is the version when there is no version column.
            let changed = (!sql.versioned).then_some(&row.version);
            tx.prepare_cached(&sql.restore)?.execute(params![
                row.id,
                row.body,
                changed,
                row.content_type,
                row.version,
                row.now_ms
            ])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn forget_restored(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run("forgetting a restored record", move |conn, sql| {
            Ok(conn.prepare_cached(&sql.forget_restored)?.execute([&id])? == 1)
        })
        .await
    }

    pub(crate) async fn claim_stale(
        &self,
        lease: &Lease,
        limit: u32,
        changed_since_ms: Option<i64>,
    ) -> Result<Vec<StaleCopy>, StoreError> {
        let lease = lease.clone();
        self.run("claiming stale copies", move |conn, sql| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let to_stale = |row: &Row<'_>| {
                Ok(StaleCopy {
                    id: row.get(0)?,
                    blob_key: row.get(1)?,
                    state: state(row, 2)?,
                })
            };
            let stale = match changed_since_ms {
                None => tx
                    .prepare_cached(&sql.stale)?
                    .query_map(params![lease.now_ms, limit], to_stale)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                Some(since) => tx
                    .prepare_cached(&sql.stale_since)?
                    .query_map(params![lease.now_ms, limit, since], to_stale)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            take_leases(&tx, sql, &lease, stale.iter().map(|copy| copy.id.as_str()))?;
            tx.commit()?;
            Ok(stale)
        })
        .await
    }

    pub(crate) async fn forget(&self, lease: &Lease, id: &str) -> Result<bool, StoreError> {
        let (owner, id) = (lease.owner.clone(), id.to_owned());
        self.run("forgetting a ledger row", move |conn, sql| {
            Ok(conn
                .prepare_cached(&sql.forget)?
                .execute(params![id, owner])?
                == 1)
        })
        .await
    }

    pub(crate) async fn claim_expired(
        &self,
        lease: &Lease,
        changed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let lease = lease.clone();
        self.run("claiming expired copies", move |conn, sql| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids = tx
                .prepare_cached(&sql.expired)?
                .query_map(params![lease.now_ms, changed_before_ms, limit], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            take_leases(&tx, sql, &lease, ids.iter().map(String::as_str))?;
            tx.commit()?;
            Ok(ids)
        })
        .await
    }

    pub(crate) async fn mark_expired(&self, lease: &Lease, id: &str) -> Result<bool, StoreError> {
        let (lease, id) = (lease.clone(), id.to_owned());
        self.run("marking a copy expired", move |conn, sql| {
            Ok(conn.prepare_cached(&sql.mark_expired)?.execute(params![
                id,
                lease.owner,
                lease.now_ms
            ])? == 1)
        })
        .await
    }

    pub(crate) async fn count_expiring(
        &self,
        changed_before_ms: i64,
    ) -> Result<ColdCount, StoreError> {
        if self.inner.sql.schema < 2 {
            let behind = self.inner.sql.schema;
            return Err(StoreError::ledger_behind(
                behind,
                "counting expiring copies",
            ));
        }
        self.run("counting expiring copies", move |conn, sql| {
            count(
                conn,
                &sql.expiring_totals,
                &sql.expiring_sample,
                [changed_before_ms],
            )
        })
        .await
    }

    pub(crate) async fn deleted_between(
        &self,
        from_ms: i64,
        until_ms: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        if self.inner.sql.schema < 2 {
            let behind = self.inner.sql.schema;
            return Err(StoreError::ledger_behind(
                behind,
                "listing records by change time",
            ));
        }
        let after = after.map(str::to_owned);
        self.run(
            "listing archived records by change time",
            move |conn, sql| {
                conn.prepare_cached(&sql.deleted_between)?
                    .query_map(params![from_ms, until_ms, after, limit], |row| row.get(0))?
                    .collect()
            },
        )
        .await
    }

    pub(crate) async fn count_cold(
        &self,
        now_ms: i64,
        cutoff_ms: i64,
    ) -> Result<ColdCount, StoreError> {
        self.run("counting cold records", move |conn, sql| {
            count(
                conn,
                &sql.cold_totals,
                &sql.cold_sample,
                params![now_ms, cutoff_ms],
            )
        })
        .await
    }

    pub(crate) async fn estimate_cold(
        &self,
        now_ms: i64,
        cutoff_ms: i64,
    ) -> Result<u64, StoreError> {
        self.run("counting cold records", move |conn, sql| {
            conn.prepare_cached(&sql.cold_estimate)?
                .query_row(params![now_ms, cutoff_ms], |row| row.get(0).map(from_sql))
        })
        .await
    }

    pub(crate) async fn status(&self) -> Result<Status, StoreError> {
        self.run("reading the status", move |conn, sql| {
            let (hot_records, hot_bytes) = conn
                .prepare_cached(&sql.hot_totals)?
                .query_row([], |row| Ok((from_sql(row.get(0)?), from_sql(row.get(1)?))))?;
            let counted = conn
                .prepare_cached(&sql.state_totals)?
                .query_map([], |row| {
                    Ok(StateCount {
                        state: state(row, 0)?,
                        records: from_sql(row.get(1)?),
                        bytes: from_sql(row.get(2)?),
                        stored_bytes: from_sql(row.get(3)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let last_run = conn
                .prepare_cached(&sql.last_run)?
                .query_row([], run_row)
                .optional()?;
            Ok(Status {
                hot_records,
                hot_bytes,
                states: StateCount::every_state(counted),
                last_run,
            })
        })
        .await
    }

    pub(crate) async fn waiting_for_retry(
        &self,
        now_ms: i64,
    ) -> Result<WaitingForRetry, StoreError> {
        self.run(
            "counting records that wait for a retry",
            move |conn, sql| {
                conn.prepare_cached(&sql.waiting)?
                    .query_row([now_ms], |row| {
                        Ok(WaitingForRetry {
                            records: from_sql(row.get(0)?),
                            next_retry_ms: row.get(1)?,
                        })
                    })
            },
        )
        .await
    }

    pub(crate) async fn copying_left(&self) -> Result<bool, StoreError> {
        self.run("looking for unfinished copies", |conn, sql| {
            conn.prepare_cached(&sql.copying_left)?
                .query_row([], |row| row.get(0))
        })
        .await
    }

    pub(crate) async fn record_run(&self, run: &RunRow) -> Result<(), StoreError> {
        let run = run.clone();
        self.run("recording a run", move |conn, sql| {
            conn.prepare_cached(&sql.insert_run)?.execute(params![
                run.owner,
                run.started_ms,
                run.finished_ms,
                to_sql(run.claimed),
                to_sql(run.archived),
                to_sql(run.deleted),
                to_sql(run.restored),
                to_sql(run.failed),
                to_sql(run.bytes_in),
                to_sql(run.bytes_out),
                run.dry_run,
                run.errors_text()
            ])?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn ledger_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        let after = after.map(str::to_owned);
        self.run("reading the ledger", move |conn, sql| {
            conn.prepare_cached(&sql.ledger_page)?
                .query_map(params![after, limit], |row| {
                    Ok(LedgerRow {
                        id: row.get(0)?,
                        state: state(row, 1)?,
                        version: row.get(2)?,
                        blob_key: row.get(3)?,
                        sha256: row.get(4)?,
                        size: row.get::<_, Option<i64>>(5)?.map(from_sql),
                        stored_size: row.get::<_, Option<i64>>(6)?.map(from_sql),
                        stored_sha256: row.get(7)?,
                        encoding: row.get(8)?,
                        attempts: row.get(9)?,
                        last_error: row.get(10)?,
                        lease_owner: row.get(11)?,
                        lease_until: row.get(12)?,
                        claimed_at: row.get(13)?,
                        archived_at: row.get(14)?,
                        delete_after: row.get(15)?,
                        deleted_at: row.get(16)?,
                        updated_at: row.get(17)?,
                    })
                })?
                .collect()
        })
        .await
    }
}

impl Sql {
    fn new(names: &Names, exclude_where: Option<&str>, body_is_text: bool) -> Self {
        let Names {
            table: t,
            ledger: l,
            ..
        } = names;
        let col = |name: &SqlName| format!("{t}.{name}");
        let (id, body) = (col(&names.id), col(&names.body));
        let changed = col(&names.changed);
        // Integer (or real) cells are unix seconds; text is ISO-8601, with `T` or a space.
        let changed_ms = format!(
            "(CASE WHEN typeof({changed}) IN ('integer', 'real') THEN CAST({changed} * 1000 AS INTEGER) \
             ELSE CAST(round(unixepoch({changed}, 'subsec') * 1000) AS INTEGER) END)"
        );
        let version = format!(
            "CAST({} AS TEXT)",
            col(names.version.as_ref().unwrap_or(&names.changed))
        );
        let content_type = names
            .content_type
            .as_ref()
            .map_or_else(|| "NULL".to_owned(), col);
        let owner = names.owner.as_ref().map_or_else(
            || "NULL".to_owned(),
            |c| format!("CAST({} AS TEXT)", col(c)),
        );
        // The row image keeps integers as JSON integers and text as strings, which cast to
        // the text the column's own cast gives. A column name is a plain identifier (checked
        // when parsed): safe in a literal.
        let imaged_owner = names.owner.as_ref().map_or_else(
            || "NULL".to_owned(),
            |c| {
                format!(
                    "CAST(json_extract(row_columns, '$.\"{}\"') AS TEXT)",
                    c.name()
                )
            },
        );
        let mut kept_by = Vec::new();
        if let Some(hold) = &names.hold {
            kept_by.push(format!("COALESCE({}, FALSE)", col(hold)));
        }
        if let Some(predicate) = exclude_where {
            kept_by.push(format!("COALESCE(({predicate}), FALSE)"));
        }
        let kept = if kept_by.is_empty() {
            "FALSE".to_owned()
        } else {
            format!("({})", kept_by.join(" OR "))
        };
        let length = format!("length(CAST({body} AS BLOB))");
        let [copying, archived, deleted, expired] = LedgerState::ALL.map(LedgerState::as_str);
        // A bound on the changed column itself, so that an index on it serves claims (the
        // exact test on milliseconds is an expression no index can answer): two days after
        // the cutoff's date, as text. Every cold value is below it: numbers sort below any
        // text in SQLite, and ISO-8601 text starts with its date, which an offset moves by
        // less than a day. The exact test still decides; the bound only narrows the scan.
        let changed_bound = "strftime('%Y-%m-%d', ?2 / 1000 + 172800, 'unixepoch')";
        // Cold records a claim may take: ?1 = now, ?2 = cutoff. Only the records table is in
        // scope at this level, so `exclude_where` sees its columns unqualified. The ledger is
        // asked first (a CASE fixes the order), so that rows already copied cost a lookup by
        // key, not a walk past their body to the columns after it.
        let eligible = format!(
            "FROM {t} WHERE {changed} < {changed_bound} AND CASE \
             WHEN EXISTS (SELECT 1 FROM {l} AS l WHERE l.id = {id} \
             AND NOT (l.state = '{copying}' AND (l.lease_until IS NULL OR l.lease_until <= ?1))) \
             THEN FALSE ELSE {changed_ms} < ?2 AND {body} IS NOT NULL AND NOT {kept} END"
        );
        // The rows of the walk a claim looks at: every cold record, claimable or not (?2 =
        // cutoff; the bound narrows the index's range, the exact test decides).
        let window = format!("FROM {t} WHERE {changed} < {changed_bound} AND {changed_ms} < ?2");
        // Oldest first in the column's own order, which an index on it gives without a
        // sort, so a claim stops after `limit` rows.
        let order = format!("ORDER BY {changed}, {id}");
        // The hot side of a ledger row, for comparing versions.
        let hot = |filter: &str| {
            format!(
                "(SELECT {id} AS id, {version} AS version, {kept} AS kept FROM {t} {filter}) AS h"
            )
        };
        // Ledger rows whose copy no longer matches the hot row `h` (NULL when gone).
        let stale = format!(
            "(l.lease_until IS NULL OR l.lease_until <= ?1) AND ( \
             (l.state IN ('{copying}', '{archived}') \
              AND (h.id IS NULL OR h.version IS NOT l.version OR h.kept)) \
             OR (l.state IN ('{deleted}', '{expired}') AND h.id IS NOT NULL))"
        );
        let ledger_columns = "id, state, version, blob_key, sha256, size, stored_size, \
            stored_sha256, encoding, attempts, last_error, lease_owner, lease_until, \
            claimed_at, archived_at, delete_after, deleted_at, updated_at";
        let runs = l.with_suffix("_runs");
        let walk_table = l.with_suffix("_walk");
        let run_columns = "owner, started_ms, finished_ms, claimed, archived, deleted, restored, \
            failed, bytes_in, bytes_out, dry_run, errors";
        Self {
            table: t.to_string(),
            table_sql: t.to_string(),
            table_name: t.name().to_owned(),
            body_name: names.body.name().to_owned(),
            claim_edge_first: format!(
                "SELECT c, i FROM (SELECT {changed} AS c, {id} AS i {window} {order} LIMIT ?1) \
                 ORDER BY c DESC, i DESC LIMIT 1"
            ),
            claim_edge_after: format!(
                "SELECT c, i FROM (SELECT {changed} AS c, {id} AS i {window} \
                 AND {changed} >= ?3 AND ({changed}, {id}) > (?3, ?4) {order} LIMIT ?1) \
                 ORDER BY c DESC, i DESC LIMIT 1"
            ),
            claim_candidates_first: format!(
                "SELECT CAST({id} AS TEXT), {version}, {changed}, {id} {eligible} \
                 AND {changed} <= ?4 AND ({changed}, {id}) <= (?4, ?5) {order} LIMIT ?3"
            ),
            claim_candidates_after: format!(
                "SELECT CAST({id} AS TEXT), {version}, {changed}, {id} {eligible} \
                 AND {changed} >= ?4 AND ({changed}, {id}) > (?4, ?5) \
                 AND {changed} <= ?6 AND ({changed}, {id}) <= (?6, ?7) {order} LIMIT ?3"
            ),
            changed_indexed: false,
            claim_upsert: format!(
                "INSERT INTO {l} (id, state, version, attempts, lease_owner, lease_until, claimed_at, updated_at) \
                 VALUES (?1, '{copying}', ?2, 1, ?3, ?4, ?5, ?5) \
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version, \
                 attempts = attempts + 1, lease_owner = excluded.lease_owner, \
                 lease_until = excluded.lease_until, claimed_at = excluded.claimed_at, \
                 updated_at = excluded.updated_at \
                 WHERE state = '{copying}' AND (lease_until IS NULL OR lease_until <= ?5)"
            ),
            read: format!(
                "SELECT CAST({id} AS TEXT), {version}, {changed_ms}, {content_type}, {body}, {owner} \
                 FROM {t} WHERE {id} = ?1"
            ),
            owner: format!(
                "SELECT owner FROM ( \
                   SELECT 0 AS k, {owner} AS owner FROM {t} WHERE {id} = ?1 \
                   UNION ALL SELECT 1, {imaged_owner} FROM {l} WHERE id = ?1 AND row_columns IS NOT NULL) \
                 ORDER BY k LIMIT 1"
            ),
            mark_archived: format!(
                "UPDATE {l} SET state = '{archived}', version = ?3, blob_key = ?4, sha256 = ?5, \
                 size = ?6, stored_size = ?7, stored_sha256 = ?8, encoding = ?9, \
                 delete_after = ?10, archived_at = ?11, updated_at = ?11, \
                 lease_owner = NULL, lease_until = NULL, last_error = NULL \
                 WHERE id = ?1 AND state = '{copying}' AND lease_owner = ?2"
            ),
            release: format!(
                "UPDATE {l} SET last_error = ?3, lease_owner = NULL, lease_until = ?4, updated_at = ?5 \
                 WHERE id = ?1 AND state = '{copying}' AND lease_owner = ?2"
            ),
            due: format!(
                "SELECT id, version, blob_key, sha256, size, stored_size, stored_sha256, encoding, \
                 delete_after FROM {l} WHERE state = '{archived}' AND delete_after <= ?1 \
                 AND archived_at < ?3 AND (lease_until IS NULL OR lease_until <= ?1) \
                 ORDER BY delete_after, id LIMIT ?2"
            ),
            stale: format!(
                "SELECT l.id, l.blob_key, l.state FROM {l} AS l LEFT JOIN {} ON h.id = l.id \
                 WHERE {stale} ORDER BY l.id LIMIT ?2",
                hot("")
            ),
            // The records changed since ?3, joined: each has a hot row (`h.id` is set).
            stale_since: format!(
                "SELECT l.id, l.blob_key, l.state FROM {} JOIN {l} AS l ON l.id = h.id \
                 WHERE {stale} ORDER BY l.id LIMIT ?2",
                hot(&format!("WHERE {changed_ms} >= ?3"))
            ),
            take_lease: format!(
                "UPDATE {l} SET lease_owner = ?2, lease_until = ?3, updated_at = ?4 WHERE id = ?1"
            ),
            owned_archived: format!(
                "SELECT 1 FROM {l} WHERE id = ?1 AND state = '{archived}' AND lease_owner = ?2"
            ),
            lock_record: format!("SELECT {version}, {body}, {kept} FROM {t} WHERE {id} = ?1"),
            capture: format!("SELECT *, {changed_ms} FROM {t} WHERE {id} = ?1"),
            captured: format!("SELECT row_columns FROM {l} WHERE id = ?1"),
            delete_record: format!("DELETE FROM {t} WHERE {id} = ?1"),
            versioned: names.version.is_some(),
            write_lookup: format!(
                "SELECT state, version, blob_key, sha256, size, stored_size, stored_sha256, \
                 encoding, delete_after, EXISTS (SELECT 1 FROM {t} WHERE {id} = ?1) \
                 FROM {l} WHERE id = ?1"
            ),
            hold_back: format!(
                "UPDATE {l} SET delete_after = max(COALESCE(delete_after, 0), ?2) WHERE id = ?1"
            ),
            restore: restore_sql(names, body_is_text),
            body_is_text,
            schema: SCHEMA_VERSION,
            forget_restored: format!(
                "DELETE FROM {l} WHERE id = ?1 AND state = '{deleted}' \
                 AND EXISTS (SELECT 1 FROM {t} WHERE {id} = ?1)"
            ),
            mark_deleted: format!(
                "UPDATE {l} SET state = '{deleted}', deleted_at = ?2, lease_owner = NULL, \
                 lease_until = NULL, {}, updated_at = ?2, row_columns = ?3, \
                 record_changed_at = ?4 WHERE id = ?1",
                crate::COMPACTED_AT_DELETE
            ),
            forget: format!("DELETE FROM {l} WHERE id = ?1 AND lease_owner = ?2"),
            expired: format!(
                "SELECT id FROM {l} WHERE state = '{deleted}' AND record_changed_at < ?2 \
                 AND (lease_until IS NULL OR lease_until <= ?1) \
                 ORDER BY record_changed_at, id LIMIT ?3"
            ),
            mark_expired: format!(
                "UPDATE {l} SET state = '{expired}', row_columns = NULL, lease_owner = NULL, \
                 lease_until = NULL, updated_at = ?3 \
                 WHERE id = ?1 AND state = '{deleted}' AND lease_owner = ?2"
            ),
            expiring_totals: format!(
                "SELECT count(*), COALESCE(sum(stored_size), 0) FROM {l} \
                 WHERE state = '{deleted}' AND record_changed_at < ?1"
            ),
            deleted_between: format!(
                "SELECT id FROM {l} WHERE state = '{deleted}' AND record_changed_at >= ?1 \
                 AND record_changed_at < ?2 AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
            ),
            expiring_sample: format!(
                "SELECT id FROM {l} WHERE state = '{deleted}' AND record_changed_at < ?1 \
                 ORDER BY record_changed_at, id LIMIT {}",
                crate::COLD_SAMPLE
            ),
            cold_totals: format!("SELECT count(*), COALESCE(sum({length}), 0) {eligible}"),
            cold_estimate: format!("SELECT count(*) {eligible}"),
            cold_sample: format!(
                "SELECT CAST({id} AS TEXT) {eligible} {order} LIMIT {}",
                crate::COLD_SAMPLE
            ),
            hot_totals: format!("SELECT count(*), COALESCE(sum({length}), 0) FROM {t}"),
            waiting: format!(
                "SELECT count(*), min(lease_until) FROM {l} \
                 WHERE state = '{copying}' AND lease_owner IS NULL AND lease_until > ?1"
            ),
            state_totals: format!(
                "SELECT state, count(*), COALESCE(sum(size), 0), COALESCE(sum(stored_size), 0) \
                 FROM {l} GROUP BY state"
            ),
            last_run: format!(
                "SELECT {run_columns} FROM {runs} ORDER BY started_ms DESC, id DESC LIMIT 1"
            ),
            insert_run: format!(
                "INSERT INTO {runs} ({run_columns}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ),
            ledger_page: format!(
                "SELECT {ledger_columns} FROM {l} WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2"
            ),
            walk: format!("SELECT changed, id, resumed FROM {walk_table} WHERE k = 1"),
            copying_left: format!("SELECT EXISTS (SELECT 1 FROM {l} WHERE state = '{copying}')"),
            keep_walk: format!(
                "INSERT INTO {walk_table} (k, changed, id, resumed) VALUES (1, ?1, ?2, ?3) \
                 ON CONFLICT (k) DO UPDATE SET changed = excluded.changed, id = excluded.id, \
                 resumed = excluded.resumed"
            ),
        }
    }

    /// The statements on the table schema version 3 added, which only the archiver runs.
    fn of_schema_3(&self) -> [&str; 2] {
        [&self.walk, &self.keep_walk]
    }

    /// The statements that read or write what schema version 2 added, which a read-only
    /// store on older tables never runs.
    fn of_schema_2(&self) -> [&str; 7] {
        [
            &self.deleted_between,
            &self.mark_deleted,
            &self.captured,
            &self.expired,
            &self.mark_expired,
            &self.expiring_totals,
            &self.expiring_sample,
        ]
    }

    /// Every statement, for checking at open that they compile against the tables.
    fn all(&self) -> [&str; 40] {
        [
            &self.deleted_between,
            &self.expired,
            &self.mark_expired,
            &self.expiring_totals,
            &self.expiring_sample,
            &self.capture,
            &self.captured,
            &self.claim_edge_first,
            &self.claim_edge_after,
            &self.claim_candidates_first,
            &self.claim_candidates_after,
            &self.claim_upsert,
            &self.read,
            &self.mark_archived,
            &self.release,
            &self.due,
            &self.stale,
            &self.stale_since,
            &self.take_lease,
            &self.owned_archived,
            &self.delete_record,
            &self.mark_deleted,
            &self.lock_record,
            &self.write_lookup,
            &self.hold_back,
            &self.restore,
            &self.forget_restored,
            &self.forget,
            &self.cold_totals,
            &self.cold_estimate,
            &self.cold_sample,
            &self.hot_totals,
            &self.state_totals,
            &self.last_run,
            &self.insert_run,
            &self.ledger_page,
            &self.waiting,
            &self.walk,
            &self.keep_walk,
            &self.copying_left,
        ]
    }
}

/// Opens the file and checks it, then builds the statements for its records table.
fn connect(
    path: &Path,
    names: &Names,
    exclude_where: Option<&str>,
    access: Access,
) -> Result<(Connection, Sql), StoreError> {
    let opening = format!("opening SQLite database {}", path.display());
    let mut conn = match access {
        Access::ReadWrite => Connection::open(path),
        // Not created when missing, and no journal mode set: the file stays as it is.
        Access::ReadOnly => Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY),
    }
    .map_err(|e| classify(&opening, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .and_then(|()| conn.pragma_update(None, "mmap_size", MMAP_BYTES))
        .map_err(|e| classify(&opening, e))?;
    if access == Access::ReadWrite {
        let journal: String = conn
            .pragma_update(None, "synchronous", "NORMAL")
            .and_then(|()| {
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            })
            .map_err(|e| classify(&opening, e))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "{opening}: WAL mode refused (journal mode {journal}); is the file on a network file system?"
            )));
        }
    }
    let body_is_text = check_columns(&conn, names)?;
    let mut sql = Sql::new(names, exclude_where, body_is_text);
    sql.changed_indexed = changed_indexed(&conn, names)?;
    sql.schema = migrate(&mut conn, &names.ledger, access)?;
    for statement in sql.all() {
        if (sql.schema < 2 && sql.of_schema_2().contains(&statement))
            || (sql.schema < 3 && sql.of_schema_3().contains(&statement))
        {
            continue;
        }
        conn.prepare_cached(statement).map_err(|e| {
            StoreError::Invalid(format!(
                "the queries built from [hot] do not fit table {} (check hot.exclude_where): {e}",
                names.table
            ))
        })?;
    }
    Ok((conn, sql))
}

/// Names the first configured column the records table lacks. Returns whether the body
/// column has TEXT affinity (a restore then writes the body as text, as the API did).
fn check_columns(conn: &Connection, names: &Names) -> Result<bool, StoreError> {
    let table = names.table.name();
    let present: Vec<(String, String)> = conn
        .prepare("SELECT name, type FROM pragma_table_info(?1)")
        .and_then(|mut s| {
            s.query_map([table], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(|e| classify(&format!("reading the columns of {table}"), e))?;
    if present.is_empty() {
        return Err(StoreError::Invalid(format!(
            "hot.table: the records table {table:?} does not exist in this database; check hot.table and hot.path"
        )));
    }
    let type_of = |column: &SqlName| {
        present
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column.name()))
            .map(|(_, kind)| kind.as_str())
    };
    for (key, column) in names.columns() {
        if type_of(column).is_none() {
            let names: Vec<&str> = present.iter().map(|(name, _)| name.as_str()).collect();
            return Err(StoreError::Invalid(format!(
                "{key}: table {table:?} has no column {:?} (it has: {}); fix the key",
                column.name(),
                names.join(", ")
            )));
        }
    }
    Ok(type_of(&names.body).is_some_and(has_text_affinity))
}

/// Whether an index of the records table leads with the changed column.
fn changed_indexed(conn: &Connection, names: &Names) -> Result<bool, StoreError> {
    let table = names.table.name();
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) AS l, pragma_index_info(l.name) AS i \
         WHERE i.seqno = 0 AND i.name = ?2 COLLATE NOCASE)",
        [table, names.changed.name()],
        |row| row.get(0),
    )
    .map_err(|e| classify(&format!("reading the indexes of {table}"), e))
}

/// Creates tiergate's tables, or checks that they are of this version. Read-only, it
/// creates nothing in the file: a database tiergate has not used yet gets empty temporary
/// tables of the same names, for this connection only, so that every query reads as if
/// nothing were archived.
/// Returns the schema version the tables have now: older than this code's only when
/// read-only (the archiver upgrades them).
fn migrate(conn: &mut Connection, ledger: &SqlName, access: Access) -> Result<i64, StoreError> {
    let l = ledger;
    let failed = |e| classify(&format!("creating tiergate's tables beside {l}"), e);
    let schema = l.with_suffix("_schema");
    let behavior = match access {
        Access::ReadWrite => TransactionBehavior::Immediate,
        Access::ReadOnly => TransactionBehavior::Deferred,
    };
    let tx = conn.transaction_with_behavior(behavior).map_err(failed)?;
    let exists = tx
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
            [schema.name()],
            |row| row.get::<_, i64>(0),
        )
        .map_err(failed)?
        > 0;
    let version: i64 = if exists {
        tx.query_row(
            &format!("SELECT COALESCE(max(version), 0) FROM {schema}"),
            [],
            |row| row.get(0),
        )
        .map_err(failed)?
    } else {
        0
    };
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "{l} has schema version {version}, newer than this tiergate ({SCHEMA_VERSION}); upgrade tiergate"
        )));
    }
    if version < 1 {
        let create = match access {
            Access::ReadWrite => {
                tracing::info!(ledger = %l, "creating tiergate's ledger tables");
                "CREATE TABLE"
            }
            Access::ReadOnly => "CREATE TEMP TABLE",
        };
        let (runs, runs_index) = (l.with_suffix("_runs"), l.with_suffix("_runs_started"));
        let changed_index = l.with_suffix("_state_changed");
        tx.execute_batch(&format!(
            "{create} IF NOT EXISTS {schema} (version INTEGER NOT NULL);
             {create} IF NOT EXISTS {l} (
                id TEXT PRIMARY KEY, state TEXT NOT NULL, version TEXT NOT NULL,
                blob_key TEXT, sha256 TEXT, size INTEGER, stored_size INTEGER,
                stored_sha256 TEXT, encoding TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT, lease_owner TEXT, lease_until INTEGER, claimed_at INTEGER,
                archived_at INTEGER, delete_after INTEGER, deleted_at INTEGER,
                updated_at INTEGER NOT NULL, row_columns TEXT, record_changed_at INTEGER);
             CREATE INDEX IF NOT EXISTS {changed_index} ON {l} (state, record_changed_at);
             {create} IF NOT EXISTS {runs} (
                id INTEGER PRIMARY KEY, owner TEXT NOT NULL, started_ms INTEGER NOT NULL,
                finished_ms INTEGER NOT NULL, claimed INTEGER NOT NULL, archived INTEGER NOT NULL,
                deleted INTEGER NOT NULL, restored INTEGER NOT NULL, failed INTEGER NOT NULL,
                bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, dry_run INTEGER NOT NULL,
                errors TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS {runs_index} ON {runs} (started_ms);
             {}
             INSERT INTO {schema} (version) VALUES ({SCHEMA_VERSION});",
            of_version_3(create, l)
        ))
        .map_err(failed)?;
    } else if version < SCHEMA_VERSION && access == Access::ReadOnly {
        tx.commit().map_err(failed)?;
        return Ok(version);
    } else {
        if version < 2 {
            upgrade_to_2(&tx, l).map_err(failed)?;
        }
        if version < 3 {
            tracing::info!(ledger = %l, "upgrading tiergate's ledger to schema version 3");
            // Rows deleted before keep their timing columns (24 bytes a row), rather
            // than the upgrade rewriting them all.
            tx.execute_batch(&format!(
                "DROP INDEX IF EXISTS {};
                 {}
                 INSERT INTO {} (version) VALUES (3);",
                l.with_suffix("_state_due"),
                of_version_3("CREATE TABLE", l),
                l.with_suffix("_schema")
            ))
            .map_err(failed)?;
        }
    }
    tx.commit().map_err(failed)?;
    Ok(SCHEMA_VERSION)
}

/// A count, its bytes and the first ids: `totals` answers one row (count, bytes), `sample`
/// the ids; both take `params`.
fn count(
    conn: &Connection,
    totals: &str,
    sample: &str,
    params: impl rusqlite::Params + Copy,
) -> rusqlite::Result<ColdCount> {
    let (records, bytes) = conn.prepare_cached(totals)?.query_row(params, |row| {
        Ok((from_sql(row.get(0)?), from_sql(row.get(1)?)))
    })?;
    let sample = conn
        .prepare_cached(sample)?
        .query_map(params, |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ColdCount {
        records,
        bytes,
        sample,
    })
}

/// Version 2 keeps the rest of a deleted record's row (`row_columns`) and its changed time
/// (`record_changed_at`, for retention). Rows deleted before keep what they had: a restore
/// puts back their configured columns, and their retention counts from their claim, which
/// came after their last change (so they expire a little late, never early). Copies made
/// before copies were staged become stale copies (`publish_unstaged`).
fn upgrade_to_2(tx: &rusqlite::Transaction<'_>, l: &SqlName) -> rusqlite::Result<()> {
    tracing::info!(ledger = %l, "upgrading tiergate's ledger to schema version 2");
    tx.execute_batch(&format!(
        "{}
         ALTER TABLE {l} ADD COLUMN row_columns TEXT;
         ALTER TABLE {l} ADD COLUMN record_changed_at INTEGER;
         UPDATE {l} SET record_changed_at = COALESCE(claimed_at, archived_at, updated_at)
           WHERE state = 'deleted';
         CREATE INDEX IF NOT EXISTS {} ON {l} (state, record_changed_at);
         INSERT INTO {} (version) VALUES (2);",
        crate::ledger_upgrade::publish_unstaged(l),
        l.with_suffix("_state_changed"),
        l.with_suffix("_schema")
    ))
}

/// What schema version 3 adds: the table that keeps where the archivers' walk over cold
/// records got to, one row ([`WalkResumes`]), whose position columns have no type, so that
/// they keep the cells as they were, whatever their storage class, and compare as the
/// table's own; and the index of copies in their grace period by delete time, which holds
/// archived rows only (version 2's held every row, finished ones too).
fn of_version_3(create: &str, l: &SqlName) -> String {
    format!(
        "{create} IF NOT EXISTS {} (k INTEGER PRIMARY KEY CHECK (k = 1), changed, id, \
           resumed INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS {} ON {l} (delete_after) WHERE state = '{}';",
        l.with_suffix("_walk"),
        l.with_suffix("_archived_due"),
        LedgerState::Archived.as_str()
    )
}

/// Every column of the locked row `id` but the body, as a [`row_image`], and its changed
/// time in unix ms (the last column of `capture`).
fn capture(tx: &rusqlite::Transaction<'_>, sql: &Sql, id: &str) -> rusqlite::Result<(String, i64)> {
    // Prepared afresh: a cached statement would name the columns the table had before an
    // ALTER TABLE.
    let mut statement = tx.prepare(&sql.capture)?;
    let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let columns = names.len() - 1;
    statement.query_row([id], |row| {
        let mut cells = Vec::with_capacity(columns);
        for (index, name) in names[..columns].iter().enumerate() {
            if !name.eq_ignore_ascii_case(&sql.body_name) {
                cells.push((name.as_str(), row.get_ref(index)?));
            }
        }
        Ok((row_image::encode(cells), row.get(columns)?))
    })
}

/// Puts back the row `image` kept, with the body from its copy: every cell the image holds
/// for a column the table still has and can take (generated columns compute themselves;
/// columns added since get their default).
fn restore_image(
    tx: &rusqlite::Transaction<'_>,
    sql: &Sql,
    row: &RestoredRow,
    image: &str,
) -> rusqlite::Result<()> {
    let unreadable = |why: String| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            Type::Text,
            format!("the ledger's copy of row {:?} is unreadable: {why}", row.id).into(),
        )
    };
    let cells = row_image::decode(image).map_err(unreadable)?;
    // Read now, not at open: the table may have changed since.
    let columns: Vec<String> = tx
        .prepare_cached("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0")?
        .query_map([&sql.table_name], |c| c.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut names = vec![quote(&sql.body_name)];
    let mut values = vec![body_value(sql.body_is_text, 1)];
    let mut bound = vec![rusqlite::types::Value::Blob(row.body.clone())];
    for cell in cells {
        let insertable = columns.iter().any(|name| {
            name.eq_ignore_ascii_case(&cell.name) && !name.eq_ignore_ascii_case(&sql.body_name)
        });
        if insertable {
            bound.push(cell.value);
            let n = bound.len();
            names.push(quote(&cell.name));
            values.push(if cell.raw_text {
                format!("CAST(?{n} AS TEXT)")
            } else {
                format!("?{n}")
            });
        }
    }
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        sql.table_sql,
        names.join(", "),
        values.join(", ")
    );
    tx.execute(&insert, rusqlite::params_from_iter(bound))?;
    Ok(())
}

/// SQLite's rule for a declared type that gives a column TEXT affinity.
fn has_text_affinity(declared: &str) -> bool {
    let upper = declared.to_ascii_uppercase();
    !upper.contains("INT") && ["CHAR", "CLOB", "TEXT"].iter().any(|t| upper.contains(t))
}

/// The value of parameter `n`, a body's bytes: text for a column of TEXT affinity, as the
/// API wrote it (SQLite keeps the bytes), else a BLOB.
fn body_value(body_is_text: bool, n: usize) -> String {
    if body_is_text {
        format!("CAST(?{n} AS TEXT)")
    } else {
        format!("?{n}")
    }
}

fn take_leases<'a>(
    tx: &rusqlite::Transaction<'_>,
    sql: &Sql,
    lease: &Lease,
    ids: impl Iterator<Item = &'a str>,
) -> rusqlite::Result<()> {
    let mut take = tx.prepare_cached(&sql.take_lease)?;
    for id in ids {
        take.execute(params![id, lease.owner, lease.until_ms(), lease.now_ms])?;
    }
    Ok(())
}

/// A body cell as bytes, whether stored as BLOB or text.
fn bytes(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    match row.get_ref(index)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
        other => Err(rusqlite::Error::FromSqlConversionFailure(
            index,
            other.data_type(),
            "the body column holds neither BLOB nor text".into(),
        )),
    }
}

/// A ledger `state` cell; anything else than the three names means a foreign writer.
fn state(row: &Row<'_>, index: usize) -> rusqlite::Result<LedgerState> {
    row.get_ref(index)?
        .as_str()?
        .parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        owner: row.get(0)?,
        started_ms: row.get(1)?,
        finished_ms: row.get(2)?,
        claimed: from_sql(row.get(3)?),
        archived: from_sql(row.get(4)?),
        deleted: from_sql(row.get(5)?),
        restored: from_sql(row.get(6)?),
        failed: from_sql(row.get(7)?),
        bytes_in: from_sql(row.get(8)?),
        bytes_out: from_sql(row.get(9)?),
        dry_run: row.get(10)?,
        errors: RunRow::errors_from_text(&row.get::<_, String>(11)?),
    })
}

/// Busy, locked and I/O trouble may pass; anything else needs the configuration or the
/// database fixed.
fn classify(doing: &str, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!(
                "{doing}: {error}; another writer held the database longer than {BUSY_TIMEOUT:?}"
            ))
        }
        Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull | ErrorCode::CannotOpen) => {
            StoreError::Unavailable(format!("{doing}: {error}"))
        }
        _ => StoreError::Invalid(format!("{doing}: {error}")),
    }
}

fn join_error(error: tokio::task::JoinError) -> StoreError {
    match error.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(error) => StoreError::Unavailable(format!("SQLite call cancelled: {error}")),
    }
}

/// The INSERT that puts a record back: ?1 id, ?2 body (bytes), ?3 the changed column's
/// value (NULL: now, ?6 in unix ms, as ISO-8601 text), ?4 content type, ?5 version. A body
/// column declared as text gets text (the bytes as UTF-8), as the API wrote it; SQLite
/// converts the rest by each column's affinity. ?4 and ?5 are named in the `WHERE` too, so
/// the statement takes the same six values whichever columns the table has.
fn restore_sql(names: &Names, body_is_text: bool) -> String {
    let t = &names.table;
    let mut columns = vec![
        names.id.to_string(),
        names.body.to_string(),
        names.changed.to_string(),
    ];
    let mut values = vec![
        "?1".to_owned(),
        body_value(body_is_text, 2),
        "COALESCE(?3, strftime('%Y-%m-%dT%H:%M:%fZ', ?6 / 1000.0, 'unixepoch'))".to_owned(),
    ];
    if let Some(content_type) = &names.content_type {
        columns.push(content_type.to_string());
        values.push("?4".to_owned());
    }
    if let Some(version) = &names.version {
        columns.push(version.to_string());
        values.push("?5".to_owned());
    }
    format!(
        "INSERT INTO {t} ({}) SELECT {} WHERE ?4 IS ?4 AND ?5 IS ?5",
        columns.join(", "),
        values.join(", ")
    )
}
