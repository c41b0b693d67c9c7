//! Bearer tokens (RFC 6750) checked against the issuer's keys: the signature, then issuer,
//! audience, expiry and not-before. No I/O: the edge fetches the keys and reads the clock,
//! and hands both in.
//!
//! Only what an OAuth2 issuer signs with is accepted: RS256 and ES256 with a key the issuer
//! publishes in its JWKS, HS256 only with the shared secret configured for it. Every other
//! algorithm, `none` included, is refused before any key is looked at, and a key is used only
//! for the algorithm its type (and its own `alg`, if it names one) allows, so a token cannot
//! switch algorithms (such as an HS256 token "signed" with the RSA public key).

use crate::access::{JwtRules, Refusal};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// The bearer token in a request's `authorization` header.
pub fn bearer(authorization: Option<&str>) -> Result<&str, Refusal> {
    let value = authorization.ok_or(Refusal::NoToken)?.trim();
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Refusal::BadToken(
            "the authorization header holds no Bearer token".into(),
        )),
    }
}

/// The verification keys of an issuer, made once from its JWKS document and used for every
/// token until the next fetch.
#[derive(Clone, Default)]
pub struct Keys(Vec<Key>);

#[derive(Clone)]
struct Key {
    id: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|k| (&k.id, k.algorithm)))
            .finish()
    }
}

impl Keys {
    /// The signing keys of a JWKS document: RSA keys for RS256, P-256 keys for ES256. Keys
    /// of other kinds, keys for encryption and keys that do not parse are skipped (issuers
    /// publish keys for other uses beside their signing keys); a document that is not a
    /// JWKS is an error.
    pub fn from_jwks(document: &[u8]) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(document)
            .map_err(|e| format!("not a JWKS document (expected {{\"keys\": [...]}}): {e}"))?;
        let keys = document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| Key::from_jwk(&jwk))
            .collect();
        Ok(Self(keys))
    }

    /// How many signing keys there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Key {
    fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            return None;
        }
        let (algorithm, named) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                (Algorithm::ES256, KeyAlgorithm::ES256)
            }
            _ => return None,
        };
        if jwk.common.key_algorithm.is_some_and(|alg| alg != named) {
            return None;
        }
        Some(Self {
            id: jwk.common.key_id.clone(),
            algorithm,
            key: DecodingKey::from_jwk(jwk).ok()?,
        })
    }
}

/// Why a token did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Signed with a key the keys at hand do not hold: the issuer may have rotated its keys,
    /// and a fresh JWKS may have it.
    UnknownKey,
    /// Refused, and why (never the token or its signature).
    Bad(String),
}

impl From<Rejected> for Refusal {
    fn from(rejected: Rejected) -> Self {
        match rejected {
            Rejected::UnknownKey => {
                Refusal::BadToken("signed with a key the issuer does not publish".into())
            }
            Rejected::Bad(why) => Refusal::BadToken(why),
        }
    }
}

/// Verifies `token` by `rules` with `keys`, at `now` (unix seconds): its claims, or why not.
pub fn verify(
    token: &str,
    rules: &JwtRules,
    keys: &Keys,
    now: u64,
) -> Result<serde_json::Value, Rejected> {
    let bad = |why: &str| Rejected::Bad(why.to_owned());
    // An unknown `alg`, `none` among them, is an error here already.
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| bad("not a JWT, or signed with an algorithm that is not accepted"))?;
    let hs256_key;
    let key = match header.alg {
        Algorithm::HS256 => {
            let secret = rules
                .hs256_secret
                .as_ref()
                .ok_or_else(|| bad("HS256 tokens are not accepted here"))?;
            hs256_key = DecodingKey::from_secret(&secret.0);
            &hs256_key
        }
        Algorithm::RS256 | Algorithm::ES256 => find_key(keys, header.kid.as_deref(), header.alg)?,
        other => {
            return Err(Rejected::Bad(format!(
                "{other:?} tokens are not accepted here"
            )));
        }
    };

    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&rules.issuer]);
    validation.set_audience(&[&rules.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    // Checked below against the time handed in.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => bad("the signature does not match"),
            ErrorKind::InvalidIssuer => bad("issued by another issuer"),
            ErrorKind::InvalidAudience => bad("issued for another audience"),
            ErrorKind::MissingRequiredClaim(claim) => {
                Rejected::Bad(format!("the token has no {claim} claim"))
            }
            ErrorKind::InvalidAlgorithm => bad("the algorithm does not match the key"),
            _ => bad("not a well-formed JWT"),
        })?
        .claims;

    let leeway = rules.leeway.as_secs();
    let time = |name| claims.get(name).map(|v| v.as_f64().map(|t| t as u64));
    match time("exp") {
        Some(Some(exp)) if now <= exp.saturating_add(leeway) => {}
        Some(Some(_)) => return Err(bad("the token has expired")),
        _ => return Err(bad("the exp claim is not a time")),
    }
    match time("nbf") {
        None => {}
        Some(Some(nbf)) if nbf <= now.saturating_add(leeway) => {}
        Some(Some(_)) => return Err(bad("the token is not valid yet")),
        Some(None) => return Err(bad("the nbf claim is not a time")),
    }
    Ok(claims)
}

/// The key a token names by `kid` for `algorithm`; without a `kid`, the one key for the
/// algorithm, if the issuer has only one.
fn find_key<'k>(
    keys: &'k Keys,
    kid: Option<&str>,
    algorithm: Algorithm,
) -> Result<&'k DecodingKey, Rejected> {
    let mut candidates = keys.0.iter().filter(|k| match kid {
        Some(kid) => k.id.as_deref() == Some(kid),
        None => k.algorithm == algorithm,
    });
    let key = candidates.next().ok_or(Rejected::UnknownKey)?;
    if kid.is_none() && candidates.next().is_some() {
        return Err(Rejected::Bad(
            "the token names no key (kid) and the issuer has several".into(),
        ));
    }
    if key.algorithm != algorithm {
        return Err(Rejected::Bad(format!(
            "the key the token names is not a {algorithm:?} key"
        )));
    }
    Ok(&key.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::AccessMode;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn rules() -> JwtRules {
        let get = |name: &str| match name {
            "auth_mode" => Some("jwt".to_owned()),
            "auth_issuer" => Some("https://issuer.test".to_owned()),
            "auth_audience" => Some("billing".to_owned()),
            "auth_hs256_secret" => Some(String::from_utf8(SECRET.to_vec()).unwrap()),
            _ => None,
        };
        let AccessMode::Jwt(rules) = AccessMode::from_variables(&get).unwrap() else {
            panic!("jwt mode");
        };
        *rules
    }

    fn claims() -> serde_json::Value {
        json!({ "iss": "https://issuer.test", "aud": "billing", "exp": NOW + 300, "customer_id": "C-1" })
    }

    fn hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn refused(token: &str, rules: &JwtRules) -> String {
        match verify(token, rules, &Keys::default(), NOW) {
            Err(Rejected::Bad(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn bearer_tokens_come_from_the_authorization_header_only() {
        assert_eq!(bearer(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer(Some("bearer   abc ")), Ok("abc"));
        assert_eq!(bearer(None), Err(Refusal::NoToken));
        for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "abc.def.ghi"] {
            assert!(
                matches!(bearer(Some(value)), Err(Refusal::BadToken(_))),
                "{value}"
            );
        }
    }

    #[test]
    fn a_token_is_checked_for_issuer_audience_and_time_with_leeway() {
        let rules = rules();
        let token = hs256(&claims(), SECRET);
        assert_eq!(
            verify(&token, &rules, &Keys::default(), NOW).unwrap()["customer_id"],
            "C-1"
        );

        let with = |key: &str, value: serde_json::Value| {
            let mut claims = claims();
            claims[key] = value;
            hs256(&claims, SECRET)
        };
        assert_eq!(
            refused(&with("iss", json!("https://other.test")), &rules),
            "issued by another issuer"
        );
        assert_eq!(
            refused(&with("aud", json!("payroll")), &rules),
            "issued for another audience"
        );
        // Within the 60 s leeway, then past it.
        assert!(verify(&with("exp", json!(NOW - 59)), &rules, &Keys::default(), NOW).is_ok());
        assert_eq!(
            refused(&with("exp", json!(NOW - 61)), &rules),
            "the token has expired"
        );
        assert!(verify(&with("nbf", json!(NOW + 59)), &rules, &Keys::default(), NOW).is_ok());
        assert_eq!(
            refused(&with("nbf", json!(NOW + 61)), &rules),
            "the token is not valid yet"
        );
        assert_eq!(
            refused(&with("nbf", json!("soon")), &rules),
            "the nbf claim is not a time"
        );
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            refused(&hs256(&no_exp, SECRET), &rules),
            "the token has no exp claim"
        );
    }

    #[test]
    fn forged_tokens_are_refused() {
        let rules = rules();
        let token = hs256(&claims(), SECRET);
        let other_secret = hs256(&claims(), b"another secret, another 32 bytes");
        assert_eq!(
            refused(&other_secret, &rules),
            "the signature does not match"
        );

        // The payload changed under the same signature.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut forged = claims();
        forged["customer_id"] = json!("C-2");
        let payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            forged.to_string(),
        );
        assert_eq!(
            refused(&format!("{head}.{payload}.{signature}"), &rules),
            "the signature does not match"
        );

        // alg: none, with or without a signature.
        let none = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"alg":"none","typ":"JWT"}"#,
        );
        for token in [
            format!("{none}.{payload}."),
            format!("{none}.{payload}.{signature}"),
        ] {
            assert_eq!(
                refused(&token, &rules),
                "not a JWT, or signed with an algorithm that is not accepted"
            );
        }
        for token in ["", "a.b", "a.b.c", "not a token"] {
            assert!(
                verify(token, &rules, &Keys::default(), NOW).is_err(),
                "{token}"
            );
        }

        // Without a configured secret, HS256 is refused whatever it is signed with.
        let rules = JwtRules {
            hs256_secret: None,
            ..rules
        };
        assert_eq!(
            refused(&token, &rules),
            "HS256 tokens are not accepted here"
        );
    }

    #[test]
    fn jwks_documents_keep_only_signing_keys_they_can_use() {
        // A P-256 key (x, y of the generator point) and an RSA key, beside keys to skip.
        let document = json!({ "keys": [
            { "kty": "EC", "crv": "P-256", "kid": "ec",
              "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
              "y": "T-NC4v4af5uaIVROSOF3IRLDkGmBJldLlJCUbpvCeHA" },
            { "kty": "RSA", "kid": "rsa", "use": "sig", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB" },
            { "kty": "oct", "kid": "shared", "k": "c2VjcmV0" },
            { "kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB" },
            { "something": "else" },
        ]});
        let keys = Keys::from_jwks(document.to_string().as_bytes()).unwrap();
        assert_eq!(
            format!("{keys:?}"),
            r#"[(Some("ec"), ES256), (Some("rsa"), RS256)]"#
        );
        assert!(Keys::from_jwks(b"[]").is_err());
        assert!(Keys::from_jwks(b"<html>").is_err());
    }
}
