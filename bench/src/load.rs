//! A closed-loop load generator: each connection sends its next GET as soon as the previous
//! answer has been read in full, over one keep-alive HTTP/1.1 connection.

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What one load run measured.
#[derive(Debug)]
pub struct Measured {
    /// Successful requests per second.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Body bytes per second.
    pub bytes_per_second: f64,
    /// Answers that were not 200, or failed.
    pub errors: u64,
}

/// Sends GETs for `targets` (URLs on `addr`, taken in turn) over `connections` connections
/// for `duration`.
pub async fn run(
    addr: SocketAddr,
    targets: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for n in 0..connections {
        let targets = targets.clone();
        workers.push(tokio::spawn(connection(addr, targets, n, deadline)));
    }
    let mut latencies = Vec::new();
    let (mut bytes, mut errors) = (0u64, 0u64);
    for worker in workers {
        let (l, b, e) = worker.await??;
        latencies.extend(l);
        bytes += b;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Ok(Measured {
        rps: latencies.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        bytes_per_second: bytes as f64 / elapsed,
        errors,
    })
}

async fn connection(
    addr: SocketAddr,
    targets: Arc<Vec<String>>,
    first: usize,
    deadline: Instant,
) -> anyhow::Result<(Vec<Duration>, u64, u64)> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let (mut latencies, mut bytes, mut errors) = (Vec::new(), 0u64, 0u64);
    let mut next = first;
    while Instant::now() < deadline {
        let target = &targets[next % targets.len()];
        next += 1;
        let request = http::Request::get(target.as_str())
            .header(http::header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let ok = response.status() == http::StatusCode::OK;
        let body = response.into_body().collect().await?.to_bytes();
        if ok {
            latencies.push(sent.elapsed());
            bytes += body.len() as u64;
        } else {
            errors += 1;
        }
    }
    Ok((latencies, bytes, errors))
}
