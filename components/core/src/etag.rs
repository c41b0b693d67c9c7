//! Entity tags: derived from the SHA-256 of the record's bytes, so a record has the same
//! tag whichever tier serves it.

use crate::digest::sha256_hex;

/// A strong entity tag, quoted as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of a body with this SHA-256 (hex).
    pub fn from_sha256_hex(hex: &str) -> Self {
        // 128 bits of the hash are plenty to tell versions of one record apart.
        Self(format!("\"{}\"", &hex[..hex.len().min(32)]))
    }

    /// The tag of `body`.
    pub fn of(body: &[u8]) -> Self {
        Self::from_sha256_hex(&sha256_hex(body))
    }

    /// Wraps a tag read back from storage (already quoted).
    pub fn from_quoted(quoted: &str) -> Self {
        Self(quoted.to_owned())
    }

    /// The quoted tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an `if-none-match` header value matches this tag (weak comparison, as
    /// RFC 9110 asks for `if-none-match`).
    pub fn matches_if_none_match(&self, header: &str) -> bool {
        let ours = self.0.trim_start_matches("W/");
        header
            .split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_depends_only_on_the_bytes() {
        assert_eq!(ETag::of(b"abc"), ETag::of(b"abc"));
        assert_ne!(ETag::of(b"abc"), ETag::of(b"abd"));
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
        assert_eq!(
            ETag::of(b"abc").as_str(),
            "\"ba7816bf8f01cfea414140de5dae2223\""
        );
    }

    #[test]
    fn if_none_match_handles_lists_weak_tags_and_star() {
        let tag = ETag::of(b"abc");
        let t = tag.as_str();
        assert!(tag.matches_if_none_match(t));
        assert!(tag.matches_if_none_match(&format!("\"x\", W/{t}")));
        assert!(tag.matches_if_none_match("*"));
        assert!(!tag.matches_if_none_match("\"x\""));
        assert!(!tag.matches_if_none_match(""));
    }
}
