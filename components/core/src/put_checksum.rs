//! The checksum a copy's PUT carries, which the store checks the body against as it writes
//! it, and what the store's answer says it kept.
//!
//! S3 checks `x-amz-checksum-sha256` (the SHA-256 the ledger keeps anyway, so it costs no
//! hashing) and Azure's Put Blob checks `Content-MD5` (it takes no SHA-256); each refuses a
//! PUT whose body does not match (S3 `BadDigest`, Azure `Md5Mismatch`) and names the hash of
//! what it stored in its answer. A store that names the same hash has proved it holds the
//! bytes written, and the archiver need not read them back; one that names none (a store
//! that ignores the header) leaves the archiver to read the copy back as before.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};

/// A PUT body's checksum, as a header the store checks and answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutChecksum {
    /// The header carrying it, in the request and in the store's answer.
    pub header: &'static str,
    /// Its value: the digest, base64.
    pub value: String,
}

/// What a store's answer to a PUT says of the bytes it kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutReceipt {
    /// It checked them against the checksum and kept them.
    Confirmed,
    /// It said nothing: the copy must be read back to be known.
    Unconfirmed,
}

/// The store answered a PUT with a different checksum than the one it was sent: it kept
/// other bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store answered the PUT with {header} {answered:?}, the body's is {expected:?}")]
pub struct ChecksumMismatch {
    /// The header.
    pub header: &'static str,
    /// Sent.
    pub expected: String,
    /// Answered.
    pub answered: String,
}

impl PutChecksum {
    /// S3's `x-amz-checksum-sha256`, from a body's SHA-256 in hex.
    pub fn sha256(sha256_hex: &str) -> Self {
        // The ledger's hashes come from `digest::sha256_hex`: 64 hex digits, always.
        let digest = hex::decode(sha256_hex).expect("a SHA-256 in hex");
        Self {
            header: "x-amz-checksum-sha256",
            value: STANDARD.encode(digest),
        }
    }

    /// `Content-MD5` of `body`.
    pub fn md5(body: &[u8]) -> Self {
        Self {
            header: "content-md5",
            value: STANDARD.encode(Md5::digest(body)),
        }
    }

    /// Reads the store's answer: `answered` is the value of [`header`](Self::header) in
    /// it, if any.
    pub fn receipt(&self, answered: Option<&str>) -> Result<PutReceipt, ChecksumMismatch> {
        match answered.map(str::trim) {
            None | Some("") => Ok(PutReceipt::Unconfirmed),
            Some(answered) if answered == self.value => Ok(PutReceipt::Confirmed),
            Some(answered) => Err(ChecksumMismatch {
                header: self.header,
                expected: self.value.clone(),
                answered: answered.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;

    #[test]
    fn the_sha256_checksum_is_the_hex_digest_in_base64() {
        // FIPS 180-2's "abc" vector, ba7816bf...15ad, in base64.
        let checksum = PutChecksum::sha256(&sha256_hex(b"abc"));
        assert_eq!(checksum.header, "x-amz-checksum-sha256");
        assert_eq!(
            checksum.value,
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn the_md5_checksum_is_content_md5() {
        // RFC 1321's test vector for "abc", 900150983cd24fb0d6963f7d28e17f72, in base64.
        let checksum = PutChecksum::md5(b"abc");
        assert_eq!(checksum.header, "content-md5");
        assert_eq!(checksum.value, "kAFQmDzST7DWlj99KOF/cg==");
    }

    #[test]
    fn the_same_checksum_answered_confirms_the_copy() {
        let checksum = PutChecksum::md5(b"record");
        let answered = checksum.value.clone();
        assert_eq!(checksum.receipt(Some(&answered)), Ok(PutReceipt::Confirmed));
    }

    #[test]
    fn no_checksum_answered_leaves_the_copy_unconfirmed() {
        let checksum = PutChecksum::md5(b"record");
        assert_eq!(checksum.receipt(None), Ok(PutReceipt::Unconfirmed));
        assert_eq!(checksum.receipt(Some(" ")), Ok(PutReceipt::Unconfirmed));
    }

    #[test]
    fn another_checksum_answered_is_a_mismatch() {
        let checksum = PutChecksum::md5(b"record");
        let other = PutChecksum::md5(b"recorD").value;
        let err = checksum.receipt(Some(&other)).unwrap_err();
        assert_eq!(err.answered, other);
        assert!(err.to_string().contains("content-md5"), "{err}");
    }
}
