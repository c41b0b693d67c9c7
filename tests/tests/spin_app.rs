//! The same edge component under Spin: `spin build` and `spin up` on the project's
//! `spin.toml`, with the edge as HTTP middleware in front of the forwarding component, against
//! the harness's origin and s3s-fs. Needs a `spin` (4.1 or later) on PATH, or `TIERGATE_SPIN`
//! naming one; without it the test says SKIPPED and passes.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tiergate_tests::assertions::assert_served;
use tiergate_tests::blob_store::{ACCESS_KEY_ID, BUCKET, SECRET_ACCESS_KEY};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{BlobStore, HttpClient, Origin, ScratchDir, billing_record};

/// A `spin up` in a process group of its own, stopped with its children (`spin up` runs the
/// trigger as a child process) when dropped.
struct SpinUp(Child);

impl Drop for SpinUp {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn spin_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TIERGATE_SPIN") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join("spin"))
        .find(|candidate| candidate.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_serves_records_from_blob_cache_and_origin_and_passes_the_rest() -> anyhow::Result<()>
{
    let Some(spin) = spin_binary() else {
        tiergate_tests::skipped("no spin on PATH (nor TIERGATE_SPIN)");
        return Ok(());
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let built = Command::new(&spin)
        .arg("build")
        .current_dir(workspace)
        .env_remove("CARGO_TARGET_DIR")
        .status()?;
    anyhow::ensure!(built.success(), "spin build failed");

    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let archived = "INV-2024-000401";
    let archived_body = billing_record(archived, 401, LARGE_RECORD_BYTES);
    store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000402";
    let hot_body = billing_record(hot, 402, LARGE_RECORD_BYTES);
    origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    let state = ScratchDir::create("spin-state")?;
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let _spin = SpinUp(
        Command::new(&spin)
            .args(["up", "--listen", &listen.to_string()])
            .arg("--state-dir")
            .arg(state.path())
            .current_dir(workspace)
            .env("SPIN_VARIABLE_ORIGIN_URL", origin.url())
            .env("SPIN_VARIABLE_BLOB_BACKEND", "s3")
            .env("SPIN_VARIABLE_BLOB_ENDPOINT", store.endpoint())
            .env("SPIN_VARIABLE_BLOB_BUCKET", BUCKET)
            .env("SPIN_VARIABLE_BLOB_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("SPIN_VARIABLE_BLOB_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()?,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(listen).await.is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "spin up did not listen on {listen} in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let client = HttpClient::new();
    let record = |id: &str| format!("http://{listen}/records/{id}");
    assert_served(
        &client.get(&record(archived)).await?,
        archived,
        "blob",
        &archived_body,
    );
    assert_served(
        &client.get(&record(archived)).await?,
        archived,
        "cache",
        &archived_body,
    );
    assert_served(&client.get(&record(hot)).await?, hot, "origin", &hot_body);
    assert_served(&client.get(&record(hot)).await?, hot, "cache", &hot_body);

    let body = bytes::Bytes::from_static(b"\x00\x01 passthrough \xff");
    let echo = hyper::Request::post(format!("http://{listen}/echo?a=1"))
        .body(http_body_util::Full::new(body.clone()))?;
    let reply = client.send(echo).await?;
    assert_eq!(
        reply.status,
        200,
        "POST /echo through spin: {}",
        reply.text()
    );
    assert_eq!(reply.body, body, "POST /echo body through spin");
    assert_eq!(
        reply.source(),
        None,
        "passthrough is not tagged with a source"
    );
    Ok(())
}
