//! The value stored in the edge KV cache for one record.
//!
//! Edge KV stores (Spin, Fermyon, Akamai) have no TTL, so the expiry travels inside the
//! value and the edge enforces it. The layout is a small binary header followed by the body
//! as it is, so that a cache hit is one KV read and a slice, with no parsing of the body:
//!
//! ```text
//! "TGC1" | expires_at: u64 LE (unix seconds) | etag_len: u8 | etag | type_len: u8 | content type | body
//! ```

use crate::ETag;

const MAGIC: &[u8; 4] = b"TGC1";

/// Bytes a cache entry adds to the record body at most: KV value limits must leave room.
pub const MAX_OVERHEAD: usize = MAGIC.len() + 8 + 1 + 255 + 1 + 255;

/// A decoded cache entry, borrowing from the stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry<'a> {
    /// When the entry stops being served, in unix seconds.
    pub expires_at: u64,
    /// The record's entity tag.
    pub etag: ETag,
    /// The record's content type.
    pub content_type: &'a str,
    /// The record's bytes.
    pub body: &'a [u8],
}

/// Why a stored value is not a cache entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheEntryError {
    /// The value was not written by this version of tiergate.
    #[error("cache value has no tiergate header (written by another program or version)")]
    Foreign,
    /// The value ends inside its header.
    #[error("cache value is truncated")]
    Truncated,
    /// A header field is not UTF-8.
    #[error("cache value header is not UTF-8")]
    NotUtf8,
}

impl<'a> CacheEntry<'a> {
    /// Encodes an entry into the value to store. Content types and tags longer than 255 bytes
    /// are not cacheable; the caller gets `None` and serves without caching.
    pub fn encode(
        body: &[u8],
        content_type: &str,
        etag: &ETag,
        expires_at: u64,
    ) -> Option<Vec<u8>> {
        let etag_len = u8::try_from(etag.as_str().len()).ok()?;
        let type_len = u8::try_from(content_type.len()).ok()?;
        let mut out = Vec::with_capacity(14 + etag_len as usize + type_len as usize + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&expires_at.to_le_bytes());
        out.push(etag_len);
        out.extend_from_slice(etag.as_str().as_bytes());
        out.push(type_len);
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(body);
        Some(out)
    }

    /// Decodes a stored value.
    pub fn decode(value: &'a [u8]) -> Result<Self, CacheEntryError> {
        let rest = value.strip_prefix(MAGIC).ok_or(CacheEntryError::Foreign)?;
        let (expires, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(CacheEntryError::Truncated)?;
        let (etag, rest) = length_prefixed(rest)?;
        let (content_type, body) = length_prefixed(rest)?;
        Ok(Self {
            expires_at: u64::from_le_bytes(*expires),
            etag: ETag::from_quoted(etag),
            content_type,
            body,
        })
    }

    /// Whether the entry may still be served at `now` (unix seconds).
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.expires_at
    }
}

fn length_prefixed(bytes: &[u8]) -> Result<(&str, &[u8]), CacheEntryError> {
    let (&len, rest) = bytes.split_first().ok_or(CacheEntryError::Truncated)?;
    if rest.len() < len as usize {
        return Err(CacheEntryError::Truncated);
    }
    let (field, rest) = rest.split_at(len as usize);
    let field = std::str::from_utf8(field).map_err(|_| CacheEntryError::NotUtf8)?;
    Ok((field, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_body_and_metadata() {
        let body = vec![7u8; 300_000];
        let etag = ETag::of(&body);
        let value = CacheEntry::encode(&body, "application/json", &etag, 1_000).unwrap();
        let entry = CacheEntry::decode(&value).unwrap();
        assert_eq!(entry.body, &body[..]);
        assert_eq!(entry.content_type, "application/json");
        assert_eq!(entry.etag, etag);
        assert_eq!(value.len() - body.len(), 14 + etag.as_str().len() + 16);
    }

    #[test]
    fn freshness_ends_at_expiry() {
        let value = CacheEntry::encode(b"x", "t", &ETag::of(b"x"), 100).unwrap();
        let entry = CacheEntry::decode(&value).unwrap();
        assert!(entry.is_fresh(99));
        assert!(!entry.is_fresh(100));
    }

    #[test]
    fn foreign_and_truncated_values_are_refused() {
        assert_eq!(CacheEntry::decode(b"hello"), Err(CacheEntryError::Foreign));
        let value = CacheEntry::encode(b"x", "text/plain", &ETag::of(b"x"), 1).unwrap();
        assert_eq!(
            CacheEntry::decode(&value[..20]),
            Err(CacheEntryError::Truncated)
        );
    }

    #[test]
    fn overlong_content_type_is_not_cacheable() {
        assert_eq!(
            CacheEntry::encode(b"x", &"t".repeat(256), &ETag::of(b"x"), 1),
            None
        );
    }
}
