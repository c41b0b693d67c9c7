//! The `tiergate` binary as the end-to-end tests drive it: a demo process on free ports, a
//! plain HTTP client, and `archive --once` against the demo's config.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary under test.
pub(crate) const TIERGATE: &str = env!("CARGO_BIN_EXE_tiergate");

/// A running `tiergate demo`, killed (and its data directory and log removed) on drop.
pub(crate) struct Demo {
    child: Child,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its stderr: JSON log lines, access lines included.
    pub log: PathBuf,
    /// The edge's base URL.
    pub edge: String,
    /// The sample API's base URL.
    pub api: String,
    /// The metrics endpoint's URL.
    pub metrics: String,
    /// What it prints, line by line, from the line after the URLs on.
    printed: std::sync::mpsc::Receiver<String>,
}

/// A schedule with no run in the tests' lifetime: they run `archive --once` themselves.
pub(crate) const NEVER: &str = "0 0 0 1 1 *";

impl Demo {
    /// Starts a demo of `records` records, archiving on `schedule`, with no grace period,
    /// in a directory named after `test`, and waits until it says where it serves.
    pub(crate) fn start(test: &str, records: u32, schedule: &str) -> anyhow::Result<Self> {
        Self::start_with(test, records, schedule, &[])
    }

    /// [`start`](Self::start), with more arguments for `tiergate demo`.
    pub(crate) fn start_with(
        test: &str,
        records: u32,
        schedule: &str,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("tiergate-{test}-{}", std::process::id()));
        let log = dir.with_extension("log");
        let _ = std::fs::remove_dir_all(&dir);
        let mut child = Command::new(TIERGATE)
            .args(["--log-format", "json", "demo", "--listen", "127.0.0.1:0"])
            .args(["--admin", "127.0.0.1:0", "--records"])
            .arg(records.to_string())
            .args(["--schedule", schedule, "--grace-seconds", "0"])
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .env("RUST_LOG", "info,tiergate::access=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        // Drained to the end on a thread of its own: a closed pipe would kill the demo.
        let (lines, printed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let (mut edge, mut api, mut metrics) = (None, None, None);
        while edge.is_none() || api.is_none() || metrics.is_none() {
            let line = printed.recv_timeout(Duration::from_secs(120))?;
            let url = |label: &str| {
                let rest = line.trim().strip_prefix(label)?;
                rest.split_whitespace().next().map(str::to_owned)
            };
            api = api.or_else(|| url("sample API"));
            edge = edge.or_else(|| url("edge (use this)"));
            metrics = metrics.or_else(|| url("metrics"));
        }
        Ok(Self {
            child,
            dir,
            log,
            edge: edge.expect("loop ended"),
            api: api.expect("loop ended"),
            metrics: metrics.expect("loop ended"),
            printed,
        })
    }

    /// The rest of the first printed line, still to be read, that starts with `prefix`.
    pub(crate) fn printed_after(&self, prefix: &str) -> anyhow::Result<String> {
        loop {
            let line = self.printed.recv_timeout(Duration::from_secs(10))?;
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return Ok(rest.to_owned());
            }
        }
    }

    /// What it logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The value of the metric line that starts with `series` (name and labels, as
    /// rendered), or 0 when there is none yet.
    pub(crate) async fn metric(&self, series: &str) -> anyhow::Result<f64> {
        let page = get(&self.metrics).await?;
        anyhow::ensure!(page.status == 200, "/metrics answered {}", page.status);
        let page = String::from_utf8(page.body.to_vec())?;
        Ok(page
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0))
    }

    /// The config the demo runs with.
    pub(crate) fn config(&self) -> PathBuf {
        self.dir.join("tiergate.toml")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.log);
    }
}

/// An answer, read whole.
pub(crate) struct Reply {
    pub status: u16,
    /// `x-tiergate-source`, if any.
    pub source: Option<String>,
    pub body: Bytes,
}

/// `GET url`.
pub(crate) async fn get(url: &str) -> anyhow::Result<Reply> {
    get_as(url, None).await
}

/// `GET url` with `token` as its bearer token, if any.
pub(crate) async fn get_as(url: &str, token: Option<&str>) -> anyhow::Result<Reply> {
    let mut request = http::Request::get(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(request.body(Full::default())?).await
}

/// `PUT url` with `body`.
pub(crate) async fn put(url: &str, body: impl Into<Bytes>) -> anyhow::Result<Reply> {
    send(http::Request::put(url).body(Full::new(body.into()))?).await
}

async fn send(request: http::Request<Full<Bytes>>) -> anyhow::Result<Reply> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client.request(request).await?;
    let status = response.status().as_u16();
    let source = response
        .headers()
        .get("x-tiergate-source")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        source,
        body,
    })
}

/// Runs `tiergate archive --once --config config` to the end; its stdout.
pub(crate) fn archive_once(config: &Path) -> anyhow::Result<String> {
    let output = Command::new(TIERGATE)
        .args(["archive", "--once", "--config"])
        .arg(config)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "archive --once failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}
