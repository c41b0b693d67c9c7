//! Operations: what operators see and run beside serving. The admin endpoint (which renders
//! `telemetry`'s metrics), the log filter, the audit of every copy
//! ([`verify`]) and the cost report ([`cost`]).
//!
//! `verify` and `cost` read the hot database directly; none of this compiles a component.
//! May use: `config`, `telemetry`, `archive` (its report and dry run), `restore` (its
//! endpoint, on the admin address), `blob_client`, `wasm::outbound` (the one way the
//! host connects out).

pub mod admin;
pub mod cost;
pub mod logs;
pub mod plain_server;
pub mod verify;
