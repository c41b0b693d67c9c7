//! Who may read a record: the edge's access rules, applied before any tier answers.
//!
//! tiergate answers from its cache and blob storage without asking the API, so it must ask
//! what the API would: whether this client may see this record. Three modes, chosen in the
//! settings (`auth_mode`):
//!
//! - `jwt`: an OAuth2 bearer token, checked here ([`crate::jwt`]), whose owner claim must
//!   equal the record's owner, read from the record itself by a JSON pointer into its body,
//!   or from an owner column of the hot table, which the archiver stores with each copy and
//!   the tiergate host adds to the origin's answers ([`OwnerAt`]); a configured scope or role
//!   reads every record.
//! - `origin`: for credentials only the API can check (sessions, opaque tokens), an
//!   authorization subrequest in the style of nginx's `auth_request`: the client's credential
//!   headers go to a check URL of the API, and only a 2xx lets the cache or blob storage
//!   answer ([`OriginCheck`]); grants are remembered for a short time by a digest of the
//!   credential and the record, never the credential itself.
//! - `none`: every client reads every record, as before; the host says so at start.

use crate::settings::{SettingsError, names, parse, parse_in_range, required};
use std::fmt;
use std::time::Duration;

/// How the edge decides who reads what.
#[derive(Debug, Clone, Default)]
pub enum AccessMode {
    /// Anyone reads every record (an API without per-client access).
    #[default]
    None,
    /// Bearer tokens, checked at the edge (boxed: the settings hold one, read once).
    Jwt(Box<JwtRules>),
    /// The API asked, by a subrequest.
    Origin(OriginCheck),
}

/// The rules of `origin` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginCheck {
    /// The check URL, with `{id}` where the record's id goes.
    pub url: String,
    /// The request headers that carry a credential, lowercase.
    pub credential_headers: Vec<String>,
    /// How long a grant is remembered.
    pub decision_ttl: Duration,
}

impl OriginCheck {
    /// The check URL of record `id` (ids need no escaping: see [`RecordId`]).
    ///
    /// [`RecordId`]: crate::RecordId
    pub fn url_for(&self, id: &str) -> String {
        self.url.replace("{id}", id)
    }

    /// The KV key of a grant: a SHA-256 over the record and the credential headers' values,
    /// so that the store never holds a credential.
    pub fn decision_key<'v>(
        &self,
        id: &str,
        credentials: impl IntoIterator<Item = (&'v str, &'v [u8])>,
    ) -> String {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        digest.update(id.as_bytes());
        for (name, value) in credentials {
            for part in [b"\0", name.as_bytes(), b"\0", value] {
                digest.update(part);
            }
        }
        format!("access:{}", hex::encode(digest.finalize()))
    }
}

/// The rules of `jwt` mode.
#[derive(Debug, Clone)]
pub struct JwtRules {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// A value the token's `aud` must hold.
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Where the verification keys come from.
    pub keys: KeySource,
    /// How long fetched keys are used before they are fetched again.
    pub keys_refresh: Duration,
    /// The shared secret of HS256 tokens, if the issuer signs with one.
    pub hs256_secret: Option<Secret>,
    /// How a record's owner is matched with the caller, if records have owners.
    pub owner: Option<OwnerRule>,
    /// A scope or role that reads every record (support staff, batch jobs).
    pub read_all: Option<String>,
    /// The status of a record that belongs to someone else: 404 (the default: an id's
    /// existence is not confirmed) or 403.
    pub refused_status: u16,
}

/// Where token signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS document fetched over HTTP.
    Url(String),
    /// A JWKS document given in the settings.
    Inline(String),
}

/// A secret whose `Debug` does not show it.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How a caller's claim is matched with the record's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRule {
    /// The claim naming the caller's customer, such as `customer_id`.
    pub claim: String,
    /// Where a record's owner is read.
    pub at: OwnerAt,
}

/// Where a record's owner is read: the same rule whichever tier answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerAt {
    /// A JSON pointer (RFC 6901) to the owner in the record's body, such as `/customer/id`.
    Pointer(String),
    /// A column of the hot table, named here: the archiver stores its value with each copy
    /// (object metadata), and the tiergate host adds it to the origin's answer of a record
    /// still hot ([`OWNER_HEADER`]). A record that arrives without one is nobody's.
    Column(String),
}

/// The header in which the tiergate host hands the edge the owner of a record the origin
/// answered, percent-encoded (as [`escape_owner`](crate::blob_object::escape_owner)
/// writes it). The host sets it on every such answer, after removing any the origin sent.
pub const OWNER_HEADER: &str = "tiergate-owner";

/// Who is asking, once their credential checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Reads every record.
    Everything,
    /// Reads the records whose owner is this value.
    Owner(String),
}

/// A caller whose credential checked out, and the rules its reads are held to.
#[derive(Debug)]
pub struct Reader<'r> {
    /// The rules.
    pub rules: &'r JwtRules,
    /// Who is calling.
    pub caller: Caller,
}

impl Reader<'_> {
    /// Where a record's owner is read, when the answer depends on it (the caller reads only
    /// their own records): reading it at a pointer costs a parse of the body.
    pub fn owner_at(&self) -> Option<&OwnerAt> {
        match (&self.caller, &self.rules.owner) {
            (Caller::Owner(_), Some(rule)) => Some(&rule.at),
            _ => None,
        }
    }

    /// What to answer instead of a record whose owner is `owner` (read where
    /// [`owner_at`](Self::owner_at) says), if it is not the caller's.
    pub fn refusal(&self, owner: Option<&str>) -> Option<RefusalAnswer> {
        self.rules
            .may_read(&self.caller, owner)
            .err()
            .map(|refusal| refusal.answer(self.rules.refused_status))
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token.
    NoToken,
    /// A token that does not check out, and why (never the token itself).
    BadToken(String),
    /// The token checks out but does not name an owner, and reads no record.
    NoOwnerClaim(String),
    /// The record belongs to someone else, or has no owner the rule can read.
    NotOwner,
    /// The keys needed to check tokens could not be had (the JWKS endpoint is down).
    KeysUnavailable(String),
}

/// The answer to a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalAnswer {
    /// 401, 403, 404 or 503.
    pub status: u16,
    /// The `www-authenticate` header, on 401.
    pub www_authenticate: Option<String>,
    /// A plain-text body.
    pub body: String,
}

impl Refusal {
    /// The answer, given the status a record of someone else's gets (404 or 403).
    pub fn answer(&self, refused_status: u16) -> RefusalAnswer {
        let unauthorized = |challenge: String, body: String| RefusalAnswer {
            status: 401,
            www_authenticate: Some(challenge),
            body,
        };
        match self {
            // RFC 6750, section 3.1: no error code when the request had no credential.
            Self::NoToken => unauthorized(
                "Bearer realm=\"tiergate\"".into(),
                "tiergate: this record needs a bearer token\n".into(),
            ),
            Self::BadToken(why) | Self::NoOwnerClaim(why) => unauthorized(
                format!(
                    "Bearer realm=\"tiergate\", error=\"invalid_token\", error_description=\"{}\"",
                    why.replace(['"', '\\'], "'")
                ),
                format!("tiergate: the bearer token is refused: {why}\n"),
            ),
            Self::NotOwner if refused_status == 403 => RefusalAnswer {
                status: 403,
                www_authenticate: None,
                body: "tiergate: this record belongs to another customer\n".into(),
            },
            // As an API that does not confirm which ids exist: its own 404.
            Self::NotOwner => RefusalAnswer {
                status: 404,
                www_authenticate: None,
                body: "tiergate: no such record\n".into(),
            },
            Self::KeysUnavailable(why) => RefusalAnswer {
                status: 503,
                www_authenticate: None,
                body: format!("tiergate: tokens cannot be checked now ({why}); retry later\n"),
            },
        }
    }
}

impl JwtRules {
    /// Who the verified `claims` make the caller.
    pub fn caller(&self, claims: &serde_json::Value) -> Result<Caller, Refusal> {
        if let Some(read_all) = &self.read_all
            && grants(claims, read_all)
        {
            return Ok(Caller::Everything);
        }
        let Some(owner) = &self.owner else {
            return Ok(Caller::Everything);
        };
        match claims.get(&owner.claim).and_then(scalar) {
            Some(value) => Ok(Caller::Owner(value)),
            None => Err(Refusal::NoOwnerClaim(format!(
                "the token has no {} claim",
                owner.claim
            ))),
        }
    }

    /// Whether `caller` may read a record whose owner (where the rule reads it) is `owner`.
    pub fn may_read(&self, caller: &Caller, owner: Option<&str>) -> Result<(), Refusal> {
        match (caller, &self.owner) {
            (Caller::Everything, _) | (_, None) => Ok(()),
            (Caller::Owner(who), Some(_)) if owner == Some(who.as_str()) => Ok(()),
            (Caller::Owner(_), Some(_)) => Err(Refusal::NotOwner),
        }
    }
}

/// Whether the claims grant `wanted` as a scope (`scope` or `scp`, space-separated or a
/// list, as Entra ID, Auth0 and Keycloak write them) or a role (`roles`).
fn grants(claims: &serde_json::Value, wanted: &str) -> bool {
    ["scope", "scp", "roles"]
        .iter()
        .filter_map(|name| claims.get(name))
        .any(|value| match value {
            serde_json::Value::String(list) => list.split(' ').any(|v| v == wanted),
            serde_json::Value::Array(list) => list.iter().any(|v| v.as_str() == Some(wanted)),
            _ => false,
        })
}

/// A claim or field as text: a string as it is, a number as JSON writes it.
fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The owner of a record: the value at `pointer` in its body, if the body is JSON and holds
/// a string or number there. Whatever else (not JSON, no such field) has no owner, and is
/// read only by callers who read everything.
pub fn owner_of(body: &[u8], pointer: &str) -> Option<String> {
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    document.pointer(pointer).and_then(scalar)
}

impl AccessMode {
    /// Reads the access settings through `get`.
    pub fn from_variables(get: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        match get(names::AUTH_MODE).as_deref().unwrap_or("none") {
            "none" => Ok(Self::None),
            "jwt" => Ok(Self::Jwt(Box::new(JwtRules::from_variables(get)?))),
            "origin" => Ok(Self::Origin(OriginCheck::from_variables(get)?)),
            other => Err(SettingsError::Invalid {
                name: names::AUTH_MODE,
                value: other.to_owned(),
                reason: "expected \"jwt\", \"origin\" or \"none\"".into(),
            }),
        }
    }
}

impl OriginCheck {
    fn from_variables(get: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let url = required(get, "auth_mode is origin")(names::AUTH_CHECK_URL)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) || !url.contains("{id}") {
            return Err(SettingsError::Invalid {
                name: names::AUTH_CHECK_URL,
                value: url,
                reason: "expected an http:// or https:// URL with {id} in it, such as \
                         http://api.internal/access/records/{id}"
                    .into(),
            });
        }
        let credential_headers: Vec<String> = get(names::AUTH_CREDENTIAL_HEADERS)
            .as_deref()
            .unwrap_or("authorization,cookie")
            .split(',')
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        if let Some(bad) = credential_headers
            .iter()
            .find(|name| http::HeaderName::from_bytes(name.as_bytes()).is_err())
        {
            return Err(SettingsError::Invalid {
                name: names::AUTH_CREDENTIAL_HEADERS,
                value: bad.clone(),
                reason: "not a header name".into(),
            });
        }
        Ok(Self {
            url,
            credential_headers,
            decision_ttl: Duration::from_secs(parse(get, names::AUTH_DECISION_SECONDS, 30, |v| {
                parse_in_range(v, 0, 3_600)
            })?),
        })
    }
}

impl JwtRules {
    fn from_variables(get: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let required = required(get, "auth_mode is jwt");
        let keys = match (get(names::AUTH_JWKS_URL), get(names::AUTH_JWKS)) {
            (Some(url), None) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(SettingsError::Invalid {
                        name: names::AUTH_JWKS_URL,
                        value: url,
                        reason: "expected an http:// or https:// URL".into(),
                    });
                }
                KeySource::Url(url)
            }
            (None, Some(inline)) => {
                if let Err(reason) = crate::jwt::Keys::from_jwks(inline.as_bytes()) {
                    return Err(SettingsError::Invalid {
                        name: names::AUTH_JWKS,
                        value: "...".into(),
                        reason,
                    });
                }
                KeySource::Inline(inline)
            }
            (None, None) if get(names::AUTH_HS256_SECRET).is_some() => {
                KeySource::Inline(r#"{"keys":[]}"#.into())
            }
            (None, None) => {
                return Err(SettingsError::Missing {
                    name: names::AUTH_JWKS_URL,
                    because: "auth_mode is jwt (or auth_jwks, or auth_hs256_secret)",
                });
            }
            (Some(_), Some(_)) => {
                return Err(SettingsError::Invalid {
                    name: names::AUTH_JWKS,
                    value: "...".into(),
                    reason: "set auth_jwks_url or auth_jwks, not both".into(),
                });
            }
        };
        let at = match (
            get(names::AUTH_OWNER_POINTER),
            get(names::AUTH_OWNER_COLUMN),
        ) {
            (None, None) => None,
            (Some(pointer), None) if !pointer.starts_with('/') => {
                return Err(SettingsError::Invalid {
                    name: names::AUTH_OWNER_POINTER,
                    value: pointer,
                    reason: "expected a JSON pointer such as /customer/id".into(),
                });
            }
            (Some(pointer), None) => Some(OwnerAt::Pointer(pointer)),
            (None, Some(column)) => Some(OwnerAt::Column(column)),
            (Some(_), Some(_)) => {
                return Err(SettingsError::Invalid {
                    name: names::AUTH_OWNER_COLUMN,
                    value: "...".into(),
                    reason: "set auth_owner_pointer or auth_owner_column, not both".into(),
                });
            }
        };
        let owner = match (get(names::AUTH_OWNER_CLAIM), at) {
            (None, None) => None,
            (Some(claim), Some(at)) => Some(OwnerRule { claim, at }),
            (Some(_), None) => {
                return Err(SettingsError::Missing {
                    name: names::AUTH_OWNER_POINTER,
                    because: "auth_owner_claim is set (or auth_owner_column)",
                });
            }
            (None, Some(_)) => {
                return Err(SettingsError::Missing {
                    name: names::AUTH_OWNER_CLAIM,
                    because: "auth_owner_pointer or auth_owner_column is set",
                });
            }
        };
        let hs256_secret = match get(names::AUTH_HS256_SECRET) {
            Some(secret) if secret.len() < 32 => {
                return Err(SettingsError::Invalid {
                    name: names::AUTH_HS256_SECRET,
                    value: "***".into(),
                    reason: format!(
                        "the secret is {} bytes long; HS256 needs at least 32",
                        secret.len()
                    ),
                });
            }
            Some(secret) => Some(Secret(secret.into_bytes())),
            None => None,
        };
        Ok(Self {
            issuer: required(names::AUTH_ISSUER)?,
            audience: required(names::AUTH_AUDIENCE)?,
            leeway: Duration::from_secs(parse(get, names::AUTH_LEEWAY_SECONDS, 60, |v| {
                parse_in_range(v, 0, 600)
            })?),
            keys,
            keys_refresh: Duration::from_secs(parse(
                get,
                names::AUTH_JWKS_REFRESH_SECONDS,
                3_600,
                |v| parse_in_range(v, 10, 7 * 86_400),
            )?),
            hs256_secret,
            owner,
            read_all: get(names::AUTH_READ_ALL),
            refused_status: parse(get, names::AUTH_REFUSED_STATUS, 404, |v| match v {
                "404" => Ok(404),
                "403" => Ok(403),
                _ => Err("expected 404 or 403".into()),
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn mode(pairs: &[(&str, &str)]) -> Result<AccessMode, SettingsError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        AccessMode::from_variables(&|name| map.get(name).map(|v| v.to_string()))
    }

    fn rules() -> JwtRules {
        let AccessMode::Jwt(rules) = mode(&[
            ("auth_mode", "jwt"),
            ("auth_issuer", "https://issuer.example"),
            ("auth_audience", "billing"),
            ("auth_jwks_url", "https://issuer.example/jwks"),
            ("auth_owner_claim", "customer_id"),
            ("auth_owner_pointer", "/customer/id"),
            ("auth_read_all", "records.read_all"),
        ])
        .unwrap() else {
            panic!("jwt mode");
        };
        *rules
    }

    #[test]
    fn none_is_the_default_and_unknown_modes_are_refused() {
        assert!(matches!(mode(&[]).unwrap(), AccessMode::None));
        let err = mode(&[("auth_mode", "oauth")]).unwrap_err().to_string();
        assert!(err.starts_with("setting auth_mode = \"oauth\""), "{err}");
    }

    #[test]
    fn origin_mode_asks_a_url_per_record_and_keys_grants_by_digest() {
        let err = mode(&[("auth_mode", "origin")]).unwrap_err().to_string();
        assert!(err.contains("auth_check_url"), "{err}");
        for url in ["http://api/access", "ftp://api/access/{id}"] {
            let err = mode(&[("auth_mode", "origin"), ("auth_check_url", url)]).unwrap_err();
            assert!(err.to_string().contains("with {id} in it"), "{err}");
        }
        let AccessMode::Origin(check) = mode(&[
            ("auth_mode", "origin"),
            ("auth_check_url", "http://api/access/records/{id}"),
            ("auth_credential_headers", "Cookie, X-Api-Key"),
        ])
        .unwrap() else {
            panic!("origin mode");
        };
        assert_eq!(check.url_for("INV-1"), "http://api/access/records/INV-1");
        assert_eq!(check.credential_headers, ["cookie", "x-api-key"]);
        assert_eq!(check.decision_ttl, Duration::from_secs(30));

        let key =
            |id, cookie: &'static str| check.decision_key(id, [("cookie", cookie.as_bytes())]);
        let alice = key("INV-1", "session=alice-secret");
        assert!(
            alice.starts_with("access:") && !alice.contains("alice"),
            "{alice}"
        );
        assert_eq!(alice, key("INV-1", "session=alice-secret"));
        assert_ne!(alice, key("INV-2", "session=alice-secret"));
        assert_ne!(alice, key("INV-1", "session=bob-secret"));
        assert_ne!(alice, check.decision_key("INV-1", []));
    }

    #[test]
    fn jwt_mode_needs_an_issuer_an_audience_and_keys() {
        let err = mode(&[("auth_mode", "jwt")]).unwrap_err().to_string();
        assert!(err.contains("auth_jwks_url"), "{err}");
        let err = mode(&[("auth_mode", "jwt"), ("auth_jwks", r#"{"keys":[]}"#)])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "setting auth_issuer is required when auth_mode is jwt");
        let err = mode(&[
            ("auth_mode", "jwt"),
            ("auth_jwks", r#"{"keys":[]}"#),
            ("auth_issuer", "i"),
            ("auth_audience", "a"),
            ("auth_owner_claim", "customer_id"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("auth_owner_pointer"), "{err}");
        let err = mode(&[
            ("auth_mode", "jwt"),
            ("auth_issuer", "i"),
            ("auth_audience", "a"),
            ("auth_hs256_secret", "short"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("at least 32") && !err.contains("short"),
            "{err}"
        );
        let rules = rules();
        assert_eq!(rules.leeway, Duration::from_secs(60));
        assert_eq!(rules.refused_status, 404);
    }

    #[test]
    fn an_owner_reads_only_records_whose_pointer_names_them() {
        let rules = rules();
        let alice = rules.caller(&json!({ "customer_id": "C-1" })).unwrap();
        assert_eq!(alice, Caller::Owner("C-1".into()));
        let own = br#"{"id":"INV-1","customer":{"id":"C-1"}}"#;
        let other = br#"{"id":"INV-2","customer":{"id":"C-2"}}"#;
        assert_eq!(
            rules.may_read(&alice, owner_of(own, "/customer/id").as_deref()),
            Ok(())
        );
        assert_eq!(
            rules.may_read(&alice, owner_of(other, "/customer/id").as_deref()),
            Err(Refusal::NotOwner)
        );
        // Records without a readable owner are nobody's: only read-all callers see them.
        for body in [
            &b"not json"[..],
            br#"{"customer":{}}"#,
            br#"{"customer":{"id":null}}"#,
        ] {
            assert_eq!(
                rules.may_read(&alice, owner_of(body, "/customer/id").as_deref()),
                Err(Refusal::NotOwner)
            );
            assert_eq!(rules.may_read(&Caller::Everything, None), Ok(()));
        }
        // Numbers compare as JSON writes them.
        let numeric = rules.caller(&json!({ "customer_id": 42 })).unwrap();
        assert_eq!(
            rules.may_read(
                &numeric,
                owner_of(br#"{"customer":{"id":42}}"#, "/customer/id").as_deref()
            ),
            Ok(())
        );
        assert!(matches!(
            rules.caller(&json!({ "sub": "x" })),
            Err(Refusal::NoOwnerClaim(_))
        ));
    }

    #[test]
    fn a_read_all_scope_or_role_reads_every_record() {
        let rules = rules();
        for claims in [
            json!({ "scope": "openid records.read_all" }),
            json!({ "scp": ["records.read_all"] }),
            json!({ "roles": ["records.read_all"], "customer_id": "C-1" }),
        ] {
            assert_eq!(rules.caller(&claims), Ok(Caller::Everything), "{claims}");
        }
        assert_eq!(
            rules.caller(&json!({ "scope": "records.read_all.not", "customer_id": "C-1" })),
            Ok(Caller::Owner("C-1".into()))
        );
    }

    #[test]
    fn refusals_are_401_with_a_challenge_or_the_configured_status() {
        let missing = Refusal::NoToken.answer(404);
        assert_eq!(missing.status, 401);
        assert_eq!(
            missing.www_authenticate.as_deref(),
            Some("Bearer realm=\"tiergate\"")
        );
        let bad = Refusal::BadToken("the token \"expired\"".into()).answer(404);
        assert_eq!(
            bad.www_authenticate.as_deref(),
            Some(
                "Bearer realm=\"tiergate\", error=\"invalid_token\", \
                 error_description=\"the token 'expired'\""
            )
        );
        assert_eq!(Refusal::NotOwner.answer(404).status, 404);
        assert_eq!(Refusal::NotOwner.answer(403).status, 403);
    }
}
