//! tiergate as operators run it: the `tiergate serve --config FILE` binary in a process of
//! its own, so that its memory is its own.

use crate::proc_stats::Process;
use anyhow::{Context as _, bail};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tiergate::config::{ENV_BLOB_ACCESS_KEY_ID, ENV_BLOB_SECRET_ACCESS_KEY};
use tiergate_tests::blob_store::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

/// How long a host gets to compile the edge component and listen.
const STARTUP: Duration = Duration::from_secs(120);

/// A running `tiergate serve`; stopped with SIGTERM when dropped.
#[derive(Debug)]
pub(crate) struct HostProcess {
    child: Child,
    addr: SocketAddr,
}

impl HostProcess {
    /// Writes `config` (TOML) to `dir/{name}.toml` and serves it with `binary`; its log goes
    /// to `dir/{name}.log`. Returns once it listens.
    pub(crate) fn start(
        binary: &Path,
        config: &str,
        dir: &Path,
        name: &str,
    ) -> anyhow::Result<Self> {
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, config)?;
        let mut child = Command::new(binary)
            .args(["--log-format", "json", "serve", "--config"])
            .arg(&config_path)
            .env(ENV_BLOB_ACCESS_KEY_ID, ACCESS_KEY_ID)
            .env(ENV_BLOB_SECRET_ACCESS_KEY, SECRET_ACCESS_KEY)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it: cargo build --release -p tiergate)",
                    binary.display()
                )
            })?;
        let stderr = child.stderr.take().expect("piped");
        let log_path = dir.join(format!("{name}.log"));
        let (listening, address) = mpsc::channel();
        // Reads the log to its end, so that the host never blocks on a full pipe.
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut log = std::fs::File::create(&log_path)?;
            for line in BufReader::new(stderr).lines() {
                let line = line?;
                writeln!(log, "{line}")?;
                if let Some(addr) = listening_address(&line) {
                    let _ = listening.send(addr);
                }
            }
            Ok(())
        });
        let mut host = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        host.addr = match address.recv_timeout(STARTUP) {
            Ok(addr) => addr,
            Err(_) => {
                let status = host.child.try_wait()?;
                bail!(
                    "tiergate ({name}) did not start listening (exit: {status:?}); see {}",
                    dir.join(format!("{name}.log")).display()
                );
            }
        };
        Ok(host)
    }

    /// The base URL it serves on.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process, for its memory and CPU time.
    pub(crate) fn process(&self) -> Process {
        Process {
            pid: self.child.id(),
            with_children: false,
            helper: None,
        }
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Stops `child` with SIGTERM (it drains and exits), or SIGKILL after 15 s.
pub(crate) fn stop(child: &mut Child) {
    // SAFETY: kill(2) on a pid this process spawned and has not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    for _ in 0..150 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The address in the host's "edge serving" log line (JSON log format).
fn listening_address(line: &str) -> Option<SocketAddr> {
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = entry.get("fields")?;
    if fields.get("message")?.as_str()? != "edge serving" {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}
