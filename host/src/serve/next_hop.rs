//! The edge's next hop (`wasi:http/handler` imported by the middleware): a reverse proxy to
//! the origin on the pooled client. Requests keep their method, path, query, headers and
//! body; only scheme and authority change.
//!
//! A request the edge only passes on ([`RequestKind::Pass`](tiergate_core::RequestKind)) goes
//! through the component to come straight back here, its bodies handed through wasmtime's
//! stream machinery both ways. [`Origin::pass`] sends such a request from the host itself,
//! changed exactly as that round trip changes it (`[edge] pass_in_host`, the default).

use crate::serve::owners::Owners;
use crate::wasm::bindings::wasi::http::handler::{Host, HostWithStore};
use crate::wasm::outbound::HttpClient;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use std::time::Duration;
use tiergate_core::read_plan::{Failure, OriginFailure};
use wasmtime::AsContextMut;
use wasmtime::component::{Accessor, HasData, Resource};
use wasmtime_wasi_http::p3::bindings::http::types::{ErrorCode, Request, Response};
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, WasiBody, WasiHttpView};

/// Where the next hop goes.
#[derive(Clone, Debug)]
pub struct Origin {
    /// Shared client.
    pub client: HttpClient,
    scheme: Scheme,
    authority: Authority,
    /// The `Host` header naming it, as requests to it carry it.
    host: HeaderValue,
    /// The base URL's path without its trailing `/`; it prefixes every request's path.
    base_path: String,
    /// How long to wait for response headers.
    pub timeout: Duration,
    /// Where the owners of records the edge reads come from, when it checks them by column.
    owners: Option<Arc<Owners>>,
}

impl Origin {
    /// The origin at `base` (an http(s) URL, checked by the config loader).
    pub fn new(client: HttpClient, base: &url::Url, timeout: Duration) -> wasmtime::Result<Self> {
        let authority = crate::wasm::outbound::authority_of(base);
        Ok(Self {
            client,
            scheme: base.scheme().parse()?,
            host: HeaderValue::from_str(&authority)?,
            authority: authority.parse()?,
            base_path: base.path().trim_end_matches('/').to_owned(),
            timeout,
            owners: None,
        })
    }

    /// The same origin, whose answers to the edge's record reads carry the record's owner
    /// from `owners`.
    pub(super) fn with_owners(self, owners: Option<Owners>) -> Self {
        Self {
            owners: owners.map(Arc::new),
            ..self
        }
    }

    /// Passes `request`, which the edge would pass on untouched, to the origin and its answer
    /// back, as the round trip through the component does: hop-by-hop headers (wasmtime's
    /// forbidden ones) dropped from both messages and from trailers, `Host` naming the
    /// origin, and no answer from the origin answered as the edge answers it (502 or 504).
    pub async fn pass(&self, request: http::Request<WasiBody>) -> http::Response<WasiBody> {
        let (mut parts, body) = request.into_parts();
        drop_hop_by_hop(&mut parts.headers);
        parts.headers.insert(HOST, self.host.clone());
        let mut uri = parts.uri.into_parts();
        uri.scheme = Some(self.scheme.clone());
        uri.authority = Some(self.authority.clone());
        let exchanged = match http::Uri::from_parts(uri) {
            Ok(uri) => {
                parts.uri = uri;
                let body = without_hop_by_hop_trailers(body);
                self.exchange(http::Request::from_parts(parts, body)).await
            }
            Err(_) => Err(ErrorCode::HttpRequestUriInvalid),
        };
        match exchanged {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                drop_hop_by_hop(&mut parts.headers);
                http::Response::from_parts(parts, without_hop_by_hop_trailers(body))
            }
            Err(code) => unanswered(&code),
        }
    }

    /// Sends `request`, which names the origin, under the base path and waits for the
    /// response head.
    async fn exchange(
        &self,
        request: http::Request<WasiBody>,
    ) -> Result<http::Response<WasiBody>, ErrorCode> {
        let request = prefixed(request, &self.base_path)?;
        self.client
            .send(request, self.timeout)
            .await
            .map_err(error_code)
    }
}

/// Marker type giving the generated bindings access to the [`Origin`] of a store.
pub(super) struct NextHop;

impl HasData for NextHop {
    type Data<'a> = &'a Origin;
}

impl Host for &Origin {}

impl<T: WasiHttpView + 'static> HostWithStore<T> for NextHop {
    async fn handle(
        accessor: &Accessor<T, Self>,
        request: Resource<Request>,
    ) -> wasmtime::Result<Result<Resource<Response>, ErrorCode>> {
        let origin = accessor.with(|mut access| access.get().clone());
        let converted = accessor.with(|mut access| -> wasmtime::Result<_> {
            let request = access
                .as_context_mut()
                .data_mut()
                .http()
                .table
                .delete(request);
            let mut request = request?;
            // The URI is only complete once it names the origin.
            request.scheme = Some(origin.scheme.clone());
            request.authority = Some(origin.authority.clone());
            let no_result = async { Ok::<_, wasmtime_wasi_http::Error>(()) };
            Ok(request.into_http(&mut access, no_result))
        })?;
        let (request, _options) = match converted {
            Ok(converted) => converted,
            Err(e) => return e.downcast().map(Err),
        };
        let read = origin.owners.as_ref().and_then(|owners| {
            let id = owners.read_of(request.method(), request.uri())?;
            Some((owners, id))
        });
        let response = match read {
            None => origin.exchange(request).await,
            Some((owners, id)) => owners.answer(&id, origin.exchange(request)).await,
        };
        let response = match response {
            Ok(response) => response,
            Err(code) => return Ok(Err(code)),
        };
        accessor.with(|mut access| {
            let mut store = access.as_context_mut();
            let http = store.data_mut().http();
            let (response, _io) = Response::from_http(http.hooks, response);
            Ok(Ok(http.table.push(response)?))
        })
    }
}

/// Puts the origin's base path in front of the request's path.
fn prefixed<B>(
    mut request: http::Request<B>,
    base_path: &str,
) -> Result<http::Request<B>, ErrorCode> {
    if !base_path.is_empty() {
        let uri = request.uri();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let target = format!(
            "{}://{}{base_path}{path}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str())
        );
        *request.uri_mut() = target
            .parse()
            .map_err(|_| ErrorCode::HttpRequestUriInvalid)?;
    }
    Ok(request)
}

/// Removes the headers wasmtime keeps out of a guest's messages (connection-level ones and
/// `Host`), as the component's round trip does.
fn drop_hop_by_hop(headers: &mut HeaderMap) {
    for name in &DEFAULT_FORBIDDEN_HEADERS {
        headers.remove(name);
    }
}

/// `body`, with [`drop_hop_by_hop`] applied to its trailers.
fn without_hop_by_hop_trailers(body: WasiBody) -> WasiBody {
    body.map_frame(|frame| match frame.into_trailers() {
        Ok(mut trailers) => {
            drop_hop_by_hop(&mut trailers);
            Frame::trailers(trailers)
        }
        Err(frame) => frame,
    })
    .boxed_unsync()
}

/// The edge's answer to a passed request the origin did not answer (`origin::forward` in the
/// edge, whose timeouts are these).
fn unanswered(code: &ErrorCode) -> http::Response<WasiBody> {
    let detail = format!("{code:?}");
    let failure = Failure::passing(&if tiergate_core::timed_out!(code, ErrorCode) {
        OriginFailure::TimedOut(detail)
    } else {
        OriginFailure::Unreachable(detail)
    });
    let body = Full::new(Bytes::from(failure.body()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(failure.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn error_code(error: wasmtime_wasi_http::Error) -> ErrorCode {
    match error {
        wasmtime_wasi_http::Error::HttpResponseTimeout => ErrorCode::HttpResponseTimeout,
        wasmtime_wasi_http::Error::ConnectionRefused => ErrorCode::ConnectionRefused,
        other => ErrorCode::InternalError(Some(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_path_prefixes_path_and_query() {
        let request = http::Request::get("http://10.0.0.5:8081/records/A1?x=1")
            .body(())
            .unwrap();
        let request = prefixed(request, "/api").unwrap();
        assert_eq!(request.uri(), "http://10.0.0.5:8081/api/records/A1?x=1");
    }
}
