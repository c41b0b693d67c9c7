//! The same edge component under Spin: `spin build` and `spin up` on the project's
//! `spin.toml`, with the edge as HTTP middleware in front of the forwarding component, against
//! the harness's origin and s3s-fs. Needs a `spin` (4.1 or later) on PATH, or `TIERGATE_SPIN`
//! naming one; without it the tests say SKIPPED and pass.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tiergate_tests::assertions::{assert_refused_as_missing, assert_served};
use tiergate_tests::blob_store::{ACCESS_KEY_ID, BUCKET, SECRET_ACCESS_KEY};
use tiergate_tests::issuer::{AUDIENCE, ISSUER};
use tiergate_tests::records::{CONTENT_TYPE, LARGE_RECORD_BYTES};
use tiergate_tests::{
    BlobStore, HttpClient, Issuer, Origin, RedisServer, ScratchDir, billing_record,
};

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

/// A built app running under `spin up`, its state in a scratch directory.
struct SpinApp {
    _spin: SpinUp,
    _state: ScratchDir,
    listen: std::net::SocketAddr,
}

impl SpinApp {
    /// `spin build`, then `spin up` in front of `origin` and `store`, with the variables in
    /// `variables` (name, value) set too, and Spin's runtime config from `runtime_config`
    /// if given; `None` (the test says SKIPPED) without a spin.
    async fn start(
        origin: &Origin,
        store: &BlobStore,
        variables: &[(&str, String)],
        runtime_config: Option<&Path>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(spin) = spin_binary() else {
            tiergate_tests::skipped("no spin on PATH (nor TIERGATE_SPIN)");
            return Ok(None);
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

        let state = ScratchDir::create("spin-state")?;
        let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut command = Command::new(&spin);
        command
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
            .process_group(0);
        if let Some(file) = runtime_config {
            command.arg("--runtime-config-file").arg(file);
        }
        for (name, value) in variables {
            command.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
        }
        let spin = SpinUp(command.spawn()?);
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(listen).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "spin up did not listen on {listen} in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Some(Self {
            _spin: spin,
            _state: state,
            listen,
        }))
    }

    fn record(&self, id: &str) -> String {
        format!("http://{}/records/{id}", self.listen)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_serves_records_from_blob_cache_and_origin_and_passes_the_rest() -> anyhow::Result<()>
{
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
    let Some(app) = SpinApp::start(&origin, &store, &[], None).await? else {
        return Ok(());
    };

    let client = HttpClient::new();
    let record = |id: &str| app.record(id);
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
    let echo = hyper::Request::post(format!("http://{}/echo?a=1", app.listen))
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

/// `jwt` mode under Spin, as in the host (`access_jwt.rs`): the same component checks the
/// token and the record's owner (at a JSON pointer) whichever tier answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_checks_tokens_and_owners_as_the_host_does() -> anyhow::Result<()> {
    let issuer = Issuer::start().await?;
    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let archived = "INV-2024-000411";
    let archived_body = billing_record(archived, 411, LARGE_RECORD_BYTES);
    store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000412";
    let hot_body = billing_record(hot, 411, LARGE_RECORD_BYTES);
    origin.insert(hot, hot_body.clone(), CONTENT_TYPE);
    let owner = customer_of(&archived_body);
    assert_eq!(owner, customer_of(&hot_body), "one seed, one customer");

    let jwks = url::Url::parse(&issuer.jwks_url())?;
    let variables = [
        ("auth_mode", "jwt".to_owned()),
        ("auth_issuer", ISSUER.to_owned()),
        ("auth_audience", AUDIENCE.to_owned()),
        ("auth_jwks_url", jwks.to_string()),
        ("auth_jwks_host_url", jwks.origin().ascii_serialization()),
        ("auth_owner_claim", "customer_id".to_owned()),
        ("auth_owner_pointer", "/customer".to_owned()),
    ];
    let Some(app) = SpinApp::start(&origin, &store, &variables, None).await? else {
        return Ok(());
    };
    let client = HttpClient::new();
    let get = |id: &str, customer: Option<&str>| {
        let mut request = hyper::Request::get(app.record(id));
        if let Some(customer) = customer {
            request = request.header(
                "authorization",
                format!("Bearer {}", issuer.token(customer)),
            );
        }
        let request = request.body(http_body_util::Full::default());
        let client = &client;
        async move { client.send(request?).await }
    };

    // Another customer first: refused by the blob tier and by the origin tier.
    assert_refused_as_missing(
        &get(archived, Some("CUST-OTHER")).await?,
        "another's, from blob",
    );
    assert_refused_as_missing(
        &get(hot, Some("CUST-OTHER")).await?,
        "another's, from the origin",
    );
    assert_served(
        &get(archived, Some(&owner)).await?,
        archived,
        "cache",
        &archived_body,
    );
    assert_served(&get(hot, Some(&owner)).await?, hot, "cache", &hot_body);
    let reply = get(archived, None).await?;
    assert_eq!(reply.status, 401, "no token: {}", reply.text());
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"tiergate\"")
    );
    Ok(())
}

/// Two `spin up`s with the repository's `spin-runtime-config.toml` (its URL pointed at a
/// Redis of the test's own) share the edge's cache, as `tiergate serve` hosts do with
/// `[cache] backend = "redis"` (`shared_cache.rs`): what one caches the other serves, and a
/// write through one is seen through the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_instances_share_the_edge_cache_in_redis() -> anyhow::Result<()> {
    let Some(redis) = RedisServer::start_if_installed().await? else {
        return Ok(());
    };
    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let archived = "INV-2024-000421";
    let archived_body = billing_record(archived, 421, LARGE_RECORD_BYTES);
    store
        .archive(archived, &archived_body, CONTENT_TYPE)
        .await?;
    let hot = "INV-2024-000422";
    let hot_body = billing_record(hot, 422, LARGE_RECORD_BYTES);
    origin.insert(hot, hot_body.clone(), CONTENT_TYPE);

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let documented = std::fs::read_to_string(workspace.join("spin-runtime-config.toml"))?;
    let url_line = "url = \"redis://127.0.0.1:6379\"";
    anyhow::ensure!(
        documented.contains(url_line),
        "spin-runtime-config.toml no longer has {url_line}"
    );
    let config_dir = ScratchDir::create("spin-runtime-config")?;
    let config = config_dir.path().join("spin-runtime-config.toml");
    std::fs::write(
        &config,
        documented.replace(url_line, &format!("url = \"{}\"", redis.url())),
    )?;
    let Some(a) = SpinApp::start(&origin, &store, &[], Some(&config)).await? else {
        return Ok(());
    };
    let Some(b) = SpinApp::start(&origin, &store, &[], Some(&config)).await? else {
        return Ok(());
    };

    let client = HttpClient::new();
    assert_served(
        &client.get(&a.record(archived)).await?,
        archived,
        "blob",
        &archived_body,
    );
    assert_served(
        &client.get(&b.record(archived)).await?,
        archived,
        "cache",
        &archived_body,
    );
    assert_served(&client.get(&b.record(hot)).await?, hot, "origin", &hot_body);
    assert_served(&client.get(&a.record(hot)).await?, hot, "cache", &hot_body);

    // A write through a drops the copy b would serve.
    let written = billing_record(hot, 423, LARGE_RECORD_BYTES);
    let put = hyper::Request::put(a.record(hot))
        .header("content-type", CONTENT_TYPE)
        .body(http_body_util::Full::new(written.clone()))?;
    let reply = client.send(put).await?;
    assert!(
        reply.status.is_success(),
        "PUT through spin: {} {}",
        reply.status,
        reply.text()
    );
    assert_served(&client.get(&b.record(hot)).await?, hot, "origin", &written);
    assert_served(&client.get(&a.record(hot)).await?, hot, "cache", &written);
    Ok(())
}

/// The customer a billing record belongs to (its `customer` field).
fn customer_of(body: &[u8]) -> String {
    let document: serde_json::Value = serde_json::from_slice(body).expect("records are JSON");
    document["customer"]
        .as_str()
        .expect("a customer")
        .to_owned()
}
