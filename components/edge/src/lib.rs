//! tiergate's edge: a `wasi:http` middleware component (WASIp3) that sits in front of a
//! record API. Record reads are answered from the edge KV cache, then from blob storage
//! through a short-lived signed URL, then from the next hop (the origin); record writes have
//! an archived record restored to the hot table first, then go to the origin and drop the
//! cached copy; everything else passes through untouched.
//!
//! The decisions live in `tiergate-core`; this crate performs the I/O they call for:
//! - [`access`]: `jwt` mode's bearer tokens, checked before any tier answers;
//! - [`origin_check`]: `origin` mode's authorization subrequest to the API;
//! - [`read`]: the read path, tier by tier;
//! - [`record`]: a record as the blob and origin tiers hand it over;
//! - [`cache`], [`blob`], [`origin`]: one adapter per tier;
//! - [`body`]: whole bodies read and written with as few copies as the interface allows;
//! - [`reply`]: the responses the edge builds itself;
//! - [`outbound`]: requests the edge sends on its own, bounded by a timeout;
//! - [`restore`]: a record write made safe first, by the host's restore endpoint;
//! - [`settings`]: the settings, read once per instance from Spin variables.

mod access;
mod blob;
mod body;
mod cache;
mod origin;
mod origin_check;
mod outbound;
mod read;
mod record;
mod reply;
mod restore;
mod settings;

use spin_sdk::http::Request;
use spin_sdk::http_service;
use spin_sdk::wasip3::http::types::{ErrorCode, Response};
use tiergate_core::RequestKind;
use tiergate_core::access::{AccessMode, Reader};

#[http_service]
async fn handle(request: Request) -> Result<Response, ErrorCode> {
    let settings = match settings::load().await {
        Ok(settings) => settings,
        Err(message) => return reply::misconfigured(message),
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let (id, read) = match settings.route.classify(request.method().as_str(), path) {
        RequestKind::Pass => return origin::forward(request).await,
        RequestKind::Write(id) => (id, None),
        RequestKind::Read { id, head } => (id, Some(head)),
    };
    // A record request whose credential does not check out goes nowhere else.
    let reader = match &settings.access {
        AccessMode::None => None,
        // Writes go to the API, which checks them itself.
        AccessMode::Origin(check) => {
            if read.is_some()
                && let Err(answer) =
                    origin_check::allowed(check, request.headers(), &id, read::unix_now()).await
            {
                return answer;
            }
            None
        }
        AccessMode::Jwt(rules) => {
            match access::caller(rules, request.headers(), read::unix_now()).await {
                Ok(caller) => Some(Reader { rules, caller }),
                Err(refusal) => return reply::refused(&refusal.answer(rules.refused_status)),
            }
        }
    };
    match read {
        Some(head) => read::serve(settings, reader.as_ref(), request, &id, head).await,
        // Whose record it is, the API decides on writes: the edge only checked the token.
        None => {
            if let Some(restore) = &settings.restore
                && let Err(message) = restore::before_write(restore, &id).await
            {
                return reply::unavailable(message);
            }
            let response = origin::forward(request).await;
            cache::forget(&id).await;
            response
        }
    }
}
