//! What the operator commands print: the progress bar and summary of `archive --once`, the
//! dry run, `restore`, and `status`.

use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};
use tiergate::archive::DryRun;
use tiergate::restore::{Restored, Restorer};
use tiergate::{Archiver, Config, RunOptions, RunProgress, RunReport};
use tiergate_core::RecordId;
use tiergate_hotstore::{HotStore, Status};
use tokio::sync::watch;

/// Most per-record errors printed; the rest are counted.
const ERRORS_SHOWN: usize = 20;

/// Runs once with a progress bar over the records the store estimates are cold (grown if
/// the estimate was short), then prints the summary.
pub(crate) async fn run_with_progress(
    archiver: &Archiver,
    from_beginning: bool,
) -> anyhow::Result<RunReport> {
    let estimate = archiver.estimate_cold().await?;
    let bar = ProgressBar::new(estimate).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/~{human_len} records \
             ETA {eta} {msg}",
        )
        .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let (progress, mut watched) = watch::channel(RunProgress::default());
    let started = Instant::now();
    let run = archiver.run(RunOptions {
        progress: Some(progress),
        fault: None,
        from_beginning,
    });
    tokio::pin!(run);
    let report = loop {
        tokio::select! {
            report = &mut run => break report,
            Ok(()) = watched.changed() => {
                let p = *watched.borrow_and_update();
                let done = p.archived + p.failed;
                if done > bar.length().unwrap_or(0) {
                    bar.set_length(done);
                }
                bar.set_position(done);
                bar.set_message(format!(
                    "{} copied ({}), {} deleted, {} failed",
                    HumanCount(p.archived), HumanBytes(p.bytes_in), HumanCount(p.deleted),
                    HumanCount(p.failed)
                ));
            }
        }
    };
    bar.finish_and_clear();
    let report = report?;
    summary(&report, started.elapsed());
    Ok(report)
}

/// Says that records wait for a retry, and until when: without it a run after an outage
/// reads as a success that found nothing to do.
fn waiting_line(report: &RunReport) -> Option<String> {
    let waiting = report.waiting;
    (waiting.records > 0).then(|| {
        let next = waiting
            .next_retry_ms
            .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
            .map_or_else(
                || "later".to_owned(),
                |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
        format!(
            "{} records failed earlier and wait for a retry (archive.retry_seconds); the first \
             comes free at {next}: `tiergate status` shows their errors",
            HumanCount(waiting.records)
        )
    })
}

/// Restores each of `ids` with a progress bar, saying what became of each on stdout (the
/// bar is drawn only on a terminal); whether all went well.
pub(crate) async fn restore(restorer: &Restorer, ids: &[String]) -> bool {
    let bar = ProgressBar::new(ids.len() as u64).with_message("restoring");
    let (mut restored, mut hot, mut failed) = (0u64, 0u64, 0u64);
    for raw in ids {
        let outcome = match RecordId::parse(raw) {
            Err(e) => Err(format!("not a record id: {e}")),
            Ok(id) => restorer.before_write(&id).await.map_err(|e| e.to_string()),
        };
        let said = match outcome {
            Ok(Restored::Restored) => {
                restored += 1;
                "restored".to_owned()
            }
            Ok(Restored::Hot) => {
                hot += 1;
                "in the hot database already (or no such record)".to_owned()
            }
            Ok(Restored::Expired) => {
                failed += 1;
                "FAILED: expired: its copy was deleted at the end of its retention period \
                 (archive.expire_after_days)"
                    .to_owned()
            }
            Err(why) => {
                failed += 1;
                format!("FAILED: {why}")
            }
        };
        bar.suspend(|| println!("{raw}: {said}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{restored} restored, {hot} already hot, {failed} failed");
    failed == 0
}

fn summary(report: &RunReport, took: Duration) {
    let secs = took.as_secs_f64().max(0.001);
    println!(
        "archiver run: {} claimed, {} archived, {} hot rows deleted, {} stale copies removed, {} failed in {:.1} s",
        report.claimed, report.archived, report.deleted, report.restored, report.failed, secs
    );
    if report.expired > 0 {
        println!(
            "  {} copies past their retention period deleted for good",
            report.expired
        );
    }
    if report.bytes_in > 0 {
        println!(
            "  copied {} as {} ({:.1}x smaller), {}/s",
            HumanBytes(report.bytes_in),
            HumanBytes(report.bytes_out),
            report.bytes_in as f64 / report.bytes_out.max(1) as f64,
            HumanBytes((report.bytes_in as f64 / secs) as u64)
        );
    }
    for error in report.errors.iter().take(ERRORS_SHOWN) {
        println!("  record {}: {}", error.id, error.message);
    }
    if report.errors.len() > ERRORS_SHOWN {
        println!("  ... and {} more", report.errors.len() - ERRORS_SHOWN);
    }
    if let Some(reason) = &report.aborted {
        println!("run stopped early: {reason}");
        println!("nothing was lost; the next run resumes where this one stopped");
    }
    if let Some(waiting) = waiting_line(report) {
        println!("{waiting}");
    }
}

/// Prints what a run would copy, and delete for retention.
pub(crate) fn dry_run(plan: &DryRun) {
    let cutoff = chrono::DateTime::<chrono::Utc>::from(plan.cutoff);
    println!(
        "dry run: {} records last changed before {} would be copied ({}); nothing was changed",
        HumanCount(plan.cold.records),
        cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        HumanBytes(plan.cold.bytes)
    );
    if !plan.cold.sample.is_empty() {
        println!("  first: {}", plan.cold.sample.join(", "));
    }
    if let Some(expiring) = &plan.expiring {
        let before = chrono::DateTime::<chrono::Utc>::from(expiring.changed_before);
        println!(
            "dry run: {} archived records last changed before {} are past their retention period; their copies would be deleted for good ({})",
            HumanCount(expiring.copies.records),
            before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            HumanBytes(expiring.copies.bytes)
        );
        if !expiring.copies.sample.is_empty() {
            println!("  first: {}", expiring.copies.sample.join(", "));
        }
    }
}

/// Prints the ledger's state.
pub(crate) fn status(config: &Config, status: &Status) {
    if let Some(archive) = &config.archive {
        println!(
            "hot database: {:?} table {}",
            archive.hot.engine, archive.hot.table
        );
    }
    println!(
        "  hot rows: {} ({})",
        HumanCount(status.hot_records),
        HumanBytes(status.hot_bytes)
    );
    println!("ledger:");
    for state in &status.states {
        println!(
            "  {:<9} {:>10} records  {:>10}  stored as {}",
            state.state.as_str(),
            HumanCount(state.records).to_string(),
            HumanBytes(state.bytes).to_string(),
            HumanBytes(state.stored_bytes)
        );
    }
    match &status.last_run {
        None => println!("last run: none yet"),
        Some(run) => {
            let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(run.started_ms)
                .map_or_else(|| run.started_ms.to_string(), |t| t.to_rfc3339());
            println!(
                "last run: {at}, {:.1} s: {} claimed, {} archived, {} deleted, {} restored, {} failed",
                (run.finished_ms - run.started_ms) as f64 / 1000.0,
                run.claimed,
                run.archived,
                run.deleted,
                run.restored,
                run.failed
            );
            for error in run.errors.iter().take(ERRORS_SHOWN) {
                println!("  {error}");
            }
        }
    }
}

/// Prints where the demo runs and what to try.
pub(crate) fn demo(demo: &tiergate::demo::RunningDemo) {
    let edge = format!("http://{}", demo.edge.local_addr());
    let (old, new) = &demo.examples;
    let config = demo.config_path.display();
    println!(
        r#"tiergate demo is running: {records} billing records, the oldest two years old.

  edge (use this)   {edge}
  sample API        {api}   (the origin, over SQLite)
  blob storage      {blob}   (s3s-fs, S3-compatible)
  metrics           http://{admin}/metrics

{access}Records older than 90 days move to blob storage on the schedule "{schedule}" (cron,
with seconds); each one leaves the API's database {grace} seconds after its copy was
verified. Watch x-tiergate-source change:

  curl -si{as_staff} {edge}/records/{new} | grep -i x-tiergate-source      # recent: origin, then cache
  curl -si{as_staff} {edge}/records/{old} | grep -i x-tiergate-source      # old: blob once archived
  curl -s  {api}/records/{old} -o /dev/null -w '%{{http_code}}\n'   # the API: 404 once deleted
  curl -s '{edge}/records?limit=5'                                 # the listing, passed through

Status and a run now, from another terminal:

  tiergate status --config {config}
  tiergate archive --once --config {config}

Ctrl-C stops the demo; run it again to carry on where it stopped."#,
        records = demo.hot_records,
        api = demo.api_url,
        blob = demo.blob_url,
        admin = demo.admin.local_addr(),
        schedule = demo.options.schedule,
        grace = demo.options.grace_seconds,
        as_staff = if demo.tokens.is_some() {
            r#" -H "authorization: Bearer $STAFF_TOKEN""#
        } else {
            ""
        },
        access = demo.tokens.as_ref().map_or_else(String::new, |tokens| {
            let ((owner, owner_token), (other, other_token)) = (&tokens.owner, &tokens.other);
            let staff_token = &tokens.staff;
            format!(
                r#"Access is checked ([edge.auth] mode = "jwt", the demo's own token issuer): a record
reaches only the customer it names, with a token of theirs, or staff with the
records.read_all scope. Tokens, valid for a day (paste these lines into your shell):

  OWNER_TOKEN={owner_token}
  OTHER_TOKEN={other_token}
  STAFF_TOKEN={staff_token}

  curl -s -o /dev/null -w '%{{http_code}}\n' -H "authorization: Bearer $OWNER_TOKEN" {edge}/records/{old}   # 200: {owner}'s invoice
  curl -s -o /dev/null -w '%{{http_code}}\n' -H "authorization: Bearer $OTHER_TOKEN" {edge}/records/{old}   # 404: not {other}'s
  curl -s -o /dev/null -w '%{{http_code}}\n' {edge}/records/{old}                                        # 401: no token

"#
            )
        }),
    );
}

/// Runs the audit with a progress bar over the ledger, then prints every problem.
pub(crate) async fn verify(
    config: &Config,
    store: &HotStore,
    sample: u8,
) -> anyhow::Result<tiergate::ops::verify::Audit> {
    let rows: u64 = store
        .status()
        .await
        .map_err(|e| anyhow::anyhow!("reading the ledger: {e}"))?
        .states
        .iter()
        .map(|s| s.records)
        .sum();
    let bar = ProgressBar::new(rows).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ledger rows, ETA {eta} {msg}",
        )
        .expect("a valid template"),
    );
    let audit = tiergate::ops::verify::verify(config, store, sample, |audit| {
        bar.set_position(audit.rows);
        bar.set_message(format!("{} problems", audit.problems.len()));
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "verify: {} ledger rows, {} copies checked ({}), {} problems",
        HumanCount(audit.rows),
        HumanCount(audit.checked),
        HumanBytes(audit.bytes),
        audit.problems.len()
    );
    for problem in &audit.problems {
        println!("  record {}: {}", problem.id, problem.what);
    }
    Ok(audit)
}
