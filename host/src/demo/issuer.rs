//! The demo's token issuer (`tiergate demo --auth jwt`), standing in for Entra ID, Auth0 or
//! Keycloak: a P-256 key made at start, published as a JWKS document at `/jwks`, and ES256
//! tokens signed with it for the customers the demo prints.

use crate::ops::plain_server::serve;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey as _;
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The `iss` of its tokens.
pub(super) const ISSUER: &str = "https://issuer.tiergate-demo.localhost";
/// The `aud` of its tokens.
pub(super) const AUDIENCE: &str = "api://billing-demo";
/// The scope of support staff's tokens, which read every record.
pub(super) const READ_ALL: &str = "records.read_all";
/// Its key's id.
const KID: &str = "demo-1";
/// How long its tokens last: the length of a demo.
const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The issuer, serving its keys.
pub(super) struct Issuer {
    key: EncodingKey,
    /// Where its JWKS document is served.
    pub(super) jwks_url: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("jwks_url", &self.jwks_url)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Makes a key and serves `GET /jwks` on a free loopback port.
    pub(super) async fn start() -> anyhow::Result<(Self, JoinHandle<()>)> {
        let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| {
            URL_SAFE_NO_PAD.encode(c.expect("an uncompressed point has both coordinates"))
        };
        let jwks = serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": KID,
            "x": coordinate(point.x()), "y": coordinate(point.y()),
        }]})
        .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let jwks_url = format!("http://{}/jwks", listener.local_addr()?);
        let task = serve(
            listener,
            service_fn(move |request: http::Request<Incoming>| {
                let jwks = jwks.clone();
                async move {
                    let mut response = http::Response::new(Full::new(bytes::Bytes::from(jwks)));
                    if request.uri().path() != "/jwks" {
                        *response.status_mut() = http::StatusCode::NOT_FOUND;
                        *response.body_mut() = Full::default();
                    }
                    Ok::<_, Infallible>(response)
                }
            }),
        );
        let key = EncodingKey::from_ec_der(key.to_pkcs8_der()?.as_bytes());
        Ok((Self { key, jwks_url }, task))
    }

    /// A token for `customer`, with `scope` if given, valid for a day.
    pub(super) fn token(&self, customer: &str, scope: Option<&str>) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut claims = serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": format!("user-of-{customer}"),
            "customer_id": customer, "iat": now, "exp": now + LIFETIME.as_secs(),
        });
        if let Some(scope) = scope {
            claims["scope"] = scope.into();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.to_owned());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}
