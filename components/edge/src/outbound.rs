//! Requests the edge sends on its own (blob reads, restores, the issuer's keys, access
//! checks), each bounded by one timeout.

use spin_sdk::wasip3::http::types::RequestOptions;
use spin_sdk::wasip3::http_compat::RequestOptionsExtension;
use std::time::Duration;

/// The request extension that bounds the connection, the first byte and every gap between
/// bytes by `timeout`. A host that cannot enforce timeouts still sends; the request is just
/// not bounded.
pub(crate) fn bounded(timeout: Duration) -> RequestOptionsExtension {
    let options = RequestOptions::new();
    let nanos = Some(timeout.as_nanos() as u64);
    let _ = options.set_connect_timeout(nanos);
    let _ = options.set_first_byte_timeout(nanos);
    let _ = options.set_between_bytes_timeout(nanos);
    RequestOptionsExtension(options)
}
