//! The admin endpoint: `/metrics` for Prometheus, `/healthz`, and, with a hot database, the
//! restore endpoint `POST /restore/{id}` for edges that run elsewhere (Spin), on an address
//! of its own (loopback by default), so that none is reachable where the edge is. Where
//! the process serves the edge, `DELETE /cache/{key}` drops an entry from its cache: a
//! command in another process (`archive --once`, `restore`) sends what it hides, expires
//! or restores there when the cache is local (`kv::ServeDrops`). A drop can only make the
//! edge ask the next tier, so it needs no key beyond the address's reach.

use crate::kv::{DROP_PREFIX, KvBackend};
use crate::restore::endpoint::InProcessRestore;
use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use metrics_exporter_prometheus::PrometheusHandle;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How often histograms are compacted between scrapes (the exporter leaves it to us).
const UPKEEP: Duration = Duration::from_secs(5);

/// A serving admin endpoint; it stops when dropped.
///
/// `/healthz` is a readiness check: it answers 503 until [`Admin::ready`] says the process
/// does its work (the edge answers), and again once [`Admin::stopping`] says it is going.
#[derive(Debug)]
pub struct Admin {
    addr: SocketAddr,
    ready: Arc<AtomicBool>,
    tasks: [JoinHandle<()>; 2],
}

/// The admin address bound, before the endpoint starts: for a process that must know its
/// port first (the demo writes it into its config).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for /metrics (server.admin_listen)"))
}

impl Admin {
    /// Installs the metrics recorder and serves it on `listener`, with `restore`'s endpoint
    /// if there is one, and drops from `cache`, the local cache the edge serves from, if
    /// there is one.
    pub async fn start(
        listener: TcpListener,
        restore: Option<Arc<InProcessRestore>>,
        cache: Option<Arc<dyn KvBackend>>,
    ) -> anyhow::Result<Self> {
        let handle = crate::telemetry::metrics::install();
        let addr = listener.local_addr()?;
        let ready = Arc::new(AtomicBool::new(false));
        let upkeep = tokio::spawn({
            let handle = handle.clone();
            async move {
                let mut every = tokio::time::interval(UPKEEP);
                loop {
                    every.tick().await;
                    handle.run_upkeep();
                }
            }
        });
        let serving = crate::ops::plain_server::serve(
            listener,
            service_fn({
                let ready = ready.clone();
                move |request: http::Request<Incoming>| {
                    let handle = handle.clone();
                    let restore = restore.clone();
                    let cache = cache.clone();
                    let ready = ready.load(Ordering::Acquire);
                    async move {
                        let path = request.uri().path();
                        let response = match (restore, cache) {
                            (Some(restore), _) if path.starts_with("/restore/") => {
                                restore_answer(&restore, &request).await
                            }
                            (_, Some(cache)) if path.starts_with(DROP_PREFIX) => {
                                drop_answer(cache.as_ref(), &request).await
                            }
                            _ => answer(&handle, ready, &request),
                        };
                        Ok::<_, Infallible>(response)
                    }
                }
            }),
        );
        tracing::info!(%addr, "admin endpoint serving /metrics and /healthz");
        Ok(Self {
            addr,
            ready,
            tasks: [upkeep, serving],
        })
    }

    /// From now on `/healthz` answers 200: call it once the edge answers (or, in a process
    /// without an edge, once its work is scheduled).
    pub fn ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// From now on `/healthz` answers 503 again: the process is shutting down, and load
    /// balancers should stop sending it requests.
    pub fn stopping(&self) {
        self.ready.store(false, Ordering::Release);
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn drop_answer(
    cache: &dyn KvBackend,
    request: &http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let key = &request.uri().path()[DROP_PREFIX.len()..];
    let (status, text) = if request.method() != http::Method::DELETE || key.is_empty() {
        (
            http::StatusCode::METHOD_NOT_ALLOWED,
            "the cache takes DELETE /cache/{key}\n".to_owned(),
        )
    } else {
        match cache.delete(key).await {
            Ok(()) => (http::StatusCode::NO_CONTENT, String::new()),
            Err(e) => (
                http::StatusCode::SERVICE_UNAVAILABLE,
                format!("dropping {key} failed: {e}\n"),
            ),
        }
    };
    text_response(status, text)
}

async fn restore_answer(
    restore: &InProcessRestore,
    request: &http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (status, text) = restore
        .answer(
            request.method().as_str(),
            request.uri().path(),
            request.headers(),
        )
        .await;
    text_response(status, text)
}

fn text_response(status: http::StatusCode, text: String) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from(text)))
        .expect("a response from valid parts")
}

fn answer(
    handle: &PrometheusHandle,
    ready: bool,
    request: &http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&http::Method::GET, "/metrics") => (
            http::StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            handle.render(),
        ),
        (&http::Method::GET, "/healthz") if ready => {
            (http::StatusCode::OK, "text/plain", "ok\n".into())
        }
        (&http::Method::GET, "/healthz") => (
            http::StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: starting or stopping\n".into(),
        ),
        _ => (
            http::StatusCode::NOT_FOUND,
            "text/plain",
            "tiergate admin: GET /metrics or /healthz\n".into(),
        ),
    };
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a response from valid parts")
}
