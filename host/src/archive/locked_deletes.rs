//! Deletes in progress between `lock-for-delete` and `finish-delete`: the hot store's
//! transaction waits, with the record's row locked, while the component publishes the copy.
//! Each transaction runs in a task of its own and is told to go on (or let go) through a
//! channel; a run that ends or traps drops the channel, which lets the row go unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tiergate_hotstore::{DeleteOutcome, HotStore, Lease, StoreError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The locked deletes of one run, by record id.
#[derive(Debug, Default)]
pub(super) struct LockedDeletes(Mutex<HashMap<String, LockedDelete>>);

#[derive(Debug)]
struct LockedDelete {
    /// Says whether the copy was published.
    go: oneshot::Sender<bool>,
    /// The transaction, which ends with the delete's outcome.
    done: JoinHandle<Result<DeleteOutcome, StoreError>>,
}

impl LockedDeletes {
    /// Starts the delete of `id` and waits until its row is locked and checked: `None` when
    /// it is locked (and waits for [`finish`](Self::finish)), otherwise why it was refused.
    pub(super) async fn lock(
        &self,
        store: &Arc<HotStore>,
        lease: Lease,
        id: String,
        version: String,
        sha256: String,
    ) -> Result<Option<DeleteOutcome>, StoreError> {
        let (locked_tx, locked_rx) = oneshot::channel();
        let (go, go_rx) = oneshot::channel();
        let publish = async move {
            let _ = locked_tx.send(());
            go_rx.await.unwrap_or(false)
        };
        let (store, key) = (Arc::clone(store), id.clone());
        let mut done = tokio::spawn(async move {
            store
                .delete_if_unchanged(&lease, &id, &version, &sha256, publish)
                .await
        });
        tokio::select! {
            Ok(()) = locked_rx => {
                self.entries().insert(key, LockedDelete { go, done });
                Ok(None)
            }
            refused = &mut done => joined(refused).map(Some),
        }
    }

    /// Ends the delete of `id`: deleted if `published`, otherwise let go.
    pub(super) async fn finish(
        &self,
        id: &str,
        published: bool,
    ) -> Result<DeleteOutcome, StoreError> {
        let locked = self.entries().remove(id).ok_or_else(|| {
            StoreError::Invalid(format!("no delete of record {id} is waiting to finish"))
        })?;
        // A send fails only when the transaction already let the row go (it waited too
        // long): its outcome says so.
        let _ = locked.go.send(published);
        joined(locked.done.await)
    }

    /// Lets every row still locked go unchanged: for a run whose instances ended without
    /// finishing (a trap), so that nothing waits on those locks for their time limit.
    pub(super) fn let_go_all(&self) {
        self.entries().clear();
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, LockedDelete>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn joined(
    result: Result<Result<DeleteOutcome, StoreError>, tokio::task::JoinError>,
) -> Result<DeleteOutcome, StoreError> {
    result.map_err(|e| StoreError::Unavailable(format!("a delete's transaction failed: {e}")))?
}
