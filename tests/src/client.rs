//! A plain HTTP/1 client for the tests, and the whole answer it reads back.

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use tiergate_core::SignedPut;

/// Longest a test waits for one whole answer: a hung server fails the test with a message
/// instead of hanging the run.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A response read to its end.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// Header `name` as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The tier tiergate says the answer came from (`x-tiergate-source`).
    pub fn source(&self) -> Option<&str> {
        self.header("x-tiergate-source")
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP/1 client with connection reuse.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with default settings.
    pub fn new() -> Self {
        Self {
            inner: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> anyhow::Result<Reply> {
        let what = format!("{} {}", request.method(), redacted(request.uri()));
        let exchange = async {
            let response = self.inner.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            anyhow::Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(ANSWER_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{what}: no whole answer within {ANSWER_TIMEOUT:?}"))?
            .with_context(|| format!("{what} failed"))
    }

    /// Sends `body` with a presigned PUT: its URL and the headers it must carry.
    pub async fn put_signed(&self, put: &SignedPut, body: &[u8]) -> anyhow::Result<Reply> {
        let mut request = Request::put(put.url.expose());
        for (name, value) in &put.headers {
            request = request.header(name, value);
        }
        self.send(request.body(Full::new(Bytes::copy_from_slice(body)))?)
            .await
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> anyhow::Result<Reply> {
        self.send(Request::get(url).body(Full::default())?).await
    }
}

/// The URI for messages: its query may hold a signature, so it is left out.
fn redacted(uri: &http::Uri) -> String {
    let authority = uri.authority().map_or("", |a| a.as_str());
    let query = if uri.query().is_some() {
        "?<query>"
    } else {
        ""
    };
    format!("{authority}{}{query}", uri.path())
}
