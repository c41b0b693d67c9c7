//! Record ids: the only part of a request path that reaches storage keys, so they are
//! checked before any I/O.

use std::fmt;

/// Longest id accepted. Billing ids are short; the bound keeps KV keys and blob keys well
/// under every store's key limit (Spin KV: 255 bytes, S3: 1024, Azure: 1024).
pub const MAX_LEN: usize = 128;

/// A validated record id: 1 to [`MAX_LEN`] characters from `A-Z a-z 0-9 . _ ~ -`, not
/// starting with a dot (so it can never be `.` or `..` inside a key path).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordId(String);

/// Why a string is not a record id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordIdError {
    /// The id is empty.
    #[error("record id is empty")]
    Empty,
    /// The id is longer than [`MAX_LEN`].
    #[error("record id is {0} characters long; the limit is {MAX_LEN}")]
    TooLong(usize),
    /// The id holds a character outside the allowed set.
    #[error("record id contains {0:?}; allowed are A-Z a-z 0-9 . _ ~ -")]
    BadCharacter(char),
    /// The id starts with a dot.
    #[error("record id must not start with '.'")]
    LeadingDot,
}

impl RecordId {
    /// Checks `raw` and wraps it.
    pub fn parse(raw: &str) -> Result<Self, RecordIdError> {
        if raw.is_empty() {
            return Err(RecordIdError::Empty);
        }
        if raw.len() > MAX_LEN {
            return Err(RecordIdError::TooLong(raw.chars().count()));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')))
        {
            return Err(RecordIdError::BadCharacter(bad));
        }
        if raw.starts_with('.') {
            return Err(RecordIdError::LeadingDot);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of this record's entry in the edge KV cache.
    pub fn cache_key(&self) -> String {
        format!("record:{}", self.0)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_billing_style_ids() {
        for id in ["INV-2024-000042", "a", "cust_9.v2~x", &"x".repeat(MAX_LEN)] {
            assert_eq!(RecordId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_each_kind_of_bad_id_precisely() {
        assert_eq!(RecordId::parse(""), Err(RecordIdError::Empty));
        assert_eq!(
            RecordId::parse(&"x".repeat(MAX_LEN + 1)),
            Err(RecordIdError::TooLong(MAX_LEN + 1))
        );
        assert_eq!(
            RecordId::parse("a/b"),
            Err(RecordIdError::BadCharacter('/'))
        );
        assert_eq!(
            RecordId::parse("a%2Fb"),
            Err(RecordIdError::BadCharacter('%'))
        );
        assert_eq!(RecordId::parse("é"), Err(RecordIdError::BadCharacter('é')));
        assert_eq!(RecordId::parse(".."), Err(RecordIdError::LeadingDot));
    }

    #[test]
    fn cache_key_is_namespaced() {
        assert_eq!(
            RecordId::parse("INV-1").unwrap().cache_key(),
            "record:INV-1"
        );
    }
}
