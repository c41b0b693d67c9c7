//! Request ids: one per request, in the host's log lines, passed to the origin and returned
//! to the client in `x-request-id`, so one request can be followed through every log.

use http::{HeaderMap, HeaderValue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header that carries the id.
pub(super) const HEADER: &str = "x-request-id";

/// Longest client-supplied id that is kept.
const MAX_LEN: usize = 128;

/// Hands out request ids: `<process>-<n>`, unique within a process and, by the process
/// part, across restarts and replicas in practice.
#[derive(Debug)]
pub(super) struct RequestIds {
    process: u32,
    next: AtomicU64,
}

impl RequestIds {
    /// A new sequence.
    pub(super) fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // Mixing in the pid keeps two processes started in the same instant apart.
        let process = (nanos ^ u64::from(std::process::id()).rotate_left(32))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self {
            process: (process >> 32) as u32,
            next: AtomicU64::new(1),
        }
    }

    /// The client's id when it sent a usable one (a proxy in front may have set it), else a
    /// new one.
    pub(super) fn for_request(&self, headers: &HeaderMap) -> HeaderValue {
        match headers.get(HEADER) {
            Some(id) if usable(id.as_bytes()) => id.clone(),
            _ => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                HeaderValue::from_str(&format!("{:08x}-{n}", self.process))
                    .expect("hex digits and a number are a valid header value")
            }
        }
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a client's id can go into logs as it is: short, and only characters that
/// cannot forge a log line or a field.
fn usable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_sane_client_id_and_replaces_others() {
        let ids = RequestIds::new();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
            ids.for_request(&headers)
        };
        assert_eq!(with("req-42:a.b_c"), "req-42:a.b_c");
        for bad in ["", "a b", "x\"y", "a=b", &"x".repeat(MAX_LEN + 1)] {
            assert_ne!(with(bad), bad, "{bad:?} is replaced");
        }
    }

    #[test]
    fn new_ids_differ() {
        let ids = RequestIds::new();
        let a = ids.for_request(&HeaderMap::new());
        let b = ids.for_request(&HeaderMap::new());
        assert_ne!(a, b);
        assert!(usable(a.as_bytes()), "{a:?}");
    }
}
