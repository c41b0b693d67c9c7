//! The checks the tests make over and over, with failure messages that name the record and
//! the tier and never dump 300 KB of body.

use crate::client::Reply;
use tiergate_core::ETag;

/// Asserts that `actual` is `expected`, byte for byte; `what` says whose bytes they are.
#[track_caller]
pub fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first_difference = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    panic!(
        "{what}: {} bytes, expected {}; first difference at byte {first_difference}",
        actual.len(),
        expected.len()
    );
}

/// Asserts that `reply` serves record `id` as `expected` from tier `source` (`cache`, `blob`
/// or `origin`): 200, `x-tiergate-source`, the etag of the bytes, the bytes themselves.
#[track_caller]
pub fn assert_served(reply: &Reply, id: &str, source: &str, expected: &[u8]) {
    assert_eq!(
        (reply.status.as_u16(), reply.source()),
        (200, Some(source)),
        "record {id} should be served from {source}; body: {}",
        excerpt(reply)
    );
    assert_eq!(
        reply.header("etag"),
        Some(ETag::of(expected).as_str()),
        "etag of record {id} from {source}"
    );
    assert_same_bytes(&reply.body, expected, &format!("record {id} from {source}"));
}

/// Asserts that `reply` is tiergate's own answer for a tier outage while reading record
/// `id`: 502, 503 or 504 with a body that says so, never a 404 or an origin's answer.
#[track_caller]
pub fn assert_tier_outage(reply: &Reply, id: &str) {
    assert!(
        matches!(reply.status.as_u16(), 502..=504),
        "record {id} with tiers down should be 502/503/504, got {} (source {:?}): {}",
        reply.status,
        reply.source(),
        excerpt(reply)
    );
    assert!(
        reply.text().starts_with("tiergate: "),
        "record {id} with tiers down: body should be tiergate's explanation, got: {}",
        excerpt(reply)
    );
}

/// The start of the body, for messages.
pub fn excerpt(reply: &Reply) -> String {
    let text = reply.text();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], reply.body.len()),
        None => text,
    }
}

/// Asserts that `reply` is the edge's refusal of another customer's record: 404 with the
/// same body as for a record that does not exist, so that it confirms nothing.
#[track_caller]
pub fn assert_refused_as_missing(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        http::StatusCode::NOT_FOUND,
        "{what}: {}",
        excerpt(reply)
    );
    assert_eq!(reply.text(), "tiergate: no such record\n", "{what}");
}
