//! The tiergate host: serves the edge component over HTTP on wasmtime, and provides what
//! the component imports.
//!
//! - [`config`]: the TOML configuration, checked at load;
//! - [`server`]: the HTTP front and its shutdown; `cache_hit`: fresh cache hits answered
//!   without entering the component;
//! - [`archiver`]: the archiver component, run on demand; [`schedule`]: on a cron schedule;
//! - [`verify`]: the audit of every archived record's copy; [`alert`]: the webhook;
//! - [`cost`]: the storage bill before and after, from measured counts;
//! - [`demo`]: the whole system on embedded defaults;
//! - [`kv`]: the edge cache's stores (memory, redb) behind one trait;
//! - [`metrics`]: what the host counts; [`admin`]: the endpoint serving it;
//! - [`logs`]: the log filter, which keeps secrets out whatever `RUST_LOG` says;
//! - `request_id`: the id each request carries through the logs;
//! - `guest_log`: the components' stderr as log lines;
//! - `runtime`: the engine, the linker and the per-instance store;
//! - `next_hop`: the middleware's next hop, a reverse proxy to the origin;
//! - `outbound`: the pooled client and where components may send requests;
//! - `plain_server`: the HTTP server of the admin endpoint and the demo's services;
//! - `zero_copy`: large cached values in sealed memory files, sent with `sendfile`;
//! - `bindings`, `host_kv`, `host_variables`: tiergate's own imports (`wit/edge.wit`);
//!   `host_hot_store`, `host_digest`: the archiver's (`wit/archiver.wit`).

pub mod admin;
pub mod alert;
pub mod archiver;
mod cache_hit;
pub mod config;
pub mod cost;
pub mod demo;
pub mod kv;
pub mod logs;
pub mod metrics;
mod request_id;
pub mod schedule;
pub mod server;
pub mod verify;

mod bindings;
mod coalesced_body;
mod guest_log;
mod host_digest;
mod host_hot_store;
mod host_kv;
mod host_variables;
mod next_hop;
mod outbound;
mod plain_server;
mod runtime;
mod zero_copy;

pub use archiver::{Archiver, Fault, RunOptions, RunProgress};
pub use bindings::archiver::exports::tiergate::records::archival::{RecordError, RunReport};
pub use config::{Config, ConfigError};
pub use server::{RunningServer, Server};
