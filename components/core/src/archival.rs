//! The archival protocol's decisions, for the archiver component to act on: what a copy
//! holds, whether a read-back copy is the record, which storage answers are worth a retry,
//! and what a guarded delete leaves to do. The steps and their order are in
//! docs/architecture.md ("Archival"); the states in [`crate::ledger`].

use crate::digest::sha256_hex;
use crate::{BlobKey, Encoding, ObjectMeta, RecordId};
use std::time::Duration;

/// The content type of records whose table keeps none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// The largest record the components hold in memory whole: the edge reading an origin's
/// answer or a blob object, the archiver copying a row. Far above billing records (300 KB)
/// and well within an instance's 256 MiB with the buffers around one. Larger records stay
/// in the hot database, and the edge passes the origin's answer on as it streams.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// What the ledger keeps about a record's blob copy, and what a read-back must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFacts {
    /// Where the copy is.
    pub key: BlobKey,
    /// The record's version the copy was made from.
    pub version: String,
    /// Hex SHA-256 and length of the record's bytes.
    pub sha256: String,
    /// Length of the record's bytes.
    pub size: u64,
    /// Hex SHA-256 of the stored (encoded) bytes.
    pub stored_sha256: String,
    /// Length of the stored bytes.
    pub stored_size: u64,
    /// How the stored bytes encode the record.
    pub encoding: Encoding,
}

/// A record ready to be written: its object's bytes and metadata.
#[derive(Debug)]
pub struct PreparedCopy {
    /// The object's metadata (signed into the PUT).
    pub meta: ObjectMeta,
    /// The object's bytes.
    pub stored: Vec<u8>,
    /// What the ledger will keep once the copy is verified.
    pub facts: CopyFacts,
}

impl PreparedCopy {
    /// Encodes and hashes record `id` at `version`, and proves that the encoded bytes
    /// decode back to `body` exactly (byte for byte, not by hash).
    ///
    /// That proof is what lets [`CopyFacts::check_read_back`] skip decoding: once the
    /// stored bytes are known to decode to the record, a read-back that returns exactly
    /// those stored bytes returns the record. The ledger's `stored_sha256` is taken from the
    /// same bytes, so a later check that finds an object with that hash and size finds
    /// bytes that decode to the record too.
    ///
    /// A record over [`MAX_RECORD_BYTES`] is not copied: the edge would not read it back.
    pub fn prepare(
        id: &RecordId,
        version: &str,
        content_type: Option<&str>,
        body: &[u8],
        encoding: Encoding,
    ) -> Result<Self, PrepareError> {
        if body.len() > MAX_RECORD_BYTES {
            return Err(PrepareError::TooLarge { size: body.len() });
        }
        let meta = ObjectMeta {
            encoding,
            version: Some(version.to_owned()),
            ..ObjectMeta::describe(body, content_type.unwrap_or(DEFAULT_CONTENT_TYPE))
        };
        let stored = encoding.encode(body);
        // Identity is a copy of `body`; every other coding is decoded and compared.
        if encoding != Encoding::Identity {
            let reason = match encoding.decodes_to(&stored, body) {
                Ok(true) => None,
                Ok(false) => Some(format!(
                    "{} bytes do not decode to the record's {} bytes",
                    stored.len(),
                    body.len()
                )),
                Err(e) => Some(e.to_string()),
            };
            if let Some(reason) = reason {
                return Err(EncodingMismatch { encoding, reason }.into());
            }
        }
        let facts = CopyFacts {
            key: BlobKey::for_record(id),
            version: version.to_owned(),
            sha256: meta.sha256.clone(),
            size: meta.size,
            stored_sha256: sha256_hex(&stored),
            stored_size: stored.len() as u64,
            encoding,
        };
        Ok(Self {
            meta,
            stored,
            facts,
        })
    }
}

/// Why a record is not copied; nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// Larger than the components hold in memory whole.
    #[error(
        "the record is {size} bytes, over the {MAX_RECORD_BYTES} bytes the edge reads back \
         from blob storage; it stays in the hot database, served by the API"
    )]
    TooLarge {
        /// The record's length.
        size: usize,
    },
    /// The encoder's output is not the record.
    #[error(transparent)]
    Encoding(#[from] EncodingMismatch),
}

/// The encoder's output did not decode back to the record; nothing may be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {encoding} encoding of the record does not decode back to it: {reason}")]
pub struct EncodingMismatch {
    /// The coding.
    pub encoding: Encoding,
    /// What the decoder or the comparison found.
    pub reason: String,
}

/// Why a read-back copy is not the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyMismatch {
    /// The object's stored bytes differ from what was written.
    #[error(
        "stored object is {actual_size} bytes with SHA-256 {actual_sha256}, expected {expected_size} bytes with {expected_sha256}"
    )]
    Stored {
        /// Written.
        expected_size: u64,
        /// Written.
        expected_sha256: String,
        /// Read back.
        actual_size: u64,
        /// Read back.
        actual_sha256: String,
    },
    /// The object's metadata differs from the ledger's.
    #[error("object metadata {field} is {actual:?}, expected {expected:?}")]
    Meta {
        /// Which field.
        field: &'static str,
        /// The ledger's.
        expected: String,
        /// The object's.
        actual: String,
    },
    /// The object does not decode to the record.
    #[error("object does not open to the record: {0}")]
    Record(String),
}

impl CopyFacts {
    /// Checks a copy read back from storage on its own, as the delete pass and `tiergate
    /// verify` do: its bytes as the ledger recorded them (size and SHA-256), its metadata
    /// as the ledger's, and its bytes decoding to the record's hash. Only then may the hot
    /// row go.
    pub fn check(&self, meta: &ObjectMeta, stored: &[u8]) -> Result<(), CopyMismatch> {
        let actual_sha256 = sha256_hex(stored);
        if stored.len() as u64 != self.stored_size || actual_sha256 != self.stored_sha256 {
            return Err(self.stored_mismatch(stored, actual_sha256));
        }
        self.check_meta(meta)?;
        meta.open(stored)
            .map(drop)
            .map_err(|e| CopyMismatch::Record(e.to_string()))
    }

    /// Checks the copy read back right after its PUT against `written`, the bytes this
    /// archiver prepared and wrote: the same bytes, compared byte for byte (stronger than
    /// comparing hashes, and no hashing), and the metadata as the ledger's.
    ///
    /// No decoding is needed: [`PreparedCopy::prepare`] proved that `written` decodes to
    /// the record, and `stored_sha256` is the hash of `written`. The delete pass still runs
    /// the full [`check`](Self::check) before it deletes anything.
    pub fn check_read_back(
        &self,
        meta: &ObjectMeta,
        read: &[u8],
        written: &[u8],
    ) -> Result<(), CopyMismatch> {
        if read != written || read.len() as u64 != self.stored_size {
            return Err(self.stored_mismatch(read, sha256_hex(read)));
        }
        self.check_meta(meta)
    }

    fn stored_mismatch(&self, stored: &[u8], actual_sha256: String) -> CopyMismatch {
        CopyMismatch::Stored {
            expected_size: self.stored_size,
            expected_sha256: self.stored_sha256.clone(),
            actual_size: stored.len() as u64,
            actual_sha256,
        }
    }

    /// The object's metadata names the record, size, coding and version the ledger has.
    fn check_meta(&self, meta: &ObjectMeta) -> Result<(), CopyMismatch> {
        let fields = [
            ("sha256", &self.sha256, meta.sha256.clone()),
            ("size", &self.size.to_string(), meta.size.to_string()),
            (
                "encoding",
                &self.encoding.to_string(),
                meta.encoding.to_string(),
            ),
            (
                "version",
                &self.version,
                meta.version.clone().unwrap_or_default(),
            ),
        ];
        for (field, expected, actual) in fields {
            if *expected != actual {
                return Err(CopyMismatch::Meta {
                    field,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }
}

/// How to take a blob storage answer that is not a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Likely to pass if tried again shortly (overload, timeouts, server errors).
    Transient,
    /// Will fail again the same way (refused signature, bad request): report it.
    Permanent,
}

impl Retry {
    /// Classifies an HTTP status from blob storage.
    pub fn of_status(status: u16) -> Self {
        match status {
            408 | 429 | 500..=599 => Self::Transient,
            _ => Self::Permanent,
        }
    }
}

/// Attempts per storage step before the record is given up for this run.
pub const ATTEMPTS: u32 = 4;

/// The wait before retry number `attempt` (1-based) of a transient failure: exponential
/// from 100 ms, so that four attempts span about a second and a half.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 << attempt.min(10).saturating_sub(1))
}

/// What a guarded delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The hot row is gone; the ledger says deleted.
    Deleted,
    /// The record changed after its copy was made.
    Changed,
    /// The record is under legal hold.
    Held,
    /// The application deleted the record.
    Missing,
    /// Another archiver holds the record.
    LeaseLost,
    /// The row held the copy's content, but the copy could not be published: nothing was
    /// deleted, and the caller reports why.
    NotPublished,
}

impl DeleteOutcome {
    /// Decides, from the hot row as it stands under its lock, whether it may go: only if it
    /// is not held and still holds exactly what the copy holds. The body's hash decides,
    /// not only the version, which can repeat (an API whose version restarts at 1 when a
    /// record is deleted and created again) or be the changed time of a same-second write.
    /// `None` means the row may be deleted once the copy is published.
    pub fn of_locked_row(
        row: Option<LockedRow<'_>>,
        version: &str,
        sha256: &str,
    ) -> Option<DeleteOutcome> {
        let row = match row {
            None => return Some(Self::Missing),
            Some(row) => row,
        };
        if row.held {
            Some(Self::Held)
        } else if row.version != Some(version) || sha256_hex(row.body) != sha256 {
            Some(Self::Changed)
        } else {
            None
        }
    }
}

/// A due record's hot row, read under the lock of its delete.
#[derive(Debug, Clone, Copy)]
pub struct LockedRow<'a> {
    /// Its version (the changed time when the table has no version column).
    pub version: Option<&'a str>,
    /// Its body as stored.
    pub body: &'a [u8],
    /// Under legal hold or excluded.
    pub held: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(body: &[u8]) -> PreparedCopy {
        PreparedCopy::prepare(
            &RecordId::parse("INV-7").unwrap(),
            "3",
            None,
            body,
            Encoding::Lz4,
        )
        .unwrap()
    }

    #[test]
    fn a_copy_read_back_intact_passes() {
        let copy = prepared(br#"{"id":"INV-7","total":"12.00","lines":[1,1,1,1,1,1,1,1]}"#);
        assert_eq!(copy.meta.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(
            copy.facts.key.as_str(),
            BlobKey::for_record(&RecordId::parse("INV-7").unwrap()).as_str()
        );
        assert_eq!(copy.facts.check(&copy.meta, &copy.stored), Ok(()));
    }

    #[test]
    fn a_truncated_or_foreign_copy_fails() {
        let copy = prepared(br#"{"id":"INV-7","total":"12.00"}"#);
        let short = &copy.stored[..copy.stored.len() - 1];
        assert!(matches!(
            copy.facts.check(&copy.meta, short),
            Err(CopyMismatch::Stored { .. })
        ));
        let other = prepared(br#"{"id":"INV-7","total":"99.00"}"#);
        assert!(matches!(
            copy.facts.check(&other.meta, &other.stored),
            Err(CopyMismatch::Stored { .. })
        ));
        let older = ObjectMeta {
            version: Some("2".into()),
            ..copy.meta.clone()
        };
        assert_eq!(
            copy.facts.check(&older, &copy.stored),
            Err(CopyMismatch::Meta {
                field: "version",
                expected: "3".into(),
                actual: "2".into()
            })
        );
    }

    #[test]
    fn a_read_back_must_be_the_written_bytes_and_metadata() {
        let copy = prepared(br#"{"id":"INV-7","total":"12.00","lines":[2,2,2,2,2,2,2,2]}"#);
        let written = &copy.stored;
        assert_eq!(
            copy.facts.check_read_back(&copy.meta, written, written),
            Ok(())
        );
        let mut flipped = written.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            copy.facts.check_read_back(&copy.meta, &flipped, written),
            Err(CopyMismatch::Stored { .. })
        ));
        assert!(matches!(
            copy.facts
                .check_read_back(&copy.meta, &written[..written.len() - 1], written),
            Err(CopyMismatch::Stored { .. })
        ));
        let other_record = ObjectMeta {
            sha256: "0".repeat(64),
            ..copy.meta.clone()
        };
        assert!(matches!(
            copy.facts.check_read_back(&other_record, written, written),
            Err(CopyMismatch::Meta {
                field: "sha256",
                ..
            })
        ));
    }

    #[test]
    fn a_record_over_the_limit_is_not_copied_and_says_why() {
        let id = RecordId::parse("INV-9").unwrap();
        let body = vec![b'x'; MAX_RECORD_BYTES + 1];
        let err = PreparedCopy::prepare(&id, "1", None, &body, Encoding::Identity).unwrap_err();
        assert_eq!(err, PrepareError::TooLarge { size: body.len() });
        assert!(
            err.to_string().contains("stays in the hot database"),
            "{err}"
        );
        let body = &body[..MAX_RECORD_BYTES];
        assert!(PreparedCopy::prepare(&id, "1", None, body, Encoding::Identity).is_ok());
    }

    #[test]
    fn every_encoding_prepares_a_copy_that_decodes_to_the_record() {
        let body = br#"{"id":"INV-8","lines":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3]}"#.repeat(40);
        let id = RecordId::parse("INV-8").unwrap();
        for encoding in Encoding::ALL {
            let copy = PreparedCopy::prepare(&id, "1", None, &body, encoding).unwrap();
            assert_eq!(
                copy.facts.check(&copy.meta, &copy.stored),
                Ok(()),
                "{encoding}"
            );
        }
    }

    #[test]
    fn only_overload_and_server_errors_are_retried() {
        for status in [408, 429, 500, 503] {
            assert_eq!(Retry::of_status(status), Retry::Transient, "{status}");
        }
        for status in [400, 403, 404, 409] {
            assert_eq!(Retry::of_status(status), Retry::Permanent, "{status}");
        }
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(400));
    }

    #[test]
    fn a_locked_row_goes_only_if_it_holds_what_the_copy_holds() {
        let body = br#"{"total":1}"#;
        let sha256 = crate::digest::sha256_hex(body);
        let row = |version, body: &'static [u8], held| {
            Some(LockedRow {
                version: Some(version),
                body,
                held,
            })
        };
        assert_eq!(
            DeleteOutcome::of_locked_row(row("3", body, false), "3", &sha256),
            None
        );
        assert_eq!(
            DeleteOutcome::of_locked_row(None, "3", &sha256),
            Some(DeleteOutcome::Missing)
        );
        assert_eq!(
            DeleteOutcome::of_locked_row(row("3", body, true), "3", &sha256),
            Some(DeleteOutcome::Held)
        );
        assert_eq!(
            DeleteOutcome::of_locked_row(row("4", body, false), "3", &sha256),
            Some(DeleteOutcome::Changed)
        );
        // Deleted and created again: the version restarted and repeats, the body differs.
        assert_eq!(
            DeleteOutcome::of_locked_row(row("3", br#"{"total":2}"#, false), "3", &sha256),
            Some(DeleteOutcome::Changed)
        );
        let no_version = Some(LockedRow {
            version: None,
            body,
            held: false,
        });
        assert_eq!(
            DeleteOutcome::of_locked_row(no_version, "3", &sha256),
            Some(DeleteOutcome::Changed)
        );
    }
}
