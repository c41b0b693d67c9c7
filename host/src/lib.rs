//! The tiergate host: serves the edge component over HTTP on wasmtime, and provides what
//! the component imports.
//!
//! - [`config`]: the TOML configuration, checked at load;
//! - [`server`]: the HTTP front and its shutdown;
//! - [`archiver`]: the archiver component, run on demand; [`schedule`]: on a cron schedule;
//! - [`verify`]: the audit of every archived record's copy; [`alert`]: the webhook;
//! - [`demo`]: the whole system on embedded defaults;
//! - [`kv`]: the edge cache's stores (memory, redb) behind one trait;
//! - `runtime`: the engine, the linker and the per-instance store;
//! - `next_hop`: the middleware's next hop, a reverse proxy to the origin;
//! - `outbound`: the pooled client and where components may send requests;
//! - `bindings`, `host_kv`, `host_variables`: tiergate's own imports (`wit/edge.wit`).

pub mod alert;
pub mod archiver;
pub mod config;
pub mod demo;
pub mod kv;
pub mod schedule;
pub mod server;
pub mod verify;

mod bindings;
mod host_hot_store;
mod host_kv;
mod host_variables;
mod next_hop;
mod outbound;
mod runtime;

pub use archiver::{Archiver, Fault, RunOptions, RunProgress};
pub use bindings::archiver::exports::tiergate::records::archival::{RecordError, RunReport};
pub use config::{Config, ConfigError};
pub use server::{RunningServer, Server};
