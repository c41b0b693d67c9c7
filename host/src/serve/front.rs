//! The HTTP front: accepts connections, hands each request to the edge component (or answers
//! it the component's way without it: fresh cache hits, requests it only passes on), shuts
//! down gracefully.

use crate::config::Config;
use crate::kv::zero_copy::ZeroCopyStream;
use crate::kv::{self, KvBackend};
use crate::serve::cache_hit::CacheHits;
use crate::serve::edge_runtime::EdgeRuntime;
use crate::serve::lingering::Lingering;
use crate::serve::next_hop::Origin;
use crate::serve::request_id::RequestIds;
use crate::telemetry::metrics::route;
use anyhow::Context as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tiergate_core::settings::names;
use tiergate_core::{RecordRoute, RequestKind};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wasmtime_wasi_http::WasiBody;
use wasmtime_wasi_http::handler::ProxyHandler;

/// How long open connections get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// Starts the edge.
#[derive(Debug)]
pub struct Server;

/// A serving edge; dropping it without [`RunningServer::shutdown`] leaves it serving until
/// the runtime stops.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    /// Tells the edge's workers that they are being stopped.
    stopping: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Opens the cache, compiles the edge component, binds `config.listen` and serves.
    pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
        let kv = kv::open(&config.cache).context("opening the edge cache")?;
        Self::start_with_cache(config, kv).await
    }

    /// Serves with an open cache, shared with an archiver in the same process (which drops
    /// the cached copies of the records it deletes).
    pub async fn start_with_cache(
        config: Config,
        kv: Arc<dyn KvBackend>,
    ) -> anyhow::Result<RunningServer> {
        let cache_hits = config
            .cache
            .answer_hits_in_host
            .then(|| CacheHits::new(kv.clone()));
        let runtime = EdgeRuntime::new(&config, kv)?;
        let stopping = runtime.stopping();
        let passes = config.pass_in_host.then(|| runtime.origin());
        let front = Arc::new(Front {
            handler: ProxyHandler::new(runtime),
            cache_hits,
            passes,
            route: config.record_route.clone(),
            ids: RequestIds::new(),
        });
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, front, stopped));
        let auth = config
            .edge_variables
            .get(names::AUTH_MODE)
            .map_or("none", String::as_str);
        tracing::info!(%addr, origin = %config.origin.url, auth, "edge serving");
        if auth == "none" {
            tracing::warn!(
                "records are served without access checks ([edge.auth] mode = \"none\"): \
                 anyone who can reach the edge reads every cached or archived record"
            );
        }
        Ok(RunningServer {
            addr,
            stop,
            stopping,
            task,
        })
    }
}

impl RunningServer {
    /// Where the edge listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open connections finish (up to 10 s), and returns.
    pub async fn shutdown(self) {
        self.stopping.store(true, Ordering::Release);
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// What every connection shares.
struct Front {
    handler: ProxyHandler<EdgeRuntime>,
    /// Fresh cache hits, answered without the component (`[cache] answer_hits_in_host`).
    cache_hits: Option<CacheHits>,
    /// The origin, for requests the edge would only pass on (`[edge] pass_in_host`).
    passes: Option<Origin>,
    /// The edge's record route, to count requests by kind.
    route: RecordRoute,
    ids: RequestIds,
}

async fn serve(listener: TcpListener, front: Arc<Front>, mut stopped: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let _ = stream.set_nodelay(true);
        let front = front.clone();
        let service = service_fn(move |request| answer(front.clone(), request));
        let stream = TokioIo::new(Lingering::new(ZeroCopyStream::new(stream)));
        // half_close: a client may shut down its side once its request is sent and still
        // waits for the answer (hyper would otherwise end the connection at that EOF).
        let connection = http1::Builder::new()
            .half_close(true)
            .serve_connection(stream, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
}

/// Answers `request` with a request id (the client's `x-request-id` if it is a sane one,
/// else a new one), which the origin and the client see too: from the cache, straight from
/// the origin, or through the edge component; then counts and logs the answer.
async fn answer(
    front: Arc<Front>,
    request: hyper::Request<Incoming>,
) -> Result<http::Response<WasiBody>, Infallible> {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let request_id = front.ids.for_request(&parts.headers);
    parts
        .headers
        .insert(crate::serve::request_id::HEADER, request_id.clone());
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let classified = front.route.classify(parts.method.as_str(), path);
    let kind = match classified {
        RequestKind::Read { .. } => route::READ,
        RequestKind::Write(_) => route::WRITE,
        RequestKind::Pass => route::PASS,
    };
    // Kept only when access lines are logged: most deployments count, not log, requests.
    let access = tracing::enabled!(target: "tiergate::access", tracing::Level::DEBUG)
        .then(|| (parts.method.clone(), parts.uri.path().to_owned()));
    let hit = match (&classified, &front.cache_hits) {
        (RequestKind::Read { id, head }, Some(hits)) => {
            hits.answer(id, *head, &parts.headers).await
        }
        _ => None,
    };
    let request = hyper::Request::from_parts(
        parts,
        body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync(),
    );
    let handled = match (hit, &front.passes) {
        (Some(hit), _) => Ok(hit),
        (None, Some(origin)) if classified == RequestKind::Pass => Ok(origin.pass(request).await),
        (None, _) => front.handler.handle((), request).await,
    };
    let mut response = match handled {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(
                request_id = %request_id.to_str().unwrap_or_default(),
                error = %format!("{e:#}"),
                "the edge component failed"
            );
            let body =
                Full::new("tiergate: the edge component failed; see the host's log\n".into())
                    .map_err(|never: Infallible| match never {})
                    .boxed_unsync();
            let mut response = http::Response::new(body);
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    crate::telemetry::metrics::response(kind, status, response.headers(), elapsed);
    if let Some((method, path)) = access {
        tracing::debug!(
            target: "tiergate::access",
            request_id = %request_id.to_str().unwrap_or_default(),
            %method,
            %path,
            route = kind,
            status,
            source = response
                .headers()
                .get("x-tiergate-source")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    response
        .headers_mut()
        .insert(crate::serve::request_id::HEADER, request_id);
    Ok(response)
}
