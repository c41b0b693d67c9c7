//! What an archived record's object carries besides its bytes: the one place that knows the
//! metadata names, for S3 (`x-amz-meta-*`) and Azure (`x-ms-meta-*`) alike.
//!
//! Two checks of a record's bytes against its metadata:
//! - [`ObjectMeta::open`] checks everything recorded (size, SHA-256, XXH3-64): the archiver
//!   before it lets a hot row go, and `tiergate verify`.
//! - [`ObjectMeta::open_to_serve`] checks the size and the XXH3-64 checksum: the edge, on
//!   every read it serves. XXH3 runs about ten times faster than SHA-256 in wasm (where there
//!   are no SHA instructions), which was most of an archived read's CPU time, and it catches
//!   the same damage: truncation, flipped bits, another record's bytes. SHA-256 would buy no
//!   protection from tampering here, since whoever can rewrite an object can rewrite its
//!   metadata too. Objects written before the checksum existed are checked by SHA-256.

use crate::digest::sha256_hex;
use crate::encoding::DecodeError;
use crate::{ETag, Encoding};
use std::borrow::Cow;
use twox_hash::XxHash3_64;

/// Metadata names, after the store's prefix: lowercase letters and digits only, because Azure
/// takes only C# identifiers (no hyphens) and some proxies drop headers with underscores.
const SHA256: &str = "tiergatesha256";
const SIZE: &str = "tiergatesize";
const CONTENT_TYPE: &str = "tiergatecontenttype";
const ENCODING: &str = "tiergateencoding";
const VERSION: &str = "tiergateversion";
const XXH3: &str = "tiergatexxh3";
const OWNER: &str = "tiergateowner";

/// What an owner is percent-encoded with in its header: everything but letters and digits,
/// so that any owner value is a header value both stores keep as it is.
const OWNER_ESCAPED: &percent_encoding::AsciiSet = percent_encoding::NON_ALPHANUMERIC;

/// The metadata stored with a record's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// SHA-256 (hex) of the record's original bytes.
    pub sha256: String,
    /// Length of the record's original bytes.
    pub size: u64,
    /// The record's content type.
    pub content_type: String,
    /// How the object's bytes encode the record's.
    pub encoding: Encoding,
    /// The version of the record the copy was made from, when the archiver wrote it.
    pub version: Option<String>,
    /// XXH3-64 (16 hex digits) of the record's original bytes; absent on objects written
    /// before tiergate recorded it.
    pub xxh3: Option<String>,
    /// The record's owner, from the hot table's owner column when `[edge.auth]` names one:
    /// the edge compares it with the caller's claim. Absent when no owner column is set.
    pub owner: Option<String>,
}

/// Why an object cannot be served as the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// A metadata field is absent.
    #[error("object lacks metadata {0}")]
    MissingMeta(&'static str),
    /// The owner field does not decode to UTF-8 text.
    #[error("object metadata {OWNER} is not percent-encoded UTF-8: {0:?}")]
    BadOwner(String),
    /// The size field is not a number.
    #[error("object metadata {SIZE} is not a number: {0:?}")]
    BadSize(String),
    /// The bytes do not match the recorded size.
    #[error("object holds {actual} bytes, its metadata says {expected}")]
    SizeMismatch {
        /// From metadata.
        expected: u64,
        /// Read.
        actual: u64,
    },
    /// The encoding is not one tiergate reads.
    #[error("object metadata {ENCODING}: {0}")]
    BadEncoding(#[from] crate::encoding::UnknownEncoding),
    /// The bytes do not decode.
    #[error("object bytes: {0}")]
    Decode(#[from] DecodeError),
    /// The bytes do not match the recorded hash or checksum.
    #[error("object bytes hash to {actual}, its metadata says {expected}")]
    HashMismatch {
        /// From metadata.
        expected: String,
        /// Read.
        actual: String,
    },
}

impl ObjectMeta {
    /// Metadata describing `body`, stored as is.
    pub fn describe(body: &[u8], content_type: &str) -> Self {
        Self {
            sha256: sha256_hex(body),
            size: body.len() as u64,
            content_type: content_type.to_owned(),
            encoding: Encoding::Identity,
            version: None,
            xxh3: Some(xxh3(body)),
            owner: None,
        }
    }

    /// The headers that carry this metadata, with the store's prefix (`x-amz-meta-`).
    pub fn to_headers(&self, prefix: &str) -> Vec<(String, String)> {
        let mut headers = vec![
            (format!("{prefix}{SHA256}"), self.sha256.clone()),
            (format!("{prefix}{SIZE}"), self.size.to_string()),
            (format!("{prefix}{CONTENT_TYPE}"), self.content_type.clone()),
            (format!("{prefix}{ENCODING}"), self.encoding.to_string()),
        ];
        if let Some(version) = &self.version {
            headers.push((format!("{prefix}{VERSION}"), version.clone()));
        }
        if let Some(xxh3) = &self.xxh3 {
            headers.push((format!("{prefix}{XXH3}"), xxh3.clone()));
        }
        if let Some(owner) = &self.owner {
            headers.push((format!("{prefix}{OWNER}"), escape_owner(owner)));
        }
        headers
    }

    /// Reads the metadata back from response headers, looked up by lowercase name.
    pub fn from_headers<'h>(
        prefix: &str,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<Self, ObjectError> {
        let get = |name: &'static str| {
            header(&format!("{prefix}{name}")).ok_or(ObjectError::MissingMeta(name))
        };
        let size = get(SIZE)?;
        Ok(Self {
            sha256: get(SHA256)?.to_owned(),
            size: size
                .parse()
                .map_err(|_| ObjectError::BadSize(size.to_owned()))?,
            content_type: get(CONTENT_TYPE)?.to_owned(),
            // Objects stored by other tools carry no encoding: they are the record's bytes.
            encoding: match get(ENCODING) {
                Ok(name) => name.parse()?,
                Err(_) => Encoding::Identity,
            },
            version: get(VERSION).ok().map(str::to_owned),
            xxh3: get(XXH3).ok().map(str::to_owned),
            owner: match get(OWNER) {
                Ok(escaped) => Some(unescape_owner(escaped)?),
                Err(_) => None,
            },
        })
    }

    /// The record's bytes from the object's `stored` bytes: decoded, then checked against
    /// everything recorded (size, SHA-256 and XXH3-64).
    pub fn open<'s>(&self, stored: &'s [u8]) -> Result<Cow<'s, [u8]>, ObjectError> {
        let record = self.decode(stored)?;
        self.verify(&record)?;
        Ok(record)
    }

    /// The record's bytes from the object's `stored` bytes, for serving: decoded, then
    /// checked against the recorded size and XXH3-64 (SHA-256 when there is none).
    pub fn open_to_serve<'s>(&self, stored: &'s [u8]) -> Result<Cow<'s, [u8]>, ObjectError> {
        let record = self.decode(stored)?;
        self.check_size(&record)?;
        match &self.xxh3 {
            Some(expected) => check_hash(expected, xxh3(&record))?,
            None => check_hash(&self.sha256, sha256_hex(&record))?,
        }
        Ok(record)
    }

    /// Checks that `body` is the record this metadata describes: size, SHA-256, and XXH3-64
    /// when recorded.
    pub fn verify(&self, body: &[u8]) -> Result<(), ObjectError> {
        self.check_size(body)?;
        check_hash(&self.sha256, sha256_hex(body))?;
        if let Some(expected) = &self.xxh3 {
            check_hash(expected, xxh3(body))?;
        }
        Ok(())
    }

    fn decode<'s>(&self, stored: &'s [u8]) -> Result<Cow<'s, [u8]>, ObjectError> {
        Ok(match self.encoding {
            Encoding::Identity => Cow::Borrowed(stored),
            encoding => Cow::Owned(encoding.decode(stored, self.size)?),
        })
    }

    fn check_size(&self, body: &[u8]) -> Result<(), ObjectError> {
        if body.len() as u64 != self.size {
            return Err(ObjectError::SizeMismatch {
                expected: self.size,
                actual: body.len() as u64,
            });
        }
        Ok(())
    }

    /// The record's entity tag.
    pub fn etag(&self) -> ETag {
        ETag::from_sha256_hex(&self.sha256)
    }
}

/// An owner as its header value carries it.
pub fn escape_owner(owner: &str) -> String {
    percent_encoding::utf8_percent_encode(owner, OWNER_ESCAPED).to_string()
}

/// An owner from its header value.
pub fn unescape_owner(escaped: &str) -> Result<String, ObjectError> {
    percent_encoding::percent_decode_str(escaped)
        .decode_utf8()
        .map(String::from)
        .map_err(|_| ObjectError::BadOwner(escaped.to_owned()))
}

/// The XXH3-64 checksum of `body`, as 16 hex digits.
fn xxh3(body: &[u8]) -> String {
    format!("{:016x}", XxHash3_64::oneshot(body))
}

fn check_hash(expected: &str, actual: String) -> Result<(), ObjectError> {
    if actual != expected {
        return Err(ObjectError::HashMismatch {
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_headers() {
        let round_trip = |meta: &ObjectMeta| {
            let headers = meta.to_headers("x-amz-meta-");
            ObjectMeta::from_headers("x-amz-meta-", |name| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            })
            .unwrap()
        };
        let meta = ObjectMeta::describe(b"{\"id\":1}", "application/json");
        assert_eq!(round_trip(&meta), meta);
        assert_eq!(meta.etag(), ETag::of(b"{\"id\":1}"));
        let owned = ObjectMeta {
            owner: Some("Müller & Söhne / 42".into()),
            ..meta
        };
        assert_eq!(round_trip(&owned), owned);
        let (_, escaped) = owned.to_headers("x-amz-meta-").pop().unwrap();
        assert!(
            escaped
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'%'),
            "{escaped}"
        );
    }

    #[test]
    fn verify_catches_truncation_and_corruption() {
        let meta = ObjectMeta::describe(b"abcdef", "text/plain");
        assert!(meta.verify(b"abcdef").is_ok());
        assert!(matches!(
            meta.verify(b"abcde"),
            Err(ObjectError::SizeMismatch { .. })
        ));
        assert!(matches!(
            meta.verify(b"abcdeX"),
            Err(ObjectError::HashMismatch { .. })
        ));
    }

    #[test]
    fn open_decodes_and_checks_the_record() {
        let record = br#"{"id":"INV-1","lines":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}"#;
        let meta = ObjectMeta {
            encoding: Encoding::Lz4,
            version: Some("7".into()),
            ..ObjectMeta::describe(record, "application/json")
        };
        let headers = meta.to_headers("x-ms-meta-");
        let back = ObjectMeta::from_headers("x-ms-meta-", |name| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        })
        .unwrap();
        assert_eq!(back, meta);
        let stored = Encoding::Lz4.encode(record);
        assert_eq!(&*meta.open(&stored).unwrap(), record);
        let wrong = Encoding::Lz4.encode(b"{\"id\":\"INV-2\"}");
        assert!(meta.open(&wrong).is_err());
        assert!(matches!(
            ObjectMeta::describe(record, "application/json").open(&stored),
            Err(ObjectError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn serving_checks_the_checksum_or_sha256_when_there_is_none() {
        let record = b"{\"id\":\"INV-1\",\"total\":\"42.00\"}";
        let meta = ObjectMeta::describe(record, "application/json");
        assert_eq!(meta.xxh3.as_deref().map(str::len), Some(16));
        assert_eq!(&*meta.open_to_serve(record).unwrap(), record);
        let mut flipped = record.to_vec();
        flipped[5] ^= 1;
        assert!(matches!(
            meta.open_to_serve(&flipped),
            Err(ObjectError::HashMismatch { .. })
        ));
        assert!(matches!(
            meta.open_to_serve(&record[1..]),
            Err(ObjectError::SizeMismatch { .. })
        ));

        let older = ObjectMeta {
            xxh3: None,
            ..meta.clone()
        };
        assert!(older.open_to_serve(record).is_ok());
        let err = older.open_to_serve(&flipped).unwrap_err();
        assert!(
            matches!(&err, ObjectError::HashMismatch { expected, .. } if *expected == meta.sha256),
            "{err}"
        );
    }

    #[test]
    fn a_full_check_refuses_a_wrong_checksum() {
        let record = b"abcdef";
        let meta = ObjectMeta {
            xxh3: Some("0000000000000000".into()),
            ..ObjectMeta::describe(record, "text/plain")
        };
        assert!(matches!(
            meta.open(record),
            Err(ObjectError::HashMismatch { .. })
        ));
    }

    #[test]
    fn missing_metadata_is_named() {
        let err = ObjectMeta::from_headers("x-amz-meta-", |_| None).unwrap_err();
        assert_eq!(err, ObjectError::MissingMeta(SIZE));
    }
}
