//! The HTTP front: accepts connections, hands every request to the edge component, shuts
//! down gracefully.

use crate::config::Config;
use crate::kv::{self, KvBackend};
use crate::runtime::EdgeRuntime;
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
use std::time::Duration;
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
        let runtime = EdgeRuntime::new(&config, kv)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, ProxyHandler::new(runtime), stopped));
        tracing::info!(%addr, origin = %config.origin.url, "edge serving");
        Ok(RunningServer { addr, stop, task })
    }
}

impl RunningServer {
    /// Where the edge listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open connections finish (up to 10 s), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn serve(
    listener: TcpListener,
    handler: ProxyHandler<EdgeRuntime>,
    mut stopped: oneshot::Receiver<()>,
) {
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
        let handler = handler.clone();
        let service = service_fn(move |request| answer(handler.clone(), request));
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
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

async fn answer(
    handler: ProxyHandler<EdgeRuntime>,
    request: hyper::Request<Incoming>,
) -> Result<http::Response<WasiBody>, Infallible> {
    let request = request.map(|body| body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
    match handler.handle((), request).await {
        Ok(response) => Ok(response),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "the edge component failed");
            let body =
                Full::new("tiergate: the edge component failed; see the host's log\n".into())
                    .map_err(|never: Infallible| match never {})
                    .boxed_unsync();
            let mut response = http::Response::new(body);
            *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            Ok(response)
        }
    }
}
