//! A Redis server of the test's own: `redis-server` started on a free port, keeping nothing
//! on disk, bounded as tiergate's README asks (`maxmemory`, `allkeys-lru`). The test can stop,
//! pause and start it again on the same port, as an outage would.
//!
//! Where `redis-server` is not installed the Redis tests say so and pass, unless
//! `TIERGATE_REQUIRE_REDIS=1` (as in CI), which makes its absence a failure.

use anyhow::{Context as _, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long the server may take to answer after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server`; killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one, or returns `None` (after saying why) where Redis is not installed and
    /// not required.
    pub async fn start_if_installed() -> anyhow::Result<Option<Self>> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            let why = "redis-server not installed";
            if std::env::var("TIERGATE_REQUIRE_REDIS").as_deref() == Ok("1") {
                bail!("{why}, and TIERGATE_REQUIRE_REDIS=1");
            }
            crate::skipped(why);
            return Ok(None);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut server = Self { child: None, port };
        server.restart().await?;
        Ok(Some(server))
    }

    /// The server's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The URL tiergate is configured with.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server: everything it held is gone, as after a crash.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, as when a
    /// network partition or a stalled machine cuts it off. [`resume`](Self::resume) thaws it.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    /// Thaws a [`pause`](Self::pause)d server, with everything it held.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, which: &str) -> anyhow::Result<()> {
        let child = self.child.as_ref().context("the server is stopped")?;
        let status = Command::new("kill")
            .args([which, &child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill {which} failed");
        Ok(())
    }

    /// (Re)starts the server on its port, empty, and waits until it answers PING.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.ping().await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("redis-server on port {} exited ({status})", self.port);
            }
            if Instant::now() >= deadline {
                bail!(
                    "redis-server did not answer on port {} within {READY_TIMEOUT:?}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut answer = [0; 7];
        stream.read_exact(&mut answer).await?;
        anyhow::ensure!(&answer == b"+PONG\r\n", "answered {answer:?}");
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A paused server would not die of SIGKILL until thawed on some systems: thaw first.
        let _ = self.resume();
        self.stop();
    }
}
