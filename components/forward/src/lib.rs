//! The primary component of tiergate's Spin application: a reverse proxy that sends every
//! request, as it came, to the origin API named by the Spin variable `origin_url`. The
//! tiergate edge runs in front of it as middleware; in the tiergate host, the host itself
//! plays this part.

use spin_sdk::http::Request;
use spin_sdk::http_service;
use spin_sdk::wasip3::http::types::{self, ErrorCode, Response, Scheme};
use spin_sdk::wasip3::{spawn, wit_future};

/// The Spin variable holding the origin's base URL.
const ORIGIN_URL: &str = "origin_url";

#[http_service]
async fn handle(request: Request) -> Result<Response, ErrorCode> {
    let origin = origin().await?;
    let Some(incoming) = request.into_body().take_unstarted() else {
        return Err(internal("the request body was already read"));
    };
    let method = incoming.get_method();
    let path = incoming.get_path_with_query().unwrap_or_else(|| "/".into());
    let headers = incoming.get_headers().clone();

    // The body goes on as the same stream: nothing is buffered or copied here.
    let (consumed_tx, consumed_rx) = wit_future::new(|| Ok(()));
    let (contents, trailers) = types::Request::consume_body(incoming, consumed_rx);
    let (outgoing, transmitted) = types::Request::new(headers, Some(contents), trailers, None);
    outgoing
        .set_method(&method)
        .map_err(|()| ErrorCode::HttpRequestMethodInvalid)?;
    outgoing
        .set_scheme(Some(&origin.scheme))
        .and_then(|()| outgoing.set_authority(Some(&origin.authority)))
        .and_then(|()| outgoing.set_path_with_query(Some(&format!("{}{path}", origin.base_path))))
        .map_err(|()| ErrorCode::HttpRequestUriInvalid)?;
    spawn(async move {
        let _ = consumed_tx.write(transmitted.await).await;
    });
    spin_sdk::wasip3::http::client::send(outgoing).await
}

/// Where requests go.
struct Origin {
    scheme: Scheme,
    authority: String,
    base_path: String,
}

async fn origin() -> Result<Origin, ErrorCode> {
    let configured = spin_sdk::variables::get(ORIGIN_URL)
        .await
        .map_err(|e| internal(&format!("Spin variable {ORIGIN_URL} is not set: {e:?}")))?;
    let url = url::Url::parse(&configured)
        .map_err(|e| internal(&format!("{ORIGIN_URL} = {configured:?} is not a URL: {e}")))?;
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(internal(&format!(
                "{ORIGIN_URL}: scheme {other:?} is not http(s)"
            )));
        }
    };
    let host = url
        .host_str()
        .ok_or_else(|| internal(&format!("{ORIGIN_URL} = {configured:?} has no host")))?;
    Ok(Origin {
        scheme,
        authority: match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        },
        base_path: url.path().trim_end_matches('/').to_owned(),
    })
}

fn internal(message: &str) -> ErrorCode {
    ErrorCode::InternalError(Some(format!("tiergate-forward: {message}")))
}
