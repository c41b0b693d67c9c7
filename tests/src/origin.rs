//! The origin API that tiergate sits in front of: a real HTTP server over an in-memory record
//! map, plus routes that show what a passed-through request looked like when it arrived.
//!
//! Routes:
//! - `GET`/`HEAD`/`PUT`/`DELETE /records/{id}`: the records (404 for an absent one; `PUT`
//!   stores the body with the request's content type and answers 204). A read with
//!   `?fields=LIST` answers another representation, `{"fields":"LIST","length":N}`, as APIs
//!   with sparse fieldsets do; a read's `x-test-cache-control` and `x-test-vary` headers come
//!   back as the answer's `cache-control` and `vary`.
//! - `GET /access/records/{id}`: the check endpoint of `origin` mode: 204 when the request's
//!   `session` cookie is one [`Origin::grant`] gave the record, 401 without one, 404 (as for
//!   a record that does not exist) otherwise. Once a grant is given, record reads need one
//!   too, and answer the same way.
//! - any method on `/echo`: answers 200 with the request body as it arrived, its content type,
//!   `x-echo-method`, `x-echo-path-and-query`, `x-echo-header-names` (the names of the
//!   request's headers, sorted, comma-separated), `x-echo-host` (its `Host`), and every
//!   `x-test-*` request header echoed under its own name.
//! - `GET /status/{code}`: answers `code`, with `x-origin-status: {code}`.
//!
//! Every request is counted by path (query excluded), so tests can show which requests
//! reached the origin and which did not.

use crate::loopback::LoopbackServer;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// A record as the origin holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record's bytes.
    pub body: Bytes,
    /// Its content type.
    pub content_type: String,
}

/// The origin server. Stop it with [`Origin::stop`] to make the origin "down".
#[derive(Debug)]
pub struct Origin {
    server: LoopbackServer,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    records: Mutex<HashMap<String, StoredRecord>>,
    requests: Mutex<HashMap<String, usize>>,
    /// Session cookie values, and the records each may read.
    sessions: Mutex<HashMap<String, Vec<String>>>,
}

const RECORDS_PREFIX: &str = "/records/";
const STATUS_PREFIX: &str = "/status/";
const ACCESS_PREFIX: &str = "/access/records/";

impl Origin {
    /// Starts an origin with no records on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let state = Arc::new(State::default());
        let handler_state = Arc::clone(&state);
        let service = service_fn(move |request| {
            let state = Arc::clone(&handler_state);
            async move { Ok::<_, Infallible>(state.handle(request).await) }
        });
        let server = LoopbackServer::start(service).await?;
        Ok(Self { server, state })
    }

    /// The base URL, such as `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Puts (or replaces) record `id`.
    pub fn insert(&self, id: &str, body: impl Into<Bytes>, content_type: &str) {
        let record = StoredRecord {
            body: body.into(),
            content_type: content_type.to_owned(),
        };
        lock(&self.state.records).insert(id.to_owned(), record);
    }

    /// Lets the client with cookie `session=<session>` read record `id`; from the first
    /// grant on, reads need a session.
    pub fn grant(&self, session: &str, id: &str) {
        lock(&self.state.sessions)
            .entry(session.to_owned())
            .or_default()
            .push(id.to_owned());
    }

    /// Takes every grant of `session` back.
    pub fn revoke(&self, session: &str) {
        lock(&self.state.sessions).insert(session.to_owned(), Vec::new());
    }

    /// Removes record `id` behind the edge's back, as another client of the API would.
    pub fn remove(&self, id: &str) {
        lock(&self.state.records).remove(id);
    }

    /// Record `id` as the origin holds it now.
    pub fn record(&self, id: &str) -> Option<StoredRecord> {
        lock(&self.state.records).get(id).cloned()
    }

    /// How many requests for `path` (query excluded) arrived, whatever their method.
    pub fn requests_to(&self, path: &str) -> usize {
        lock(&self.state.requests).get(path).copied().unwrap_or(0)
    }

    /// How many requests arrived in all.
    pub fn total_requests(&self) -> usize {
        lock(&self.state.requests).values().sum()
    }

    /// Takes the origin down: its port refuses connections from now on.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

impl State {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        *lock(&self.requests).entry(path.clone()).or_default() += 1;

        if path == "/echo" {
            return echo(request).await;
        }
        if let Some(code) = path.strip_prefix(STATUS_PREFIX) {
            return status(code);
        }
        if let Some(id) = path.strip_prefix(ACCESS_PREFIX) {
            return match self.refusal(id, &request) {
                Some(refused) => refused,
                None => empty(StatusCode::NO_CONTENT),
            };
        }
        if let Some(id) = path.strip_prefix(RECORDS_PREFIX) {
            if matches!(*request.method(), Method::GET | Method::HEAD)
                && let Some(refused) = self.refusal(id, &request)
            {
                return refused;
            }
            return self.record(id, request).await;
        }
        text(
            StatusCode::NOT_FOUND,
            format!("origin: no route for {path}"),
        )
    }

    /// Why the request may not read record `id`, once sessions are in use.
    fn refusal(&self, id: &str, request: &Request<Incoming>) -> Option<Response<Full<Bytes>>> {
        let sessions = lock(&self.sessions);
        if sessions.is_empty() {
            return None;
        }
        let session = request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("session="));
        match session {
            None => Some(text(StatusCode::UNAUTHORIZED, "origin: log in".into())),
            Some(s)
                if sessions
                    .get(s)
                    .is_some_and(|ids| ids.iter().any(|i| i == id)) =>
            {
                None
            }
            Some(_) => Some(text(
                StatusCode::NOT_FOUND,
                format!("origin: no record {id}"),
            )),
        }
    }

    async fn record(&self, id: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
        match *request.method() {
            Method::GET | Method::HEAD => {
                let head = request.method() == Method::HEAD;
                let Some(record) = lock(&self.records).get(id).cloned() else {
                    return text(StatusCode::NOT_FOUND, format!("origin: no record {id}"));
                };
                let fields = request.uri().query().and_then(|query| {
                    query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("fields="))
                });
                let body = match fields {
                    Some(fields) => Bytes::from(format!(
                        r#"{{"fields":"{fields}","length":{}}}"#,
                        record.body.len()
                    )),
                    None => record.body,
                };
                let length = body.len();
                let body = if head { Bytes::new() } else { body };
                let mut response = Response::builder()
                    .header(header::CONTENT_TYPE, record.content_type)
                    .header(header::CONTENT_LENGTH, length);
                for (asked, answered) in [
                    ("x-test-cache-control", header::CACHE_CONTROL),
                    ("x-test-vary", header::VARY),
                ] {
                    if let Some(value) = request.headers().get(asked) {
                        response = response.header(answered, value);
                    }
                }
                response
                    .body(Full::new(body))
                    .expect("origin record response is valid")
            }
            Method::PUT => {
                let content_type = request
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let body = match request.into_body().collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(e) => {
                        return text(StatusCode::BAD_REQUEST, format!("origin: body failed: {e}"));
                    }
                };
                let record = StoredRecord { body, content_type };
                lock(&self.records).insert(id.to_owned(), record);
                empty(StatusCode::NO_CONTENT)
            }
            Method::DELETE => match lock(&self.records).remove(id) {
                Some(_) => empty(StatusCode::NO_CONTENT),
                None => text(StatusCode::NOT_FOUND, format!("origin: no record {id}")),
            },
            ref other => text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("origin: {other} is not allowed on records"),
            ),
        }
    }
}

async fn echo(request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("origin: body failed: {e}")),
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut names: Vec<&str> = parts.headers.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    let mut response = Response::builder()
        .header("x-echo-method", parts.method.as_str())
        .header("x-echo-path-and-query", path_and_query)
        .header("x-echo-header-names", names.join(","));
    if let Some(host) = parts.headers.get(header::HOST) {
        response = response.header("x-echo-host", host);
    }
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        response = response.header(header::CONTENT_TYPE, content_type);
    }
    for (name, value) in &parts.headers {
        if name.as_str().starts_with("x-test-") {
            response = response.header(name, value);
        }
    }
    response
        .body(Full::new(body))
        .expect("echo response is valid")
}

fn status(code: &str) -> Response<Full<Bytes>> {
    let Some(status) = code
        .parse()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| !s.is_informational())
    else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("origin: {code:?} is not a final status"),
        );
    };
    let mut response = if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        empty(status)
    } else {
        text(status, format!("origin: status {code}"))
    };
    response.headers_mut().insert(
        "x-origin-status",
        HeaderValue::from_str(code).expect("a parsed status is a valid header value"),
    );
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // As servers refusing an upload say (nginx among them): the unread body makes the
        // connection unusable for another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .expect("text response is valid")
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .expect("empty response is valid")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding the lock already failed; its data is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
