//! Serving the edge: the HTTP front ([`Server`]), the edge component on wasmtime, fresh
//! cache hits answered in the host, the next hop to the origin, and request ids.
//!
//! - `front`: accepting connections, routing each request, shutting down;
//! - `lingering`: a close that reads on while the client still sends;
//! - `edge_runtime`: the edge component compiled once and instantiated per worker;
//! - `cache_hit`: fresh cache hits answered without entering the component;
//! - `next_hop`: the middleware's next hop, a reverse proxy to the origin;
//! - `request_id`: the id each request carries through the logs.
//!
//! May use: `config`, `kv`, `wasm`, `context`, `restore` (answered in process),
//! `telemetry::metrics`.

mod cache_hit;
mod edge_runtime;
mod front;
mod lingering;
mod next_hop;
mod owners;
mod request_id;

pub use front::{RunningServer, Server};
