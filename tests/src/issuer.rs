//! An OAuth2 token issuer, as Entra ID, Auth0 or Keycloak would be to tiergate: signing keys
//! made at start (RSA for RS256, P-256 for ES256), published as a JWKS document over HTTP,
//! and tokens signed with them. Keys can be rotated while it runs, and every JWKS request
//! is counted.

use crate::loopback::LoopbackServer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey as _;
use rand::rngs::OsRng;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `iss` of its tokens.
pub const ISSUER: &str = "https://login.tiergate.test/tenant";
/// The `aud` of its tokens: the billing API.
pub const AUDIENCE: &str = "api://billing";

/// A signing key, its private half and its public JWK.
struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    private: EncodingKey,
    jwk: Value,
    /// The public key as PEM: what an attacker signs an HS256 token with.
    public_pem: String,
}

impl SigningKey {
    fn rsa(kid: &str) -> anyhow::Result<Self> {
        let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048)?;
        let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
        Ok(Self {
            kid: kid.to_owned(),
            algorithm: Algorithm::RS256,
            private: EncodingKey::from_rsa_der(key.to_pkcs1_der()?.as_bytes()),
            jwk: json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be()),
            }),
            public_pem: key.to_public_key().to_public_key_pem(LineEnding::LF)?,
        })
    }

    fn ec(kid: &str) -> anyhow::Result<Self> {
        let key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| {
            URL_SAFE_NO_PAD.encode(c.expect("an uncompressed point has both coordinates"))
        };
        Ok(Self {
            kid: kid.to_owned(),
            algorithm: Algorithm::ES256,
            private: EncodingKey::from_ec_der(key.to_pkcs8_der()?.as_bytes()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "kid": kid,
                "x": coordinate(point.x()), "y": coordinate(point.y()),
            }),
            public_pem: p256::PublicKey::from(key.verifying_key())
                .to_public_key_pem(LineEnding::LF)?,
        })
    }
}

/// Which key signs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The newest RSA key (RS256).
    Rsa,
    /// The EC key (ES256).
    Ec,
    /// An RSA key the issuer never publishes (its `kid` is unknown).
    Unpublished,
}

struct Keys {
    /// Published, newest RSA key last.
    published: Vec<SigningKey>,
    unpublished: SigningKey,
}

/// The issuer, on a loopback port.
pub struct Issuer {
    server: LoopbackServer,
    keys: Arc<Mutex<Keys>>,
    jwks_requests: Arc<AtomicUsize>,
    available: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Makes its keys (RSA `rsa-1`, EC `ec-1`) and serves `GET /jwks`.
    pub async fn start() -> anyhow::Result<Self> {
        let keys = Arc::new(Mutex::new(Keys {
            published: vec![SigningKey::ec("ec-1")?, SigningKey::rsa("rsa-1")?],
            unpublished: SigningKey::rsa("rsa-unpublished")?,
        }));
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let available = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let service = {
            let (keys, requests, available) =
                (keys.clone(), jwks_requests.clone(), available.clone());
            service_fn(move |request: Request<Incoming>| {
                let (keys, requests, available) =
                    (keys.clone(), requests.clone(), available.clone());
                async move {
                    let mut response = Response::new(Full::new(Bytes::new()));
                    if request.uri().path() != "/jwks" {
                        *response.status_mut() = StatusCode::NOT_FOUND;
                    } else if !available.load(Ordering::SeqCst) {
                        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    } else {
                        requests.fetch_add(1, Ordering::SeqCst);
                        let document = json!({ "keys": keys.lock().unwrap().published.iter()
                            .map(|k| k.jwk.clone()).collect::<Vec<_>>() });
                        *response.body_mut() = Full::new(Bytes::from(document.to_string()));
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            "application/json".parse().expect("a valid header"),
                        );
                    }
                    Ok::<_, Infallible>(response)
                }
            })
        };
        Ok(Self {
            server: LoopbackServer::start(service).await?,
            keys,
            jwks_requests,
            available,
        })
    }

    /// Where it publishes its keys.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks", self.server.addr())
    }

    /// An `[edge.auth]` section in `jwt` mode that trusts this issuer (its JWKS over HTTP),
    /// with more keys in `lines` (`owner_claim = "customer_id"`, ...).
    pub fn edge_auth(&self, lines: &str) -> String {
        format!(
            "\n[edge.auth]\nmode = \"jwt\"\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\n\
             jwks_url = \"{}\"\n{lines}\n",
            self.jwks_url()
        )
    }

    /// How many times its keys were fetched.
    pub fn jwks_requests(&self) -> usize {
        self.jwks_requests.load(Ordering::SeqCst)
    }

    /// Makes its JWKS endpoint answer 503 (`false`) or the keys again (`true`).
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    /// Publishes a new RSA key, `kid`, which signs [`Signer::Rsa`] tokens from now on; the
    /// old ones stay published, as issuers do while old tokens live.
    pub fn rotate(&self, kid: &str) -> anyhow::Result<()> {
        let key = SigningKey::rsa(kid)?;
        self.keys.lock().unwrap().published.push(key);
        Ok(())
    }

    /// The claims of a valid token for `customer`: this issuer, the billing audience, five
    /// minutes to live.
    pub fn claims(customer: &str) -> Value {
        let now = unix_now();
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": format!("user-of-{customer}"),
            "customer_id": customer, "iat": now, "exp": now + 300,
        })
    }

    /// A valid RS256 token for `customer`.
    pub fn token(&self, customer: &str) -> String {
        self.sign(Signer::Rsa, &Self::claims(customer))
    }

    /// `claims` signed by `signer`, its `kid` in the header.
    pub fn sign(&self, signer: Signer, claims: &Value) -> String {
        let keys = self.keys.lock().unwrap();
        let key = match signer {
            Signer::Rsa => keys
                .published
                .iter()
                .rev()
                .find(|k| k.algorithm == Algorithm::RS256)
                .expect("an RSA key is published"),
            Signer::Ec => &keys.published[0],
            Signer::Unpublished => &keys.unpublished,
        };
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.private).expect("signing works")
    }

    /// `claims` as an HS256 token keyed with the issuer's public RSA key, PEM-encoded: the
    /// algorithm-confusion forgery, which verifiers that pick the algorithm from the token
    /// accept.
    pub fn forge_hs256_with_public_key(&self, claims: &Value) -> String {
        let keys = self.keys.lock().unwrap();
        let rsa = keys
            .published
            .iter()
            .find(|k| k.algorithm == Algorithm::RS256)
            .expect("an RSA key is published");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(rsa.kid.clone());
        let key = EncodingKey::from_secret(rsa.public_pem.as_bytes());
        jsonwebtoken::encode(&header, claims, &key).expect("signing works")
    }
}

/// `claims` as an unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// `token` with its payload replaced by `claims`, its signature kept.
pub fn tampered(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next(), parts.next(), parts.next());
    format!(
        "{}.{}.{}",
        header.unwrap_or_default(),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature.unwrap_or_default()
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
