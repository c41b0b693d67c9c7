//! Tests that could not run here (no PostgreSQL, no Azurite, no spin) say so in a way the
//! test command can count: a passing test's stderr is never shown, so each skip is also
//! written to the file `TIERGATE_SKIPPED_LOG` names, which `scripts/test` sets and tallies.

use std::io::Write as _;

/// Says on stderr, and in the skip log when one is set, that the running test skipped and
/// why. The test is named by its thread, which libtest names after it.
pub fn skipped(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    eprintln!("SKIPPED {test}: {why}");
    if let Some(log) = std::env::var_os("TIERGATE_SKIPPED_LOG") {
        // One write per line, in append mode: lines of tests running at once do not mix.
        let line = format!("{test}: {why}\n");
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(e) = appended {
            eprintln!("could not note the skip in TIERGATE_SKIPPED_LOG: {e}");
        }
    }
}
