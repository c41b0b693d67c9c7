//! `spin:key-value/key-value@3.0.0` over the configured [`KvBackend`]: the guest-facing
//! side of the edge cache. The edge reads and fills the cache through it; the archiver drops
//! cached copies through it.

use crate::kv::{KvBackend, KvError};
use crate::wasm::bindings::OpenStore;
use crate::wasm::bindings::spin::key_value::key_value::{
    self, Error, Host, HostStore, HostStoreWithStore,
};
use std::sync::Arc;
use wasmtime::component::{
    Accessor, FutureReader, HasData, Linker, Resource, ResourceTable, StreamReader,
};

/// The only store label the host serves, as in Spin's default configuration.
const DEFAULT_LABEL: &str = "default";

/// The interface, as the guest imports it.
const INTERFACE: &str = "spin:key-value/key-value@3.0.0";

/// A store's data that can show its instance's side of the cache.
pub trait KvState: Send {
    /// The instance's resources and the cache.
    fn kv(&mut self) -> KvView<'_>;
}

/// Adds `spin:key-value` to `linker`, for any state that shows its cache, with `store.get`
/// lending the cached bytes ([`add_get_without_copy`]).
pub fn add_to_linker<T: KvState + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    key_value::add_to_linker::<T, Kv>(linker, T::kv)?;
    add_get_without_copy(linker)
}

/// Marker type giving the generated bindings a store's [`KvView`].
struct Kv;

/// What the key-value functions of one instance see.
pub struct KvView<'a> {
    /// The instance's resources.
    pub table: &'a mut ResourceTable,
    /// The cache.
    pub kv: &'a Arc<dyn KvBackend>,
}

impl std::fmt::Debug for KvView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvView").finish_non_exhaustive()
    }
}

impl HasData for Kv {
    type Data<'a> = KvView<'a>;
}

impl Host for KvView<'_> {}

impl HostStore for KvView<'_> {
    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl<U> HostStoreWithStore<U> for Kv {
    async fn open(
        accessor: &Accessor<U, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<OpenStore>, Error>> {
        if label != DEFAULT_LABEL {
            return Ok(Err(Error::NoSuchStore));
        }
        accessor.with(|mut access| Ok(Ok(access.get().table.push(OpenStore)?)))
    }

    /// Linked in place of this one by [`add_get_without_copy`]; the trait still asks for it.
    async fn get(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let kv = backend(accessor);
        Ok(kv
            .get(&key)
            .await
            .map(|v| v.map(|b| b.to_vec()))
            .map_err(other))
    }

    async fn set(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(backend(accessor)
            .set(&key, value.into())
            .await
            .map(|_evicted| ())
            .map_err(other))
    }

    async fn delete(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(backend(accessor).delete(&key).await.map_err(other))
    }

    async fn exists(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        Ok(backend(accessor).exists(&key).await.map_err(other))
    }

    async fn get_keys(
        _: &Accessor<U, Self>,
        _: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        // The edge never lists its cache; a cache of 300 KB records has no use for it.
        wasmtime::bail!("spin:key-value get-keys is not supported by the tiergate host")
    }
}

/// Links `store.get` again, over the generated binding: that one answers with a `Vec<u8>`,
/// so every cache hit was copied out of the cache and then again into the guest. This one
/// lends wasmtime the cached `Bytes` for its one copy into guest memory. (On a 300 KB
/// record, the extra copy was a sixth of the host's CPU time per hit.)
fn add_get_without_copy<T: KvState + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = linker.instance(INTERFACE).and_then(|mut instance| {
        instance.func_wrap_concurrent(
            "[method]store.get",
            move |accessor: &Accessor<T>, (_, key): (Resource<OpenStore>, String)| {
                Box::pin(async move {
                    let kv = accessor.with(|mut access| access.get().kv().kv.clone());
                    Ok((kv.get(&key).await.map_err(other),))
                })
            },
        )
    });
    linker.allow_shadowing(false);
    linked
}

fn backend<U>(accessor: &Accessor<U, Kv>) -> Arc<dyn KvBackend> {
    accessor.with(|mut access| access.get().kv.clone())
}

fn other(e: KvError) -> Error {
    Error::Other(e.to_string())
}
