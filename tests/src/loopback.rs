//! Serving a hyper service on a free loopback port, with a stop that really takes the server
//! away: the listener closes (new connections are refused) and open keep-alive connections
//! are dropped, so a pooled client cannot reach a "stopped" tier through an old connection.

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::error::Error as StdError;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// One HTTP/1 server on `127.0.0.1`, running until [`LoopbackServer::stop`] or drop.
#[derive(Debug)]
pub(crate) struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LoopbackServer {
    /// Binds a free port and serves `service` on it; connections are accepted as soon as
    /// this returns.
    pub(crate) async fn start<S, B>(service: S) -> std::io::Result<Self>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), service).await
    }

    /// Serves `service` on `addr` (a stopped server's, to bring it back).
    pub(crate) async fn start_at<S, B>(addr: SocketAddr, service: S) -> std::io::Result<Self>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            // Owned here, so that ending this task (stop or abort) drops every connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        // Without it, a response written in two parts waits out delayed ACKs.
                        let _ = socket.set_nodelay(true);
                        let connection = http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), service.clone());
                        connections.spawn(async move {
                            // A client hanging up mid-request is not the server's failure.
                            let _ = connection.await;
                        });
                    }
                }
            }
            drop(listener);
            connections.shutdown().await;
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving: returns once the port refuses connections and no connection is left.
    /// Stopping twice is harmless.
    pub(crate) async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = (&mut self.task).await;
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
