//! The hot database of the API under test: a records table in SQLite (a file) or in the
//! machine's PostgreSQL (a table of the test's own), with its `version` and `updated_at`,
//! plus an origin API that serves it over HTTP, as the API tiergate sits in front of would.
//!
//! PostgreSQL tests run when a server answers at `TIERGATE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); otherwise they are skipped with a message,
//! unless `TIERGATE_REQUIRE_POSTGRES=1`.

use crate::loopback::LoopbackServer;
use crate::scratch_dir::ScratchDir;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default PostgreSQL of this kind of machine.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A records table and tiergate's ledger beside it.
#[derive(Clone)]
pub struct HotDb(Arc<Engine>);

enum Engine {
    Sqlite {
        _dir: ScratchDir,
        path: std::path::PathBuf,
        conn: Mutex<rusqlite::Connection>,
    },
    Postgres {
        url: String,
        client: tokio_postgres::Client,
        table: String,
    },
}

impl std::fmt::Debug for HotDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Engine::Sqlite { path, .. } => write!(f, "HotDb(sqlite {})", path.display()),
            Engine::Postgres { table, .. } => write!(f, "HotDb(postgres table {table})"),
        }
    }
}

impl HotDb {
    /// A fresh SQLite file.
    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = ScratchDir::create("hot-db")?;
        let path = dir.path().join("records.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE records (
                 id TEXT PRIMARY KEY,
                 body BLOB NOT NULL,
                 content_type TEXT,
                 version INTEGER NOT NULL,
                 updated_at TEXT NOT NULL,
                 legal_hold INTEGER NOT NULL DEFAULT 0
             );",
        )?;
        Ok(Self(Arc::new(Engine::Sqlite {
            _dir: dir,
            path,
            conn: Mutex::new(conn),
        })))
    }

    /// A fresh table in the machine's PostgreSQL, or none (with a message) when none runs.
    pub async fn postgres() -> anyhow::Result<Option<Self>> {
        let url = std::env::var("TIERGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let (client, connection) = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await
        {
            Ok(connected) => connected,
            Err(e) if std::env::var("TIERGATE_REQUIRE_POSTGRES").as_deref() != Ok("1") => {
                crate::skipped(&format!("PostgreSQL not reachable at {url}: {e}"));
                return Ok(None);
            }
            Err(e) => anyhow::bail!("PostgreSQL required but not reachable at {url}: {e}"),
        };
        tokio::spawn(connection);
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let table = format!(
            "records_{}_{}_{}",
            std::process::id(),
            SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() % 1_000_000,
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (
                     id TEXT PRIMARY KEY,
                     body BYTEA NOT NULL,
                     content_type TEXT,
                     version BIGINT NOT NULL,
                     updated_at TIMESTAMPTZ NOT NULL,
                     legal_hold BOOLEAN NOT NULL DEFAULT false
                 )"
            ))
            .await?;
        Ok(Some(Self(Arc::new(Engine::Postgres {
            url,
            client,
            table,
        }))))
    }

    /// The `[hot]` section of a config for this database.
    pub fn hot_toml(&self) -> String {
        let (engine, location, table) = match &*self.0 {
            Engine::Sqlite { path, .. } => (
                "sqlite",
                format!("path = '{}'", path.display()),
                "records".to_owned(),
            ),
            Engine::Postgres { url, table, .. } => {
                ("postgres", format!("url = '{url}'"), table.clone())
            }
        };
        format!(
            "[hot]\nengine = \"{engine}\"\n{location}\ntable = \"{table}\"\n\
             content_type_column = \"content_type\"\nversion_column = \"version\"\n\
             hold_column = \"legal_hold\"\nledger_table = \"{table}_ledger\"\n"
        )
    }

    /// Inserts record `id`, last changed `age` ago, at version 1.
    pub async fn insert(&self, id: &str, body: &[u8], age: Duration) -> anyhow::Result<()> {
        let at = SystemTime::now() - age;
        match &*self.0 {
            Engine::Sqlite { conn, .. } => {
                conn.lock().unwrap().execute(
                    "INSERT INTO records (id, body, content_type, version, updated_at) VALUES (?1, ?2, 'application/json', 1, ?3)",
                    rusqlite::params![id, body, iso(at)],
                )?;
            }
            Engine::Postgres { client, table, .. } => {
                client
                    .execute(
                        &format!("INSERT INTO {table} (id, body, content_type, version, updated_at) VALUES ($1, $2, 'application/json', 1, $3)"),
                        &[&id, &body, &at],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Replaces record `id`'s body, as the API does on a PUT: a new version, changed now.
    /// False when there is no such record.
    pub async fn update(&self, id: &str, body: &[u8]) -> anyhow::Result<bool> {
        let now = SystemTime::now();
        let changed = match &*self.0 {
            Engine::Sqlite { conn, .. } => conn.lock().unwrap().execute(
                "UPDATE records SET body = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
                rusqlite::params![id, body, iso(now)],
            )? as u64,
            Engine::Postgres { client, table, .. } => {
                client
                    .execute(
                        &format!("UPDATE {table} SET body = $2, version = version + 1, updated_at = $3 WHERE id = $1"),
                        &[&id, &body, &now],
                    )
                    .await?
            }
        };
        Ok(changed == 1)
    }

    /// Moves record `id`'s changed time `age` into the past, leaving its body and version:
    /// time passing, for a record that should become cold. False when there is no such
    /// record.
    pub async fn age(&self, id: &str, age: Duration) -> anyhow::Result<bool> {
        let at = SystemTime::now() - age;
        let changed = match &*self.0 {
            Engine::Sqlite { conn, .. } => conn.lock().unwrap().execute(
                "UPDATE records SET updated_at = ?2 WHERE id = ?1",
                rusqlite::params![id, iso(at)],
            )? as u64,
            Engine::Postgres { client, table, .. } => {
                client
                    .execute(
                        &format!("UPDATE {table} SET updated_at = $2 WHERE id = $1"),
                        &[&id, &at],
                    )
                    .await?
            }
        };
        Ok(changed == 1)
    }

    /// Puts record `id` under legal hold.
    pub async fn hold(&self, id: &str) -> anyhow::Result<()> {
        match &*self.0 {
            Engine::Sqlite { conn, .. } => {
                conn.lock()
                    .unwrap()
                    .execute("UPDATE records SET legal_hold = 1 WHERE id = ?1", [id])?;
            }
            Engine::Postgres { client, table, .. } => {
                client
                    .execute(
                        &format!("UPDATE {table} SET legal_hold = true WHERE id = $1"),
                        &[&id],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Record `id`'s bytes, if the table still holds it.
    pub async fn get(&self, id: &str) -> anyhow::Result<Option<Bytes>> {
        Ok(match &*self.0 {
            Engine::Sqlite { conn, .. } => {
                let conn = conn.lock().unwrap();
                let mut statement =
                    conn.prepare_cached("SELECT body FROM records WHERE id = ?1")?;
                let mut rows = statement.query([id])?;
                match rows.next()? {
                    Some(row) => Some(Bytes::from(row.get::<_, Vec<u8>>(0)?)),
                    None => None,
                }
            }
            Engine::Postgres { client, table, .. } => client
                .query_opt(&format!("SELECT body FROM {table} WHERE id = $1"), &[&id])
                .await?
                .map(|row| Bytes::from(row.get::<_, Vec<u8>>(0))),
        })
    }

    /// Deletes record `id`, as the API does on a DELETE. False when there is no such record.
    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let deleted = match &*self.0 {
            Engine::Sqlite { conn, .. } => {
                conn.lock()
                    .unwrap()
                    .execute("DELETE FROM records WHERE id = ?1", [id])? as u64
            }
            Engine::Postgres { client, table, .. } => {
                client
                    .execute(&format!("DELETE FROM {table} WHERE id = $1"), &[&id])
                    .await?
            }
        };
        Ok(deleted == 1)
    }

    /// The records table's name: `records` in SQLite, a table of this database's own in
    /// PostgreSQL. Columns: `id`, `body`, `content_type`, `version`, `updated_at` (the
    /// changed column) and `legal_hold`.
    pub fn table(&self) -> &str {
        match &*self.0 {
            Engine::Sqlite { .. } => "records",
            Engine::Postgres { table, .. } => table,
        }
    }

    /// Runs `sql`, one or more statements, on the database: for what the other methods do
    /// not cover, such as filling the [table](Self::table) with millions of rows in one
    /// statement (the scale benchmark). PostgreSQL runs several statements in one
    /// transaction, so a `VACUUM` must come alone.
    pub async fn execute_batch(&self, sql: &str) -> anyhow::Result<()> {
        match &*self.0 {
            Engine::Sqlite { conn, .. } => conn.lock().unwrap().execute_batch(sql)?,
            Engine::Postgres { client, .. } => client.batch_execute(sql).await?,
        }
        Ok(())
    }

    /// How many records the table holds.
    pub async fn count(&self) -> anyhow::Result<u64> {
        let count = self
            .number(&format!("SELECT count(*) FROM {}", self.table()))
            .await?;
        Ok(u64::try_from(count)?)
    }

    /// The integer `sql` selects (one row, one column).
    pub async fn number(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(match &*self.0 {
            Engine::Sqlite { conn, .. } => conn.lock().unwrap().query_row(sql, [], |r| r.get(0))?,
            Engine::Postgres { client, .. } => client.query_one(sql, &[]).await?.get(0),
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Engine::Postgres { url, table, .. } = self {
            // Tables of a finished test go; a separate connection, since this one may be
            // mid-drop with its runtime.
            let (url, table) = (url.clone(), table.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                rt.block_on(async {
                    let (client, connection) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!(
                            "DROP TABLE IF EXISTS {table}; DROP TABLE IF EXISTS {table}_ledger; \
                             DROP TABLE IF EXISTS {table}_ledger_runs; DROP TABLE IF EXISTS {table}_ledger_walk; \
                             DROP TABLE IF EXISTS {table}_ledger_schema;"
                        ))
                        .await
                })
                .map_err(std::io::Error::other)
            })
            .join();
        }
    }
}

fn iso(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .expect("a time after 1970")
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The API over a [`HotDb`]: `GET`, `PUT`, `PATCH` (appends its body to the record) and
/// `DELETE /records/{id}`, 404 for what the table does not hold.
#[derive(Debug)]
pub struct HotOrigin {
    server: LoopbackServer,
}

/// What the API does with a `PUT` of a record it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutKind {
    /// Answers 404: a `PUT` only replaces.
    Updates,
    /// Creates the record at version 1 (so a version repeats when a record is deleted and
    /// created again) and answers 201.
    Creates,
}

impl HotOrigin {
    /// Serves `db` on a free loopback port; a `PUT` only replaces.
    pub async fn start(db: HotDb) -> anyhow::Result<Self> {
        Self::start_with(db, PutKind::Updates).await
    }

    /// Serves `db` on a free loopback port, with `PUT`s that do what `put` says.
    pub async fn start_with(db: HotDb, put: PutKind) -> anyhow::Result<Self> {
        let service = service_fn(move |request: Request<Incoming>| {
            let db = db.clone();
            async move { Ok::<_, Infallible>(handle(&db, put, request).await) }
        });
        Ok(Self {
            server: LoopbackServer::start(service).await?,
        })
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}

async fn handle(db: &HotDb, put: PutKind, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    };
    let Some(id) = request
        .uri()
        .path()
        .strip_prefix("/records/")
        .map(str::to_owned)
    else {
        return reply(StatusCode::NOT_FOUND, Bytes::new());
    };
    let result = match *request.method() {
        Method::GET => db.get(&id).await.map(|found| match found {
            Some(body) => reply(StatusCode::OK, body),
            None => reply(StatusCode::NOT_FOUND, Bytes::new()),
        }),
        Method::PUT => match request.into_body().collect().await {
            Ok(body) => {
                let body = body.to_bytes();
                match db.update(&id, &body).await {
                    Ok(true) => Ok(reply(StatusCode::NO_CONTENT, Bytes::new())),
                    Ok(false) if put == PutKind::Creates => db
                        .insert(&id, &body, Duration::ZERO)
                        .await
                        .map(|()| reply(StatusCode::CREATED, Bytes::new())),
                    Ok(false) => Ok(reply(StatusCode::NOT_FOUND, Bytes::new())),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e.into()),
        },
        // A partial update, as simple as can be checked: the body is appended to the record.
        Method::PATCH => match request.into_body().collect().await {
            Ok(patch) => match db.get(&id).await {
                Ok(Some(old)) => {
                    let patched = [old.as_ref(), patch.to_bytes().as_ref()].concat();
                    db.update(&id, &patched)
                        .await
                        .map(|_| reply(StatusCode::NO_CONTENT, Bytes::new()))
                }
                Ok(None) => Ok(reply(StatusCode::NOT_FOUND, Bytes::new())),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        },
        Method::DELETE => db.delete(&id).await.map(|found| {
            reply(
                if found {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::NOT_FOUND
                },
                Bytes::new(),
            )
        }),
        _ => Ok(reply(StatusCode::METHOD_NOT_ALLOWED, Bytes::new())),
    };
    result.unwrap_or_else(|e| {
        reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            Bytes::from(e.to_string()),
        )
    })
}
