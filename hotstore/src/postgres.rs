//! The PostgreSQL backend: a small connection pool shared by the archiver's tasks.
//!
//! Archivers on several hosts share the work through row locks: a claim locks the rows it
//! picks with `SKIP LOCKED`, so concurrent claims pass over each other's rows instead of
//! waiting, and its ledger upsert only takes over a row whose lease is free, judged on the
//! latest committed ledger row, so a claim that raced another one drops that row.

use crate::Access;
use crate::cold_cursor::{ColdCursor, Position};
use crate::config::{HotConfig, Names};
use crate::error::StoreError;
use crate::sql_name::{SqlName, quote};
use crate::types::{
    ArchivedCopy, BeforeWrite, Claim, ColdCount, DeleteOutcome, HotRecord, Lease, LedgerRow,
    RestoredRow, RunRow, StaleCopy, StateCount, Status, from_sql, to_sql,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;
use tiergate_core::archival::LockedRow;
use tiergate_core::{LedgerState, WaitingForRetry, WalkResumes};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// How long to wait for a new connection; a server that takes longer is treated as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call waits for a free pooled connection before it fails as
/// [`StoreError::Unavailable`].
const POOL_WAIT: Duration = Duration::from_secs(30);

/// Versions are compared as text, and a timestamp's text depends on the session: fixing
/// the time zone and date style makes every host write and compare the same text.
const SESSION_OPTIONS: &str = "-c TimeZone=UTC -c DateStyle=ISO";

/// The version of the ledger tables this code creates and expects.
const SCHEMA_VERSION: i32 = 3;

/// The hot store on a PostgreSQL server.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    sql: Arc<Sql>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.sql.table)
            .field("pool", &self.pool.status())
            .finish()
    }
}

/// The statements, built once from the configured names.
#[derive(Debug)]
struct Sql {
    /// What a user sees in messages: the records table's name.
    table: String,
    /// A run's first claim, and the claims after it, which go on from the last record
    /// passed (the walk's position, `$7` and maybe `$8`).
    claim_cold_first: String,
    claim_cold_after: String,
    /// Whether the walk goes by changed time (an index leads with the changed column) or,
    /// without such an index, by id.
    changed_indexed: bool,
    read: String,
    /// The owner of a record: its row's owner column, else the ledger's image of its row.
    owner: String,
    mark_archived: String,
    release: String,
    claim_due: String,
    claim_stale: String,
    /// The same among the records changed since `$5`, read through the changed column.
    claim_stale_since: String,
    owned_archived: String,
    /// Deletes the hot row and marks the ledger row `deleted`, keeping every column of the
    /// row but the body (`row_columns`, as `to_json` writes them) and its changed time.
    delete_and_mark: String,
    /// Whether a restore has a whole row to put back, and its column names.
    captured: String,
    /// The ledger, quoted; the body column's unquoted name.
    ledger: String,
    body_name: String,
    body_is_bytea: bool,
    lock_record: String,
    /// Whether the table has a version column (otherwise the changed column is the version).
    versioned: bool,
    write_lookup: String,
    hold_back: String,
    restore: String,
    forget_restored: String,
    forget: String,
    claim_expired: String,
    mark_expired: String,
    expiring_totals: String,
    expiring_sample: String,
    deleted_between: String,
    /// The ledger's schema version: older than [`SCHEMA_VERSION`] only when read-only.
    schema: i32,
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

impl PostgresStore {
    /// Connects, checks the records table and its configured columns, and creates or
    /// upgrades tiergate's tables; with [`Access::ReadOnly`], changes nothing.
    pub(crate) async fn open(
        config: &HotConfig,
        names: Names,
        access: Access,
    ) -> Result<Self, StoreError> {
        let url = config.url.as_deref().ok_or_else(|| {
            StoreError::Invalid("hot.url: required for engine = \"postgres\"".into())
        })?;
        let mut pg: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Invalid(format!("hot.url: not a PostgreSQL connection URL: {e}"))
        })?;
        let env = |name: &str| std::env::var(name).ok();
        let pgpass = crate::pg_env::pgpass_path(env).and_then(|p| std::fs::read_to_string(p).ok());
        crate::pg_env::fill(&mut pg, env, pgpass.as_deref());
        let options = match pg.get_options() {
            Some(theirs) => format!("{theirs} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        pg.options(options);
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("tiergate");
        }
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Read-only, tiergate's tables may be temporary stand-ins, which live in one
        // session: one connection, kept.
        let pool_size = match access {
            Access::ReadWrite => config.pool_size.try_into().unwrap_or(usize::MAX),
            Access::ReadOnly => 1,
        };
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Invalid(format!("hot.pool_size: {e}")))?;
        let mut client = pool.get().await.map_err(pool_error)?;
        let facts = check_columns(&client, &names).await?;
        let schema = migrate(&mut client, &names.ledger, access).await?;
        let mut sql = Sql::new(&names, config.exclude_where.as_deref(), &facts);
        sql.schema = schema;
        for statement in sql.all() {
            if (schema < 2 && sql.of_schema_2().contains(&statement))
                || (schema < 3 && sql.of_schema_3().contains(&statement))
            {
                continue;
            }
            client.prepare_cached(statement).await.map_err(|e| {
                StoreError::Invalid(format!(
                    "the queries built from [hot] do not fit table {} (check hot.exclude_where and the column types): {}",
                    names.table,
                    describe(&e)
                ))
            })?;
        }
        Ok(Self {
            pool,
            sql: Arc::new(sql),
        })
    }

    /// Runs one statement on a pooled connection; `doing` says what for, in error messages.
    async fn query(
        &self,
        doing: &str,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let prepared = client
            .prepare_cached(statement)
            .await
            .map_err(self.fail(doing))?;
        client
            .query(&prepared, params)
            .await
            .map_err(self.fail(doing))
    }

    /// Like [`PostgresStore::query`], for statements that return no rows.
    async fn execute(
        &self,
        doing: &str,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let prepared = client
            .prepare_cached(statement)
            .await
            .map_err(self.fail(doing))?;
        client
            .execute(&prepared, params)
            .await
            .map_err(self.fail(doing))
    }

    fn fail(&self, doing: &str) -> impl Fn(tokio_postgres::Error) -> StoreError {
        let doing = format!("{doing} ({})", self.sql.table);
        move |e| classify(&doing, &e)
    }

    pub(crate) async fn claim_cold(
        &self,
        lease: &Lease,
        cutoff_ms: i64,
        limit: u32,
        cursor: &mut ColdCursor,
    ) -> Result<Vec<Claim>, StoreError> {
        let doing = "claiming cold records";
        let fail = self.fail(doing);
        let (asked, until) = (i64::from(limit), lease.until_ms());
        loop {
            let window = cursor.window(limit);
            let rows_looked_at = i64::from(window);
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![
                &lease.now_ms,
                &cutoff_ms,
                &asked,
                &lease.owner,
                &until,
                &rows_looked_at,
            ];
            let statement = match &cursor.at {
                None => &self.sql.claim_cold_first,
                Some(Position::Postgres { changed, id }) => {
                    if self.sql.changed_indexed {
                        params.push(changed);
                    }
                    params.push(id);
                    &self.sql.claim_cold_after
                }
                Some(Position::Sqlite { .. }) => return Err(crate::cold_cursor::foreign()),
            };
            let rows = self.query(doing, statement, &params).await?;
            // No row: the window was empty, the walk is at its end.
            let Some(first) = rows.first() else {
                return Ok(Vec::new());
            };
            let edge = Position::Postgres {
                id: first.try_get(0).map_err(&fail)?,
                changed: first.try_get(1).map_err(&fail)?,
            };
            let (mut found, mut last_found) = (0, None);
            let mut claims = Vec::with_capacity(rows.len());
            for row in &rows {
                let Some(id) = row.try_get::<_, Option<String>>(2).map_err(&fail)? else {
                    continue;
                };
                let changed: String = row.try_get(4).map_err(&fail)?;
                if row.try_get(5).map_err(&fail)? {
                    claims.push(Claim {
                        id: id.clone(),
                        version: row.try_get(3).map_err(&fail)?,
                    });
                }
                found += 1;
                last_found = Some(Position::Postgres { changed, id });
            }
            cursor.pass(window, limit, found, last_found, edge);
            if !claims.is_empty() {
                return Ok(claims);
            }
        }
    }

    pub(crate) fn changed_indexed(&self) -> bool {
        self.sql.changed_indexed
    }

    pub(crate) async fn walk(&self) -> Result<WalkResumes<ColdCursor>, StoreError> {
        let doing = "reading where the last walk got to";
        let rows = self.query(doing, &self.sql.walk, &[]).await?;
        let Some(row) = rows.first() else {
            return Ok(WalkResumes::default());
        };
        let fail = self.fail(doing);
        let changed: Option<String> = row.try_get(0).map_err(&fail)?;
        let id: Option<String> = row.try_get(1).map_err(&fail)?;
        let resumed: i32 = row.try_get(2).map_err(&fail)?;
        Ok(WalkResumes {
            end: changed
                .zip(id)
                .map(|(changed, id)| ColdCursor::after(Position::Postgres { changed, id })),
            resumed: u32::try_from(resumed).unwrap_or(0),
        })
    }

    pub(crate) async fn keep_walk(&self, walk: &WalkResumes<ColdCursor>) -> Result<(), StoreError> {
        let (changed, id) = match walk.end.as_ref().and_then(|end| end.at.as_ref()) {
            None => (None, None),
            Some(Position::Postgres { changed, id }) => (Some(changed), Some(id)),
            Some(Position::Sqlite { .. }) => return Err(crate::cold_cursor::foreign()),
        };
        let resumed = i32::try_from(walk.resumed).unwrap_or(i32::MAX);
        self.execute(
            "keeping where the walk got to",
            &self.sql.keep_walk,
            &[&changed, &id, &resumed],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn read(&self, id: &str) -> Result<Option<HotRecord>, StoreError> {
        let doing = "reading a record";
        let rows = self.query(doing, &self.sql.read, &[&id]).await?;
        rows.first()
            .map(|row| {
                Ok(HotRecord {
                    id: row.try_get(0)?,
                    version: row.try_get(1)?,
                    changed_ms: row.try_get(2)?,
                    content_type: row.try_get(3)?,
                    body: row.try_get(4)?,
                    owner: row.try_get(5)?,
                })
            })
            .transpose()
            .map_err(self.fail(doing))
    }

    pub(crate) async fn owner(&self, id: &str) -> Result<Option<String>, StoreError> {
        let doing = "reading a record's owner";
        let rows = self.query(doing, &self.sql.owner, &[&id]).await?;
        rows.first()
            .map(|row| row.try_get::<_, Option<String>>(0))
            .transpose()
            .map(Option::flatten)
            .map_err(self.fail(doing))
    }

    pub(crate) async fn mark_archived(
        &self,
        lease: &Lease,
        copy: &ArchivedCopy,
    ) -> Result<bool, StoreError> {
        let changed = self
            .execute(
                "marking a record archived",
                &self.sql.mark_archived,
                &[
                    &copy.id,
                    &lease.owner,
                    &copy.version,
                    &copy.blob_key,
                    &copy.sha256,
                    &to_sql(copy.size),
                    &to_sql(copy.stored_size),
                    &copy.stored_sha256,
                    &copy.encoding,
                    &copy.delete_after_ms,
                    &lease.now_ms,
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    pub(crate) async fn release(
        &self,
        lease: &Lease,
        id: &str,
        error: &str,
        retry_at_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .execute(
                "releasing a failed record",
                &self.sql.release,
                &[&id, &lease.owner, &error, &retry_at_ms, &lease.now_ms],
            )
            .await?;
        Ok(changed == 1)
    }

    pub(crate) async fn claim_due(
        &self,
        lease: &Lease,
        copied_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<ArchivedCopy>, StoreError> {
        let doing = "claiming records due for deletion";
        let rows = self
            .query(
                doing,
                &self.sql.claim_due,
                &[
                    &lease.now_ms,
                    &i64::from(limit),
                    &lease.owner,
                    &lease.until_ms(),
                    &copied_before_ms,
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ArchivedCopy {
                    id: row.try_get(0)?,
                    version: row.try_get(1)?,
                    blob_key: row.try_get(2)?,
                    sha256: row.try_get(3)?,
                    size: from_sql(row.try_get(4)?),
                    stored_size: from_sql(row.try_get(5)?),
                    stored_sha256: row.try_get(6)?,
                    encoding: row.try_get(7)?,
                    delete_after_ms: row.try_get(8)?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(self.fail(doing))
    }

    pub(crate) async fn delete_if_unchanged(
        &self,
        lease: &Lease,
        id: &str,
        version: &str,
        sha256: &str,
        publish: impl Future<Output = bool> + Send + 'static,
    ) -> Result<DeleteOutcome, StoreError> {
        let fail = self.fail("deleting an archived record");
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(&fail)?;
        // Locks the ledger row: no other run can take it over until this commits.
        let owned = tx
            .prepare_cached(&self.sql.owned_archived)
            .await
            .map_err(&fail)?;
        if tx
            .query_opt(&owned, &[&id, &lease.owner])
            .await
            .map_err(&fail)?
            .is_none()
        {
            return Ok(DeleteOutcome::LeaseLost);
        }
        // Locks the hot row: the application's writes to it wait until this ends.
        let lock = tx
            .prepare_cached(&self.sql.lock_record)
            .await
            .map_err(&fail)?;
        let row = tx.query_opt(&lock, &[&id]).await.map_err(&fail)?;
        let locked = row
            .as_ref()
            .map(|row| {
                Ok::<_, tokio_postgres::Error>(LockedRow {
                    version: row.try_get(0)?,
                    body: row.try_get(1)?,
                    held: row.try_get(2)?,
                })
            })
            .transpose()
            .map_err(&fail)?;
        if let Some(refused) = DeleteOutcome::of_locked_row(locked, version, sha256) {
            return Ok(refused);
        }
        if !publish.await {
            return Ok(DeleteOutcome::NotPublished);
        }
        let delete = tx
            .prepare_cached(&self.sql.delete_and_mark)
            .await
            .map_err(&fail)?;
        tx.execute(&delete, &[&id, &lease.now_ms])
            .await
            .map_err(&fail)?;
        tx.commit().await.map_err(&fail)?;
        Ok(DeleteOutcome::Deleted)
    }

    pub(crate) async fn before_write(
        &self,
        id: &str,
        hold_until_ms: i64,
    ) -> Result<BeforeWrite, StoreError> {
        let fail = self.fail("looking up a record before a write");
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(&fail)?;
        let lookup = tx
            .prepare_cached(&self.sql.write_lookup)
            .await
            .map_err(&fail)?;
        let Some(row) = tx.query_opt(&lookup, &[&id]).await.map_err(&fail)? else {
            return Ok(BeforeWrite::Hot);
        };
        let state: &str = row.try_get(0).map_err(&fail)?;
        let hot: bool = row.try_get(9).map_err(&fail)?;
        let found = match state.parse::<LedgerState>() {
            Ok(LedgerState::Archived) => {
                let hold = tx
                    .prepare_cached(&self.sql.hold_back)
                    .await
                    .map_err(&fail)?;
                tx.execute(&hold, &[&id, &hold_until_ms])
                    .await
                    .map_err(&fail)?;
                BeforeWrite::Hot
            }
            Ok(LedgerState::Deleted) if hot => BeforeWrite::StaleCopy,
            Ok(LedgerState::Deleted) => BeforeWrite::Archived(ArchivedCopy {
                id: id.to_owned(),
                version: row.try_get(1).map_err(&fail)?,
                blob_key: row.try_get(2).map_err(&fail)?,
                sha256: row.try_get(3).map_err(&fail)?,
                size: from_sql(row.try_get(4).map_err(&fail)?),
                stored_size: from_sql(row.try_get(5).map_err(&fail)?),
                stored_sha256: row.try_get(6).map_err(&fail)?,
                encoding: row.try_get(7).map_err(&fail)?,
                // Compacted away at the delete step: the grace period is over.
                delete_after_ms: row
                    .try_get::<_, Option<i64>>(8)
                    .map_err(&fail)?
                    .unwrap_or(0),
            }),
            Ok(LedgerState::Copying) => BeforeWrite::Hot,
            // A record the API created again after its copy expired is hot.
            Ok(LedgerState::Expired) if hot => BeforeWrite::Hot,
            Ok(LedgerState::Expired) => BeforeWrite::Expired,
            Err(e) => return Err(StoreError::Invalid(format!("ledger row of {id}: {e}"))),
        };
        tx.commit().await.map_err(&fail)?;
        Ok(found)
    }

    pub(crate) async fn restore_row(&self, row: &RestoredRow) -> Result<bool, StoreError> {
        let fail = self.fail("restoring a record to the hot table");
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(&fail)?;
        let lookup = tx
            .prepare_cached(&self.sql.write_lookup)
            .await
            .map_err(&fail)?;
        let still_deleted = match tx.query_opt(&lookup, &[&row.id]).await.map_err(&fail)? {
            Some(ledger) => {
                ledger.try_get::<_, &str>(0).map_err(&fail)? == LedgerState::Deleted.as_str()
                    && !ledger.try_get::<_, bool>(9).map_err(&fail)?
            }
            None => false,
        };
        if !still_deleted {
            return Ok(false);
        }
        let captured = tx.prepare_cached(&self.sql.captured).await.map_err(&fail)?;
        let image = tx.query_one(&captured, &[&row.id]).await.map_err(&fail)?;
        if image.try_get::<_, bool>(0).map_err(&fail)? {
            let keys: Vec<String> = image.try_get(1).map_err(&fail)?;
            let insert = self.restore_image_sql(&tx, &keys).await.map_err(&fail)?;
            tx.execute(&insert, &[&row.id, &row.body])
                .await
                .map_err(&fail)?;
            tx.commit().await.map_err(&fail)?;
            return Ok(true);
        }
        // A row deleted before the ledger kept whole rows: its configured columns.
        // The changed column is the version when there is no version column: put it back.
        let changed: Option<&str> = if self.sql.versioned {
            None
        } else {
            Some(&row.version)
        };
        let insert = tx.prepare_cached(&self.sql.restore).await.map_err(&fail)?;
        tx.execute(
            &insert,
            &[
                &row.id,
                &row.body,
                &changed,
                &row.content_type,
                &row.version,
                &row.now_ms,
            ],
        )
        .await
        .map_err(&fail)?;
        tx.commit().await.map_err(&fail)?;
        Ok(true)
    }

    /// The INSERT that puts back the whole row the ledger kept for $1, with the body $2 from
    /// its copy: every kept column the table still has and can take (generated columns
    /// compute themselves, columns added since get their default; identity columns get
    /// their kept value). The catalog is read now, not at open: the table may have changed.
    async fn restore_image_sql(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        kept: &[String],
    ) -> Result<String, tokio_postgres::Error> {
        let columns: Vec<String> = tx
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
                &[&self.sql.table],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let body = quote(&self.sql.body_name);
        let t = &self.sql.table;
        let mut names = vec![body.clone()];
        let mut values = vec![if self.sql.body_is_bytea {
            "$2::bytea".to_owned()
        } else {
            // Through the row type, so the text becomes whatever type the column has.
            format!(
                "(json_populate_record(NULL::{t}, json_build_object('{}', \
                 convert_from($2::bytea, 'UTF8')))).{body}",
                self.sql.body_name
            )
        }];
        for name in kept {
            if *name != self.sql.body_name && columns.contains(name) {
                names.push(quote(name));
                values.push(format!("r.{}", quote(name)));
            }
        }
        Ok(format!(
            "INSERT INTO {t} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} AS l, \
             json_populate_record(NULL::{t}, l.row_columns) AS r WHERE l.id = $1",
            names.join(", "),
            values.join(", "),
            self.sql.ledger,
        ))
    }

    pub(crate) async fn forget_restored(&self, id: &str) -> Result<bool, StoreError> {
        let doing = "forgetting a restored record";
        let client = self.pool.get().await.map_err(pool_error)?;
        let forget = client
            .prepare_cached(&self.sql.forget_restored)
            .await
            .map_err(self.fail(doing))?;
        Ok(client
            .execute(&forget, &[&id])
            .await
            .map_err(self.fail(doing))?
            == 1)
    }

    pub(crate) async fn claim_stale(
        &self,
        lease: &Lease,
        limit: u32,
        changed_since_ms: Option<i64>,
    ) -> Result<Vec<StaleCopy>, StoreError> {
        let doing = "claiming stale copies";
        let (limit, until) = (i64::from(limit), lease.until_ms());
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&lease.now_ms, &limit, &lease.owner, &until];
        let statement = match &changed_since_ms {
            None => &self.sql.claim_stale,
            Some(since) => {
                params.push(since);
                &self.sql.claim_stale_since
            }
        };
        let rows = self.query(doing, statement, &params).await?;
        rows.iter()
            .map(|row| {
                Ok(StaleCopy {
                    id: row.try_get(0).map_err(self.fail(doing))?,
                    blob_key: row.try_get(1).map_err(self.fail(doing))?,
                    state: state(row, 2, &self.sql.table)?,
                })
            })
            .collect()
    }

    pub(crate) async fn forget(&self, lease: &Lease, id: &str) -> Result<bool, StoreError> {
        let forgotten = self
            .execute(
                "forgetting a ledger row",
                &self.sql.forget,
                &[&id, &lease.owner],
            )
            .await?;
        Ok(forgotten == 1)
    }

    pub(crate) async fn claim_expired(
        &self,
        lease: &Lease,
        changed_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let doing = "claiming expired copies";
        let rows = self
            .query(
                doing,
                &self.sql.claim_expired,
                &[
                    &lease.now_ms,
                    &i64::from(limit),
                    &lease.owner,
                    &lease.until_ms(),
                    &changed_before_ms,
                ],
            )
            .await?;
        self.first_column(doing, &rows)
    }

    pub(crate) async fn mark_expired(&self, lease: &Lease, id: &str) -> Result<bool, StoreError> {
        let marked = self
            .execute(
                "marking a copy expired",
                &self.sql.mark_expired,
                &[&id, &lease.owner, &lease.now_ms],
            )
            .await?;
        Ok(marked == 1)
    }

    pub(crate) async fn count_expiring(
        &self,
        changed_before_ms: i64,
    ) -> Result<ColdCount, StoreError> {
        let doing = "counting expiring copies";
        if self.sql.schema < 2 {
            return Err(StoreError::ledger_behind(self.sql.schema.into(), doing));
        }
        let params: [&(dyn ToSql + Sync); 1] = [&changed_before_ms];
        let (totals, sample) = (&self.sql.expiring_totals, &self.sql.expiring_sample);
        self.count(doing, totals, sample, &params).await
    }

    pub(crate) async fn deleted_between(
        &self,
        from_ms: i64,
        until_ms: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let doing = "listing archived records by change time";
        if self.sql.schema < 2 {
            return Err(StoreError::ledger_behind(self.sql.schema.into(), doing));
        }
        let rows = self
            .query(
                doing,
                &self.sql.deleted_between,
                &[&from_ms, &until_ms, &after, &i64::from(limit)],
            )
            .await?;
        self.first_column(doing, &rows)
    }

    pub(crate) async fn count_cold(
        &self,
        now_ms: i64,
        cutoff_ms: i64,
    ) -> Result<ColdCount, StoreError> {
        let doing = "counting cold records";
        let params: [&(dyn ToSql + Sync); 2] = [&now_ms, &cutoff_ms];
        let (totals, sample) = (&self.sql.cold_totals, &self.sql.cold_sample);
        self.count(doing, totals, sample, &params).await
    }

    pub(crate) async fn estimate_cold(
        &self,
        now_ms: i64,
        cutoff_ms: i64,
    ) -> Result<u64, StoreError> {
        let doing = "estimating the cold records";
        let plan = self
            .query(doing, &self.sql.cold_estimate, &[&now_ms, &cutoff_ms])
            .await?;
        let top: String = plan
            .first()
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(self.fail(doing))?
            .unwrap_or_default();
        planned_rows(&top).ok_or_else(|| {
            StoreError::Invalid(format!(
                "{doing}: no row estimate in the plan's line {top:?}"
            ))
        })
    }

    /// A count, its bytes and the first ids: `totals` answers one row (count, bytes),
    /// `sample` the ids; both take `params`.
    async fn count(
        &self,
        doing: &str,
        totals: &str,
        sample: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<ColdCount, StoreError> {
        let totals = self.query(doing, totals, params).await?;
        let sample = self.query(doing, sample, params).await?;
        let (records, bytes) = totals_of(&totals).map_err(self.fail(doing))?;
        Ok(ColdCount {
            records,
            bytes,
            sample: self.first_column(doing, &sample)?,
        })
    }

    /// The text in the first column of every row.
    fn first_column(&self, doing: &str, rows: &[Row]) -> Result<Vec<String>, StoreError> {
        rows.iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(self.fail(doing))
    }

    pub(crate) async fn waiting_for_retry(
        &self,
        now_ms: i64,
    ) -> Result<WaitingForRetry, StoreError> {
        let doing = "counting records that wait for a retry";
        let rows = self.query(doing, &self.sql.waiting, &[&now_ms]).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Invalid(format!("{doing}: no row from an aggregate")))?;
        Ok(WaitingForRetry {
            records: from_sql(row.try_get(0).map_err(self.fail(doing))?),
            next_retry_ms: row.try_get(1).map_err(self.fail(doing))?,
        })
    }

    pub(crate) async fn copying_left(&self) -> Result<bool, StoreError> {
        let doing = "looking for unfinished copies";
        let rows = self.query(doing, &self.sql.copying_left, &[]).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Invalid(format!("{doing}: no row from EXISTS")))?;
        row.try_get(0).map_err(self.fail(doing))
    }

    pub(crate) async fn status(&self) -> Result<Status, StoreError> {
        let doing = "reading the status";
        let hot = self.query(doing, &self.sql.hot_totals, &[]).await?;
        let (hot_records, hot_bytes) = totals_of(&hot).map_err(self.fail(doing))?;
        let counted = self
            .query(doing, &self.sql.state_totals, &[])
            .await?
            .iter()
            .map(|row| {
                Ok(StateCount {
                    state: state(row, 0, &self.sql.table)?,
                    records: from_sql(row.try_get(1).map_err(self.fail(doing))?),
                    bytes: from_sql(row.try_get(2).map_err(self.fail(doing))?),
                    stored_bytes: from_sql(row.try_get(3).map_err(self.fail(doing))?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let last_run = self
            .query(doing, &self.sql.last_run, &[])
            .await?
            .first()
            .map(run_row)
            .transpose()
            .map_err(self.fail(doing))?;
        Ok(Status {
            hot_records,
            hot_bytes,
            states: StateCount::every_state(counted),
            last_run,
        })
    }

    pub(crate) async fn record_run(&self, run: &RunRow) -> Result<(), StoreError> {
        self.execute(
            "recording a run",
            &self.sql.insert_run,
            &[
                &run.owner,
                &run.started_ms,
                &run.finished_ms,
                &to_sql(run.claimed),
                &to_sql(run.archived),
                &to_sql(run.deleted),
                &to_sql(run.restored),
                &to_sql(run.failed),
                &to_sql(run.bytes_in),
                &to_sql(run.bytes_out),
                &run.dry_run,
                &run.errors_text(),
            ],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn ledger_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        let doing = "reading the ledger";
        let rows = self
            .query(doing, &self.sql.ledger_page, &[&after, &i64::from(limit)])
            .await?;
        rows.iter()
            .map(|row| {
                let fail = self.fail(doing);
                let attempts: i32 = row.try_get(9).map_err(&fail)?;
                Ok(LedgerRow {
                    id: row.try_get(0).map_err(&fail)?,
                    state: state(row, 1, &self.sql.table)?,
                    version: row.try_get(2).map_err(&fail)?,
                    blob_key: row.try_get(3).map_err(&fail)?,
                    sha256: row.try_get(4).map_err(&fail)?,
                    size: row
                        .try_get::<_, Option<i64>>(5)
                        .map_err(&fail)?
                        .map(from_sql),
                    stored_size: row
                        .try_get::<_, Option<i64>>(6)
                        .map_err(&fail)?
                        .map(from_sql),
                    stored_sha256: row.try_get(7).map_err(&fail)?,
                    encoding: row.try_get(8).map_err(&fail)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    last_error: row.try_get(10).map_err(&fail)?,
                    lease_owner: row.try_get(11).map_err(&fail)?,
                    lease_until: row.try_get(12).map_err(&fail)?,
                    claimed_at: row.try_get(13).map_err(&fail)?,
                    archived_at: row.try_get(14).map_err(&fail)?,
                    delete_after: row.try_get(15).map_err(&fail)?,
                    deleted_at: row.try_get(16).map_err(&fail)?,
                    updated_at: row.try_get(17).map_err(&fail)?,
                })
            })
            .collect()
    }
}

impl Sql {
    fn new(names: &Names, exclude_where: Option<&str>, facts: &TableFacts) -> Self {
        let body_is_bytea = facts.body_is_bytea;
        let Names {
            table: t,
            ledger: l,
            ..
        } = names;
        let col = |name: &SqlName| format!("{t}.{name}");
        let (id, changed) = (col(&names.id), col(&names.changed));
        // Ids travel as text (the ledger's key, the components' strings): compared with the
        // id column cast back to its own type, so that an index on it serves, and any id
        // type (bigint, uuid, varchar) works.
        let it = &facts.id_type;
        let id_is_1 = format!("{id} = CAST($1::text AS {it})");
        let body = if body_is_bytea {
            col(&names.body)
        } else {
            format!("convert_to(CAST({} AS text), 'UTF8')", col(&names.body))
        };
        let changed_ms = format!("CAST(floor(extract(epoch FROM {changed}) * 1000) AS bigint)");
        let version = format!(
            "CAST({} AS text)",
            col(names.version.as_ref().unwrap_or(&names.changed))
        );
        let content_type = names.content_type.as_ref().map_or_else(
            || "CAST(NULL AS text)".to_owned(),
            |c| format!("CAST({} AS text)", col(c)),
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
        let length = format!("octet_length({body})");
        let owner = names.owner.as_ref().map_or_else(
            || "CAST(NULL AS text)".to_owned(),
            |c| format!("CAST({} AS text)", col(c)),
        );
        // A column name is a plain identifier (checked when parsed): safe in a literal.
        let imaged_owner = names.owner.as_ref().map_or_else(
            || "CAST(NULL AS text)".to_owned(),
            |c| format!("l.row_columns ->> '{}'", c.name()),
        );
        let [copying, archived, deleted, expired] = LedgerState::ALL.map(LedgerState::as_str);
        // Cold records a claim may take: $1 = now, $2 = cutoff. Only the records table is in
        // scope at this level, so `exclude_where` sees its columns unqualified. Comparing
        // the column itself (not its milliseconds) lets an index on it serve the query.
        let eligible_where = |fence: &str| {
            format!(
                "FROM {t} WHERE {changed} < to_timestamp($2::bigint / 1000.0) \
                 AND {body} IS NOT NULL AND NOT {kept} \
                 AND NOT EXISTS (SELECT 1 FROM {l} AS l WHERE l.id = CAST({id} AS text) \
                 AND NOT (l.state = '{copying}' AND (l.lease_until IS NULL OR l.lease_until <= $1)) \
                 {fence})"
            )
        };
        // Counts take every eligible row, which an anti-join with the ledger finds fastest.
        let eligible = eligible_where("");
        // A claim takes a batch: `OFFSET 0` keeps PostgreSQL from making its ledger check an
        // anti-join, which walks the whole ledger (or hashes it) at every claim, so that
        // each row the walk reaches costs one lookup by key instead.
        let eligible_one_by_one = eligible_where("OFFSET 0");
        let order = format!("ORDER BY {changed}, {id}");
        // The hot side of a ledger row, for comparing versions.
        let hot = |filter: &str| {
            format!(
                "(SELECT CAST({id} AS text) AS id, {version} AS version, {kept} AS kept FROM {t} {filter}) AS h"
            )
        };
        let ledger_columns = "l.id, l.state, l.version, l.blob_key, l.sha256, l.size, \
            l.stored_size, l.stored_sha256, l.encoding, l.attempts, l.last_error, l.lease_owner, \
            l.lease_until, l.claimed_at, l.archived_at, l.delete_after, l.deleted_at, l.updated_at";
        let free = "(l.lease_until IS NULL OR l.lease_until <= $1)";
        // $1 = now, $2 = limit, $3 = owner, $4 = lease until: leases the rows `picked` selects
        // ($5 = copied before, in claim_due).
        let take_leases = |picked: &str, returning: &str| {
            format!(
                "WITH picked AS ({picked} LIMIT $2 FOR UPDATE OF l SKIP LOCKED) \
                 UPDATE {l} AS l SET lease_owner = $3, lease_until = $4, updated_at = $1 \
                 FROM picked WHERE l.id = picked.id RETURNING {returning}"
            )
        };
        let runs = l.with_suffix("_runs");
        let walk_table = l.with_suffix("_walk");
        let run_columns = "owner, started_ms, finished_ms, claimed, archived, deleted, restored, \
            failed, bytes_in, bytes_out, dry_run, errors";
        // Ledger rows whose copy no longer matches the hot row `h` (NULL when gone).
        let stale = format!(
            "{free} AND ((l.state IN ('{copying}', '{archived}') \
               AND (h.id IS NULL OR h.version IS DISTINCT FROM l.version OR h.kept)) \
             OR (l.state IN ('{deleted}', '{expired}') AND h.id IS NOT NULL))"
        );
        // A claim's walk: by changed time and id where an index on the changed column serves
        // it, else by id alone (the primary key's index). $7 (and $8) are the position of the
        // last record passed, as text, cast back to the columns' types. `up_to_edge` keeps
        // a statement within its window (`edge` is the window's last row); the plain bound
        // on the leading column is what lets the index scan stop there.
        let ct = &facts.changed_type;
        let (walk, walk_back, walked, within, after, up_to_edge) = if facts.changed_indexed {
            (
                format!("{changed}, {id}"),
                "walk_changed DESC, walk_id DESC",
                "c.changed, c.walk_id",
                format!("{changed} < to_timestamp($2::bigint / 1000.0)"),
                format!(
                    "AND {changed} >= CAST($7::text AS {ct}) \
                     AND ({changed}, {id}) > (CAST($7::text AS {ct}), CAST($8::text AS {it}))"
                ),
                format!(
                    "AND {changed} <= (SELECT walk_changed FROM edge) \
                     AND ({changed}, {id}) <= (SELECT walk_changed, walk_id FROM edge)"
                ),
            )
        } else {
            (
                id.clone(),
                "walk_id DESC",
                "c.walk_id",
                "TRUE".to_owned(),
                format!("AND {id} > CAST($7::text AS {it})"),
                format!("AND {id} <= (SELECT walk_id FROM edge)"),
            )
        };
        // $6 = the window: how many rows of the walk the statement looks at. Every row
        // found claimable comes back, claimed or not (another claim that raced this one
        // took it), with the window's edge on every row (alone when none was found), so
        // that the walk moves past what was looked at. FOR NO KEY UPDATE: enough to keep
        // concurrent claims apart, and unlike FOR UPDATE it does not block inserts
        // elsewhere that reference a record by key.
        let claim_cold = |after: &str| {
            format!(
                "WITH window_rows AS ( \
                   SELECT {id} AS walk_id, {changed} AS walk_changed FROM {t} \
                   WHERE {within} {after} ORDER BY {walk} LIMIT $6), \
                 edge AS (SELECT walk_id, walk_changed FROM window_rows ORDER BY {walk_back} LIMIT 1), \
                 candidates AS ( \
                   SELECT CAST({id} AS text) AS id, {version} AS version, \
                     CAST({changed} AS text) AS changed_text, {id} AS walk_id, {changed} AS changed \
                   {eligible_one_by_one} {after} {up_to_edge} \
                   ORDER BY {walk} LIMIT $3 FOR NO KEY UPDATE SKIP LOCKED), \
                 claimed AS ( \
                   INSERT INTO {l} AS l (id, state, version, attempts, lease_owner, lease_until, claimed_at, updated_at) \
                   SELECT id, '{copying}', version, 1, $4::text, $5::bigint, $1::bigint, $1::bigint FROM candidates \
                   ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version, \
                     attempts = l.attempts + 1, lease_owner = EXCLUDED.lease_owner, \
                     lease_until = EXCLUDED.lease_until, claimed_at = EXCLUDED.claimed_at, \
                     updated_at = EXCLUDED.updated_at \
                   WHERE l.state = '{copying}' AND {free} \
                   RETURNING l.id) \
                 SELECT CAST(e.walk_id AS text), CAST(e.walk_changed AS text), \
                   c.id, c.version, c.changed_text, claimed.id IS NOT NULL \
                 FROM edge AS e LEFT JOIN candidates AS c ON TRUE \
                   LEFT JOIN claimed ON claimed.id = c.id \
                 ORDER BY {walked}"
            )
        };
        Self {
            table: t.to_string(),
            claim_cold_first: claim_cold(""),
            claim_cold_after: claim_cold(&after),
            changed_indexed: facts.changed_indexed,
            read: format!(
                "SELECT CAST({id} AS text), {version}, {changed_ms}, {content_type}, {body}, {owner} \
                 FROM {t} WHERE {id_is_1}"
            ),
            owner: format!(
                "SELECT owner FROM ( \
                   SELECT 0 AS k, {owner} AS owner FROM {t} WHERE {id_is_1} \
                   UNION ALL SELECT 1, {imaged_owner} FROM {l} AS l \
                   WHERE l.id = $1 AND l.row_columns IS NOT NULL) AS found \
                 ORDER BY k LIMIT 1"
            ),
            mark_archived: format!(
                "UPDATE {l} SET state = '{archived}', version = $3, blob_key = $4, sha256 = $5, \
                 size = $6, stored_size = $7, stored_sha256 = $8, encoding = $9, \
                 delete_after = $10, archived_at = $11, updated_at = $11, \
                 lease_owner = NULL, lease_until = NULL, last_error = NULL \
                 WHERE id = $1 AND state = '{copying}' AND lease_owner = $2"
            ),
            release: format!(
                "UPDATE {l} SET last_error = $3, lease_owner = NULL, lease_until = $4, updated_at = $5 \
                 WHERE id = $1 AND state = '{copying}' AND lease_owner = $2"
            ),
            claim_due: take_leases(
                &format!(
                    "SELECT l.id FROM {l} AS l WHERE l.state = '{archived}' \
                     AND l.delete_after <= $1 AND l.archived_at < $5 AND {free} \
                     ORDER BY l.delete_after, l.id"
                ),
                "l.id, l.version, l.blob_key, l.sha256, l.size, l.stored_size, \
                 l.stored_sha256, l.encoding, l.delete_after",
            ),
            claim_stale: take_leases(
                &format!(
                    "SELECT l.id FROM {l} AS l LEFT JOIN {} ON h.id = l.id WHERE {stale} ORDER BY l.id",
                    hot("")
                ),
                "l.id, l.blob_key, l.state",
            ),
            // The records changed since $5, joined: each has a hot row (`h.id` is set).
            claim_stale_since: take_leases(
                &format!(
                    "SELECT l.id FROM {} JOIN {l} AS l ON l.id = h.id WHERE {stale} ORDER BY l.id",
                    hot(&format!(
                        "WHERE {changed} >= to_timestamp($5::bigint / 1000.0)"
                    ))
                ),
                "l.id, l.blob_key, l.state",
            ),
            owned_archived: format!(
                "SELECT 1 FROM {l} WHERE id = $1 AND state = '{archived}' AND lease_owner = $2 \
                 FOR UPDATE"
            ),
            lock_record: format!(
                "SELECT {version}, {body}, {kept} FROM {t} WHERE {id_is_1} FOR UPDATE"
            ),
            delete_and_mark: format!(
                "WITH gone AS (DELETE FROM {t} AS r WHERE r.{} = CAST($1::text AS {it}) \
                   RETURNING to_json(r) AS whole, \
                   CAST(floor(extract(epoch FROM r.{}) * 1000) AS bigint) AS changed_ms) \
                 UPDATE {l} AS l SET state = '{deleted}', deleted_at = $2, lease_owner = NULL, \
                   lease_until = NULL, {}, updated_at = $2, \
                   record_changed_at = gone.changed_ms, \
                   row_columns = (SELECT json_object_agg(e.key, e.value) FROM json_each(gone.whole) AS e \
                     WHERE e.key <> '{}') \
                 FROM gone WHERE l.id = $1",
                names.id,
                names.changed,
                crate::COMPACTED_AT_DELETE,
                names.body.name()
            ),
            captured: format!(
                "SELECT row_columns IS NOT NULL, \
                 ARRAY(SELECT json_object_keys(row_columns)) FROM {l} WHERE id = $1"
            ),
            body_name: names.body.name().to_owned(),
            body_is_bytea,
            ledger: l.to_string(),
            versioned: names.version.is_some(),
            write_lookup: format!(
                "SELECT l.state, l.version, l.blob_key, l.sha256, l.size, l.stored_size, \
                 l.stored_sha256, l.encoding, l.delete_after, \
                 EXISTS (SELECT 1 FROM {t} WHERE {id_is_1}) \
                 FROM {l} AS l WHERE l.id = $1 FOR UPDATE OF l"
            ),
            hold_back: format!(
                "UPDATE {l} SET delete_after = GREATEST(delete_after, $2) WHERE id = $1"
            ),
            restore: restore_sql(names, body_is_bytea),
            forget_restored: format!(
                "DELETE FROM {l} WHERE id = $1 AND state = '{deleted}' \
                 AND EXISTS (SELECT 1 FROM {t} WHERE {id_is_1})"
            ),
            forget: format!("DELETE FROM {l} WHERE id = $1 AND lease_owner = $2"),
            claim_expired: take_leases(
                &format!(
                    "SELECT l.id FROM {l} AS l WHERE l.state = '{deleted}' \
                     AND l.record_changed_at < $5 AND {free} ORDER BY l.record_changed_at, l.id"
                ),
                "l.id",
            ),
            mark_expired: format!(
                "UPDATE {l} SET state = '{expired}', row_columns = NULL, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $3 \
                 WHERE id = $1 AND state = '{deleted}' AND lease_owner = $2"
            ),
            expiring_totals: format!(
                "SELECT count(*), CAST(COALESCE(sum(stored_size), 0) AS bigint) FROM {l} \
                 WHERE state = '{deleted}' AND record_changed_at < $1"
            ),
            deleted_between: format!(
                "SELECT id FROM {l} WHERE state = '{deleted}' AND record_changed_at >= $1 \
                 AND record_changed_at < $2 AND ($3::text IS NULL OR id > $3) ORDER BY id LIMIT $4"
            ),
            expiring_sample: format!(
                "SELECT id FROM {l} WHERE state = '{deleted}' AND record_changed_at < $1 \
                 ORDER BY record_changed_at, id LIMIT {}",
                crate::COLD_SAMPLE
            ),
            schema: SCHEMA_VERSION,
            cold_totals: format!(
                "SELECT count(*), CAST(COALESCE(sum({length}), 0) AS bigint) {eligible}"
            ),
            cold_estimate: format!("EXPLAIN SELECT 1 {eligible}"),
            cold_sample: format!(
                "SELECT CAST({id} AS text) {eligible} {order} LIMIT {}",
                crate::COLD_SAMPLE
            ),
            hot_totals: format!(
                "SELECT count(*), CAST(COALESCE(sum({length}), 0) AS bigint) FROM {t}"
            ),
            waiting: format!(
                "SELECT count(*), min(lease_until) FROM {l} \
                 WHERE state = '{copying}' AND lease_owner IS NULL AND lease_until > $1"
            ),
            state_totals: format!(
                "SELECT state, count(*), CAST(COALESCE(sum(size), 0) AS bigint), \
                 CAST(COALESCE(sum(stored_size), 0) AS bigint) FROM {l} GROUP BY state"
            ),
            last_run: format!(
                "SELECT {run_columns} FROM {runs} ORDER BY started_ms DESC, id DESC LIMIT 1"
            ),
            insert_run: format!(
                "INSERT INTO {runs} ({run_columns}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            ledger_page: format!(
                "SELECT {ledger_columns} FROM {l} AS l WHERE $1::text IS NULL OR l.id > $1 \
                 ORDER BY l.id LIMIT $2"
            ),
            walk: format!("SELECT changed, id, resumed FROM {walk_table} WHERE k = 1"),
            copying_left: format!("SELECT EXISTS (SELECT 1 FROM {l} WHERE state = '{copying}')"),
            keep_walk: format!(
                "INSERT INTO {walk_table} (k, changed, id, resumed) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (k) DO UPDATE SET changed = EXCLUDED.changed, id = EXCLUDED.id, \
                 resumed = EXCLUDED.resumed"
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
            &self.delete_and_mark,
            &self.captured,
            &self.claim_expired,
            &self.mark_expired,
            &self.expiring_totals,
            &self.expiring_sample,
        ]
    }

    /// Every statement, for checking at open that they compile against the tables.
    fn all(&self) -> [&str; 34] {
        [
            &self.deleted_between,
            &self.claim_expired,
            &self.mark_expired,
            &self.expiring_totals,
            &self.expiring_sample,
            &self.claim_cold_first,
            &self.claim_cold_after,
            &self.read,
            &self.mark_archived,
            &self.release,
            &self.claim_due,
            &self.claim_stale,
            &self.claim_stale_since,
            &self.owned_archived,
            &self.delete_and_mark,
            &self.captured,
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

/// What the queries need to know of the records table.
#[derive(Debug)]
struct TableFacts {
    /// Whether the body column is `bytea` (else it is read as text and returned as its
    /// UTF-8 bytes).
    body_is_bytea: bool,
    /// The types of the id and changed columns, as SQL, for casting a walk's position back.
    id_type: String,
    changed_type: String,
    /// Whether an index leads with the changed column.
    changed_indexed: bool,
}

/// Names the first configured column the records table lacks, checks the types that the
/// queries depend on, and looks for an index on the changed column.
async fn check_columns(
    client: &tokio_postgres::Client,
    names: &Names,
) -> Result<TableFacts, StoreError> {
    let table = &names.table;
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&table.to_string()],
        )
        .await
        .map_err(|e| classify(&format!("reading the columns of {table}"), &e))?;
    let columns: Vec<(String, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    if columns.is_empty() {
        return Err(StoreError::Invalid(format!(
            "hot.table: the records table {table} does not exist in this database (names match \
             exactly; PostgreSQL keeps unquoted names in lower case); check hot.table and hot.url"
        )));
    }
    let type_of = |key: &str, column: &SqlName| {
        columns
            .iter()
            .find(|(name, _)| name == column.name())
            .map(|(_, kind)| kind.as_str())
            .ok_or_else(|| {
                let present: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
                StoreError::Invalid(format!(
                    "{key}: table {table} has no column {column} (it has: {}); fix the key",
                    present.join(", ")
                ))
            })
    };
    for (key, column) in names.columns() {
        type_of(key, column)?;
    }
    let changed = type_of("hot.changed_column", &names.changed)?;
    if !matches!(
        changed,
        "timestamp with time zone" | "timestamp without time zone"
    ) {
        return Err(StoreError::Invalid(format!(
            "hot.changed_column: {table}.{} is {changed}; tiergate reads timestamptz or timestamp (as UTC)",
            names.changed
        )));
    }
    if let Some(hold) = &names.hold {
        let kind = type_of("hot.hold_column", hold)?;
        if kind != "boolean" {
            return Err(StoreError::Invalid(format!(
                "hot.hold_column: {table}.{hold} is {kind}; a legal hold column must be boolean"
            )));
        }
    }
    let changed_indexed = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index AS i JOIN pg_attribute AS a \
             ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE i.indrelid = to_regclass($1) AND a.attname = $2)",
            &[&table.to_string(), &names.changed.name()],
        )
        .await
        .map_err(|e| classify(&format!("reading the indexes of {table}"), &e))?
        .get(0);
    Ok(TableFacts {
        body_is_bytea: type_of("hot.body_column", &names.body)? == "bytea",
        id_type: type_of("hot.id_column", &names.id)?.to_owned(),
        changed_type: changed.to_owned(),
        changed_indexed,
    })
}

/// Creates tiergate's tables, or checks that they are of this version. An advisory lock
/// keeps hosts that start together from creating them twice. Read-only, it creates nothing
/// in the database: before tiergate's first run its tables are empty temporary stand-ins
/// of the same names, for this session only, so that every query reads as if nothing were
/// archived.
async fn migrate(
    client: &mut tokio_postgres::Client,
    ledger: &SqlName,
    access: Access,
) -> Result<i32, StoreError> {
    let l = ledger;
    let doing = format!("creating tiergate's tables beside {l}");
    let failed = |e: tokio_postgres::Error| classify(&doing, &e);
    let schema = l.with_suffix("_schema");
    let tx = client.transaction().await.map_err(failed)?;
    if access == Access::ReadWrite {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&l.to_string()],
        )
        .await
        .map_err(failed)?;
    }
    let exists: bool = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&schema.to_string()])
        .await
        .map_err(failed)?
        .get(0);
    let version: i32 = if exists {
        tx.query_one(
            &format!("SELECT COALESCE(max(version), 0) FROM {schema}"),
            &[],
        )
        .await
        .map_err(failed)?
        .get(0)
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
            // A temporary table lives in the session's own schema, which an unqualified
            // name finds first; a schema-qualified name would still miss it.
            Access::ReadOnly if l.is_qualified() => {
                return Err(StoreError::Invalid(format!(
                    "tiergate's ledger {l} does not exist yet: nothing has been archived; run \
                     `tiergate archive --once` to create it"
                )));
            }
            Access::ReadOnly => "CREATE TEMP TABLE",
        };
        let runs = l.with_suffix("_runs");
        // Index names take no schema: PostgreSQL puts an index beside its table.
        let (runs_index, changed_index) = (
            format!("\"{}_runs_started\"", l.name()),
            format!("\"{}_state_changed\"", l.name()),
        );
        tx.batch_execute(&format!(
            "{create} IF NOT EXISTS {schema} (version integer NOT NULL);
             {create} IF NOT EXISTS {l} (
                id text PRIMARY KEY, state text NOT NULL, version text NOT NULL,
                blob_key text, sha256 text, size bigint, stored_size bigint,
                stored_sha256 text, encoding text, attempts integer NOT NULL DEFAULT 0,
                last_error text, lease_owner text, lease_until bigint, claimed_at bigint,
                archived_at bigint, delete_after bigint, deleted_at bigint,
                updated_at bigint NOT NULL, row_columns json, record_changed_at bigint);
             CREATE INDEX IF NOT EXISTS {changed_index} ON {l} (state, record_changed_at);
             {create} IF NOT EXISTS {runs} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner text NOT NULL,
                started_ms bigint NOT NULL, finished_ms bigint NOT NULL,
                claimed bigint NOT NULL, archived bigint NOT NULL, deleted bigint NOT NULL,
                restored bigint NOT NULL, failed bigint NOT NULL, bytes_in bigint NOT NULL,
                bytes_out bigint NOT NULL, dry_run boolean NOT NULL, errors text NOT NULL);
             CREATE INDEX IF NOT EXISTS {runs_index} ON {runs} (started_ms);
             {}
             INSERT INTO {schema} (version) VALUES ({SCHEMA_VERSION});",
            of_version_3(create, l)
        ))
        .await
        .map_err(failed)?;
    } else if version < SCHEMA_VERSION && access == Access::ReadOnly {
        tx.commit().await.map_err(failed)?;
        return Ok(version);
    } else {
        upgrade(&tx, l, version).await.map_err(failed)?;
    }
    tx.commit().await.map_err(failed)?;
    Ok(SCHEMA_VERSION)
}

/// Brings the ledger tables of schema `version` (at least 1) up to [`SCHEMA_VERSION`].
async fn upgrade(
    tx: &tokio_postgres::Transaction<'_>,
    l: &SqlName,
    version: i32,
) -> Result<(), tokio_postgres::Error> {
    let schema = l.with_suffix("_schema");
    if version < 2 {
        // Version 2 keeps the rest of a deleted record's row and its changed time (for
        // retention). Rows deleted before keep what they had: a restore puts back their
        // configured columns, and their retention counts from their claim, which came after
        // their last change (so they expire a little late, never early). Copies made before
        // copies were staged become stale copies (`publish_unstaged`).
        tracing::info!(ledger = %l, "upgrading tiergate's ledger to schema version 2");
        let changed_index = format!("\"{}_state_changed\"", l.name());
        tx.batch_execute(&format!(
            "{}
             ALTER TABLE {l} ADD COLUMN row_columns json;
             ALTER TABLE {l} ADD COLUMN record_changed_at bigint;
             UPDATE {l} SET record_changed_at = COALESCE(claimed_at, archived_at, updated_at)
               WHERE state = 'deleted';
             CREATE INDEX IF NOT EXISTS {changed_index} ON {l} (state, record_changed_at);
             INSERT INTO {schema} (version) VALUES (2);",
            crate::ledger_upgrade::publish_unstaged(l)
        ))
        .await?;
    }
    if version < 3 {
        tracing::info!(ledger = %l, "upgrading tiergate's ledger to schema version 3");
        // Rows deleted before keep their timing columns: rewriting them all would double
        // the table until the next vacuum, for 24 bytes a row.
        tx.batch_execute(&format!(
            "DROP INDEX IF EXISTS {};
             {}
             INSERT INTO {schema} (version) VALUES (3);",
            l.with_suffix("_state_due"),
            of_version_3("CREATE TABLE", l)
        ))
        .await?;
    }
    Ok(())
}

/// What schema version 3 adds: the table that keeps where the archivers' walk over cold
/// records got to, one row ([`tiergate_core::WalkResumes`], the position in the session's
/// text forms); and the index of copies in their grace period by delete time, which holds
/// archived rows only (version 2's held every row, finished ones too).
fn of_version_3(create: &str, l: &SqlName) -> String {
    format!(
        "{create} IF NOT EXISTS {} (k integer PRIMARY KEY CHECK (k = 1), changed text, \
           id text, resumed integer NOT NULL);
         CREATE INDEX IF NOT EXISTS \"{}_archived_due\" ON {l} (delete_after) \
           WHERE state = '{}';",
        l.with_suffix("_walk"),
        l.name(),
        LedgerState::Archived.as_str()
    )
}

/// The planner's row estimate in the top line of an `EXPLAIN`, such as
/// `Index Scan using ... (cost=0.43..8.45 rows=1234 width=4)`.
fn planned_rows(line: &str) -> Option<u64> {
    let rows = line.split_once(" rows=")?.1;
    let digits = rows.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

fn totals_of(rows: &[Row]) -> Result<(u64, u64), tokio_postgres::Error> {
    match rows.first() {
        Some(row) => Ok((from_sql(row.try_get(0)?), from_sql(row.try_get(1)?))),
        None => Ok((0, 0)),
    }
}

/// A ledger `state` cell; anything else than the three names means a foreign writer.
fn state(row: &Row, index: usize, table: &str) -> Result<LedgerState, StoreError> {
    let text: &str = row
        .try_get(index)
        .map_err(|e| classify(&format!("reading the ledger beside {table}"), &e))?;
    text.parse()
        .map_err(|e| StoreError::Invalid(format!("ledger beside {table}: {e}")))
}

fn run_row(row: &Row) -> Result<RunRow, tokio_postgres::Error> {
    Ok(RunRow {
        owner: row.try_get(0)?,
        started_ms: row.try_get(1)?,
        finished_ms: row.try_get(2)?,
        claimed: from_sql(row.try_get(3)?),
        archived: from_sql(row.try_get(4)?),
        deleted: from_sql(row.try_get(5)?),
        restored: from_sql(row.try_get(6)?),
        failed: from_sql(row.try_get(7)?),
        bytes_in: from_sql(row.try_get(8)?),
        bytes_out: from_sql(row.try_get(9)?),
        dry_run: row.try_get(10)?,
        errors: RunRow::errors_from_text(row.try_get(11)?),
    })
}

/// Connection trouble and the SQLSTATE classes that mean "try again" (connection
/// exception, transaction rollback, insufficient resources, object not in prerequisite
/// state such as a lock timeout, operator intervention, system error) are
/// [`StoreError::Unavailable`]; everything else is a problem with the schema or the data.
fn classify(doing: &str, error: &tokio_postgres::Error) -> StoreError {
    let message = format!("{doing}: {}", describe(error));
    let retryable = match error.code() {
        Some(code) => matches!(&code.code()[..2], "08" | "40" | "53" | "55" | "57" | "58"),
        None => error.is_closed() || error.source().is_some_and(|s| s.is::<std::io::Error>()),
    };
    if retryable {
        StoreError::Unavailable(message)
    } else {
        StoreError::Invalid(message)
    }
}

fn pool_error(error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(e) => classify("connecting to PostgreSQL (hot.url)", &e),
        PoolError::Timeout(_) => StoreError::Unavailable(format!(
            "no PostgreSQL connection within {POOL_WAIT:?}: the server is slow or unreachable, or every pooled connection is busy (raise hot.pool_size?)"
        )),
        other => StoreError::Unavailable(format!("PostgreSQL connection pool: {other}")),
    }
}

/// tokio-postgres puts the server's message in the error's source.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.source() {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// The INSERT that puts a record back: $1 id, $2 body (bytes), $3 the changed column's text
/// (NULL: now, $6 in unix ms), $4 content type, $5 version. The values go through
/// `json_populate_record`, which converts text to each column's own type as PostgreSQL
/// reads it (integer, timestamptz, jsonb, ...); a binary body goes in as it is. Keys for
/// columns the table does not have are ignored.
fn restore_sql(names: &Names, body_is_bytea: bool) -> String {
    let t = &names.table;
    let mut columns = vec![&names.id, &names.body, &names.changed];
    columns.extend(names.content_type.as_ref());
    columns.extend(names.version.as_ref());
    let key = |name: Option<&SqlName>, fallback: &str| {
        name.map_or_else(|| fallback.to_owned(), |n| n.name().to_owned())
    };
    // A text body is converted from its UTF-8 bytes, as the archiver read it.
    let body_pair = if body_is_bytea {
        String::new()
    } else {
        format!("'{}', convert_from($2::bytea, 'UTF8'), ", names.body.name())
    };
    let pairs = format!(
        "'{}', $1::text, {body_pair}\
         '{}', COALESCE($3::text, CAST(to_timestamp($6::bigint / 1000.0) AS text)), \
         '{}', $4::text, '{}', $5::text",
        names.id.name(),
        names.changed.name(),
        key(names.content_type.as_ref(), "_tiergate_content_type"),
        key(names.version.as_ref(), "_tiergate_version"),
    );
    let values: Vec<String> = columns
        .iter()
        .map(|c| {
            if body_is_bytea && *c == &names.body {
                "$2::bytea".to_owned()
            } else {
                format!("r.{c}")
            }
        })
        .collect();
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    format!(
        "INSERT INTO {t} ({}) SELECT {} FROM json_populate_record(NULL::{t}, \
         json_build_object({pairs})) AS r",
        columns.join(", "),
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::planned_rows;

    #[test]
    fn the_row_estimate_is_read_from_a_plan_line() {
        let line = "Index Scan using r_updated_at_idx on r  (cost=0.43..8.45 rows=1234 width=4)";
        assert_eq!(planned_rows(line), Some(1234));
        assert_eq!(
            planned_rows("Result  (cost=0.00..0.01 rows=1 width=4)"),
            Some(1)
        );
        assert_eq!(planned_rows("Seq Scan on r"), None);
    }
}
