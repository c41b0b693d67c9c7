//! The archiver's throughput in the same command: the `archiver` bench (`src/bin/archiver.rs`)
//! run as the program beside this one, with lz4 (the archiver's default encoding). Its table
//! prints as it runs; its JSON report goes into this run's.

use anyhow::{Context as _, ensure};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Runs the archiver bench at `binary` on `records` records, `repeat` worlds (medians), or
/// its `--quick` run, writing its report in `dir`; returns the report.
pub(crate) fn run(
    binary: &Path,
    records: usize,
    repeat: usize,
    quick: bool,
    dir: &Path,
) -> anyhow::Result<Value> {
    let out = dir.join("archiver.json");
    let mut command = Command::new(binary);
    command
        .args(["--encoding", "lz4", "--records", &records.to_string()])
        .args(["--repeat", &repeat.to_string()])
        .arg("--out")
        .arg(&out);
    if quick {
        command.arg("--quick");
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    ensure!(status.success(), "{} failed: {status}", binary.display());
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", out.display()))
}

/// One line on the archiver's lz4 row: copy and delete MB/s, beside the same per-record
/// work done natively on one thread.
pub(crate) fn summary(report: &Value) -> anyhow::Result<String> {
    let row = &report["encodings"][0];
    let number = |value: &Value, name: &str| {
        value[name]
            .as_f64()
            .with_context(|| format!("the archiver's report lacks {name}"))
    };
    Ok(format!(
        "archiver (lz4, {} records of {} bytes): copy {:.1} MB/s ({:.1} MB per CPU s), delete {:.1} MB/s; \
         native PreparedCopy::prepare + check on one thread {:.0} MB/s",
        number(row, "records")?,
        number(&report["settings"], "record_bytes")?,
        number(row, "copy_mb_per_second")?,
        number(row, "copy_mb_per_cpu_second")?,
        number(row, "delete_mb_per_second")?,
        number(&row["native"], "prepare_and_check_mb_per_second")?,
    ))
}
