//! The tiergate host: serves the edge component over HTTP on wasmtime, runs the archiver
//! component, and provides what both components import. Its folders are its capabilities:
//!
//! - [`serve`]: the HTTP front, the edge runtime, cache hits answered in the host, the next
//!   hop to the origin, request ids;
//! - [`archive`]: the archiver component, its run and imports (hot store, digest), the
//!   schedule;
//! - [`kv`]: the edge cache's stores (memory, redb) behind one trait, and the
//!   `spin:key-value` import over them;
//! - [`wasm`]: the plumbing both components share: engine, bindings, settings, outbound
//!   HTTP, guest logs;
//! - [`context`]: the one host context of every instance and the one linker setup;
//! - [`telemetry`]: Prometheus metrics and webhook alerts, which every part reports to;
//! - [`restore`]: archived records put back in the hot table before a write, and the
//!   endpoint the edge asks;
//! - [`blob_client`]: the host's own reads and deletes of copies (audit, restore);
//! - [`ops`]: the admin endpoint, the log filter, the audit and the cost report;
//! - [`demo`]: the whole system on embedded defaults;
//! - [`config`]: the one configuration loader, checked at load.
//!
//! Layers, each using only those below it: `config`; `telemetry::metrics`; `kv`; `wasm`;
//! `blob_client`; `restore`; `serve` and `archive`; the rest of `ops`; `demo`; the CLI
//! (`main.rs`).

pub mod archive;
pub mod blob_client;
pub mod config;
pub mod context;
pub mod demo;
pub mod kv;
pub mod ops;
pub mod restore;
pub mod serve;
pub mod telemetry;
pub mod wasm;

pub use archive::{Archiver, Fault, RecordError, RunOptions, RunProgress, RunReport};
pub use config::{Config, ConfigError};
pub use serve::{RunningServer, Server};
