//! Azure Blob Storage for the tests: Azurite 3.35.0 (the Azure emulator, an npm package that
//! runs on Node 20), started per test on a free port with in-memory persistence.
//!
//! `scripts/test` installs it under `target/azurite`; `TIERGATE_AZURITE` may point at another
//! `azurite-blob`. Where it is absent the Azure tests say so and pass, unless
//! `TIERGATE_REQUIRE_AZURITE=1` (as in CI), which makes its absence a failure.

use crate::client::HttpClient;
use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use hyper::Request;
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tiergate_core::{AzureSigner, BlobKey, ObjectMeta, PutChecksum, RecordId};

/// Azurite's well-known development account (public, documented by Microsoft).
pub const ACCOUNT: &str = "devstoreaccount1";
/// Its account key.
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The container archived records go to.
pub const CONTAINER: &str = "records";

/// How long the harness's own signed URLs stay valid.
const URL_EXPIRY: Duration = Duration::from_secs(60);
/// How long Azurite may take to answer after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports Azurite is started on before a test gives up.
const START_ATTEMPTS: u32 = 3;

/// A running Azurite blob service holding [`CONTAINER`]; killed when dropped.
#[derive(Debug)]
pub struct Azurite {
    child: Child,
    endpoint: String,
    client: HttpClient,
}

impl Azurite {
    /// Starts Azurite, or returns `None` (after saying why on stderr) where it is not
    /// installed and not required.
    pub async fn start_if_installed(test: &str) -> anyhow::Result<Option<Self>> {
        let Some(binary) = binary() else {
            let why = "Azurite not installed (scripts/test installs it under target/azurite)";
            if std::env::var("TIERGATE_REQUIRE_AZURITE").as_deref() == Ok("1") {
                bail!("{test}: {why}, and TIERGATE_REQUIRE_AZURITE=1");
            }
            crate::skipped(why);
            return Ok(None);
        };
        // A free port can be taken by another test between our probe and Azurite's bind, and
        // Azurite then exits: start again on another port.
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start(&binary).await {
                Ok(azurite) => return Ok(Some(azurite)),
                Err(error) => {
                    eprintln!("{test}: Azurite did not start, trying again: {error:#}");
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.expect("at least one attempt").context(format!(
            "{test}: Azurite did not start in {START_ATTEMPTS} attempts"
        )))
    }

    async fn start(binary: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--inMemoryPersistence", "--silent", "--disableTelemetry"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut azurite = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            client: HttpClient::new(),
        };
        azurite.create_container_once_listening().await?;
        Ok(azurite)
    }

    /// The blob endpoint, as tiergate is configured with it (with `path_style`: the
    /// account goes in the path).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// A signer with the account's real key.
    pub fn signer(&self) -> AzureSigner {
        AzureSigner::new(&self.endpoint, ACCOUNT, CONTAINER, ACCOUNT_KEY, true)
            .expect("valid settings")
    }

    /// Archives record `id` as the archiver does, through a SAS PUT.
    pub async fn archive(&self, id: &str, body: &[u8], content_type: &str) -> anyhow::Result<()> {
        let key = BlobKey::for_record(&RecordId::parse(id)?);
        let meta = ObjectMeta::describe(body, content_type);
        let checksum = PutChecksum::md5(body);
        let put = self
            .signer()
            .presign_put(&key, &meta, &checksum, SystemTime::now(), URL_EXPIRY);
        let reply = self.client.put_signed(&put, body).await?;
        ensure!(
            reply.status == http::StatusCode::CREATED,
            "archiving record {id} in Azurite: PUT {key} answered {}: {}",
            reply.status,
            reply.text()
        );
        Ok(())
    }

    /// Node takes a while to start on a busy machine: until Azurite answers, a failed
    /// exchange means "not yet", unless Azurite has exited.
    async fn create_container_once_listening(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let reply = loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("Azurite on {} exited ({status})", self.endpoint);
            }
            match self.client.send(self.create_container_request()?).await {
                Ok(reply) => break reply,
                Err(error) if Instant::now() >= deadline => {
                    return Err(error.context(format!(
                        "Azurite did not answer on {} within {READY_TIMEOUT:?}",
                        self.endpoint
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        ensure!(
            reply.status == http::StatusCode::CREATED,
            "creating container {CONTAINER} in Azurite answered {}: {}",
            reply.status,
            reply.text()
        );
        Ok(())
    }

    /// Creating a container needs more than a blob SAS: an account SAS for containers.
    fn create_container_request(&self) -> anyhow::Result<Request<Full<Bytes>>> {
        let expiry = jiff::Timestamp::try_from(SystemTime::now() + URL_EXPIRY)?
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let version = tiergate_core::azure::SAS_VERSION;
        // Account SAS string-to-sign (version 2020-12-06 and later): account, permissions,
        // services, resource types, start, expiry, IP, protocol, version, encryption scope.
        let string_to_sign = format!("{ACCOUNT}\nc\nb\nc\n\n{expiry}\n\nhttps,http\n{version}\n\n");
        let mut mac = Hmac::<Sha256>::new_from_slice(&BASE64.decode(ACCOUNT_KEY)?)?;
        mac.update(string_to_sign.as_bytes());
        let mut url = url::Url::parse(&format!("{}/{ACCOUNT}/{CONTAINER}", self.endpoint))?;
        url.query_pairs_mut()
            .append_pair("restype", "container")
            .append_pair("sv", version)
            .append_pair("ss", "b")
            .append_pair("srt", "c")
            .append_pair("sp", "c")
            .append_pair("se", &expiry)
            .append_pair("spr", "https,http")
            .append_pair("sig", &BASE64.encode(mac.finalize().into_bytes()));
        Ok(Request::put(url.as_str()).body(Full::new(Bytes::new()))?)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `azurite-blob`, from `TIERGATE_AZURITE` or where `scripts/test` installs it.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TIERGATE_AZURITE") {
        return Some(PathBuf::from(path));
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_owned();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    let installed = target.join("azurite/node_modules/.bin/azurite-blob");
    installed.exists().then_some(installed)
}
