//! The archiver: the component run on demand ([`Archiver`]) and on a cron schedule
//! ([`schedule`]), with the imports only it has: the hot store, over the configured
//! database, and native SHA-256.
//!
//! - `run`: compiling the component once and running it, one instance per core;
//! - `job`: one run's claims, lease, progress and failed records, shared by its instances;
//! - `locked_deletes`: deletes whose hot row is locked while the component publishes the
//!   copy;
//! - `hot_store`, `digest`: the component's own imports (`wit/archiver.wit`);
//! - `report`: what a run did, converted once from the component's report;
//! - [`schedule`]: runs on the configured cron schedule, with logs and alerts.
//!
//! May use: `config`, `kv`, `wasm`, `context`, `telemetry` (metrics, alerts). `ops` reads
//! the hot store directly, never through here.

mod digest;
mod hot_store;
mod job;
mod locked_deletes;
mod report;
mod run;
pub mod schedule;

pub use job::{Fault, RunProgress};
pub use run::{Archiver, DryRun, Expiring, RunOptions, archive_config, dry_run, open_hot_store};
pub use tiergate_core::{RecordError, RunReport};
