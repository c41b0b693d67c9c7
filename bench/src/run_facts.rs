//! What the standalone benchmarks (`bin/`) record about the run beside their numbers (the
//! machine, its load, and the code's revision), and where they write it.

use anyhow::Context as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `bench/results/<YYYY-MM-DD>-<name>.json`: where a benchmark's report goes by default.
pub(crate) fn results_path(name: &str) -> PathBuf {
    let date = jiff::Zoned::now().strftime("%Y-%m-%d");
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("results/{date}-{name}.json"))
}

/// Writes `report` to `out` as pretty JSON, creating its directory, and says where.
pub(crate) fn write_report(out: &Path, report: &Value) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, serde_json::to_string_pretty(report)? + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// CPU model, cores, memory and kernel.
pub(crate) fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.split_once(':'))
            .map(|(_, value)| value.trim().to_owned())
    };
    let mem_gib = field(&meminfo, "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0);
    json!({
        "cpu": field(&cpuinfo, "model name"),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory_gib": mem_gib,
        "kernel": first_line("uname", &["-r"]),
        "shared": true,
    })
}

/// tiergate's git revision, `-dirty` when the work tree has changes.
pub(crate) fn git_revision() -> Option<String> {
    let rev = first_line("git", &["rev-parse", "--short=12", "HEAD"])?;
    let dirty = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

/// The first line a command prints, run in the workspace (so the toolchain file applies).
pub(crate) fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    })
}
