//! tiergate's archiver: a WASIp3 component that moves cold records from the hot database to
//! blob storage without ever losing one. The host calls `run` on a schedule or on demand.
//!
//! The protocol's decisions live in `tiergate-core` ([`tiergate_core::archival`]); the host
//! owns the hot database, the ledger and the leases (`wit/archiver.wit`, `hot-store`). This
//! crate performs the steps:
//! - [`run`]: one run: stale copies, then due deletes, then cold records, batch by batch;
//! - [`copy`]: one record copied, verified and marked archived;
//! - [`prune`]: one due record's hot row deleted, or its stale copy removed;
//! - [`storage`]: signed PUT, GET and DELETE against blob storage, with retries;
//! - [`report`]: the run's tally.

mod copy;
mod prune;
mod report;
mod run;
mod storage;

/// The archiver's world, `wit/archiver.wit`, generated: its items carry the WIT's doc
/// comments, and the modules that only mirror WIT packages have none to carry.
#[allow(missing_docs, unreachable_pub)]
mod bindings {
    spin_sdk::wit_bindgen::generate!({
        runtime_path: "spin_sdk::wit_bindgen::rt",
        path: "../../wit",
        world: "tiergate:records/archiver",
        generate_all,
    });
}

use bindings::exports::tiergate::records::archival::{Guest, RunReport};
use bindings::{exports, tiergate};

struct Archiver;

impl Guest for Archiver {
    async fn run() -> RunReport {
        run::run().await
    }
}

bindings::export!(Archiver with_types_in bindings);
