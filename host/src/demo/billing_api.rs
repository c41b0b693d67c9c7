//! The demo's sample billing API: the kind of API tiergate sits in front of, over a SQLite
//! records table. `GET`, `PUT` and `DELETE /records/{id}`, and a listing,
//! `GET /records?limit=N&after=ID`, that answers a JSON array of `{"id", "updated_at",
//! "bytes"}` objects in id order.

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Largest body a `PUT` may carry.
const MAX_BODY: usize = 1 << 20;
/// Largest page of the listing.
const MAX_PAGE: u32 = 1_000;

/// The records table and its API.
#[derive(Clone)]
pub(super) struct BillingApi(Arc<Mutex<Connection>>);

impl BillingApi {
    /// Opens (creating if needed) the records database at `path`.
    pub(super) fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS records (
                 id TEXT PRIMARY KEY,
                 body BLOB NOT NULL,
                 content_type TEXT NOT NULL DEFAULT 'application/json',
                 version INTEGER NOT NULL DEFAULT 1,
                 updated_at TEXT NOT NULL
             );
             -- What the README asks of a records table: the archiver walks it by this.
             CREATE INDEX IF NOT EXISTS records_updated_at ON records (updated_at);",
        )?;
        Ok(Self(Arc::new(Mutex::new(conn))))
    }

    /// How many records the table holds.
    pub(super) fn count(&self) -> anyhow::Result<u64> {
        let conn = self.0.lock().expect("no panics while holding the lock");
        Ok(conn.query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Inserts records in one transaction: `(id, body, updated_at)`.
    pub(super) fn insert_all(
        &self,
        records: impl Iterator<Item = (String, String, String)>,
    ) -> anyhow::Result<()> {
        let mut conn = self.0.lock().expect("no panics while holding the lock");
        let tx = conn.transaction()?;
        {
            let mut insert =
                tx.prepare("INSERT INTO records (id, body, updated_at) VALUES (?1, ?2, ?3)")?;
            for (id, body, updated_at) in records {
                insert.execute(params![id, body.as_bytes(), updated_at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Answers one request.
    pub(super) async fn handle(&self, request: http::Request<Incoming>) -> Response<Full<Bytes>> {
        let api = self.clone();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let body = match method {
            Method::PUT => match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => Some(body.to_bytes()),
                Err(e) => return reply(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
            },
            _ => None,
        };
        tokio::task::spawn_blocking(move || api.answer(&method, &path, &query, body))
            .await
            .unwrap_or_else(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
    }

    fn answer(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        body: Option<Bytes>,
    ) -> Response<Full<Bytes>> {
        let conn = self.0.lock().expect("no panics while holding the lock");
        let result = match (method, path.strip_prefix("/records")) {
            (&Method::GET, Some("" | "/")) => list(&conn, query),
            (method, Some(rest)) if rest.len() > 1 => {
                let id = &rest[1..];
                match *method {
                    Method::GET | Method::HEAD => get(&conn, id),
                    Method::PUT => put(&conn, id, &body.unwrap_or_default()),
                    Method::DELETE => conn
                        .execute("DELETE FROM records WHERE id = ?1", [id])
                        .map(|n| status(n > 0)),
                    _ => Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "GET, PUT or DELETE")),
                }
            }
            _ => Ok(reply(StatusCode::NOT_FOUND, "not found")),
        };
        result.unwrap_or_else(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
    }
}

fn get(conn: &Connection, id: &str) -> rusqlite::Result<Response<Full<Bytes>>> {
    let found = conn
        .query_row(
            "SELECT body, content_type, version FROM records WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(match found {
        None => reply(StatusCode::NOT_FOUND, "no such record"),
        Some((body, content_type, version)) => Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .header("x-record-version", version)
            .body(Full::new(Bytes::from(body)))
            .expect("valid headers"),
    })
}

fn put(conn: &Connection, id: &str, body: &[u8]) -> rusqlite::Result<Response<Full<Bytes>>> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let changed = conn.execute(
        "INSERT INTO records (id, body, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body, version = version + 1,
             updated_at = excluded.updated_at",
        params![id, body, now],
    )?;
    Ok(status(changed > 0))
}

fn list(conn: &Connection, query: &str) -> rusqlite::Result<Response<Full<Bytes>>> {
    let mut limit = 100;
    let mut after = String::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => limit = n,
                _ => return Ok(reply(StatusCode::BAD_REQUEST, "limit: 1 to 1000")),
            },
            "after" => after = value.into_owned(),
            _ => {
                return Ok(reply(
                    StatusCode::BAD_REQUEST,
                    "known parameters: limit, after",
                ));
            }
        }
    }
    let mut statement = conn.prepare_cached(
        "SELECT id, updated_at, length(body) FROM records WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = statement.query_map(params![after, limit], |r| {
        Ok(serde_json::json!({
            "id": r.get::<_, String>(0)?,
            "updated_at": r.get::<_, String>(1)?,
            "bytes": r.get::<_, i64>(2)?,
        }))
    })?;
    let page = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(
            serde_json::to_vec(&page).expect("JSON values"),
        )))
        .expect("valid headers"))
}

fn status(found: bool) -> Response<Full<Bytes>> {
    if found {
        reply(StatusCode::NO_CONTENT, "")
    } else {
        reply(StatusCode::NOT_FOUND, "no such record")
    }
}

fn reply(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}
