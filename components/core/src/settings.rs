//! The components' settings. Both hosts hand them over as named string variables (Spin
//! variables, or the tiergate host's config file mapped onto the same names), so one
//! `.wasm` runs unchanged in either. [`names`] is the one list of those names.

use crate::Encoding;
use crate::access::AccessMode;
use crate::azure::{AzureError, AzureSigner};
use crate::blob_backend::BlobBackend;
use crate::cache_entry::MAX_OVERHEAD;
use crate::restore_auth::RestoreKey;
use crate::route::{RecordRoute, RouteError};
use crate::s3::{S3Error, S3Signer};
use std::time::Duration;

/// Variable names. Spin requires lowercase letters, digits and underscores.
pub mod names {
    /// Route pattern of records, such as `/records/{id}`.
    pub const RECORD_ROUTE: &str = "record_route";
    /// Query parameters that do not change a record's body, comma-separated: reads carrying
    /// only these are served from the cache and blob storage like plain reads.
    pub const IGNORED_QUERY_PARAMS: &str = "ignored_query_params";
    /// Seconds a cached record is served before it is fetched again.
    pub const CACHE_TTL_SECONDS: &str = "cache_ttl_seconds";
    /// Largest record body that is cached, in bytes.
    pub const CACHE_MAX_RECORD_BYTES: &str = "cache_max_record_bytes";
    /// Whether records served by the origin are cached (`true`/`false`).
    pub const CACHE_ORIGIN_READS: &str = "cache_origin_reads";
    /// `s3`, `azure` or `none`.
    pub const BLOB_BACKEND: &str = "blob_backend";
    /// Blob storage endpoint URL (for Azure, the account's blob endpoint).
    pub const BLOB_ENDPOINT: &str = "blob_endpoint";
    /// S3 bucket name.
    pub const BLOB_BUCKET: &str = "blob_bucket";
    /// Azure storage account name.
    pub const BLOB_ACCOUNT: &str = "blob_account";
    /// Azure container name.
    pub const BLOB_CONTAINER: &str = "blob_container";
    /// Azure account key, base64 (a secret in Spin).
    pub const BLOB_ACCOUNT_KEY: &str = "blob_account_key";
    /// Region used in signatures.
    pub const BLOB_REGION: &str = "blob_region";
    /// `true` for path-style URLs, `false` for virtual hosts: the bucket (S3; default true,
    /// as most S3-compatible servers want) or the account (Azure; default false, true for
    /// emulators such as Azurite) in the path rather than the host.
    pub const BLOB_PATH_STYLE: &str = "blob_path_style";
    /// Access key id (a secret in Spin).
    pub const BLOB_ACCESS_KEY_ID: &str = "blob_access_key_id";
    /// Secret access key (a secret in Spin).
    pub const BLOB_SECRET_ACCESS_KEY: &str = "blob_secret_access_key";
    /// Seconds a signed URL stays valid.
    pub const BLOB_URL_EXPIRY_SECONDS: &str = "blob_url_expiry_seconds";
    /// Milliseconds to wait for blob storage before going on to the origin.
    pub const BLOB_TIMEOUT_MS: &str = "blob_timeout_ms";

    /// Days since a record last changed after which it is archived.
    pub const ARCHIVE_AFTER_DAYS: &str = "archive_after_days";
    /// Seconds an archived record stays in the hot database before its row is deleted.
    pub const ARCHIVE_GRACE_SECONDS: &str = "archive_grace_seconds";
    /// Records claimed at a time.
    pub const ARCHIVE_BATCH_SIZE: &str = "archive_batch_size";
    /// Records copied at once.
    pub const ARCHIVE_CONCURRENCY: &str = "archive_concurrency";
    /// Most records one run copies (0: no limit).
    pub const ARCHIVE_MAX_RECORDS: &str = "archive_max_records";
    /// How archived records are stored: `lz4`, `gzip`, `zstd` or `identity`.
    pub const ARCHIVE_ENCODING: &str = "archive_encoding";
    /// Seconds before a record that failed is tried again.
    pub const ARCHIVE_RETRY_SECONDS: &str = "archive_retry_seconds";
    /// Days since a record last changed after which its archived copy is deleted for good
    /// (retention); unset or 0: copies are kept forever.
    pub const ARCHIVE_EXPIRE_AFTER_DAYS: &str = "archive_expire_after_days";

    /// Where the edge asks for an archived record to be restored before a write
    /// (`POST {restore_url}/{id}`); unset: writes go to the origin as they are.
    pub const RESTORE_URL: &str = "restore_url";
    /// The key restore requests are signed with (a secret: at least 16 bytes).
    pub const RESTORE_KEY: &str = "restore_key";

    /// How the edge checks who reads a record: `jwt` or `none` (the default).
    pub const AUTH_MODE: &str = "auth_mode";
    /// jwt: the issuer (`iss`) every token must carry.
    pub const AUTH_ISSUER: &str = "auth_issuer";
    /// jwt: the audience (`aud`) every token must hold.
    pub const AUTH_AUDIENCE: &str = "auth_audience";
    /// jwt: where the issuer publishes its keys (a JWKS document).
    pub const AUTH_JWKS_URL: &str = "auth_jwks_url";
    /// jwt: the keys themselves, a JWKS document (instead of a URL).
    pub const AUTH_JWKS: &str = "auth_jwks";
    /// jwt: seconds fetched keys are used before they are fetched again.
    pub const AUTH_JWKS_REFRESH_SECONDS: &str = "auth_jwks_refresh_seconds";
    /// jwt: the shared secret of HS256 tokens (a secret; at least 32 bytes); unset: HS256
    /// tokens are refused.
    pub const AUTH_HS256_SECRET: &str = "auth_hs256_secret";
    /// jwt: clock skew allowed on `exp` and `nbf`, in seconds.
    pub const AUTH_LEEWAY_SECONDS: &str = "auth_leeway_seconds";
    /// jwt: the claim that names the caller's customer, such as `customer_id`.
    pub const AUTH_OWNER_CLAIM: &str = "auth_owner_claim";
    /// jwt: a JSON pointer to a record's owner in its body, such as `/customer/id`.
    pub const AUTH_OWNER_POINTER: &str = "auth_owner_pointer";
    /// jwt: a column of the hot table holding each record's owner, stored with each copy
    /// (instead of `auth_owner_pointer`).
    pub const AUTH_OWNER_COLUMN: &str = "auth_owner_column";
    /// jwt: a scope or role that reads every record.
    pub const AUTH_READ_ALL: &str = "auth_read_all";
    /// The status of another customer's record: `404` (default) or `403`.
    pub const AUTH_REFUSED_STATUS: &str = "auth_refused_status";
    /// origin: the URL asked whether a client may read a record, with `{id}` in it, such as
    /// `http://api.internal/access/records/{id}`.
    pub const AUTH_CHECK_URL: &str = "auth_check_url";
    /// origin: the request headers that carry a client's credential, comma-separated
    /// (default `authorization,cookie`).
    pub const AUTH_CREDENTIAL_HEADERS: &str = "auth_credential_headers";
    /// origin: seconds a granted read is remembered for the same credential and record.
    pub const AUTH_DECISION_SECONDS: &str = "auth_decision_seconds";

    /// Every name the edge reads.
    pub const EDGE: &[&str] = &[
        RECORD_ROUTE,
        IGNORED_QUERY_PARAMS,
        CACHE_TTL_SECONDS,
        CACHE_MAX_RECORD_BYTES,
        CACHE_ORIGIN_READS,
        BLOB_BACKEND,
        BLOB_ENDPOINT,
        BLOB_BUCKET,
        BLOB_ACCOUNT,
        BLOB_CONTAINER,
        BLOB_ACCOUNT_KEY,
        BLOB_REGION,
        BLOB_PATH_STYLE,
        BLOB_ACCESS_KEY_ID,
        BLOB_SECRET_ACCESS_KEY,
        BLOB_URL_EXPIRY_SECONDS,
        BLOB_TIMEOUT_MS,
        RESTORE_URL,
        RESTORE_KEY,
        AUTH_MODE,
        AUTH_ISSUER,
        AUTH_AUDIENCE,
        AUTH_JWKS_URL,
        AUTH_JWKS,
        AUTH_JWKS_REFRESH_SECONDS,
        AUTH_HS256_SECRET,
        AUTH_LEEWAY_SECONDS,
        AUTH_OWNER_CLAIM,
        AUTH_OWNER_POINTER,
        AUTH_OWNER_COLUMN,
        AUTH_READ_ALL,
        AUTH_REFUSED_STATUS,
        AUTH_CHECK_URL,
        AUTH_CREDENTIAL_HEADERS,
        AUTH_DECISION_SECONDS,
    ];

    /// Every name the archiver reads beyond the blob settings it shares with the edge.
    pub const ARCHIVER: &[&str] = &[
        ARCHIVE_AFTER_DAYS,
        ARCHIVE_GRACE_SECONDS,
        ARCHIVE_BATCH_SIZE,
        ARCHIVE_CONCURRENCY,
        ARCHIVE_MAX_RECORDS,
        ARCHIVE_ENCODING,
        ARCHIVE_RETRY_SECONDS,
        ARCHIVE_EXPIRE_AFTER_DAYS,
    ];
}

/// Spin's key-value value limit; the default cache limit leaves room for the entry header.
pub const KV_VALUE_LIMIT: usize = 1024 * 1024;

/// The edge's settings.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Which paths are records.
    pub route: RecordRoute,
    /// How long a cached record is served.
    pub cache_ttl: Duration,
    /// Largest record body that is cached.
    pub cache_max_record_bytes: usize,
    /// Whether records served by the origin are cached.
    pub cache_origin_reads: bool,
    /// Blob storage, if any.
    pub blob: Option<BlobSettings>,
    /// Where archived records are restored before a write, if anywhere.
    pub restore: Option<RestoreSettings>,
    /// Who reads which record.
    pub access: AccessMode,
}

/// How the edge has an archived record restored before a write.
#[derive(Debug, Clone)]
pub struct RestoreSettings {
    /// The endpoint; the record id is appended as a last path segment.
    pub url: String,
    /// The key requests are signed with.
    pub key: RestoreKey,
}

/// How the edge reaches blob storage.
#[derive(Debug, Clone)]
pub struct BlobSettings {
    /// The store, which signs the URLs.
    pub backend: BlobBackend,
    /// How long a signed URL is valid.
    pub url_expiry: Duration,
    /// How long to wait for storage before going on to the origin.
    pub timeout: Duration,
}

/// The archiver's settings.
#[derive(Debug, Clone)]
pub struct ArchiverSettings {
    /// Where copies go.
    pub blob: BlobSettings,
    /// How long after its last change a record is archived.
    pub hot_window: Duration,
    /// How long an archived record's hot row is kept before it is deleted.
    pub grace: Duration,
    /// Records claimed at a time.
    pub batch_size: u32,
    /// Records copied at once.
    pub concurrency: usize,
    /// Most records one run copies; none for no limit.
    pub max_records: Option<u32>,
    /// How copies are stored.
    pub encoding: Encoding,
    /// How long a record that failed waits before it is tried again, by a later run (a
    /// run tries each record once).
    pub retry_after: Duration,
    /// How long after its last change an archived record's copy is deleted for good (the
    /// retention period); none: kept forever. Always longer than `hot_window`.
    pub expire_after: Option<Duration>,
}

impl ArchiverSettings {
    /// Reads the settings through `get`, which returns a variable's value if it is set.
    pub fn from_variables(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let blob = BlobSettings::from_variables(&get)?.ok_or(SettingsError::Missing {
            name: names::BLOB_BACKEND,
            because: "archiving (the archiver copies records to blob storage)",
        })?;
        const DAY: u64 = 86_400;
        let after_days = parse(&get, names::ARCHIVE_AFTER_DAYS, 90, |v| {
            parse_in_range(v, 1, 36_500)
        })?;
        let expire_after_days = parse(&get, names::ARCHIVE_EXPIRE_AFTER_DAYS, 0, |v| {
            parse_in_range(v, 0, 36_500)
        })?;
        if expire_after_days != 0 && expire_after_days <= after_days {
            // A copy would be deleted as soon as it is made: surely a mistake.
            return Err(SettingsError::Invalid {
                name: names::ARCHIVE_EXPIRE_AFTER_DAYS,
                value: expire_after_days.to_string(),
                reason: format!(
                    "records are archived after {after_days} days ({}); a retention period \
                     must be longer, or 0 to keep copies forever",
                    names::ARCHIVE_AFTER_DAYS
                ),
            });
        }
        Ok(Self {
            blob,
            hot_window: Duration::from_secs(DAY * after_days),
            grace: Duration::from_secs(parse(&get, names::ARCHIVE_GRACE_SECONDS, 7 * DAY, |v| {
                parse_in_range(v, 0, 365 * DAY)
            })?),
            batch_size: parse(&get, names::ARCHIVE_BATCH_SIZE, 64, |v| {
                parse_in_range(v, 1, 10_000).map(|n| n as u32)
            })?,
            concurrency: parse(&get, names::ARCHIVE_CONCURRENCY, 8, |v| {
                parse_in_range(v, 1, 256).map(|n| n as usize)
            })?,
            max_records: parse(&get, names::ARCHIVE_MAX_RECORDS, None, |v| {
                parse_in_range(v, 0, u64::from(u32::MAX)).map(|n| (n > 0).then_some(n as u32))
            })?,
            encoding: parse(&get, names::ARCHIVE_ENCODING, Encoding::Lz4, |v| {
                v.parse()
                    .map_err(|e: crate::encoding::UnknownEncoding| e.to_string())
            })?,
            retry_after: Duration::from_secs(parse(
                &get,
                names::ARCHIVE_RETRY_SECONDS,
                300,
                |v| parse_in_range(v, 0, 7 * DAY),
            )?),
            expire_after: (expire_after_days > 0)
                .then(|| Duration::from_secs(DAY * expire_after_days)),
        })
    }
}

/// A setting that cannot be used, by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A value does not parse.
    #[error("setting {name} = {value:?}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A value needed by another is absent.
    #[error("setting {name} is required when {because}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// Why it is needed.
        because: &'static str,
    },
    /// The record route is malformed.
    #[error("setting record_route: {0}")]
    Route(#[from] RouteError),
    /// The S3 settings are unusable.
    #[error("blob settings: {0}")]
    S3(#[from] S3Error),
    /// The Azure settings are unusable.
    #[error("blob settings: {0}")]
    Azure(#[from] AzureError),
}

impl EdgeSettings {
    /// Reads the settings through `get`, which returns a variable's value if it is set.
    pub fn from_variables(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let route = match get(names::RECORD_ROUTE) {
            Some(pattern) => RecordRoute::parse(&pattern)?,
            None => RecordRoute::default(),
        }
        .ignoring_query_params(
            get(names::IGNORED_QUERY_PARAMS)
                .iter()
                .flat_map(|list| list.split(','))
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
        );
        let blob = BlobSettings::from_variables(&get)?;
        Ok(Self {
            access: AccessMode::from_variables(&get)?,
            route,
            cache_ttl: Duration::from_secs(parse(&get, names::CACHE_TTL_SECONDS, 3_600, |v| {
                parse_in_range(v, 1, u64::from(u32::MAX))
            })?),
            cache_max_record_bytes: parse(
                &get,
                names::CACHE_MAX_RECORD_BYTES,
                KV_VALUE_LIMIT - MAX_OVERHEAD,
                |v| parse_in_range(v, 0, u64::MAX).map(|n| n as usize),
            )?,
            cache_origin_reads: parse(&get, names::CACHE_ORIGIN_READS, true, parse_bool)?,
            blob,
            restore: match get(names::RESTORE_URL) {
                None => None,
                Some(url) => {
                    let key = required(&get, "restore_url is set")(names::RESTORE_KEY)?;
                    Some(RestoreSettings {
                        url: url.trim_end_matches('/').to_owned(),
                        key: RestoreKey::new(&key).map_err(|reason| SettingsError::Invalid {
                            name: names::RESTORE_KEY,
                            value: "***".into(),
                            reason,
                        })?,
                    })
                }
            },
        })
    }
}

impl BlobSettings {
    /// Reads the blob settings through `get`; none when `blob_backend` is `none` or unset.
    pub fn from_variables(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, SettingsError> {
        let backend = match get(names::BLOB_BACKEND).as_deref().unwrap_or("none") {
            "none" => None,
            "s3" => {
                let required = required(get, "blob_backend is s3");
                Some(BlobBackend::S3(S3Signer::new(
                    &required(names::BLOB_ENDPOINT)?,
                    &required(names::BLOB_BUCKET)?,
                    &get(names::BLOB_REGION).unwrap_or_else(|| "us-east-1".into()),
                    parse(get, names::BLOB_PATH_STYLE, true, parse_bool)?,
                    &required(names::BLOB_ACCESS_KEY_ID)?,
                    &required(names::BLOB_SECRET_ACCESS_KEY)?,
                )?))
            }
            "azure" => {
                let required = required(get, "blob_backend is azure");
                Some(BlobBackend::Azure(AzureSigner::new(
                    &required(names::BLOB_ENDPOINT)?,
                    &required(names::BLOB_ACCOUNT)?,
                    &required(names::BLOB_CONTAINER)?,
                    &required(names::BLOB_ACCOUNT_KEY)?,
                    // Azure itself has the account in the host; emulators in the path.
                    parse(get, names::BLOB_PATH_STYLE, false, parse_bool)?,
                )?))
            }
            other => {
                return Err(SettingsError::Invalid {
                    name: names::BLOB_BACKEND,
                    value: other.to_owned(),
                    reason: "expected \"s3\", \"azure\" or \"none\"".into(),
                });
            }
        };
        let Some(backend) = backend else {
            return Ok(None);
        };
        Ok(Some(BlobSettings {
            backend,
            url_expiry: Duration::from_secs(parse(get, names::BLOB_URL_EXPIRY_SECONDS, 60, |v| {
                parse_in_range(v, 1, 604_800)
            })?),
            timeout: Duration::from_millis(parse(get, names::BLOB_TIMEOUT_MS, 2_000, |v| {
                parse_in_range(v, 1, 600_000)
            })?),
        }))
    }
}

/// A lookup of settings that `because` makes required.
pub(crate) fn required<'g>(
    get: &'g impl Fn(&str) -> Option<String>,
    because: &'static str,
) -> impl Fn(&'static str) -> Result<String, SettingsError> + 'g {
    move |name| get(name).ok_or(SettingsError::Missing { name, because })
}

pub(crate) fn parse<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, SettingsError> {
    match get(name) {
        None => Ok(default),
        Some(value) => parse(value.trim()).map_err(|reason| SettingsError::Invalid {
            name,
            value,
            reason,
        }),
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

pub(crate) fn parse_in_range(v: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<EdgeSettings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EdgeSettings::from_variables(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_variables() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.route, RecordRoute::default());
        assert_eq!(s.cache_ttl, Duration::from_secs(3600));
        assert_eq!(s.cache_max_record_bytes, KV_VALUE_LIMIT - MAX_OVERHEAD);
        assert!(s.cache_origin_reads);
        assert!(s.blob.is_none());
    }

    #[test]
    fn s3_backend_needs_its_endpoint_and_credentials() {
        let err = settings(&[("blob_backend", "s3")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting blob_endpoint is required when blob_backend is s3"
        );
        let s = settings(&[
            ("blob_backend", "s3"),
            ("blob_endpoint", "http://127.0.0.1:9000"),
            ("blob_bucket", "records"),
            ("blob_access_key_id", "k"),
            ("blob_secret_access_key", "s"),
            ("blob_timeout_ms", "250"),
        ])
        .unwrap();
        assert_eq!(s.blob.unwrap().timeout, Duration::from_millis(250));
    }

    #[test]
    fn azure_backend_needs_account_container_and_a_base64_key() {
        let err =
            settings(&[("blob_backend", "azure"), ("blob_endpoint", "http://h")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting blob_account is required when blob_backend is azure"
        );
        let base = [
            ("blob_backend", "azure"),
            ("blob_endpoint", "http://127.0.0.1:10000"),
            ("blob_path_style", "true"),
            ("blob_account", "devstoreaccount1"),
            ("blob_container", "records"),
        ];
        let err = settings(&[&base[..], &[("blob_account_key", "%%%")]].concat()).unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
        let s = settings(&[&base[..], &[("blob_account_key", "a2V5")]].concat()).unwrap();
        assert_eq!(s.blob.unwrap().backend.meta_prefix(), "x-ms-meta-");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = settings(&[("cache_ttl_seconds", "soon")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting cache_ttl_seconds = \"soon\": expected a whole number from 1 to 4294967295"
        );
        let err = settings(&[("blob_backend", "gcs")]).unwrap_err();
        assert!(err.to_string().contains("blob_backend"), "{err}");
        let err = settings(&[("record_route", "/records")]).unwrap_err();
        assert!(err.to_string().contains("record_route"), "{err}");
    }

    #[test]
    fn archiver_needs_blob_storage_and_has_defaults_for_the_rest() {
        let err = ArchiverSettings::from_variables(|_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting blob_backend is required when archiving (the archiver copies records to blob storage)"
        );
        let map: HashMap<&str, &str> = [
            ("blob_backend", "s3"),
            ("blob_endpoint", "http://127.0.0.1:9000"),
            ("blob_bucket", "records"),
            ("blob_access_key_id", "k"),
            ("blob_secret_access_key", "s"),
            ("archive_grace_seconds", "0"),
        ]
        .into();
        let s = ArchiverSettings::from_variables(|n| map.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(s.hot_window, Duration::from_secs(90 * 86_400));
        assert_eq!(s.grace, Duration::ZERO);
        assert_eq!((s.batch_size, s.concurrency, s.max_records), (64, 8, None));
        assert_eq!(s.encoding, Encoding::Lz4);
        let bad = ArchiverSettings::from_variables(|n| match n {
            "archive_encoding" => Some("brotli".into()),
            other => map.get(other).map(|v| v.to_string()),
        })
        .unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("setting archive_encoding = \"brotli\""),
            "{bad}"
        );
    }

    #[test]
    fn a_retention_period_is_off_by_default_and_must_outlast_archival() {
        let base: HashMap<&str, &str> = [
            ("blob_backend", "s3"),
            ("blob_endpoint", "http://127.0.0.1:9000"),
            ("blob_bucket", "records"),
            ("blob_access_key_id", "k"),
            ("blob_secret_access_key", "s"),
            ("archive_after_days", "90"),
        ]
        .into();
        let with = |days: &str| {
            ArchiverSettings::from_variables(|n| match n {
                "archive_expire_after_days" => Some(days.to_owned()),
                other => base.get(other).map(|v| v.to_string()),
            })
        };
        assert_eq!(with("0").unwrap().expire_after, None);
        assert_eq!(
            with("3650").unwrap().expire_after,
            Some(Duration::from_secs(3650 * 86_400))
        );
        let err = with("90").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "setting archive_expire_after_days = \"90\": records are archived after 90 days"
            ),
            "{err}"
        );
    }

    #[test]
    fn every_name_is_a_valid_spin_variable_name() {
        for name in names::EDGE.iter().chain(names::ARCHIVER) {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()));
        }
    }
}
