//! `spin:key-value/key-value@3.0.0` over the configured [`KvBackend`].

use crate::bindings::spin::key_value::key_value::{Error, Host, HostStore, HostStoreWithStore};
use crate::kv::{KvBackend, KvError};
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

/// The only store label the host serves, as in Spin's default configuration.
const DEFAULT_LABEL: &str = "default";

/// An open store: the guest's handle to the backend.
pub struct OpenStore;

/// Marker type giving the generated bindings a store's [`KvView`].
pub struct Kv;

/// What the key-value functions of one instance see.
pub struct KvView<'a> {
    /// The instance's resources.
    pub table: &'a mut ResourceTable,
    /// The cache.
    pub kv: &'a Arc<dyn KvBackend>,
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

    async fn get(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let kv = backend(accessor);
        Ok(kv.get(&key).map(|v| v.map(|b| b.to_vec())).map_err(other))
    }

    async fn set(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(backend(accessor).set(&key, value.into()).map_err(other))
    }

    async fn delete(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        Ok(backend(accessor).delete(&key).map_err(other))
    }

    async fn exists(
        accessor: &Accessor<U, Self>,
        _: Resource<OpenStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        Ok(backend(accessor).exists(&key).map_err(other))
    }

    async fn get_keys(
        _: &Accessor<U, Self>,
        _: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), Error>>)> {
        // The edge never lists its cache; a cache of 300 KB records has no use for it.
        wasmtime::bail!("spin:key-value get-keys is not supported by the tiergate host")
    }
}

fn backend<U>(accessor: &Accessor<U, Kv>) -> Arc<dyn KvBackend> {
    accessor.with(|mut access| access.get().kv.clone())
}

fn other(e: KvError) -> Error {
    Error::Other(e.to_string())
}
