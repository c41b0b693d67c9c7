//! The edge's next hop (`wasi:http/handler` imported by the middleware): a reverse proxy to
//! the origin on the pooled client. Requests keep their method, path, query, headers and
//! body; only scheme and authority change.

use crate::bindings::wasi::http::handler::{Host, HostWithStore};
use crate::outbound::HttpClient;
use http::uri::{Authority, Scheme};
use std::time::Duration;
use wasmtime::AsContextMut;
use wasmtime::component::{Accessor, HasData, Resource};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p3::bindings::http::types::{ErrorCode, Request, Response};

/// Where the next hop goes.
#[derive(Clone)]
pub struct Origin {
    /// Shared client.
    pub client: HttpClient,
    scheme: Scheme,
    authority: Authority,
    /// The base URL's path without its trailing `/`; it prefixes every request's path.
    base_path: String,
    /// How long to wait for response headers.
    pub timeout: Duration,
}

impl Origin {
    /// The origin at `base` (an http(s) URL, checked by the config loader).
    pub fn new(client: HttpClient, base: &url::Url, timeout: Duration) -> wasmtime::Result<Self> {
        Ok(Self {
            client,
            scheme: base.scheme().parse()?,
            authority: crate::outbound::authority_of(base).parse()?,
            base_path: base.path().trim_end_matches('/').to_owned(),
            timeout,
        })
    }
}

/// Marker type giving the generated bindings access to the [`Origin`] of a store.
pub struct NextHop;

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
        let request = match prefixed(request, &origin.base_path) {
            Ok(request) => request,
            Err(code) => return Ok(Err(code)),
        };
        let response = match origin.client.send(request, origin.timeout).await {
            Ok(response) => response,
            Err(e) => return Ok(Err(error_code(e))),
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
