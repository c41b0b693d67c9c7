//! The log filter: the operator's directives, with the targets that would print secrets
//! held back whatever the directives say.

use tracing_subscriber::EnvFilter;

/// Targets capped at a level that prints no request data. wasmtime's generated WASI
/// bindings trace every call with its arguments, signed URLs included, and its stream
/// workers log every write of a guest at debug; the demo's embedded S3 store logs the
/// signed URLs it receives at debug. A directive names the level a target logs at, so the
/// cap is `info`: naming `debug` here would turn those lines on at the default level.
const HELD_BACK: &[&str] = &["wasmtime_wasi=info", "wasmtime_wasi_http=info", "s3s=info"];

/// A filter from `directives` (`RUST_LOG` syntax; invalid ones are ignored).
pub fn filter(directives: &str) -> EnvFilter {
    HELD_BACK
        .iter()
        .fold(EnvFilter::new(directives), |filter, held| {
            filter.add_directive(held.parse().expect("a valid directive"))
        })
}

#[cfg(test)]
mod tests {
    use super::filter;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// What a subscriber with `directives` prints of a few typical lines.
    fn printed(directives: &str) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(directives))
            .with_writer(captured.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "wasmtime_wasi::p2::write_stream", "worker writing: secret");
            tracing::trace!(target: "wasmtime_wasi_http::bindings", "url=signed");
            tracing::debug!(target: "s3s::ops", "signed url");
            tracing::info!(target: "tiergate::guest", "guest line");
            tracing::debug!(target: "tiergate::serve", "host detail");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_default_level_prints_no_wasi_stream_lines() {
        let out = printed("info");
        assert!(out.contains("guest line"), "{out}");
        assert!(!out.contains("worker writing"), "{out}");
        assert!(!out.contains("host detail"), "{out}");
    }

    #[test]
    fn held_back_targets_stay_quiet_at_trace() {
        let out = printed("trace");
        assert!(out.contains("host detail"), "{out}");
        for secret in ["worker writing", "url=signed", "signed url"] {
            assert!(!out.contains(secret), "{secret} printed: {out}");
        }
    }
}
