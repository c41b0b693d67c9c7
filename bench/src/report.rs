//! What a run found, and where it ran: the markdown table on stdout and the JSON file under
//! `bench/results/`.

use crate::cpus::Split;
use crate::wrk::Measured;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tiergate_core::Encoding;

/// One scenario at one connection count: every round of both sides.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    /// The scenario, such as "cache hit".
    pub(crate) scenario: &'static str,
    /// Keep-alive connections.
    pub(crate) connections: usize,
    /// tiergate's rounds and their medians.
    pub(crate) tiergate: Side,
    /// The reference's rounds and their medians.
    pub(crate) reference: Side,
    /// tiergate's median req/s over the reference's.
    pub(crate) ratio: f64,
}

/// One side of a row.
#[derive(Debug, Serialize)]
pub(crate) struct Side {
    /// What was measured, such as "nginx proxy_cache hit".
    pub(crate) label: &'static str,
    /// Every round, in the order run.
    pub(crate) rounds: Vec<Measured>,
    /// The median of each number over the rounds.
    pub(crate) median: Measured,
}

impl Side {
    /// The side's rounds, summarised.
    pub(crate) fn new(label: &'static str, rounds: Vec<Measured>) -> Self {
        let median = Measured {
            rps: median(rounds.iter().map(|m| m.rps)),
            p50_ms: median(rounds.iter().map(|m| m.p50_ms)),
            p99_ms: median(rounds.iter().map(|m| m.p99_ms)),
            mb_per_s: median(rounds.iter().map(|m| m.mb_per_s)),
            server_cpu_us: median(rounds.iter().map(|m| m.server_cpu_us)),
            errors: rounds.iter().map(|m| m.errors).sum(),
        };
        Self {
            label,
            rounds,
            median,
        }
    }
}

impl Row {
    /// A row of the two sides.
    pub(crate) fn new(
        scenario: &'static str,
        connections: usize,
        tiergate: Side,
        reference: Side,
    ) -> Self {
        let ratio = tiergate.median.rps / reference.median.rps;
        Self {
            scenario,
            connections,
            tiergate,
            reference,
            ratio,
        }
    }

    /// The table's header.
    pub(crate) const HEADER: &str = "| scenario | conns | tiergate req/s | p50 ms | p99 ms | CPU us/req | reference | req/s | p50 ms | p99 ms | CPU us/req | req/s ratio | errors |\n\
                              |---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|";

    /// The row in the table.
    pub(crate) fn markdown(&self) -> String {
        let (t, r) = (&self.tiergate.median, &self.reference.median);
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {} |",
            self.scenario,
            self.connections,
            t.rps,
            t.p50_ms,
            t.p99_ms,
            t.server_cpu_us,
            self.reference.label,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.server_cpu_us,
            self.ratio,
            t.errors + r.errors,
        )
    }
}

/// Peak resident memory (`VmHWM`) at the end of the run, in KiB.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Memory {
    /// Each tiergate host, by the scenario it served.
    pub(crate) tiergate_kib: BTreeMap<&'static str, u64>,
    /// nginx's master and workers together, if nginx ran.
    pub(crate) nginx_kib: Option<u64>,
}

impl Memory {
    /// The lines printed under the table.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        for (scenario, kib) in &self.tiergate_kib {
            out.push_str(&format!(
                "- tiergate host ({scenario}) peak memory (VmHWM): {:.1} MiB\n",
                *kib as f64 / 1024.0
            ));
        }
        if let Some(kib) = self.nginx_kib {
            out.push_str(&format!(
                "- nginx (master + workers) peak memory (VmHWM): {:.1} MiB\n",
                kib as f64 / 1024.0
            ));
        }
        out
    }
}

/// The machine the run was on.
#[derive(Debug, Serialize)]
pub(crate) struct Machine {
    /// CPU model, from `/proc/cpuinfo`.
    pub(crate) cpu: String,
    /// Cores this process may use.
    pub(crate) cores: usize,
    /// Total memory in GiB.
    pub(crate) memory_gib: f64,
    /// `uname -r`.
    pub(crate) kernel: String,
}

impl Machine {
    /// This machine.
    pub(crate) fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
                .unwrap_or_else(|| "unknown".to_owned()),
            cores: crate::cpus::online(),
            memory_gib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(0.0, |kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0),
            kernel: output("uname", &["-r"]),
        }
    }
}

/// The versions of everything measured.
#[derive(Debug, Serialize)]
pub(crate) struct Versions {
    /// tiergate's git revision, `-dirty` when the work tree has changes.
    pub(crate) tiergate: String,
    /// `nginx -v`.
    pub(crate) nginx: String,
    /// `wrk -v`, first line.
    pub(crate) wrk: String,
    /// `rustc -V`.
    pub(crate) rustc: String,
}

impl Versions {
    /// The versions found now.
    pub(crate) fn found() -> Self {
        let repo = env!("CARGO_MANIFEST_DIR");
        let rev = output("git", &["-C", repo, "rev-parse", "--short=12", "HEAD"]);
        let dirty = !output("git", &["-C", repo, "status", "--porcelain"]).is_empty();
        Self {
            tiergate: if dirty { format!("{rev}-dirty") } else { rev },
            nginx: crate::nginx::version(),
            wrk: output("wrk", &["-v"])
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
            rustc: output("rustc", &["-V"]),
        }
    }
}

/// Everything a run writes to its JSON file.
#[derive(Debug, Serialize)]
pub(crate) struct Results {
    /// When the run started (UTC).
    pub(crate) date: String,
    /// The command line.
    pub(crate) command: String,
    /// The settings of the run.
    pub(crate) settings: Settings,
    /// Where it ran.
    pub(crate) machine: Machine,
    /// What ran.
    pub(crate) versions: Versions,
    /// The measurements.
    pub(crate) rows: Vec<Row>,
    /// Peak memory.
    pub(crate) memory: Memory,
    /// The archiver bench's report, when it ran.
    pub(crate) archiver: Option<serde_json::Value>,
}

/// The settings of a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Settings {
    /// `--quick`.
    pub(crate) quick: bool,
    /// Distinct records per scenario.
    pub(crate) records: usize,
    /// Bytes per record.
    pub(crate) size: usize,
    /// How the archived records are stored.
    #[serde(serialize_with = "by_name")]
    pub(crate) blob_encoding: Encoding,
    /// Seconds of load per measurement.
    pub(crate) seconds: u64,
    /// Interleaved rounds of each pair.
    pub(crate) rounds: usize,
    /// Connection counts.
    pub(crate) connections: Vec<usize>,
    /// `--client-cpus`: wrk's cores and the servers' (`None`: all share every core).
    pub(crate) cores: Option<Split>,
}

fn by_name<S: serde::Serializer>(value: &Encoding, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl Results {
    /// Writes the results to `dir/{date}-side-by-side[-quick].json` and returns the path.
    pub(crate) fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let stamp = self.date.replace(':', "");
        let suffix = if self.settings.quick { "-quick" } else { "" };
        let path = dir.join(format!("{stamp}-side-by-side{suffix}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(path)
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_owned()
        })
        .unwrap_or_else(|_| format!("{program} not found"))
}
