//! A records table of its own for each test, in SQLite or PostgreSQL, and the test's own
//! connection to change records behind the store's back, as the origin API would.

// Each test file uses a part of this module.
#![allow(dead_code)]

// The skip note every test crate of the workspace writes, from its one place.
#[allow(unreachable_pub)]
#[path = "../../../tests/src/skipped.rs"]
mod skipped;
use skipped::skipped;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tiergate_hotstore::{Engine, HotConfig, HotStore, Lease, LedgerRow};

/// Where the PostgreSQL tests look for a server, unless `TIERGATE_TEST_POSTGRES_URL` says.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server of these tests.
pub(crate) fn postgres_url() -> String {
    std::env::var("TIERGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into())
}

/// Set to 1 (as CI does) to make the PostgreSQL tests fail instead of skip without a server.
const REQUIRE_POSTGRES: &str = "TIERGATE_REQUIRE_POSTGRES";

/// A moment in the tests' timeline (unix ms, 2023-11-14): records are dated around it.
pub(crate) const T0: i64 = 1_700_000_000_000;

/// A lease for `owner` at `now_ms`, for one second.
pub(crate) fn lease(owner: &str, now_ms: i64) -> Lease {
    Lease {
        owner: owner.into(),
        now_ms,
        duration_ms: 1_000,
    }
}

/// A name no other test (or earlier run) uses.
pub(crate) fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test's direct line to the database.
pub(crate) enum Db {
    Sqlite(Mutex<rusqlite::Connection>),
    Postgres(tokio_postgres::Client),
}

impl Db {
    pub(crate) async fn exec(&self, sql: &str) {
        match self {
            Db::Sqlite(conn) => conn
                .lock()
                .unwrap()
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Db::Postgres(client) => client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}")),
        }
    }

    pub(crate) async fn count(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(conn) => conn
                .lock()
                .unwrap()
                .query_row(sql, [], |row| row.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Db::Postgres(client) => client
                .query_one(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                .get(0),
        }
    }

    /// Every cell of row `id` of `table`, typed and exact, as one string to compare: for
    /// SQLite each value with its storage class (a REAL to the last bit, TEXT as bytes),
    /// for PostgreSQL the row's text form (each column's own output function).
    pub(crate) async fn snapshot(&self, table: &str, id: &str) -> String {
        let sql = format!("SELECT * FROM {table} WHERE id = '{id}'");
        match self {
            Db::Sqlite(conn) => {
                let conn = conn.lock().unwrap();
                let mut statement = conn.prepare(&sql).unwrap();
                let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
                statement
                    .query_row([], |row| {
                        Ok(names
                            .iter()
                            .enumerate()
                            .map(|(i, name)| Ok(format!("{name}={:?}", row.get_ref(i)?)))
                            .collect::<rusqlite::Result<Vec<_>>>()?
                            .join(" "))
                    })
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Db::Postgres(client) => {
                let sql = format!("SELECT t::text FROM {table} AS t WHERE id = '{id}'");
                client
                    .query_one(&sql, &[])
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                    .get(0)
            }
        }
    }

    /// An SQL expression for the instant `ms` in the fixture's changed column.
    pub(crate) fn at(&self, ms: i64) -> String {
        match self {
            Db::Sqlite(_) => format!("strftime('%Y-%m-%dT%H:%M:%fZ', {ms} / 1000.0, 'unixepoch')"),
            Db::Postgres(_) => format!("to_timestamp({ms} / 1000.0)"),
        }
    }

    pub(crate) fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

/// A store over a fresh records table with an index on its changed column (claims walk by
/// changed time), a hold column, a content-type column and
/// `exclude_where = "state = 'draft'"` (a column name the ledger has too).
pub(crate) struct Fixture {
    pub(crate) store: HotStore,
    pub(crate) config: HotConfig,
    pub(crate) db: Db,
    pub(crate) table: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    pub(crate) async fn sqlite() -> Fixture {
        Self::sqlite_with_ids("TEXT").await
    }

    /// A SQLite fixture whose id column has type `id_type`.
    pub(crate) async fn sqlite_with_ids(id_type: &str) -> Fixture {
        let (dir, db, mut config) = sqlite_db();
        let table = config.table.clone();
        db.exec(&format!(
            "CREATE TABLE {table} (id {id_type} PRIMARY KEY, updated_at TEXT NOT NULL, body BLOB, \
             content_type TEXT, held INTEGER NOT NULL DEFAULT 0, state TEXT); \
             CREATE INDEX {table}_updated_at ON {table} (updated_at)"
        ))
        .await;
        configure(&mut config);
        Fixture::open(db, config, Some(dir)).await
    }

    /// `None` (after saying so) when no server is reachable and none is required.
    pub(crate) async fn postgres() -> Option<Fixture> {
        Self::postgres_with_ids("text").await
    }

    /// A PostgreSQL fixture whose id column has type `id_type`; `None` as
    /// [`postgres`](Self::postgres).
    pub(crate) async fn postgres_with_ids(id_type: &str) -> Option<Fixture> {
        let (db, mut config) = postgres_db().await?;
        let table = config.table.clone();
        db.exec(&format!(
            "CREATE TABLE {table} (id {id_type} PRIMARY KEY, updated_at timestamptz NOT NULL, body bytea, \
             content_type text, held boolean NOT NULL DEFAULT false, state text); \
             CREATE INDEX ON {table} (updated_at)"
        ))
        .await;
        configure(&mut config);
        Some(Fixture::open(db, config, None).await)
    }

    pub(crate) async fn open(db: Db, config: HotConfig, dir: Option<tempfile::TempDir>) -> Fixture {
        let store = HotStore::open(&config)
            .await
            .unwrap_or_else(|e| panic!("opening the {} store: {e}", db.engine()));
        Fixture {
            store,
            table: config.table.clone(),
            config,
            db,
            _dir: dir,
        }
    }

    /// Drops the test's tables (the SQLite file goes with its directory).
    pub(crate) async fn cleanup(self) {
        if let Db::Postgres(_) = self.db {
            let ledger = &self.config.ledger_table;
            self.db
                .exec(&format!(
                    "DROP TABLE IF EXISTS {}, {ledger}, {ledger}_runs, {ledger}_walk, {ledger}_schema",
                    self.table
                ))
                .await;
        }
    }

    /// Adds a record that changed at `changed_ms`.
    pub(crate) async fn insert(&self, id: &str, changed_ms: i64, body: &[u8]) {
        let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
        let literal = match self.db {
            Db::Sqlite(_) => format!("X'{hex}'"),
            Db::Postgres(_) => format!("'\\x{hex}'::bytea"),
        };
        self.db
            .exec(&format!(
                "INSERT INTO {} (id, updated_at, body, content_type) VALUES ('{id}', {}, {literal}, 'application/pdf')",
                self.table,
                self.db.at(changed_ms)
            ))
            .await;
    }

    /// Changes a record as the origin API would: a new changed time, so a new version.
    pub(crate) async fn touch(&self, id: &str, changed_ms: i64) {
        self.update(id, &format!("updated_at = {}", self.db.at(changed_ms)))
            .await;
    }

    pub(crate) async fn update(&self, id: &str, set: &str) {
        self.db
            .exec(&format!(
                "UPDATE {} SET {set} WHERE id = '{id}'",
                self.table
            ))
            .await;
    }

    pub(crate) async fn hold(&self, id: &str) {
        self.update(id, "held = TRUE").await;
    }

    pub(crate) async fn remove(&self, id: &str) {
        self.db
            .exec(&format!("DELETE FROM {} WHERE id = '{id}'", self.table))
            .await;
    }

    pub(crate) async fn exists(&self, id: &str) -> bool {
        let sql = format!("SELECT count(*) FROM {} WHERE id = '{id}'", self.table);
        self.db.count(&sql).await == 1
    }

    /// The ledger row of `id`, read through the store.
    pub(crate) async fn ledger(&self, id: &str) -> Option<LedgerRow> {
        let page = self.store.ledger_page(None, 10_000).await.unwrap();
        page.into_iter().find(|row| row.id == id)
    }
}

fn configure(config: &mut HotConfig) {
    config.content_type_column = Some("content_type".into());
    config.hold_column = Some("held".into());
    config.exclude_where = Some("state = 'draft'".into());
}

/// A fresh SQLite file with the test's own connection, and a config naming unique tables.
pub(crate) fn sqlite_db() -> (tempfile::TempDir, Db, HotConfig) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hot.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let config = HotConfig {
        path: Some(path),
        table: unique("records"),
        ledger_table: unique("ledger"),
        ..HotConfig::new(Engine::Sqlite)
    };
    (dir, Db::Sqlite(Mutex::new(conn)), config)
}

/// The test's own PostgreSQL connection and a config naming unique tables; `None` (after
/// saying so) when no server is reachable and none is required.
pub(crate) async fn postgres_db() -> Option<(Db, HotConfig)> {
    let url = postgres_url();
    let connected = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    let (client, connection) = match connected {
        Ok(Ok(connected)) => connected,
        failed => {
            let why = match failed {
                Ok(Err(e)) => match std::error::Error::source(&e) {
                    Some(source) => format!("{e}: {source}"),
                    None => e.to_string(),
                },
                _ => "timed out".into(),
            };
            if std::env::var(REQUIRE_POSTGRES).as_deref() == Ok("1") {
                panic!("PostgreSQL not reachable at {url} ({why}) and {REQUIRE_POSTGRES}=1");
            }
            skipped(&format!("PostgreSQL not reachable at {url} ({why})"));
            return None;
        }
    };
    tokio::spawn(connection);
    let config = HotConfig {
        url: Some(url),
        table: unique("records"),
        ledger_table: unique("ledger"),
        pool_size: 4,
        ..HotConfig::new(Engine::Postgres)
    };
    Some((Db::Postgres(client), config))
}

/// Runs each named `async fn(&Fixture)` once per engine, as `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let fixture = $crate::common::Fixture::sqlite().await;
                super::$name(&fixture).await;
                fixture.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(fixture) = $crate::common::Fixture::postgres().await {
                    super::$name(&fixture).await;
                    fixture.cleanup().await;
                }
            }
        }
    )*};
}
