//! The config key (or environment variable) behind each component variable, so that an error
//! the components' settings report names what the operator wrote in `tiergate.toml`, not the
//! variable the host turned it into (`edge.auth.owner_pointer`, not `auth_owner_pointer`).

use super::{
    ConfigError, ENV_AUTH_HS256_SECRET, ENV_BLOB_ACCESS_KEY_ID, ENV_BLOB_ACCOUNT_KEY,
    ENV_BLOB_SECRET_ACCESS_KEY, ENV_RESTORE_KEY,
};
use tiergate_core::settings::{SettingsError, names};

/// Each variable the host sets, with what sets it.
const KEYS: &[(&str, &str)] = &[
    (names::RECORD_ROUTE, "edge.record_route"),
    (names::IGNORED_QUERY_PARAMS, "edge.ignored_query_params"),
    (names::CACHE_TTL_SECONDS, "cache.ttl_seconds"),
    (names::CACHE_MAX_RECORD_BYTES, "cache.max_record_bytes"),
    (names::CACHE_ORIGIN_READS, "cache.cache_origin_reads"),
    (names::BLOB_BACKEND, "blob.backend"),
    (names::BLOB_ENDPOINT, "blob.endpoint"),
    (names::BLOB_BUCKET, "blob.bucket"),
    (names::BLOB_REGION, "blob.region"),
    (names::BLOB_ACCOUNT, "blob.account"),
    (names::BLOB_CONTAINER, "blob.container"),
    (names::BLOB_PATH_STYLE, "blob.path_style"),
    (names::BLOB_ACCESS_KEY_ID, ENV_BLOB_ACCESS_KEY_ID),
    (names::BLOB_SECRET_ACCESS_KEY, ENV_BLOB_SECRET_ACCESS_KEY),
    (names::BLOB_ACCOUNT_KEY, ENV_BLOB_ACCOUNT_KEY),
    (names::BLOB_URL_EXPIRY_SECONDS, "blob.url_expiry_seconds"),
    (names::BLOB_TIMEOUT_MS, "blob.timeout_ms"),
    // Set by the host itself wherever [hot] is configured.
    (names::RESTORE_URL, "hot"),
    (names::RESTORE_KEY, ENV_RESTORE_KEY),
    (names::AUTH_MODE, "edge.auth.mode"),
    (names::AUTH_ISSUER, "edge.auth.issuer"),
    (names::AUTH_AUDIENCE, "edge.auth.audience"),
    (names::AUTH_JWKS_URL, "edge.auth.jwks_url"),
    (
        names::AUTH_JWKS_REFRESH_SECONDS,
        "edge.auth.jwks_refresh_seconds",
    ),
    (names::AUTH_JWKS, "edge.auth.jwks"),
    (names::AUTH_HS256_SECRET, ENV_AUTH_HS256_SECRET),
    (names::AUTH_LEEWAY_SECONDS, "edge.auth.leeway_seconds"),
    (names::AUTH_OWNER_CLAIM, "edge.auth.owner_claim"),
    (names::AUTH_OWNER_POINTER, "edge.auth.owner_pointer"),
    (names::AUTH_OWNER_COLUMN, "edge.auth.owner_column"),
    (names::AUTH_READ_ALL, "edge.auth.read_all"),
    (names::AUTH_REFUSED_STATUS, "edge.auth.refused_status"),
    (names::AUTH_CHECK_URL, "edge.auth.check_url"),
    (
        names::AUTH_CREDENTIAL_HEADERS,
        "edge.auth.credential_headers",
    ),
    (names::AUTH_DECISION_SECONDS, "edge.auth.decision_seconds"),
    (names::ARCHIVE_AFTER_DAYS, "archive.after_days"),
    (names::ARCHIVE_GRACE_SECONDS, "archive.grace_seconds"),
    (names::ARCHIVE_BATCH_SIZE, "archive.batch_size"),
    (names::ARCHIVE_CONCURRENCY, "archive.concurrency"),
    (names::ARCHIVE_MAX_RECORDS, "archive.max_records"),
    (names::ARCHIVE_RETRY_SECONDS, "archive.retry_seconds"),
    (
        names::ARCHIVE_EXPIRE_AFTER_DAYS,
        "archive.expire_after_days",
    ),
    (names::ARCHIVE_ENCODING, "archive.encoding"),
];

/// What sets `variable`: its config key or environment variable.
fn key_of(variable: &str) -> Option<&'static str> {
    KEYS.iter()
        .find(|(name, _)| *name == variable)
        .map(|(_, key)| *key)
}

/// `error`, from settings the host made of the sections in `sections` (such as
/// `"edge/cache/blob"`), in config keys: its key is the one that sets the variable at
/// fault, and every variable its message names is named by its key.
pub(super) fn in_config_terms(error: &SettingsError, sections: &'static str) -> ConfigError {
    let key = match error {
        SettingsError::Invalid { name, .. } | SettingsError::Missing { name, .. } => {
            key_of(name).unwrap_or(sections)
        }
        SettingsError::Route(_) => "edge.record_route",
        SettingsError::S3(_) | SettingsError::Azure(_) => "blob",
    };
    let message = error.to_string();
    let message = message.strip_prefix("setting ").unwrap_or(&message);
    ConfigError::Invalid {
        key,
        reason: renamed(message),
    }
}

/// `message` with every whole-word variable name replaced by what sets it.
fn renamed(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(key_of(word).unwrap_or(word));
        word.clear();
    };
    for c in message.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_a_component_reads_has_its_key() {
        for name in names::EDGE.iter().chain(names::ARCHIVER) {
            assert!(key_of(name).is_some(), "{name} has no config key");
        }
    }

    #[test]
    fn messages_name_config_keys() {
        let error = SettingsError::Missing {
            name: names::AUTH_OWNER_POINTER,
            because: "auth_owner_claim is set (or auth_owner_column)",
        };
        let ConfigError::Invalid { key, reason } = in_config_terms(&error, "edge/cache/blob")
        else {
            panic!("an invalid key");
        };
        assert_eq!(key, "edge.auth.owner_pointer");
        assert_eq!(
            reason,
            "edge.auth.owner_pointer is required when edge.auth.owner_claim is set \
             (or edge.auth.owner_column)"
        );
    }
}
