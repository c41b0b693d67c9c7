//! The host's configuration: one TOML file (see `tiergate.example.toml`), secrets from the
//! environment. Everything is checked at load, so a bad value stops the start with an error
//! that names its key, rather than failing requests later.

mod setting_keys;

use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tiergate_core::access::{AccessMode, KeySource, OwnerAt};
use tiergate_core::restore_auth::RestoreKey;
use tiergate_core::settings::names;
use tiergate_core::{ArchiverSettings, EdgeSettings, RecordRoute};
use tiergate_cost::CostSettings;
use tiergate_hotstore::HotConfig;

/// Environment variable holding the blob access key id.
pub const ENV_BLOB_ACCESS_KEY_ID: &str = "TIERGATE_BLOB_ACCESS_KEY_ID";
/// Environment variable holding the blob secret access key.
pub const ENV_BLOB_SECRET_ACCESS_KEY: &str = "TIERGATE_BLOB_SECRET_ACCESS_KEY";
/// Environment variable holding the Azure storage account key (base64).
pub const ENV_BLOB_ACCOUNT_KEY: &str = "TIERGATE_BLOB_ACCOUNT_KEY";

/// Environment variable holding the key restore requests are signed with (at least 16
/// bytes). Edges in this host sign with it in process; edges elsewhere (Spin) need the same
/// key to reach this host's restore endpoint. Unset: a random key, for this host alone.
pub const ENV_RESTORE_KEY: &str = "TIERGATE_RESTORE_KEY";
/// Environment variable holding the shared secret of HS256 tokens (`[edge.auth]`, jwt mode).
pub const ENV_AUTH_HS256_SECRET: &str = "TIERGATE_AUTH_HS256_SECRET";

/// Where the edges of this host send restore requests: answered in process, never looked
/// up (`.invalid` names nothing, by RFC 2606).
pub const IN_PROCESS_RESTORE: &str = "restore.tiergate.invalid";

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// What is wrong with a file's contents, and which file.
    #[error("config file {path}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        error: Box<ConfigError>,
    },
    /// The TOML does not parse or has unknown keys or wrong types.
    #[error(transparent)]
    Syntax(#[from] toml::de::Error),
    /// A value parses but is unusable.
    #[error("config key {key}: {reason}")]
    Invalid {
        /// Dotted key, such as `origin.url`.
        key: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A secret is missing from the environment.
    #[error("{key} needs the environment variable {var} (or a blob.credentials_file setting it)")]
    MissingSecret {
        /// The setting that needs it.
        key: &'static str,
        /// The variable.
        var: &'static str,
    },
}

/// The host's configuration. Its `Debug` hides the secrets (see [`Redacted`]).
#[derive(Clone)]
pub struct Config {
    /// Where the edge listens.
    pub listen: SocketAddr,
    /// Where `/metrics` and `/healthz` are served.
    pub admin_listen: SocketAddr,
    /// Which paths are records (as the edge reads its `record_route` variable).
    pub record_route: RecordRoute,
    /// Whether the host sends requests the edge only passes on (not record requests) to the
    /// origin itself rather than through the component (`[edge] pass_in_host`).
    pub pass_in_host: bool,
    /// The origin API: the edge's next hop.
    pub origin: OriginConfig,
    /// The edge cache.
    pub cache: CacheConfig,
    /// The edge component's variables, by the names it reads (`tiergate_core::settings::names`).
    pub edge_variables: HashMap<String, String>,
    /// The one authority (`host[:port]`) the components may send requests to: the blob
    /// store's, which with S3's virtual-hosted style is the bucket's host.
    pub blob_authority: Option<String>,
    /// Where the edge's access checks go, which it may reach too: the token issuer's JWKS
    /// endpoint (`jwt` mode with `jwks_url`) or the API's check URL (`origin` mode).
    pub auth_url: Option<url::Url>,
    /// The hot database and the archiver, when `[hot]` and `[archive]` are configured.
    pub archive: Option<ArchiveConfig>,
    /// Where to POST alerts (failed archiver runs, problems found by `verify`).
    pub alert_webhook: Option<url::Url>,
    /// Prices and projection inputs for `tiergate cost` (`[cost]`).
    pub cost: CostSettings,
    /// The key restore requests are signed with, when there is a hot database to restore
    /// to.
    pub restore_key: Option<RestoreKey>,
}

/// The archiver: the hot database it moves records out of, its schedule and its settings.
#[derive(Clone)]
pub struct ArchiveConfig {
    /// The hot database (`[hot]`).
    pub hot: HotConfig,
    /// When `serve` runs the archiver; none to run it only with `tiergate archive --once`.
    pub schedule: Option<croner::Cron>,
    /// How long a run's claim on a record lasts: a crashed run's records come free after it.
    pub lease: Duration,
    /// The settings as the component reads them.
    pub settings: ArchiverSettings,
    /// The archiver component's variables, by the names it reads.
    pub variables: HashMap<String, String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field("record_route", &self.record_route)
            .field("pass_in_host", &self.pass_in_host)
            .field("origin", &self.origin)
            .field("cache", &self.cache)
            .field("edge_variables", &Redacted(&self.edge_variables))
            .field("blob_authority", &self.blob_authority)
            .field("auth_url", &self.auth_url)
            .field("archive", &self.archive)
            .field("alert_webhook", &self.alert_webhook)
            .field("cost", &self.cost)
            .finish()
    }
}

impl fmt::Debug for ArchiveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveConfig")
            .field("hot", &self.hot)
            .field("schedule", &self.schedule)
            .field("lease", &self.lease)
            .field("settings", &self.settings)
            .field("variables", &Redacted(&self.variables))
            .finish()
    }
}

/// A component's variables as `Debug` shows them: the secrets (the blob keys, which come
/// from the environment or a credentials file) as `***`, so a logged or printed config never
/// leaks them.
struct Redacted<'a>(&'a HashMap<String, String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |name: &str| {
            [
                names::BLOB_SECRET_ACCESS_KEY,
                names::BLOB_ACCOUNT_KEY,
                names::RESTORE_KEY,
                names::AUTH_HS256_SECRET,
            ]
            .contains(&name)
        };
        let sorted: std::collections::BTreeMap<_, _> = self
            .0
            .iter()
            .map(|(name, value)| (name, if secret(name) { "***" } else { value }))
            .collect();
        f.debug_map().entries(sorted).finish()
    }
}

/// The origin API.
#[derive(Debug, Clone)]
pub struct OriginConfig {
    /// Base URL; the request's path and query are appended.
    pub url: url::Url,
    /// How long to wait for the origin's response headers.
    pub timeout: Duration,
}

/// Which KV backend holds the edge cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheBackend {
    /// In process memory, bounded by `budget_bytes`, least recently used evicted first.
    Memory,
    /// On disk in a redb file, bounded by `budget_bytes` likewise; survives restarts.
    Redb(PathBuf),
    /// In a Redis server shared by every host: bounded by Redis' own `maxmemory`, and each
    /// entry expires with the cache TTL.
    Redis(RedisCache),
}

/// Where a shared Redis cache is and how to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisCache {
    /// `redis://host:port/db` (or `rediss://`), without a password.
    pub url: String,
    /// From `TIERGATE_REDIS_PASSWORD`, never the file.
    pub password: Option<String>,
    /// Put before every key, so that tiergate can share a Redis server.
    pub key_prefix: String,
    /// The longest a cache call may take before the cache is skipped.
    pub timeout: Duration,
    /// How long an entry lives in Redis: the edge's cache TTL.
    pub entry_ttl: Duration,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("entry_ttl", &self.entry_ttl)
            .finish()
    }
}

/// The environment variable a Redis cache's password comes from.
pub const REDIS_PASSWORD_VAR: &str = "TIERGATE_REDIS_PASSWORD";

/// The edge cache's store.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Where entries live.
    pub backend: CacheBackend,
    /// Most bytes (keys and values) held; older entries are evicted beyond it.
    pub budget_bytes: u64,
    /// Whether the host answers fresh hits itself rather than through the component.
    pub answer_hits_in_host: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSection,
    origin: Option<OriginSection>,
    #[serde(default)]
    edge: EdgeSection,
    #[serde(default)]
    cache: CacheSection,
    blob: Option<BlobSection>,
    hot: Option<HotConfig>,
    archive: Option<ArchiveSection>,
    #[serde(default)]
    alerts: AlertsSection,
    #[serde(default)]
    cost: CostSettings,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AlertsSection {
    webhook_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchiveSection {
    schedule: Option<String>,
    lease_seconds: Option<u64>,
    after_days: Option<u64>,
    grace_seconds: Option<u64>,
    batch_size: Option<u64>,
    concurrency: Option<u64>,
    max_records: Option<u64>,
    encoding: Option<String>,
    retry_seconds: Option<u64>,
    expire_after_days: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_admin_listen")]
    admin_listen: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            admin_listen: default_admin_listen(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

/// Loopback: metrics are for the operator's scraper, not for the edge's clients.
fn default_admin_listen() -> String {
    "127.0.0.1:9464".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginSection {
    url: String,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EdgeSection {
    record_route: Option<String>,
    ignored_query_params: Option<Vec<String>>,
    pass_in_host: Option<bool>,
    auth: Option<AuthSection>,
}

/// `[edge.auth]`: who reads which record (the `auth_*` variables of the edge).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    mode: String,
    issuer: Option<String>,
    audience: Option<String>,
    jwks_url: Option<String>,
    jwks: Option<String>,
    jwks_refresh_seconds: Option<u64>,
    leeway_seconds: Option<u64>,
    owner_claim: Option<String>,
    owner_pointer: Option<String>,
    owner_column: Option<String>,
    read_all: Option<String>,
    refused_status: Option<u16>,
    check_url: Option<String>,
    credential_headers: Option<Vec<String>>,
    decision_seconds: Option<u64>,
}

impl AuthSection {
    /// The edge variables it sets, the HS256 secret from the environment among them.
    fn variables(self, env: &impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
        let numbers = [
            (names::AUTH_JWKS_REFRESH_SECONDS, self.jwks_refresh_seconds),
            (names::AUTH_LEEWAY_SECONDS, self.leeway_seconds),
            (
                names::AUTH_REFUSED_STATUS,
                self.refused_status.map(u64::from),
            ),
            (names::AUTH_DECISION_SECONDS, self.decision_seconds),
        ];
        let secret = (self.mode == "jwt")
            .then(|| env(ENV_AUTH_HS256_SECRET))
            .flatten();
        [
            (names::AUTH_MODE, Some(self.mode)),
            (names::AUTH_ISSUER, self.issuer),
            (names::AUTH_AUDIENCE, self.audience),
            (names::AUTH_JWKS_URL, self.jwks_url),
            (names::AUTH_JWKS, self.jwks),
            (names::AUTH_OWNER_CLAIM, self.owner_claim),
            (names::AUTH_OWNER_POINTER, self.owner_pointer),
            (names::AUTH_OWNER_COLUMN, self.owner_column),
            (names::AUTH_READ_ALL, self.read_all),
            (names::AUTH_HS256_SECRET, secret),
            (names::AUTH_CHECK_URL, self.check_url),
            (
                names::AUTH_CREDENTIAL_HEADERS,
                self.credential_headers.map(|names| names.join(",")),
            ),
        ]
        .into_iter()
        .chain(numbers.map(|(name, n)| (name, n.map(|n| n.to_string()))))
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CacheSection {
    backend: Option<String>,
    path: Option<PathBuf>,
    url: Option<String>,
    key_prefix: Option<String>,
    timeout_ms: Option<u64>,
    budget_bytes: Option<u64>,
    ttl_seconds: Option<u64>,
    max_record_bytes: Option<u64>,
    cache_origin_reads: Option<bool>,
    answer_hits_in_host: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlobSection {
    backend: String,
    endpoint: Option<String>,
    bucket: Option<String>,
    region: Option<String>,
    account: Option<String>,
    container: Option<String>,
    path_style: Option<bool>,
    url_expiry_seconds: Option<u64>,
    timeout_ms: Option<u64>,
    credentials_file: Option<PathBuf>,
}

/// Default cache budget: 256 MiB, about 850 records of 300 KB.
const DEFAULT_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

/// The `[cache]` keys of the redis backend, checked. The password comes from the
/// environment; the entries' TTL is set once the edge settings are read.
fn redis_cache(
    url: Option<String>,
    key_prefix: Option<String>,
    timeout_ms: Option<u64>,
    budget_bytes: Option<u64>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<RedisCache, ConfigError> {
    let invalid = |key, reason: String| ConfigError::Invalid { key, reason };
    if budget_bytes.is_some() {
        return Err(invalid(
            "cache.budget_bytes",
            "a Redis cache is bounded by the server's maxmemory (with maxmemory-policy \
             allkeys-lru), not by tiergate: remove the key and set maxmemory in Redis"
                .into(),
        ));
    }
    let url = url.ok_or_else(|| {
        invalid(
            "cache.url",
            "missing: the redis backend needs the server's URL, such as \"redis://127.0.0.1:6379/\""
                .into(),
        )
    })?;
    let parsed = url::Url::parse(&url)
        .map_err(|e| invalid("cache.url", format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "redis" | "rediss") {
        return Err(invalid(
            "cache.url",
            format!("{url:?}: expected a redis:// or rediss:// URL"),
        ));
    }
    if parsed.password().is_some() {
        return Err(invalid(
            "cache.url",
            format!("holds a password: put it in {REDIS_PASSWORD_VAR}, not in the file"),
        ));
    }
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(250));
    if timeout.is_zero() {
        return Err(invalid("cache.timeout_ms", "must be above 0".into()));
    }
    Ok(RedisCache {
        url,
        password: env(REDIS_PASSWORD_VAR),
        key_prefix: key_prefix.unwrap_or_else(|| "tiergate:".to_owned()),
        timeout,
        entry_ttl: Duration::ZERO,
    })
}

impl Config {
    /// Reads and checks the file at `path`; secrets come from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, |var| std::env::var(var).ok()).map_err(|e| ConfigError::InFile {
            path: path.to_owned(),
            error: Box::new(e),
        })
    }

    /// Parses and checks TOML `text`; secrets come from `env`.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text)?;
        let listen = address("server.listen", &file.server.listen)?;
        let admin_listen = address("server.admin_listen", &file.server.admin_listen)?;
        let origin = file.origin.ok_or(ConfigError::Invalid {
            key: "origin.url",
            reason: "missing: the URL of the API the edge sits in front of".into(),
        })?;
        let origin = OriginConfig {
            url: http_url("origin.url", &origin.url)?,
            timeout: Duration::from_millis(origin.timeout_ms.unwrap_or(30_000)),
        };

        let backend = file.cache.backend.as_deref().unwrap_or("memory");
        if backend != "redis"
            && let Some(key) = [
                ("cache.url", file.cache.url.is_some()),
                ("cache.key_prefix", file.cache.key_prefix.is_some()),
                ("cache.timeout_ms", file.cache.timeout_ms.is_some()),
            ]
            .into_iter()
            .find_map(|(key, set)| set.then_some(key))
        {
            return Err(ConfigError::Invalid {
                key,
                reason: "only the redis backend takes it".into(),
            });
        }
        let mut cache = CacheConfig {
            backend: match (backend, file.cache.path) {
                ("memory", None) => CacheBackend::Memory,
                ("memory", Some(_)) => {
                    return Err(ConfigError::Invalid {
                        key: "cache.path",
                        reason: "only the redb backend keeps a file".into(),
                    });
                }
                ("redb", Some(path)) => CacheBackend::Redb(path),
                ("redb", None) => {
                    return Err(ConfigError::Invalid {
                        key: "cache.path",
                        reason: "the redb backend needs the path of its file".into(),
                    });
                }
                ("redis", None) => CacheBackend::Redis(redis_cache(
                    file.cache.url,
                    file.cache.key_prefix,
                    file.cache.timeout_ms,
                    file.cache.budget_bytes,
                    &env,
                )?),
                ("redis", Some(_)) => {
                    return Err(ConfigError::Invalid {
                        key: "cache.path",
                        reason: "only the redb backend keeps a file; redis takes a url".into(),
                    });
                }
                (other, _) => {
                    return Err(ConfigError::Invalid {
                        key: "cache.backend",
                        reason: format!("{other:?}: expected \"memory\", \"redb\" or \"redis\""),
                    });
                }
            },
            budget_bytes: file.cache.budget_bytes.unwrap_or(DEFAULT_BUDGET_BYTES),
            answer_hits_in_host: file.cache.answer_hits_in_host.unwrap_or(true),
        };

        let mut vars = HashMap::new();
        let mut set = |name: &str, value: String| {
            vars.insert(name.to_owned(), value);
        };
        let pass_in_host = file.edge.pass_in_host.unwrap_or(true);
        if let Some(route) = file.edge.record_route {
            set(names::RECORD_ROUTE, route);
        }
        if let Some(params) = file.edge.ignored_query_params {
            if let Some(bad) = params
                .iter()
                .find(|p| p.is_empty() || p.contains([',', '&', '=']))
            {
                return Err(ConfigError::Invalid {
                    key: "edge.ignored_query_params",
                    reason: format!("{bad:?}: expected a query parameter name"),
                });
            }
            set(names::IGNORED_QUERY_PARAMS, params.join(","));
        }
        for (name, value) in file
            .edge
            .auth
            .map(|auth| auth.variables(&env))
            .unwrap_or_default()
        {
            set(name, value);
        }
        if let Some(ttl) = file.cache.ttl_seconds {
            set(names::CACHE_TTL_SECONDS, ttl.to_string());
        }
        if let Some(max) = file.cache.max_record_bytes {
            set(names::CACHE_MAX_RECORD_BYTES, max.to_string());
        }
        if let Some(on) = file.cache.cache_origin_reads {
            set(names::CACHE_ORIGIN_READS, on.to_string());
        }
        if let Some(blob) = file.blob {
            let backend = blob.backend.as_str();
            if !matches!(backend, "s3" | "azure" | "none") {
                return Err(ConfigError::Invalid {
                    key: "blob.backend",
                    reason: format!("{backend:?}: expected \"s3\", \"azure\" or \"none\""),
                });
            }
            set(names::BLOB_BACKEND, backend.to_owned());
            if backend != "none" {
                let endpoint = blob.endpoint.ok_or(ConfigError::Invalid {
                    key: "blob.endpoint",
                    reason: "missing: the URL of the blob store".into(),
                })?;
                http_url("blob.endpoint", &endpoint)?;
                set(names::BLOB_ENDPOINT, endpoint);
                if let Some(expiry) = blob.url_expiry_seconds {
                    set(names::BLOB_URL_EXPIRY_SECONDS, expiry.to_string());
                }
                if let Some(timeout) = blob.timeout_ms {
                    set(names::BLOB_TIMEOUT_MS, timeout.to_string());
                }
            }
            // Each backend's own keys; a key of the other backend is a mistake worth naming.
            let only = |key: &'static str, present: bool, wanted: &str| {
                if present && backend != wanted {
                    Err(ConfigError::Invalid {
                        key,
                        reason: format!("applies to backend = \"{wanted}\" only"),
                    })
                } else {
                    Ok(())
                }
            };
            only("blob.bucket", blob.bucket.is_some(), "s3")?;
            only("blob.region", blob.region.is_some(), "s3")?;
            only("blob.account", blob.account.is_some(), "azure")?;
            only("blob.container", blob.container.is_some(), "azure")?;
            if let Some(path_style) = blob.path_style {
                set(names::BLOB_PATH_STYLE, path_style.to_string());
            }
            let secrets: &[(&str, &str)] = match backend {
                "s3" => {
                    set(
                        names::BLOB_BUCKET,
                        blob.bucket.ok_or(ConfigError::Invalid {
                            key: "blob.bucket",
                            reason: "missing: the bucket that holds archived records".into(),
                        })?,
                    );
                    if let Some(region) = blob.region {
                        set(names::BLOB_REGION, region);
                    }
                    &[
                        (names::BLOB_ACCESS_KEY_ID, ENV_BLOB_ACCESS_KEY_ID),
                        (names::BLOB_SECRET_ACCESS_KEY, ENV_BLOB_SECRET_ACCESS_KEY),
                    ]
                }
                "azure" => {
                    for (key, name, value) in [
                        ("blob.account", names::BLOB_ACCOUNT, blob.account),
                        ("blob.container", names::BLOB_CONTAINER, blob.container),
                    ] {
                        let value = value.ok_or(ConfigError::Invalid {
                            key,
                            reason: "missing: required with backend = \"azure\"".into(),
                        })?;
                        set(name, value);
                    }
                    &[(names::BLOB_ACCOUNT_KEY, ENV_BLOB_ACCOUNT_KEY)]
                }
                _ => &[],
            };
            let file_secrets = match &blob.credentials_file {
                Some(path) => read_credentials(path)?,
                None => HashMap::new(),
            };
            for &(name, var) in secrets {
                let value = env(var).or_else(|| file_secrets.get(var).cloned()).ok_or(
                    ConfigError::MissingSecret {
                        key: "blob credentials",
                        var,
                    },
                )?;
                set(name, value);
            }
        }
        // The component would refuse these at its first request; refuse them now instead.
        let edge = EdgeSettings::from_variables(|name| vars.get(name).cloned())
            .map_err(|e| setting_keys::in_config_terms(&e, "edge/cache/blob"))?;
        if let CacheBackend::Redis(redis) = &mut cache.backend {
            redis.entry_ttl = edge.cache_ttl;
        }
        // The host answers cache hits without the component only where nobody's access is
        // checked: its fast path knows no tokens.
        let checks_access = !matches!(edge.access, AccessMode::None);
        if checks_access {
            if file.cache.answer_hits_in_host == Some(true) {
                return Err(ConfigError::Invalid {
                    key: "cache.answer_hits_in_host",
                    reason: "true skips [edge.auth]'s checks on cache hits; leave it unset \
                             (false) when access is checked"
                        .into(),
                });
            }
            cache.answer_hits_in_host = false;
        }
        let auth_url = match &edge.access {
            AccessMode::Jwt(rules) => match &rules.keys {
                KeySource::Url(url) => Some(http_url("edge.auth.jwks_url", url)?),
                KeySource::Inline(_) => None,
            },
            AccessMode::Origin(check) => {
                Some(http_url("edge.auth.check_url", &check.url_for("id"))?)
            }
            AccessMode::None => None,
        };

        // An owner column is read by the hot store (the archiver stores it with each copy,
        // and the host hands the edge the owner of a record the origin answers).
        let owner_column = match &edge.access {
            AccessMode::Jwt(rules) => match rules.owner.as_ref().map(|owner| &owner.at) {
                Some(OwnerAt::Column(column)) => Some(column.clone()),
                _ => None,
            },
            _ => None,
        };
        let mut hot = file.hot;
        match (&mut hot, owner_column) {
            (_, None) => {}
            (Some(hot), column) => hot.owner_column = column,
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "edge.auth.owner_column",
                    reason: "needs the [hot] database, whose column it names; or use \
                             owner_pointer to read the owner from the record's body"
                        .into(),
                });
            }
        }
        let archive = match (hot, file.archive) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "hot",
                    reason: "missing: [archive] needs the [hot] database to archive from".into(),
                });
            }
            (Some(hot), archive) => Some(archive_config(hot, archive.unwrap_or_default(), &vars)?),
        };
        // With a hot database, the edge has archived records restored before a write.
        let restore_key = match &archive {
            None => None,
            Some(_) => {
                let secret = env(ENV_RESTORE_KEY).unwrap_or_else(random_key);
                let key = RestoreKey::new(&secret).map_err(|reason| ConfigError::Invalid {
                    key: ENV_RESTORE_KEY,
                    reason,
                })?;
                vars.insert(
                    names::RESTORE_URL.to_owned(),
                    format!("http://{IN_PROCESS_RESTORE}/restore"),
                );
                vars.insert(names::RESTORE_KEY.to_owned(), secret);
                Some(key)
            }
        };

        let alert_webhook = file
            .alerts
            .webhook_url
            .map(|url| http_url("alerts.webhook_url", &url))
            .transpose()?;

        Ok(Self {
            listen,
            admin_listen,
            record_route: edge.route,
            pass_in_host,
            origin,
            cache,
            edge_variables: vars,
            blob_authority: edge.blob.as_ref().map(|blob| blob.backend.authority()),
            auth_url,
            archive,
            alert_webhook,
            cost: file.cost,
            restore_key,
        })
    }
}

/// 32 random bytes as hex, from the operating system.
fn random_key() -> String {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("the operating system gave no random bytes: {e}"),
        }
    }
    hex::encode(bytes)
}

fn address(key: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|e| ConfigError::Invalid {
        key,
        reason: format!("{text:?} is not an address like 127.0.0.1:8080 ({e})"),
    })
}

impl Default for ArchiveSection {
    fn default() -> Self {
        toml::from_str("").expect("every [archive] key is optional")
    }
}

/// Default lease: long enough for a batch on a slow store, short enough that a crashed
/// run's records are taken up again within minutes.
const DEFAULT_LEASE_SECONDS: u64 = 600;

fn archive_config(
    hot: HotConfig,
    section: ArchiveSection,
    edge_variables: &HashMap<String, String>,
) -> Result<ArchiveConfig, ConfigError> {
    hot.validate()
        .map_err(|reason| ConfigError::Invalid { key: "hot", reason })?;
    let schedule = section
        .schedule
        .map(|text| {
            text.parse::<croner::Cron>()
                .map_err(|e| ConfigError::Invalid {
                    key: "archive.schedule",
                    reason: format!("{text:?} is not a cron schedule like \"*/10 * * * *\" ({e})"),
                })
        })
        .transpose()?;
    let mut variables: HashMap<String, String> = edge_variables
        .iter()
        .filter(|(name, _)| name.starts_with("blob_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, value) in [
        (names::ARCHIVE_AFTER_DAYS, section.after_days),
        (names::ARCHIVE_GRACE_SECONDS, section.grace_seconds),
        (names::ARCHIVE_BATCH_SIZE, section.batch_size),
        (names::ARCHIVE_CONCURRENCY, section.concurrency),
        (names::ARCHIVE_MAX_RECORDS, section.max_records),
        (names::ARCHIVE_RETRY_SECONDS, section.retry_seconds),
        (names::ARCHIVE_EXPIRE_AFTER_DAYS, section.expire_after_days),
    ] {
        if let Some(value) = value {
            variables.insert(name.to_owned(), value.to_string());
        }
    }
    if let Some(encoding) = section.encoding {
        variables.insert(names::ARCHIVE_ENCODING.to_owned(), encoding);
    }
    let settings = ArchiverSettings::from_variables(|name| variables.get(name).cloned())
        .map_err(|e| setting_keys::in_config_terms(&e, "archive/blob"))?;
    Ok(ArchiveConfig {
        hot,
        schedule,
        lease: Duration::from_secs(section.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS)),
        settings,
        variables,
    })
}

/// Reads `NAME=value` lines (blank lines and `#` comments aside): secrets kept in a file
/// of their own, such as a mounted secret, rather than in the environment.
fn read_credentials(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect())
}

fn http_url(key: &'static str, text: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(text).map_err(|e| ConfigError::Invalid {
        key,
        reason: format!("{text:?} is not a URL ({e})"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::Invalid {
            key,
            reason: format!("{text:?} must be an http:// or https:// URL with a host"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(var: &str) -> Option<String> {
        Some(format!("value-of-{var}"))
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let config = Config::from_toml(
            r#"
            [origin]
            url = "http://127.0.0.1:3000"
            [blob]
            backend = "s3"
            endpoint = "http://127.0.0.1:9000"
            bucket = "records"
            [hot]
            engine = "postgres"
            url = "postgres://tiergate:hunter2@db.internal:5432/billing"
            [archive]
            "#,
            env,
        )
        .unwrap();
        assert!(config.archive.is_some());
        let printed = format!("{config:?}");
        for secret in [
            "value-of-TIERGATE_BLOB_SECRET_ACCESS_KEY",
            "hunter2",
            "value-of-TIERGATE_RESTORE_KEY",
        ] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
        // Only the secrets: what is not one still shows.
        assert!(printed.contains("value-of-TIERGATE_BLOB_ACCESS_KEY_ID"));
        assert!(printed.contains("records"));
    }

    #[test]
    fn minimal_config_needs_only_the_origin() {
        let config = Config::from_toml("[origin]\nurl = \"http://127.0.0.1:3000\"\n", env).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.cache.backend, CacheBackend::Memory);
        assert!(config.edge_variables.is_empty());
        assert!(config.blob_authority.is_none());
    }

    #[test]
    fn s3_blob_settings_become_component_variables_with_secrets_from_env() {
        let config = Config::from_toml(
            r#"
            [origin]
            url = "http://127.0.0.1:3000"
            [blob]
            backend = "s3"
            endpoint = "http://127.0.0.1:9000"
            bucket = "records"
            timeout_ms = 250
            "#,
            env,
        )
        .unwrap();
        let v = &config.edge_variables;
        assert_eq!(v["blob_bucket"], "records");
        assert_eq!(v["blob_timeout_ms"], "250");
        assert_eq!(
            v["blob_secret_access_key"],
            "value-of-TIERGATE_BLOB_SECRET_ACCESS_KEY"
        );
    }

    #[test]
    fn azure_blob_settings_take_the_account_key_from_env() {
        let text = r#"
            [origin]
            url = "http://127.0.0.1:3000"
            [blob]
            backend = "azure"
            endpoint = "http://127.0.0.1:10000"
            path_style = true
            account = "devstoreaccount1"
            container = "records"
            "#;
        let key = |var: &str| (var == ENV_BLOB_ACCOUNT_KEY).then(|| "a2V5".to_owned());
        let config = Config::from_toml(text, key).unwrap();
        assert_eq!(config.edge_variables["blob_account_key"], "a2V5");
        assert_eq!(config.edge_variables["blob_container"], "records");
        let err = Config::from_toml(text, |_| None).unwrap_err().to_string();
        assert!(err.contains("TIERGATE_BLOB_ACCOUNT_KEY"), "{err}");
        let bad_key = |_: &str| Some("not base64!".to_owned());
        let err = Config::from_toml(text, bad_key).unwrap_err().to_string();
        assert!(err.contains("not valid base64"), "{err}");
        let mixed = text.replace("container = \"records\"", "bucket = \"records\"");
        let err = Config::from_toml(&mixed, key).unwrap_err().to_string();
        assert!(err.contains("blob.bucket") && err.contains("s3"), "{err}");
    }

    #[test]
    fn the_example_config_loads() {
        let config = Config::from_toml(include_str!("../../tiergate.example.toml"), env).unwrap();
        // The example's virtual-hosted style: requests go to the bucket's host.
        assert_eq!(
            config.blob_authority.as_deref(),
            Some("billing-archive.s3.eu-west-1.amazonaws.com")
        );
        assert_eq!(config.edge_variables["cache_max_record_bytes"], "1048052");
        let archive = config.archive.unwrap();
        assert_eq!(archive.variables["archive_encoding"], "lz4");
        assert_eq!(archive.variables["blob_bucket"], "billing-archive");
        assert_eq!(archive.lease, Duration::from_secs(600));
        assert!(archive.schedule.is_some());
        assert_eq!(
            config.alert_webhook.unwrap().as_str(),
            "https://hooks.example.com/tiergate"
        );
    }

    #[test]
    fn archive_settings_are_checked_at_load() {
        let base = "[origin]\nurl = \"http://x\"\n[blob]\nbackend = \"s3\"\nendpoint = \"http://y\"\nbucket = \"b\"\n";
        let err = |extra: &str| {
            Config::from_toml(&format!("{base}{extra}"), env)
                .unwrap_err()
                .to_string()
        };
        assert!(err("[archive]\nafter_days = 30").contains("[hot]"));
        let hot = "[hot]\nengine = \"sqlite\"\npath = \"r.db\"\n";
        assert!(err(&format!("{hot}[archive]\nschedule = \"often\"")).contains("archive.schedule"));
        assert!(
            err(&format!("{hot}[archive]\nencoding = \"rar\""))
                .starts_with("config key archive.encoding: archive.encoding = \"rar\"")
        );
        assert!(
            err("[hot]\nengine = \"sqlite\"\npath = \"r.db\"\nid_column = \"id; drop\"")
                .contains("id_column")
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| Config::from_toml(text, |_| None).unwrap_err().to_string();
        assert!(err("").contains("origin.url"));
        assert!(err("[origin]\nurl = \"ftp://x\"").contains("origin.url"));
        assert!(
            err("[origin]\nurl = \"http://x\"\n[server]\nadmin_listen = \"9464\"")
                .contains("server.admin_listen")
        );
        let bad_price = err("[origin]\nurl = \"http://x\"\n[cost]\nhot_storage_gb_month = -0.25");
        assert!(
            bad_price.contains("-0.25") && bad_price.contains("hot_storage_gb_month"),
            "{bad_price}"
        );
        assert!(err("[origin]\nurl = \"http://x\"\n[cost]\nprofile = \"gcp\"").contains("gcp"));
        assert!(err("[origin]\nurl = \"http://x\"\n[cache]\nttl = 5").contains("ttl"));
        assert!(
            err("[origin]\nurl = \"http://x\"\n[cache]\nbackend = \"redb\"").contains("cache.path")
        );
        let missing = err(
            "[origin]\nurl = \"http://x\"\n[blob]\nbackend = \"s3\"\nendpoint = \"http://y\"\nbucket = \"b\"",
        );
        assert!(missing.contains("TIERGATE_BLOB_ACCESS_KEY_ID"), "{missing}");
        let bad_ttl = err("[origin]\nurl = \"http://x\"\n[cache]\nttl_seconds = 0");
        assert!(
            bad_ttl.starts_with("config key cache.ttl_seconds: cache.ttl_seconds = \"0\""),
            "{bad_ttl}"
        );
    }

    #[test]
    fn a_redis_cache_takes_its_password_from_the_environment_and_its_ttl_from_the_edge() {
        let cache = |keys: &str, env: fn(&str) -> Option<String>| {
            let text =
                format!("[origin]\nurl = \"http://x\"\n[cache]\nbackend = \"redis\"\n{keys}");
            Config::from_toml(&text, env).map(|c| c.cache.backend)
        };
        let password = |var: &str| (var == REDIS_PASSWORD_VAR).then(|| "s3cret".to_owned());
        let CacheBackend::Redis(redis) = cache(
            "url = \"redis://10.0.0.5:6379/2\"\nttl_seconds = 600",
            password,
        )
        .unwrap() else {
            panic!("not a Redis cache");
        };
        assert_eq!(redis.password.as_deref(), Some("s3cret"));
        assert_eq!(
            (redis.entry_ttl, redis.timeout, redis.key_prefix.as_str()),
            (
                Duration::from_secs(600),
                Duration::from_millis(250),
                "tiergate:"
            )
        );
        assert!(
            !format!("{redis:?}").contains("s3cret"),
            "the password leaked"
        );
        let err = |keys: &str| cache(keys, |_| None).unwrap_err().to_string();
        assert!(err("").contains("cache.url"));
        let in_file = err("url = \"redis://:pw@127.0.0.1:6379/\"");
        assert!(in_file.contains(REDIS_PASSWORD_VAR), "{in_file}");
        assert!(err("url = \"http://127.0.0.1:6379/\"").contains("redis://"));
        let budget = err("url = \"redis://127.0.0.1/\"\nbudget_bytes = 1000");
        assert!(budget.contains("maxmemory"), "{budget}");
        let memory = Config::from_toml(
            "[origin]\nurl = \"http://x\"\n[cache]\nurl = \"redis://127.0.0.1/\"",
            |_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            memory.contains("cache.url") && memory.contains("only the redis backend"),
            "{memory}"
        );
    }
}
