//! Host bindings of tiergate's two worlds: the imports the tiergate host provides itself.
//! WASI and `wasi:http/{types,client}` come from wasmtime. Every function in the worlds is a
//! WIT `async func`, so each is implemented on a marker type with access to the store
//! (`HostWithStore`), and never holds the store while it waits.

// Generated code: the WIT files (`wit/`) document what it holds.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tiergate:records/edge-host",
    // Host errors (a missing resource, say) trap the instance instead of reaching the guest.
    imports: { default: trappable },
    with: {
        "wasi:http/types": wasmtime_wasi_http::p3::bindings::http::types,
        "spin:key-value/key-value.store": OpenStore,
    },
});

/// An open key-value store: the guest's handle to the host's cache. It carries nothing,
/// since the host serves one store (`kv::import`).
#[derive(Debug)]
pub struct OpenStore;

/// Host bindings of the `tiergate:records/archiver` world (`wit/archiver.wit`): the
/// `hot-store` and `digest` imports and the `archival` export. The Spin interfaces it shares
/// with the edge are the ones generated above, so one implementation serves both components.
pub mod archiver {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "tiergate:records/archiver",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasi:http/types": wasmtime_wasi_http::p3::bindings::http::types,
            "wasi:http/client": wasmtime_wasi_http::p3::bindings::http::client,
            "spin:key-value/key-value": crate::wasm::bindings::spin::key_value::key_value,
            "spin:variables/variables": crate::wasm::bindings::spin::variables::variables,
        },
    });
}
