//! The log filter: the operator's directives, with the targets that would print secrets
//! held back whatever the directives say.

use tracing_subscriber::EnvFilter;

/// Targets capped at a level that prints no request data. wasmtime's generated WASI
/// bindings trace every call with its arguments, signed URLs included; the demo's embedded
/// S3 store logs the signed URLs it receives at debug.
const HELD_BACK: &[&str] = &[
    "wasmtime_wasi=debug",
    "wasmtime_wasi_http=debug",
    "s3s=info",
];

/// A filter from `directives` (`RUST_LOG` syntax; invalid ones are ignored).
pub fn filter(directives: &str) -> EnvFilter {
    HELD_BACK
        .iter()
        .fold(EnvFilter::new(directives), |filter, held| {
            filter.add_directive(held.parse().expect("a valid directive"))
        })
}
