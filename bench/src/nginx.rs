//! nginx as the caching reverse proxy people already run: `proxy_cache` in front of the same
//! origin, tuned as a careful operator would (keep-alive upstream, sendfile, open file cache,
//! a worker per core it may use, no access log), with its own prefix, config and cache
//! directory.

use crate::proc_stats::Process;
use anyhow::{Context as _, bail};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Nginx {
    child: Child,
    addr: SocketAddr,
}

impl Nginx {
    /// Starts nginx with prefix `dir` (config, cache, temp files, error log) in front of
    /// `origin` (`host:port`).
    pub(crate) fn start(dir: &Path, origin: &str) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let config = config(dir, addr, origin);
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config)?;
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("nginx not found: install it (Debian: apt-get install nginx-light), or use scripts/bench")?;
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "nginx exited ({status}); see {}",
                    dir.join("error.log").display()
                );
            }
            if started.elapsed() > Duration::from_secs(10) {
                crate::host_process::stop(&mut child);
                bail!("nginx did not listen on {addr} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { child, addr })
    }

    /// The base URL it serves on.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The master and its workers, for their memory and CPU time.
    pub(crate) fn process(&self) -> Process {
        Process {
            pid: self.child.id(),
            with_children: true,
            helper: None,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        crate::host_process::stop(&mut self.child);
    }
}

/// The version line of `nginx -v`.
pub(crate) fn version() -> String {
    Command::new("nginx")
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_else(|_| "nginx not found".to_owned())
}

fn free_port() -> anyhow::Result<SocketAddr> {
    // Taken and released: nginx binds it a moment later.
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn config(dir: &Path, addr: SocketAddr, origin: &str) -> String {
    let dir = dir.display();
    // Running as root, nginx would hand its workers to `nobody`, who cannot write the cache.
    // SAFETY: geteuid has no preconditions.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    // A worker per core nginx may run on (with --client-cpus, fewer than `auto` counts).
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    format!(
        r#"# Written by tiergate-bench.
daemon off;
{user}
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_errors on;

    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;

    proxy_cache_path {dir}/cache levels=1:2 keys_zone=records:16m max_size=2g inactive=1h use_temp_path=off;

    upstream origin {{
        server {origin};
        keepalive 64;
    }}

    server {{
        listen {addr} reuseport backlog=4096;

        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 8 64k;
            proxy_cache records;
            proxy_cache_valid 200 1h;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status;
        }}
    }}
}}
"#
    )
}
