//! Telemetry: the Prometheus metrics every part counts into, and alerts to a webhook.
//!
//! Below everything that serves or archives, so that they can all report here: it may use
//! `config`, `wasm::outbound` (the one way the host connects out) and the stores' own types,
//! never `serve`, `archive` or `ops`.

pub mod alert;
pub mod metrics;
