//! End-to-end harness of tiergate: the real host running the real edge component, in front of
//! real servers on loopback ports, each test with its own fresh set.
//!
//! - [`origin`]: the origin API, over an in-memory record map, counting what reaches it.
//! - [`azurite`]: Azure Blob Storage, Azurite started per test where it is installed.
//! - [`blob_store`]: blob storage, s3s-fs in-process checking SigV4 signatures; archiving
//!   records as the archiver does; a store that never answers.
//! - [`gate`]: tiergate itself, configured through its TOML config.
//! - [`hot_db`]: the API's hot database (SQLite or PostgreSQL) and the API over it.
//! - [`issuer`]: an OAuth2 token issuer: keys, a JWKS endpoint, signed tokens.
//! - [`stack`]: all three started together.
//! - [`assertions`]: served-from-tier and outage checks with messages naming record and tier.
//! - [`records`]: billing-like records of an exact size, deterministic from a seed.
//! - [`redis_server`]: a Redis server of the test's own, to stop and pause.
//! - [`client`]: an HTTP client that reads whole answers.
//! - [`webhook`]: an alerting endpoint that keeps what it is sent.
//! - [`scratch_dir`]: directories owned by a test (storage roots, cache files).
//! - [`skipped()`]: a test that cannot run here says so, and `scripts/test` counts it.
//!
//! The tests themselves are in `tests/`.

#![deny(missing_docs, missing_debug_implementations)]

pub mod assertions;
pub mod azurite;
pub mod blob_store;
pub mod client;
pub mod gate;
pub mod hot_db;
pub mod issuer;
mod loopback;
pub mod origin;
pub mod records;
pub mod redis_server;
pub mod scratch_dir;
mod skipped;
pub mod stack;
pub mod webhook;

pub use azurite::Azurite;
pub use blob_store::{BlobStore, StalledBlobStore};
pub use client::{HttpClient, Reply};
pub use gate::{CacheBackend, Gate, GateConfig};
pub use hot_db::{HotDb, HotOrigin, PutKind};
pub use issuer::Issuer;
pub use origin::Origin;
pub use records::{SplitMix64, billing_record};
pub use redis_server::RedisServer;
pub use scratch_dir::ScratchDir;
pub use skipped::skipped;
pub use stack::Stack;
pub use webhook::Webhook;
