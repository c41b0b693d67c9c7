//! The alert hook: a webhook the host calls when an archiver run fails or `verify` finds a
//! problem, so that an operator hears of it without watching logs. One JSON POST per event;
//! a webhook that cannot be reached is logged, never a reason to fail the work itself.

use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use std::time::Duration;

/// How long the webhook gets to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Most per-record lines one alert carries.
const MAX_DETAILS: usize = 50;

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// `archive_run_failed` or `verify_found_problems`.
    pub event: &'static str,
    /// One line for a chat message.
    pub summary: String,
    /// Per-record lines (`id: what`), at most 50.
    pub details: Vec<String>,
}

impl Alert {
    /// An alert with its details capped.
    pub fn new(event: &'static str, summary: String, details: Vec<String>) -> Self {
        let mut details = details;
        details.truncate(MAX_DETAILS);
        Self {
            event,
            summary,
            details,
        }
    }
}

/// Posts `alert` to `webhook` (if one is configured).
pub async fn send(webhook: Option<&url::Url>, alert: &Alert) {
    let Some(webhook) = webhook else {
        return;
    };
    tracing::warn!(event = alert.event, summary = %alert.summary, "alert");
    let client = Client::builder(TokioExecutor::new()).build(crate::wasm::outbound::connector());
    let body = serde_json::to_vec(alert).expect("an alert serializes");
    let request = http::Request::post(webhook.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("a valid request");
    match tokio::time::timeout(TIMEOUT, client.request(request)).await {
        Ok(Ok(response)) if response.status().is_success() => {}
        Ok(Ok(response)) => {
            tracing::error!(status = %response.status(), "alert webhook refused the alert")
        }
        Ok(Err(e)) => tracing::error!(error = %e, "alert webhook unreachable"),
        Err(_) => tracing::error!("alert webhook did not answer in {TIMEOUT:?}"),
    }
}
