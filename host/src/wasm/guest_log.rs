//! The components' stderr, as the host's log: each line a component writes becomes a
//! warning (they write only about failures), structured like every other line and tagged
//! with the component, instead of raw bytes interleaved with the host's JSON.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept; the rest of a longer one is dropped rather than buffered.
const MAX_LINE: usize = 8 * 1024;

/// One instance's stderr. Every stream the guest opens shares the line buffer, since a
/// guest may write one line through several.
#[derive(Clone, Debug)]
pub struct GuestLog {
    component: &'static str,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl GuestLog {
    /// The stderr of an instance of `component`.
    pub fn new(component: &'static str) -> Self {
        Self {
            component,
            pending: Arc::default(),
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for &b in bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&pending);
                tracing::warn!(target: "tiergate::guest", component = self.component, "{}", line.trim_end());
                pending.clear();
            } else if pending.len() < MAX_LINE {
                pending.push(b);
            }
        }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
