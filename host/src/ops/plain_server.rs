//! A plain HTTP/1.1 server for the host's small services (the admin endpoint, the demo's
//! API and blob store): every connection served, nothing drained at shutdown.

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use std::error::Error as StdError;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves `service` on `listener` until the task is aborted.
pub fn serve<S, B>(listener: TcpListener, service: S) -> JoinHandle<()>
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    tokio::spawn(async move {
        loop {
            let socket = match listener.accept().await {
                Ok((socket, _)) => socket,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(socket), service.clone());
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    })
}
