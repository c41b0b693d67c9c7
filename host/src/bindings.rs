//! Host bindings of the `tiergate:edge/edge-host` world (`wit/edge.wit`): the imports the
//! tiergate host provides itself. WASI and `wasi:http/{types,client}` come from wasmtime.
//! Every function in the world is a WIT `async func`, so each is implemented on a marker
//! type with access to the store (`HostWithStore`), and never holds the store while it waits.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tiergate:edge/edge-host",
    // Host errors (a missing resource, say) trap the instance instead of reaching the guest.
    imports: { default: trappable },
    with: {
        "wasi:http/types": wasmtime_wasi_http::p3::bindings::http::types,
        "spin:key-value/key-value.store": crate::host_kv::OpenStore,
    },
});
