//! The admin endpoint: `/metrics` for Prometheus, `/healthz`, and, with a hot database, the
//! restore endpoint `POST /restore/{id}` for edges that run elsewhere (Spin), on an address
//! of its own (loopback by default), so that none is reachable where the edge is.

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

impl Admin {
    /// Installs the metrics recorder and serves it on `addr`, with `restore`'s endpoint if
    /// there is one.
    pub async fn start(
        addr: SocketAddr,
        restore: Option<Arc<InProcessRestore>>,
    ) -> anyhow::Result<Self> {
        let handle = crate::telemetry::metrics::install();
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for /metrics (server.admin_listen)")
        })?;
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
                    let ready = ready.load(Ordering::Acquire);
                    async move {
                        let response = match restore {
                            Some(restore) if request.uri().path().starts_with("/restore/") => {
                                restore_answer(&restore, &request).await
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
