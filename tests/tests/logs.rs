//! No secret, signature or signed URL reaches a log line, on the paths that log the most:
//! blob reads that work, reads refused for a wrong key, reads and archiver runs with blob
//! storage down, and the alert for such a run. Everything logs at its most detailed level
//! into one buffer, components' stderr included, and the buffer is searched.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tiergate::RunOptions;
use tiergate_tests::blob_store::SECRET_ACCESS_KEY;
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{BlobStore, Gate, GateConfig, HotDb, HotOrigin, Origin, billing_record};

/// Every log line of this test binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Logs everything at trace level as JSON, through the filter the binary uses, but the
/// compiler's own lines (only code) and the test's S3 server's (it is not tiergate, and
/// shows the URLs it was sent).
fn capture() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tiergate::ops::logs::filter(
            "trace,wasmtime_internal_cranelift=off,cranelift_codegen=off,regalloc2=off,\
             s3s=off,s3s_fs=off",
        ))
        .with_writer(move || writer.clone())
        .init();
    captured
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_signed_url_is_ever_logged() -> anyhow::Result<()> {
    let log = capture();
    let origin = Origin::start().await?;
    let mut store = BlobStore::start().await?;
    let body = billing_record("INV-LOG-1", 1, LARGE_RECORD_BYTES);
    store.archive("INV-LOG-1", &body, CONTENT_TYPE).await?;

    // A blob read with a signed URL, then a cache hit.
    let gate = Gate::start(&GateConfig::new(origin.url()).blob_endpoint(store.endpoint())).await?;
    for source in ["blob", "cache"] {
        let reply = gate.get("/records/INV-LOG-1").await?;
        assert_eq!(reply.header("x-tiergate-source"), Some(source));
    }

    // Signed with the wrong key: storage refuses it (403) and the edge falls back.
    let wrong_key = Gate::start(
        &GateConfig::new(origin.url())
            .blob_endpoint(store.endpoint())
            .blob_secret("not-the-secret-at-all"),
    )
    .await?;
    wrong_key.get("/records/INV-LOG-1").await?;

    // An archiver run while storage is down, and its alert.
    let db = HotDb::sqlite()?;
    let hot_origin = HotOrigin::start(db.clone()).await?;
    let archiving = Gate::start(
        &GateConfig::new(hot_origin.url())
            .blob_endpoint(store.endpoint())
            .archive(&db.hot_toml(), ""),
    )
    .await?;
    db.insert(
        "INV-LOG-2",
        &billing_record("INV-LOG-2", 2, 20_000),
        Duration::from_secs(400 * 86_400),
    )
    .await?;
    store.stop().await;
    let report = archiving
        .archiver()
        .await?
        .run(RunOptions::default())
        .await?;
    assert!(report.aborted.is_some(), "{report:?}");
    tiergate::archive::schedule::log(&report);
    let alert = tiergate::archive::schedule::alert(&report).expect("a stopped run alerts");
    let webhook = tiergate_tests::Webhook::start().await?;
    tiergate::telemetry::alert::send(Some(&webhook.url()), &alert).await;
    // And a read of an archived record while storage is down.
    archiving.get("/records/INV-LOG-1").await?;

    let text = log.text();
    // The failures were logged, with what an operator needs...
    for expected in [
        "403 from storage",
        "storage unreachable",
        "archiver run stopped early",
        "\"request_id\"",
    ] {
        assert!(text.contains(expected), "the log lacks {expected:?}");
    }
    // ...and never a credential or a signature.
    for leak in [
        SECRET_ACCESS_KEY,
        "not-the-secret-at-all",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "x-amz-signature",
    ] {
        let line = text.lines().find(|l| l.contains(leak));
        assert!(line.is_none(), "a log line shows {leak:?}: {line:?}");
    }
    Ok(())
}
