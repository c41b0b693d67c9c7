//! `tiergate:records/hot-store`: the archiver's view of the hot database, over the
//! configured [`HotStore`]. Every claim is made for the running job, with its lease and the
//! host's clock, so the component never handles either.

use crate::archive::job::Job;
use crate::context::HostContext;
use crate::wasm::bindings::archiver::tiergate::records::hot_store::{
    self as wit, ArchivedCopy, Claim, Host, HostWithStore, HotRecord, LockOutcome, StoreError,
};
use std::sync::Arc;
use tiergate_hotstore as store;
use wasmtime::component::{Accessor, HasData, Linker};

/// Adds `tiergate:records/hot-store` to `linker`: an archiver instance's context, whose own
/// part is its run's job.
pub(super) fn add_to_linker(linker: &mut Linker<HostContext<Arc<Job>>>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, HotStoreAccess>(linker, |data| HotStoreView(&data.component))
}

/// Marker type giving the generated bindings a store's job.
struct HotStoreAccess;

/// What the hot-store functions of one instance see.
struct HotStoreView<'a>(&'a Arc<Job>);

impl HasData for HotStoreAccess {
    type Data<'a> = HotStoreView<'a>;
}

impl Host for HotStoreView<'_> {}

impl<U> HostWithStore<U> for HotStoreAccess {
    async fn claim_cold(
        accessor: &Accessor<U, Self>,
        cutoff: i64,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<Claim>, StoreError>> {
        let job = job(accessor);
        job.call("claim-cold", async {
            let claims = job.claim_cold(cutoff, limit).await?;
            Ok(claims
                .into_iter()
                .map(|c| Claim {
                    id: c.id,
                    version: c.version,
                })
                .collect())
        })
        .await
    }

    async fn read(
        accessor: &Accessor<U, Self>,
        id: String,
    ) -> wasmtime::Result<Result<Option<HotRecord>, StoreError>> {
        let job = job(accessor);
        job.call("read", async {
            Ok(job.store.read(&id).await?.map(|r| HotRecord {
                id: r.id,
                version: r.version,
                content_type: r.content_type,
                body: r.body,
                owner: r.owner,
            }))
        })
        .await
    }

    async fn mark_archived(
        accessor: &Accessor<U, Self>,
        copy: ArchivedCopy,
    ) -> wasmtime::Result<Result<bool, StoreError>> {
        let job = job(accessor);
        job.call("mark-archived", async {
            let (size, stored_size) = (copy.size, copy.stored_size);
            let marked = job
                .store
                .mark_archived(&job.lease(), &to_store(copy))
                .await?;
            if marked {
                job.progress.send_modify(|p| {
                    p.archived += 1;
                    p.bytes_in += size;
                    p.bytes_out += stored_size;
                });
            }
            Ok(marked)
        })
        .await
    }

    async fn release(
        accessor: &Accessor<U, Self>,
        id: String,
        error: String,
        retry_after_ms: u64,
    ) -> wasmtime::Result<Result<bool, StoreError>> {
        let job = job(accessor);
        job.call("release", async {
            job.progress.send_modify(|p| p.failed += 1);
            let retry_after_ms = i64::try_from(retry_after_ms).unwrap_or(i64::MAX);
            job.release(&id, &error, retry_after_ms).await
        })
        .await
    }

    async fn claim_due(
        accessor: &Accessor<U, Self>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<ArchivedCopy>, StoreError>> {
        let job = job(accessor);
        job.call("claim-due", async {
            let due = job
                .store
                .claim_due(&job.lease(), job.copied_before_ms, limit)
                .await?;
            Ok(due.into_iter().map(from_store).collect())
        })
        .await
    }

    async fn lock_for_delete(
        accessor: &Accessor<U, Self>,
        id: String,
        version: String,
        sha256: String,
    ) -> wasmtime::Result<Result<LockOutcome, StoreError>> {
        let job = job(accessor);
        job.call("lock-for-delete", async {
            Ok(match job.lock_for_delete(id, version, sha256).await? {
                None => LockOutcome::Locked,
                Some(store::DeleteOutcome::Changed) => LockOutcome::Changed,
                Some(store::DeleteOutcome::Held) => LockOutcome::Held,
                Some(store::DeleteOutcome::Missing) => LockOutcome::Missing,
                Some(store::DeleteOutcome::LeaseLost) => LockOutcome::LeaseLost,
                Some(other) => {
                    return Err(store::StoreError::Invalid(format!(
                        "a delete ended as {other:?} before its copy was published"
                    )));
                }
            })
        })
        .await
    }

    async fn finish_delete(
        accessor: &Accessor<U, Self>,
        id: String,
        published: bool,
    ) -> wasmtime::Result<Result<bool, StoreError>> {
        let job = job(accessor);
        job.call("finish-delete", async {
            let deleted = job.finish_delete(&id, published).await? == store::DeleteOutcome::Deleted;
            if deleted {
                job.progress.send_modify(|p| p.deleted += 1);
            }
            Ok(deleted)
        })
        .await
    }

    async fn claim_stale(
        accessor: &Accessor<U, Self>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, StoreError>> {
        let job = job(accessor);
        job.call("claim-stale", async { job.claim_stale(limit).await })
            .await
    }

    async fn forget(
        accessor: &Accessor<U, Self>,
        id: String,
    ) -> wasmtime::Result<Result<bool, StoreError>> {
        let job = job(accessor);
        job.call("forget", async { job.forget(&id).await }).await
    }

    async fn claim_expired(
        accessor: &Accessor<U, Self>,
        changed_before: i64,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, StoreError>> {
        let job = job(accessor);
        job.call("claim-expired", async {
            job.store
                .claim_expired(&job.lease(), changed_before, limit)
                .await
        })
        .await
    }

    async fn mark_expired(
        accessor: &Accessor<U, Self>,
        id: String,
    ) -> wasmtime::Result<Result<bool, StoreError>> {
        let job = job(accessor);
        job.call("mark-expired", async {
            job.store.mark_expired(&job.lease(), &id).await
        })
        .await
    }
}

fn job<U>(accessor: &Accessor<U, HotStoreAccess>) -> Arc<Job> {
    accessor.with(|mut access| access.get().0.clone())
}

impl From<store::StoreError> for StoreError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::Unavailable(m) => wit::StoreError::Unavailable(m),
            store::StoreError::Invalid(m) => wit::StoreError::Invalid(m),
        }
    }
}

fn to_store(c: ArchivedCopy) -> store::ArchivedCopy {
    store::ArchivedCopy {
        id: c.id,
        version: c.version,
        blob_key: c.blob_key,
        sha256: c.sha256,
        size: c.size,
        stored_size: c.stored_size,
        stored_sha256: c.stored_sha256,
        encoding: c.encoding,
        delete_after_ms: c.delete_after,
    }
}

fn from_store(c: store::ArchivedCopy) -> ArchivedCopy {
    ArchivedCopy {
        id: c.id,
        version: c.version,
        blob_key: c.blob_key,
        sha256: c.sha256,
        size: c.size,
        stored_size: c.stored_size,
        stored_sha256: c.stored_sha256,
        encoding: c.encoding,
        delete_after: c.delete_after_ms,
    }
}
