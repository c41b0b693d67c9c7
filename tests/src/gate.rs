//! tiergate itself: the real host (`tiergate::Server`) running the real edge component,
//! configured through the same TOML an operator writes, in front of the test servers.

use crate::azurite;
use crate::blob_store::{ACCESS_KEY_ID, BUCKET, REGION, SECRET_ACCESS_KEY};
use crate::client::{HttpClient, Reply};
use anyhow::anyhow;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::fmt::Write as _;
use std::path::PathBuf;
use tiergate::config::{
    ENV_AUTH_HS256_SECRET, ENV_BLOB_ACCESS_KEY_ID, ENV_BLOB_ACCOUNT_KEY, ENV_BLOB_SECRET_ACCESS_KEY,
};

/// The cache backend tiergate keeps records in.
#[derive(Debug, Clone)]
pub enum CacheBackend {
    /// In the host's memory.
    Memory,
    /// In a redb file at this path.
    Redb(PathBuf),
    /// In the Redis server at this URL, shared with every tiergate configured so.
    Redis(String),
}

/// The settings of one tiergate under test, written out as its config file. Defaults are
/// tiergate's own, except a 10 s origin timeout, so that a hung origin fails a test quickly.
#[derive(Debug, Clone)]
pub struct GateConfig {
    origin_url: String,
    record_route: String,
    edge_extra: String,
    blob: Option<BlobTarget>,
    blob_secret: Option<String>,
    auth_hs256_secret: Option<String>,
    blob_timeout_ms: u64,
    cache_backend: CacheBackend,
    cache_ttl_seconds: u64,
    cache_max_record_bytes: u64,
    answer_hits_in_host: bool,
    pass_in_host: bool,
    archive: Option<String>,
    archive_batch: (u64, u64),
    grace_seconds: u64,
}

impl GateConfig {
    /// tiergate in front of the origin at `origin_url`, with no blob storage.
    pub fn new(origin_url: impl Into<String>) -> Self {
        Self {
            origin_url: origin_url.into(),
            record_route: "/records/{id}".to_owned(),
            edge_extra: String::new(),
            blob: None,
            blob_secret: None,
            auth_hs256_secret: None,
            blob_timeout_ms: 2_000,
            cache_backend: CacheBackend::Memory,
            cache_ttl_seconds: 3_600,
            cache_max_record_bytes: 1_048_000,
            answer_hits_in_host: true,
            pass_in_host: true,
            archive: None,
            archive_batch: (4, 3),
            grace_seconds: 0,
        }
    }

    /// Claims `batch_size` records at a time and copies `concurrency` at once (the test
    /// default is 4 and 3, so that a few records already make several batches).
    pub fn archive_batch(mut self, batch_size: u64, concurrency: u64) -> Self {
        self.archive_batch = (batch_size, concurrency);
        self
    }

    /// Deletes a copied record's hot row `seconds` after its copy, instead of at the next
    /// run.
    pub fn grace_seconds(mut self, seconds: u64) -> Self {
        self.grace_seconds = seconds;
        self
    }

    /// Archives from the hot database whose `[hot]` section is `hot_toml`: records older
    /// than 30 days, hot rows deleted at the run after their copy (unless a
    /// [grace period](Self::grace_seconds) is set), claims leased for a second so that a
    /// crashed run's records come free quickly and failed records retried at once (unless
    /// `extra` sets `lease_seconds` or `retry_seconds`), and any further `[archive]` keys in
    /// `extra` (lines like `encoding = "gzip"`).
    pub fn archive(mut self, hot_toml: &str, extra: &str) -> Self {
        // Failed records are retried at once, and a crashed run's claims come free after a
        // second, unless `extra` says otherwise.
        let unless_given =
            |key: &str, line: &'static str| if extra.contains(key) { "" } else { line };
        let retry = unless_given("retry_seconds", "retry_seconds = 0\n");
        let lease = unless_given("lease_seconds", "lease_seconds = 1\n");
        self.archive = Some(format!(
            "\n{hot_toml}\n[archive]\nafter_days = 30\n{lease}{retry}{extra}\n"
        ));
        self
    }

    /// Adds `lines` (such as `ignored_query_params = ["utm_source"]`) to the `[edge]` section.
    pub fn edge_extra(mut self, lines: &str) -> Self {
        self.edge_extra.push_str(lines);
        self.edge_extra.push('\n');
        self
    }

    /// Gives the host `secret` as the HS256 secret of `[edge.auth]` (its environment
    /// variable).
    pub fn auth_hs256_secret(mut self, secret: impl Into<String>) -> Self {
        self.auth_hs256_secret = Some(secret.into());
        self
    }

    /// Treats paths matching `pattern` as records; everything else passes through.
    pub fn record_route(mut self, pattern: impl Into<String>) -> Self {
        self.record_route = pattern.into();
        self
    }

    /// Reads archived records from the S3-compatible storage at `endpoint`, with the bucket
    /// in the path.
    pub fn blob_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.blob = Some(BlobTarget::S3 {
            endpoint: endpoint.into(),
            path_style: true,
        });
        self
    }

    /// Reads archived records from the S3-compatible storage at `endpoint` in the
    /// virtual-hosted style: the bucket in the host name (`path_style = false`).
    pub fn blob_virtual_hosted(mut self, endpoint: impl Into<String>) -> Self {
        self.blob = Some(BlobTarget::S3 {
            endpoint: endpoint.into(),
            path_style: false,
        });
        self
    }

    /// Reads archived records from Azure Blob Storage (Azurite) at the account endpoint
    /// `endpoint`, container [`azurite::CONTAINER`].
    pub fn azure_blob(mut self, endpoint: impl Into<String>) -> Self {
        self.blob = Some(BlobTarget::Azure(endpoint.into()));
        self
    }

    /// Signs blob URLs with this secret (S3 secret key or Azure account key) instead of
    /// the store's.
    pub fn blob_secret(mut self, secret: impl Into<String>) -> Self {
        self.blob_secret = Some(secret.into());
        self
    }

    /// Gives up on blob storage after this long.
    pub fn blob_timeout_ms(mut self, ms: u64) -> Self {
        self.blob_timeout_ms = ms;
        self
    }

    /// Keeps cached records in this backend.
    pub fn cache_backend(mut self, backend: CacheBackend) -> Self {
        self.cache_backend = backend;
        self
    }

    /// Serves a cached record for this long.
    pub fn cache_ttl_seconds(mut self, seconds: u64) -> Self {
        self.cache_ttl_seconds = seconds;
        self
    }

    /// Caches records up to this size only.
    pub fn cache_max_record_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_record_bytes = bytes;
        self
    }

    /// Whether the host answers fresh cache hits itself (the default) or leaves them to the
    /// component.
    pub fn answer_hits_in_host(mut self, on: bool) -> Self {
        self.answer_hits_in_host = on;
        self
    }

    /// Whether the host passes requests that are not a record's to the origin itself (the
    /// default) or through the component.
    pub fn pass_in_host(mut self, on: bool) -> Self {
        self.pass_in_host = on;
        self
    }

    /// The config file.
    pub fn to_toml(&self) -> String {
        let mut toml = format!(
            r#"[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[origin]
url = "{origin}"
timeout_ms = 10000

[edge]
record_route = "{route}"
pass_in_host = {pass_in_host}
{edge_extra}
[cache]
{backend}ttl_seconds = {ttl}
max_record_bytes = {max}
cache_origin_reads = true
answer_hits_in_host = {in_host}
"#,
            origin = self.origin_url,
            route = self.record_route,
            edge_extra = self.edge_extra,
            backend = match &self.cache_backend {
                CacheBackend::Memory => {
                    "backend = \"memory\"\nbudget_bytes = 268435456\n".to_owned()
                }
                // A literal string: no escapes to get wrong in a path.
                CacheBackend::Redb(path) => format!(
                    "backend = \"redb\"\npath = '{}'\nbudget_bytes = 268435456\n",
                    path.display()
                ),
                // Redis bounds itself (maxmemory).
                CacheBackend::Redis(url) => format!("backend = \"redis\"\nurl = \"{url}\"\n"),
            },
            ttl = self.cache_ttl_seconds,
            max = self.cache_max_record_bytes,
            in_host = self.answer_hits_in_host,
            pass_in_host = self.pass_in_host,
        );
        let backend = match &self.blob {
            None => {
                self.push_archive(&mut toml);
                return toml;
            }
            Some(BlobTarget::S3 {
                endpoint,
                path_style,
            }) => format!(
                "backend = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"{BUCKET}\"\n\
                 region = \"{REGION}\"\npath_style = {path_style}\n"
            ),
            Some(BlobTarget::Azure(endpoint)) => format!(
                "backend = \"azure\"\nendpoint = \"{endpoint}\"\npath_style = true\n\
                 account = \"{}\"\ncontainer = \"{}\"\n",
                azurite::ACCOUNT,
                azurite::CONTAINER
            ),
        };
        let _ = write!(
            toml,
            "\n[blob]\n{backend}url_expiry_seconds = 60\ntimeout_ms = {}\n",
            self.blob_timeout_ms
        );
        self.push_archive(&mut toml);
        toml
    }

    fn push_archive(&self, toml: &mut String) {
        if let Some(archive) = &self.archive {
            let (batch_size, concurrency) = self.archive_batch;
            let grace = self.grace_seconds;
            let _ = write!(
                toml,
                "{archive}batch_size = {batch_size}\nconcurrency = {concurrency}\n\
                 grace_seconds = {grace}\n"
            );
        }
    }
}

/// The blob store tiergate reads archived records from.
#[derive(Debug, Clone)]
enum BlobTarget {
    /// S3-compatible storage at this endpoint.
    S3 {
        endpoint: String,
        /// The bucket in the path rather than the host.
        path_style: bool,
    },
    /// Azure Blob Storage at this account endpoint.
    Azure(String),
}

/// A running tiergate and a client that talks to it.
pub struct Gate {
    server: tiergate::RunningServer,
    client: HttpClient,
    config: tiergate::Config,
    cache: std::sync::Arc<dyn tiergate::kv::KvBackend>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("addr", &self.server.local_addr())
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// Starts tiergate with `config`; the blob credentials come through its environment
    /// lookup, as in production. It serves as soon as this returns.
    pub async fn start(config: &GateConfig) -> anyhow::Result<Self> {
        let toml = config.to_toml();
        let secret = config.blob_secret.clone();
        let auth_secret = config.auth_hs256_secret.clone();
        let env = move |name: &str| match name {
            ENV_AUTH_HS256_SECRET => auth_secret.clone(),
            ENV_BLOB_ACCESS_KEY_ID => Some(ACCESS_KEY_ID.to_owned()),
            ENV_BLOB_SECRET_ACCESS_KEY => Some(
                secret
                    .clone()
                    .unwrap_or_else(|| SECRET_ACCESS_KEY.to_owned()),
            ),
            ENV_BLOB_ACCOUNT_KEY => Some(
                secret
                    .clone()
                    .unwrap_or_else(|| azurite::ACCOUNT_KEY.to_owned()),
            ),
            _ => None,
        };
        let parsed = tiergate::Config::from_toml(&toml, env)
            .map_err(|e| anyhow!("tiergate refused the test config: {e}\n{toml}"))?;
        let cache = tiergate::kv::open(&parsed.cache)?;
        let server = tiergate::Server::start_with_cache(parsed.clone(), cache.clone()).await?;
        Ok(Self {
            server,
            client: HttpClient::new(),
            config: parsed,
            cache,
        })
    }

    /// The edge cache it serves from, to look at what it holds.
    pub fn cache(&self) -> &dyn tiergate::kv::KvBackend {
        self.cache.as_ref()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &tiergate::Config {
        &self.config
    }

    /// The archiver of this tiergate's config, sharing its cache, as in `tiergate serve`.
    pub async fn archiver(&self) -> anyhow::Result<tiergate::Archiver> {
        tiergate::Archiver::new(&self.config, self.cache.clone()).await
    }

    /// The URL of `path_and_query` on this tiergate.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.server.local_addr())
    }

    /// `GET path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> anyhow::Result<Reply> {
        self.client.get(&self.url(path_and_query)).await
    }

    /// Sends `request`, whose URI is a path and query on this tiergate.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> anyhow::Result<Reply> {
        let (mut parts, body) = request.into_parts();
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = self.url(path_and_query).parse()?;
        self.client.send(Request::from_parts(parts, body)).await
    }
}
