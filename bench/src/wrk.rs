//! Load from wrk: keep-alive connections, closed loop, GETs spread over a list of paths by
//! a Lua script (`spread.lua`), the numbers read back as JSON.

use crate::cpus::Split;
use crate::proc_stats::Process;
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The wrk script, written next to the path lists when the bench starts.
pub(crate) const SCRIPT: &str = include_str!("spread.lua");

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Measured {
    /// Completed requests per second.
    pub(crate) rps: f64,
    /// Median latency, milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub(crate) p99_ms: f64,
    /// Bytes read per second, headers included, in MB/s.
    pub(crate) mb_per_s: f64,
    /// CPU time the server used per request, microseconds (all its threads, or processes).
    pub(crate) server_cpu_us: f64,
    /// Non-2xx/3xx answers, socket errors and timeouts.
    pub(crate) errors: u64,
}

/// The JSON line `spread.lua` prints.
#[derive(Deserialize)]
struct Report {
    requests: u64,
    duration_us: u64,
    bytes: u64,
    connect_errors: u64,
    read_errors: u64,
    write_errors: u64,
    status_errors: u64,
    timeouts: u64,
    p50_us: f64,
    p99_us: f64,
}

/// A wrk binary and the script it runs.
#[derive(Debug)]
pub(crate) struct Wrk {
    script: PathBuf,
    /// `--client-cpus`: wrk runs on the split's client cores.
    cores: Option<Split>,
}

impl Wrk {
    /// Checks that wrk runs and writes its script into `dir`; wrk runs on `cores` when given.
    pub(crate) fn new(dir: &Path, cores: Option<&Split>) -> anyhow::Result<Self> {
        Command::new("wrk").arg("-v").output().context(
            "wrk not found: install it (Debian: apt-get install wrk), or use scripts/bench",
        )?;
        let script = dir.join("spread.lua");
        std::fs::write(&script, SCRIPT)?;
        Ok(Self {
            script,
            cores: cores.cloned(),
        })
    }

    /// GETs `base` + each line of `paths` in turn, with `headers` (`Name: value`), over
    /// `connections` keep-alive connections for `duration`, accounting the CPU time of
    /// `server`.
    pub(crate) fn run(
        &self,
        base: &str,
        paths: &Path,
        headers: &[String],
        server: Process,
        connections: usize,
        duration: Duration,
    ) -> anyhow::Result<Measured> {
        let cpu_before = server.cpu_seconds();
        // wrk needs a thread per connection at most; more threads than cores only add noise.
        let (mut command, cores) = match &self.cores {
            Some(split) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", &split.client_list(), "wrk"]);
                (taskset, split.client.len())
            }
            None => (Command::new("wrk"), 2),
        };
        let threads = connections.min(cores);
        let output = command
            .args(["--latency", "--timeout", "10s"])
            .arg(format!("-t{threads}"))
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .args(headers.iter().flat_map(|header| ["-H", header.as_str()]))
            .arg("-s")
            .arg(&self.script)
            .arg(base)
            .arg("--")
            .arg(paths)
            .output()
            .context("running wrk (with --client-cpus, under taskset from util-linux)")?;
        let cpu = server.cpu_seconds() - cpu_before;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(line) = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("{\"requests\""))
        else {
            bail!(
                "wrk against {base} printed no result ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let report: Report =
            serde_json::from_str(line).with_context(|| format!("wrk's result: {line}"))?;
        let seconds = report.duration_us as f64 / 1e6;
        Ok(Measured {
            rps: report.requests as f64 / seconds,
            p50_ms: report.p50_us / 1e3,
            p99_ms: report.p99_us / 1e3,
            mb_per_s: report.bytes as f64 / seconds / 1e6,
            server_cpu_us: cpu * 1e6 / report.requests.max(1) as f64,
            errors: report.connect_errors
                + report.read_errors
                + report.write_errors
                + report.status_errors
                + report.timeouts,
        })
    }
}
