//! The one place that knows where a record lives in blob storage.

use crate::RecordId;
use sha2::{Digest, Sha256};
use std::fmt;

/// The object key of a record: `records/{hhhh}/{id}`, where `hhhh` is the first four hex
/// digits of the SHA-256 of the id. Deterministic, so the edge finds an archived record with
/// no index; the hash prefix spreads sequential ids over storage partitions.
///
/// A copy is first written under the record's staging key, `staged/{hhhh}/{id}`, which the
/// edge never reads: while the hot row exists its content wins, so a copy may not answer
/// for it. The copy is published under the record key in the step that deletes the row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// The key for `id`.
    pub fn for_record(id: &RecordId) -> Self {
        let digest = Sha256::digest(id.as_str().as_bytes());
        Self(format!("records/{}/{}", hex::encode(&digest[..2]), id))
    }

    /// The staging key for `id`: where the archiver writes a copy the edge must not serve
    /// yet.
    pub fn staged_for_record(id: &RecordId) -> Self {
        let digest = Sha256::digest(id.as_str().as_bytes());
        Self(format!("staged/{}/{}", hex::encode(&digest[..2]), id))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_prefixed_by_the_id_hash() {
        let id = RecordId::parse("INV-42").unwrap();
        let key = BlobKey::for_record(&id);
        // Pinned: archived objects are found by this layout, so it must never drift.
        assert_eq!(key.as_str(), "records/45b4/INV-42");
        assert_eq!(key, BlobKey::for_record(&id));
        assert_eq!(
            BlobKey::staged_for_record(&id).as_str(),
            "staged/45b4/INV-42"
        );
    }

    #[test]
    fn neighbouring_ids_spread_over_prefixes() {
        let prefixes: std::collections::HashSet<_> = (0..100)
            .map(|n| {
                let id = RecordId::parse(&format!("INV-{n:06}")).unwrap();
                BlobKey::for_record(&id).as_str()[8..12].to_owned()
            })
            .collect();
        assert!(
            prefixes.len() > 90,
            "only {} distinct prefixes",
            prefixes.len()
        );
    }
}
