//! The one host context, the data of every component instance's store, and the one linker
//! setup over it.
//!
//! Each capability adds itself to a linker for any store data that can give a view of it,
//! in the style of wasmtime's `WasiHttpView` and `add_to_linker`: [`HostContext`] gives
//! every view, and [`linker`] adds what both components import. What only one component
//! imports (the edge's next hop, the archiver's hot store) is added by `serve` or `archive`
//! on top, from the part of the context that is that component's own.
//!
//! May use: `wasm`, `kv`. Used by: `serve`, `archive`.

use crate::kv::KvBackend;
use crate::kv::import::{KvState, KvView};
use crate::wasm::guest_log::GuestLog;
use crate::wasm::outbound::Outbound;
use crate::wasm::variables::VariablesState;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::Engine;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The data of one instance's store: what every import needs (WASI, HTTP, the cache, the
/// settings), and `component`, what only this component's own imports need (the edge's
/// next hop, the archiver's run).
pub struct HostContext<C> {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    outbound: Outbound,
    kv: Arc<dyn KvBackend>,
    variables: Arc<HashMap<String, String>>,
    /// This component's own part.
    pub component: C,
}

impl<C> HostContext<C> {
    /// The context of a new instance of `name` (which tags its log lines), sending
    /// outbound requests by `outbound`, with the cache `kv` and the settings `variables`.
    pub fn new(
        name: &'static str,
        outbound: Outbound,
        kv: Arc<dyn KvBackend>,
        variables: Arc<HashMap<String, String>>,
        component: C,
    ) -> Self {
        Self {
            wasi: WasiCtx::builder().stderr(GuestLog::new(name)).build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound,
            kv,
            variables,
            component,
        }
    }
}

impl<C> std::fmt::Debug for HostContext<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostContext")
            .field("outbound", &self.outbound)
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<C: Send> WasiView for HostContext<C> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl<C: Send> WasiHttpView for HostContext<C> {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl<C: Send> KvState for HostContext<C> {
    fn kv(&mut self) -> KvView<'_> {
        KvView {
            table: &mut self.table,
            kv: &self.kv,
        }
    }
}

impl<C: Send> VariablesState for HostContext<C> {
    fn variables(&self) -> &HashMap<String, String> {
        &self.variables
    }
}

/// A linker with what both components import: WASI (p2 for Rust's std, p3 for HTTP),
/// `wasi:http/{types,client}`, the key-value cache and the settings.
pub fn linker<C: Send + 'static>(engine: &Engine) -> wasmtime::Result<Linker<HostContext<C>>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    crate::kv::import::add_to_linker(&mut linker)?;
    crate::wasm::variables::add_to_linker(&mut linker)?;
    Ok(linker)
}
