//! One run's job: its claims, its lease and its progress, shared by the hot-store
//! functions of every instance of the run.

use super::locked_deletes::LockedDeletes;
use crate::wasm::bindings::archiver::tiergate::records::hot_store;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};
use tiergate_hotstore::{ColdCursor, DeleteOutcome, HotStore, Lease};
use tokio::sync::{Mutex, watch};

/// A run's progress so far, as the host sees it through the hot store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunProgress {
    /// Records copied, verified and marked archived.
    pub archived: u64,
    /// Their bytes, and the bytes stored for them.
    pub bytes_in: u64,
    /// Stored bytes.
    pub bytes_out: u64,
    /// Hot rows deleted.
    pub deleted: u64,
    /// Records given back after a failure.
    pub failed: u64,
}

/// A crash injected into a run, for crash-safety tests: the run traps at its `call`-th
/// hot-store call (1-based), before the call is made or after it took effect, as a process
/// killed at that point would leave things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Which hot-store call.
    pub call: usize,
    /// After the call took effect (true) or before it was made (false).
    pub after: bool,
}

/// One run's claims and counters, shared by the hot-store functions of its instances.
pub(super) struct Job {
    /// The hot database.
    pub store: Arc<HotStore>,
    /// Whose claims these are.
    pub owner: String,
    /// The delete pass takes only copies marked before this (unix ms): every earlier run's
    /// and none of this run's, so that one instance never deletes what another has just
    /// copied (a copy waits for a later run, as with one instance).
    pub copied_before_ms: i64,
    lease: Duration,
    /// Progress so far.
    pub progress: watch::Sender<RunProgress>,
    fault: Option<Fault>,
    calls: AtomicUsize,
    /// Where the run's walk over cold records has got to: it starts at the beginning or
    /// where an earlier run's got to ([`WalkResumes`](tiergate_core::WalkResumes)). One
    /// for all of the run's instances, and held through each claim: they take turns, each
    /// claim goes on where the last one stopped, and the run tries each record once (one
    /// that failed is not met again until the next run).
    cursor: Mutex<ColdCursor>,
    /// The stale pass looks at the records changed since this (unix ms), or at all.
    stale_since_ms: Option<i64>,
    /// The stale copies claimed and not yet removed: the pass looked at everything it was
    /// to look at only if none is left when the run ends.
    stale_left: std::sync::Mutex<HashSet<String>>,
    /// Deletes waiting for their copies to be published.
    locked: LockedDeletes,
}

impl Job {
    /// The job of run `owner` over `store`, whose claims are leased for `lease`, whose
    /// delete pass takes copies marked before `copied_before_ms`, whose stale pass looks at
    /// the records changed since `stale_since_ms` (all with `None`) and whose walk starts
    /// at `walk`; `fault` injects a crash.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        store: Arc<HotStore>,
        owner: String,
        copied_before_ms: i64,
        stale_since_ms: Option<i64>,
        walk: ColdCursor,
        lease: Duration,
        progress: watch::Sender<RunProgress>,
        fault: Option<Fault>,
    ) -> Self {
        Self {
            store,
            owner,
            copied_before_ms,
            lease,
            progress,
            fault,
            calls: AtomicUsize::new(0),
            cursor: Mutex::new(walk),
            stale_since_ms,
            stale_left: std::sync::Mutex::default(),
            locked: LockedDeletes::default(),
        }
    }

    /// Claims stale copies for one of the run's instances, among the records changed since
    /// the job's time (or all).
    pub(super) async fn claim_stale(
        &self,
        limit: u32,
    ) -> Result<Vec<String>, tiergate_hotstore::StoreError> {
        let stale = self
            .store
            .claim_stale(&self.lease(), limit, self.stale_since_ms)
            .await?;
        let ids: Vec<String> = stale.into_iter().map(|copy| copy.id).collect();
        self.stale_left().extend(ids.iter().cloned());
        Ok(ids)
    }

    /// Where the run's walk has got to.
    pub(super) async fn walked_to(&self) -> ColdCursor {
        self.cursor.lock().await.clone()
    }

    /// Forgets the ledger row of `id`, whose stale copy is gone.
    pub(super) async fn forget(&self, id: &str) -> Result<bool, tiergate_hotstore::StoreError> {
        let forgotten = self.store.forget(&self.lease(), id).await?;
        if forgotten {
            self.stale_left().remove(id);
        }
        Ok(forgotten)
    }

    /// Whether every stale copy the run claimed is gone: its stale pass missed nothing.
    pub(super) fn stale_pass_complete(&self) -> bool {
        self.stale_left().is_empty()
    }

    fn stale_left(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.stale_left
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A lease from now, for this run.
    pub(super) fn lease(&self) -> Lease {
        Lease {
            owner: self.owner.clone(),
            now_ms: unix_ms(SystemTime::now()),
            duration_ms: self.lease.as_millis() as i64,
        }
    }

    /// Claims cold records for one of the run's instances, after the last record any of
    /// them was handed; empty when the walk has reached `cutoff_ms`.
    pub(super) async fn claim_cold(
        &self,
        cutoff_ms: i64,
        limit: u32,
    ) -> Result<Vec<tiergate_hotstore::Claim>, tiergate_hotstore::StoreError> {
        let mut cursor = self.cursor.lock().await;
        self.store
            .claim_cold(&self.lease(), cutoff_ms, limit, &mut cursor)
            .await
    }

    /// Frees record `id`, which failed in this run, with `error`, to wait `retry_after_ms`
    /// from now.
    pub(super) async fn release(
        &self,
        id: &str,
        error: &str,
        retry_after_ms: i64,
    ) -> Result<bool, tiergate_hotstore::StoreError> {
        let lease = self.lease();
        let retry_at = lease.now_ms.saturating_add(retry_after_ms);
        self.store.release(&lease, id, error, retry_at).await
    }

    /// Locks the hot row of due record `id` for its delete, if it still holds the copy's
    /// content: `None` when locked, otherwise why not.
    pub(super) async fn lock_for_delete(
        &self,
        id: String,
        version: String,
        sha256: String,
    ) -> Result<Option<DeleteOutcome>, tiergate_hotstore::StoreError> {
        self.locked
            .lock(&self.store, self.lease(), id, version, sha256)
            .await
    }

    /// Ends the delete of `id` that [`lock_for_delete`](Self::lock_for_delete) began.
    pub(super) async fn finish_delete(
        &self,
        id: &str,
        published: bool,
    ) -> Result<DeleteOutcome, tiergate_hotstore::StoreError> {
        self.locked.finish(id, published).await
    }

    /// Lets go of every row a delete of this run still holds locked (an instance that
    /// trapped between locking and finishing): the rows stay as they are.
    pub(super) fn let_go_of_locked_rows(&self) {
        self.locked.let_go_all();
    }

    /// Performs hot-store call `step`, or traps where the injected fault says.
    pub(super) async fn call<T>(
        &self,
        step: &'static str,
        work: impl Future<Output = Result<T, tiergate_hotstore::StoreError>>,
    ) -> wasmtime::Result<Result<T, hot_store::StoreError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self.fault.filter(|f| f.call == n);
        if let Some(Fault { after: false, .. }) = fault {
            wasmtime::bail!("injected crash before hot-store call {n} ({step})");
        }
        let result = work.await.map_err(hot_store::StoreError::from);
        if fault.is_some() {
            wasmtime::bail!("injected crash after hot-store call {n} ({step})");
        }
        Ok(result)
    }
}

/// Unix milliseconds of `t`.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
