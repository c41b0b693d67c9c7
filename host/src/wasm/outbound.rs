//! Outbound HTTP from the components: a pooled keep-alive client, the policy of where the
//! guest may go (only the configured blob endpoint and token issuer), the guest's timeouts
//! (first byte, between bytes), and responses handed to the guest in large frames
//! ([`gather_apart`]).

use crate::wasm::coalesced_body::gather_apart;
use crate::wasm::early_answers::EarlyAnswers;
use crate::wasm::localhost_names::LocalhostNames;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// HTTP and HTTPS (webpki roots), HTTP/1.1, with `*.localhost` names on loopback, reading
/// an answer that comes before the request's body is taken.
pub type Connector = EarlyAnswers<hyper_rustls::HttpsConnector<HttpConnector<LocalhostNames>>>;

/// What a sender hands back besides the response: the I/O driving it, which pooled
/// connections do not need.
type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// How long to wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The one way the host connects out (components' requests, audits, alerts): HTTP or HTTPS
/// with webpki roots, no Nagle delay, a bounded connect.
pub fn connector() -> Connector {
    let mut http = HttpConnector::new_with_resolver(LocalhostNames::new());
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    EarlyAnswers(
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http),
    )
}

/// A pooled keep-alive HTTP/1.1 client, shared by every instance. wasmtime's default sender
/// opens a connection per request; reuse matters for latency and for origins that answer
/// before reading a request body.
#[derive(Clone, Debug)]
pub struct HttpClient(Client<Connector, WasiBody>);

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with an idle pool per host.
    pub fn new() -> Self {
        Self(
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(256)
                .build(connector()),
        )
    }

    /// Sends `request`, waiting at most `timeout` for the response headers.
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        timeout: Duration,
    ) -> Result<http::Response<WasiBody>, Error> {
        match tokio::time::timeout(timeout, self.0.request(request)).await {
            Err(_) => Err(Error::HttpResponseTimeout),
            Ok(Err(e)) if e.is_connect() => Err(Error::ConnectionRefused),
            Ok(Err(e)) => Err(Error::InternalError(Some(e.to_string()))),
            Ok(Ok(response)) => Ok(response.map(|body| body.map_err(Error::from).boxed_unsync())),
        }
    }
}

/// A service of the host itself that a guest reaches over `wasi:http` as it would over the
/// network (the restore endpoint): requests to its authority are answered in process, so
/// the component is the same under the host and under Spin.
pub trait InProcess: Send + Sync + 'static {
    /// The authority (`host[:port]`) it answers for.
    fn authority(&self) -> &str;
    /// Answers `request`.
    fn answer(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
    ) -> Pin<Box<dyn Future<Output = http::Response<WasiBody>> + Send>>;
}

/// The `wasi:http/client` policy of one instance.
pub struct Outbound {
    /// Shared client.
    pub client: HttpClient,
    /// `host:port`s the guest may reach: the blob endpoint's, and for the edge the token
    /// issuer's.
    pub allowed_authorities: Arc<[String]>,
    /// A service answered in process, if any.
    pub in_process: Option<Arc<dyn InProcess>>,
    /// Timeout when the guest sets none.
    pub default_timeout: Duration,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allowed_authorities", &self.allowed_authorities)
            .field(
                "in_process",
                &self.in_process.as_ref().map(|s| s.authority()),
            )
            .field("default_timeout", &self.default_timeout)
            .finish_non_exhaustive()
    }
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send> {
        drop(fut);
        let authority = request.uri().authority().map(|a| a.as_str());
        if let Some(local) = &self.in_process
            && authority == Some(local.authority())
        {
            let answer = Arc::clone(local).answer(request);
            return Box::new(
                async move { Ok((answer.await, Box::new(async { Ok(()) }) as IoFuture)) },
            );
        }
        let allowed = authority.is_some_and(|a| self.allowed_authorities.iter().any(|ok| ok == a));
        let client = self.client.clone();
        let timeout = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(self.default_timeout);
        let between_bytes = options.and_then(|o| o.between_bytes_timeout);
        Box::new(async move {
            if !allowed {
                return Err(Error::HttpRequestDenied);
            }
            let response = client.send(request, timeout).await?;
            let response = response.map(|body| gather_apart(body, between_bytes).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

/// `host:port` of `url`, as requests carry it in their authority.
pub fn authority_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}
