//! The value stored in the edge KV cache for one record.
//!
//! Edge KV stores (Spin, Fermyon, Akamai) have no TTL, so the expiry travels inside the
//! value and the edge enforces it. The body comes first, as it is, and a small binary trailer
//! follows it, so that a cache hit is one KV read and a truncation: the value the host handed
//! the guest becomes the response body without a copy.
//!
//! ```text
//! body | etag | content type | owner | etag_len: u8 | type_len: u8 | owner_len: u8
//!      | has_owner: u8 | expires_at: u64 LE (unix seconds) | "TGC3"
//! ```
//!
//! The owner is the record's owner as the tier that filled the entry had it (an archived
//! copy's metadata, or the host's answer for a record still hot), when access is checked by
//! an owner column: a hit is checked by the same rule as the tier it came from.

use crate::{ETag, RecordFacts, Source};

const MAGIC: &[u8; 4] = b"TGC3";
/// etag_len, type_len, owner_len, has_owner, expires_at, magic.
const FIXED: usize = 1 + 1 + 1 + 1 + 8 + MAGIC.len();

/// Bytes a cache entry adds to the record body at most: KV value limits must leave room.
pub const MAX_OVERHEAD: usize = 255 + 255 + 255 + FIXED;

/// A decoded cache entry, borrowing from the stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry<'a> {
    /// When the entry stops being served, in unix seconds.
    pub expires_at: u64,
    /// The record's entity tag.
    pub etag: ETag,
    /// The record's content type.
    pub content_type: &'a str,
    /// The record's owner, when the entry was filled with one.
    pub owner: Option<&'a str>,
    /// The record's bytes: the start of the stored value.
    pub body: &'a [u8],
}

/// Why a stored value is not a cache entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheEntryError {
    /// The value was not written by this version of tiergate.
    #[error("cache value has no tiergate trailer (written by another program or version)")]
    Foreign,
    /// The value is shorter than its trailer says.
    #[error("cache value is truncated")]
    Truncated,
    /// A trailer field is not UTF-8.
    #[error("cache value trailer is not UTF-8")]
    NotUtf8,
}

impl<'a> CacheEntry<'a> {
    /// Encodes an entry into the value to store. Content types, tags and owners longer than
    /// 255 bytes are not cacheable; the caller gets `None` and serves without caching.
    pub fn encode(
        body: &[u8],
        content_type: &str,
        etag: &ETag,
        owner: Option<&str>,
        expires_at: u64,
    ) -> Option<Vec<u8>> {
        let etag_len = u8::try_from(etag.as_str().len()).ok()?;
        let type_len = u8::try_from(content_type.len()).ok()?;
        let owner_len = u8::try_from(owner.map_or(0, str::len)).ok()?;
        let mut out = Vec::with_capacity(
            body.len() + etag_len as usize + type_len as usize + owner_len as usize + FIXED,
        );
        out.extend_from_slice(body);
        out.extend_from_slice(etag.as_str().as_bytes());
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(owner.unwrap_or_default().as_bytes());
        out.extend_from_slice(&[etag_len, type_len, owner_len, u8::from(owner.is_some())]);
        out.extend_from_slice(&expires_at.to_le_bytes());
        out.extend_from_slice(MAGIC);
        Some(out)
    }

    /// Decodes a stored value.
    pub fn decode(value: &'a [u8]) -> Result<Self, CacheEntryError> {
        let rest = value.strip_suffix(MAGIC).ok_or(CacheEntryError::Foreign)?;
        let (rest, expires) = rest
            .split_last_chunk::<8>()
            .ok_or(CacheEntryError::Truncated)?;
        let (rest, &[etag_len, type_len, owner_len, has_owner]) = rest
            .split_last_chunk::<4>()
            .ok_or(CacheEntryError::Truncated)?;
        let (rest, owner) = field_at_end(rest, owner_len)?;
        let (rest, content_type) = field_at_end(rest, type_len)?;
        let (body, etag) = field_at_end(rest, etag_len)?;
        Ok(Self {
            expires_at: u64::from_le_bytes(*expires),
            etag: ETag::from_quoted(etag),
            content_type,
            owner: (has_owner != 0).then_some(owner),
            body,
        })
    }

    /// The entry stored `value` holds, if it may still be served at `now` (unix seconds):
    /// how the edge and the host's hit path both read the cache. An error means the value
    /// is not an entry at all, and is best dropped.
    pub fn fresh(value: &'a [u8], now: u64) -> Result<Option<Self>, CacheEntryError> {
        let entry = Self::decode(value)?;
        Ok(entry.is_fresh(now).then_some(entry))
    }

    /// Whether the entry may still be served at `now` (unix seconds).
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// The record as the cache holds it, to answer a read with
    /// ([`ReadRequest::answer`](crate::ReadRequest::answer)): its bytes as they are.
    pub fn facts(&self) -> RecordFacts<'_> {
        RecordFacts {
            source: Source::Cache,
            etag: &self.etag,
            content_type: self.content_type,
            size: self.body.len(),
            stored: None,
        }
    }
}

/// Splits the last `len` bytes off `bytes`, as text.
fn field_at_end(bytes: &[u8], len: u8) -> Result<(&[u8], &str), CacheEntryError> {
    let at = bytes
        .len()
        .checked_sub(len as usize)
        .ok_or(CacheEntryError::Truncated)?;
    let (rest, field) = bytes.split_at(at);
    let field = std::str::from_utf8(field).map_err(|_| CacheEntryError::NotUtf8)?;
    Ok((rest, field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_body_and_metadata() {
        let body = vec![7u8; 300_000];
        let etag = ETag::of(&body);
        let value = CacheEntry::encode(&body, "application/json", &etag, None, 1_000).unwrap();
        let entry = CacheEntry::decode(&value).unwrap();
        assert_eq!(entry.body, &body[..]);
        assert_eq!(entry.content_type, "application/json");
        assert_eq!(entry.etag, etag);
        assert_eq!(value.len() - body.len(), etag.as_str().len() + 16 + FIXED);
        assert_eq!(entry.owner, None);
    }

    #[test]
    fn the_body_is_the_start_of_the_value() {
        let value = CacheEntry::encode(b"{\"id\":1}", "t", &ETag::of(b"x"), None, 1).unwrap();
        assert!(value.starts_with(b"{\"id\":1}"));
    }

    #[test]
    fn freshness_ends_at_expiry() {
        let value = CacheEntry::encode(b"x", "t", &ETag::of(b"x"), None, 100).unwrap();
        let entry = CacheEntry::decode(&value).unwrap();
        assert!(entry.is_fresh(99));
        assert!(!entry.is_fresh(100));
    }

    #[test]
    fn only_a_fresh_entry_is_served() {
        let value = CacheEntry::encode(b"x", "t", &ETag::of(b"x"), None, 100).unwrap();
        assert!(CacheEntry::fresh(&value, 99).unwrap().is_some());
        assert_eq!(CacheEntry::fresh(&value, 100), Ok(None));
        assert_eq!(
            CacheEntry::fresh(b"hello", 0),
            Err(CacheEntryError::Foreign)
        );
    }

    #[test]
    fn an_entry_is_served_as_the_caches_record_of_its_body() {
        let etag = ETag::of(b"{\"id\":1}");
        let value = CacheEntry::encode(b"{\"id\":1}", "application/json", &etag, None, 1).unwrap();
        let entry = CacheEntry::decode(&value).unwrap();
        let facts = entry.facts();
        assert_eq!(
            (
                facts.source,
                facts.etag,
                facts.content_type,
                facts.size,
                facts.stored
            ),
            (Source::Cache, &etag, "application/json", 8, None)
        );
    }

    #[test]
    fn foreign_and_truncated_values_are_refused() {
        assert_eq!(CacheEntry::decode(b"hello"), Err(CacheEntryError::Foreign));
        let value = CacheEntry::encode(b"x", "text/plain", &ETag::of(b"x"), None, 1).unwrap();
        assert_eq!(
            CacheEntry::decode(&value[value.len() - 20..]),
            Err(CacheEntryError::Truncated)
        );
    }

    #[test]
    fn values_of_earlier_layouts_are_foreign() {
        for magic in [b"TGC1", b"TGC2"] {
            let mut old = vec![0; 40];
            old.extend_from_slice(magic);
            assert_eq!(CacheEntry::decode(&old), Err(CacheEntryError::Foreign));
        }
    }

    #[test]
    fn an_owner_round_trips_and_none_differs_from_empty() {
        let etag = ETag::of(b"x");
        for owner in [None, Some(""), Some("CUST-42")] {
            let value = CacheEntry::encode(b"x", "t", &etag, owner, 1).unwrap();
            let entry = CacheEntry::decode(&value).unwrap();
            assert_eq!(
                (entry.owner, entry.body, entry.content_type),
                (owner, &b"x"[..], "t")
            );
        }
        assert_eq!(
            CacheEntry::encode(b"x", "t", &etag, Some(&"o".repeat(256)), 1),
            None
        );
    }

    #[test]
    fn overlong_content_type_is_not_cacheable() {
        assert_eq!(
            CacheEntry::encode(b"x", &"t".repeat(256), &ETag::of(b"x"), None, 1),
            None
        );
    }
}
