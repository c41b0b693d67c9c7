//! A record's copy in blob storage, one request at a time, in the manner of rusty-s3's
//! actions: each request is a small type that signs itself for a time passed in and reads
//! the store's answer (its status and headers); the caller sends it. This is the one place
//! that knows which answers succeed, that a missing object is no error for a read, and
//! where an object's metadata is read from.

use crate::blob_error::{BlobError, BlobProblem};
use crate::signed_url::{SignedPut, SignedUrl};
use crate::{BlobBackend, BlobKey, ObjectMeta, PutChecksum, PutReceipt};
use std::time::{Duration, SystemTime};

/// A read of a copy: its bytes and metadata (`GET`), or its metadata only (`HEAD`).
#[derive(Debug, Clone, Copy)]
pub struct ReadCopy<'a> {
    backend: &'a BlobBackend,
    key: &'a BlobKey,
    head: bool,
}

/// A write of a copy, carrying its metadata and the checksum the store checks its body
/// against; it replaces any object under the key.
#[derive(Debug, Clone, Copy)]
pub struct PutCopy<'a> {
    backend: &'a BlobBackend,
    key: &'a BlobKey,
    meta: &'a ObjectMeta,
    checksum: &'a PutChecksum,
}

/// A removal of a copy; an absent object is already removed.
#[derive(Debug, Clone, Copy)]
pub struct DeleteCopy<'a> {
    backend: &'a BlobBackend,
    key: &'a BlobKey,
}

impl<'a> ReadCopy<'a> {
    /// A `GET` of the object under `key`.
    pub fn get(backend: &'a BlobBackend, key: &'a BlobKey) -> Self {
        Self {
            backend,
            key,
            head: false,
        }
    }

    /// A `HEAD` of the object under `key`: its metadata without its bytes.
    pub fn head(backend: &'a BlobBackend, key: &'a BlobKey) -> Self {
        Self {
            backend,
            key,
            head: true,
        }
    }

    /// The method to send the signed URL with.
    pub fn method(&self) -> &'static str {
        if self.head { "HEAD" } else { "GET" }
    }

    /// The URL to send the request to, valid for `expiry` from `now`.
    pub fn sign(&self, now: SystemTime, expiry: Duration) -> SignedUrl {
        if self.head {
            self.backend.presign_head(self.key, now, expiry)
        } else {
            self.backend.presign_get(self.key, now, expiry)
        }
    }

    /// Reads the store's answer, `status` and its headers (looked up by lowercase name): the
    /// object's metadata, or `None` when there is no object under the key.
    pub fn read<'h>(
        &self,
        status: u16,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<Option<ObjectMeta>, BlobError> {
        match status {
            // A read without a range is answered whole, with 200; 206 or 204 would not be
            // the object.
            200 => {}
            404 => return Ok(None),
            status => return Err(BlobError::status(self.method(), self.key, status)),
        }
        ObjectMeta::from_headers(self.backend.meta_prefix(), header)
            .map(Some)
            .map_err(|e| BlobError::new(self.method(), self.key, BlobProblem::Meta(e)))
    }
}

impl<'a> PutCopy<'a> {
    /// A `PUT` of `meta`'s object under `key`, whose body the store checks against
    /// `checksum` (from [`BlobBackend::put_checksum`]).
    pub fn new(
        backend: &'a BlobBackend,
        key: &'a BlobKey,
        meta: &'a ObjectMeta,
        checksum: &'a PutChecksum,
    ) -> Self {
        Self {
            backend,
            key,
            meta,
            checksum,
        }
    }

    /// The URL and the headers to send the body with, valid for `expiry` from `now`.
    pub fn sign(&self, now: SystemTime, expiry: Duration) -> SignedPut {
        self.backend
            .presign_put(self.key, self.meta, self.checksum, now, expiry)
    }

    /// Reads the store's answer, `status` and its headers (looked up by lowercase name):
    /// whether it confirmed keeping the bytes sent.
    pub fn read<'h>(
        &self,
        status: u16,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<PutReceipt, BlobError> {
        if !matches!(status, 200 | 201) {
            return Err(BlobError::status("PUT", self.key, status));
        }
        self.checksum
            .receipt(header(self.checksum.header))
            .map_err(|e| BlobError::new("PUT", self.key, BlobProblem::Receipt(e)))
    }
}

impl<'a> DeleteCopy<'a> {
    /// A `DELETE` of the object under `key`.
    pub fn new(backend: &'a BlobBackend, key: &'a BlobKey) -> Self {
        Self { backend, key }
    }

    /// The URL to send the request to, valid for `expiry` from `now`.
    pub fn sign(&self, now: SystemTime, expiry: Duration) -> SignedUrl {
        self.backend.presign_delete(self.key, now, expiry)
    }

    /// Reads the store's answer, `status`: removed, or absent already (404).
    pub fn read(&self, status: u16) -> Result<(), BlobError> {
        match status {
            200 | 202 | 204 | 404 => Ok(()),
            status => Err(BlobError::status("DELETE", self.key, status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archival::Retry;
    use crate::{AzureSigner, RecordId, S3Signer};

    fn s3() -> BlobBackend {
        BlobBackend::S3(
            S3Signer::new(
                "http://127.0.0.1:9000",
                "records",
                "us-east-1",
                true,
                "AK",
                "SK",
            )
            .unwrap(),
        )
    }

    fn azure() -> BlobBackend {
        // Azurite's well-known development account key (public, documented by Microsoft).
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        BlobBackend::Azure(
            AzureSigner::new(
                "http://127.0.0.1:10000",
                "devstoreaccount1",
                "records",
                key,
                true,
            )
            .unwrap(),
        )
    }

    fn key() -> BlobKey {
        BlobKey::for_record(&RecordId::parse("INV-42").unwrap())
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn lookup<'h>(headers: &'h [(String, String)]) -> impl Fn(&str) -> Option<&'h str> {
        move |name| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    #[test]
    fn a_read_answered_200_gives_the_metadata_in_the_stores_prefix() {
        let meta = ObjectMeta::describe(b"{\"id\":\"INV-42\"}", "application/json");
        for backend in [s3(), azure()] {
            let (key, headers) = (key(), meta.to_headers(backend.meta_prefix()));
            let read = ReadCopy::get(&backend, &key).read(200, lookup(&headers));
            assert_eq!(read, Ok(Some(meta.clone())), "{backend:?}");
        }
    }

    #[test]
    fn a_missing_object_is_none_for_get_and_head() {
        let (backend, key) = (s3(), key());
        for read in [
            ReadCopy::get(&backend, &key),
            ReadCopy::head(&backend, &key),
        ] {
            assert_eq!(read.read(404, |_| None), Ok(None), "{}", read.method());
        }
    }

    #[test]
    fn a_refusal_says_what_to_check_including_s3s_403_for_a_missing_object() {
        let (backend, key) = (s3(), key());
        let err = ReadCopy::get(&backend, &key)
            .read(403, |_| None)
            .unwrap_err();
        assert_eq!(err.problem, BlobProblem::Forbidden);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "GET {key}: 403 from storage (refused: wrong key, expired URL or clock skew?"
            )),
            "{message}"
        );
        assert!(message.contains("s3:ListBucket"), "{message}");
        assert_eq!(err.retry(), Retry::Permanent);
    }

    #[test]
    fn an_object_without_metadata_is_an_error_naming_it() {
        let (backend, key) = (azure(), key());
        let err = ReadCopy::head(&backend, &key)
            .read(200, |_| None)
            .unwrap_err();
        assert!(matches!(err.problem, BlobProblem::Meta(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("HEAD {key}: object lacks metadata tiergatesize")
        );
    }

    #[test]
    fn server_errors_are_worth_retrying_and_named_with_their_reason() {
        let (backend, key) = (s3(), key());
        let err = DeleteCopy::new(&backend, &key).read(503).unwrap_err();
        assert_eq!(err.retry(), Retry::Transient);
        assert_eq!(
            err.to_string(),
            format!("DELETE {key}: 503 Service Unavailable from storage")
        );
    }

    #[test]
    fn a_delete_of_an_absent_object_succeeds() {
        let (backend, key) = (azure(), key());
        for status in [200, 202, 204, 404] {
            assert_eq!(
                DeleteCopy::new(&backend, &key).read(status),
                Ok(()),
                "{status}"
            );
        }
    }

    #[test]
    fn a_put_answered_with_its_checksum_is_confirmed() {
        let (backend, key) = (s3(), key());
        let meta = ObjectMeta::describe(b"{}", "application/json");
        let checksum = backend.put_checksum(b"{}", &meta.sha256);
        let put = PutCopy::new(&backend, &key, &meta, &checksum);
        let answer = [(checksum.header.to_owned(), checksum.value.clone())];
        assert_eq!(put.read(201, lookup(&answer)), Ok(PutReceipt::Confirmed));
        assert_eq!(put.read(200, |_| None), Ok(PutReceipt::Unconfirmed));
        let other = [(checksum.header.to_owned(), "AAAA".to_owned())];
        let err = put.read(200, lookup(&other)).unwrap_err();
        assert!(matches!(err.problem, BlobProblem::Receipt(_)), "{err:?}");
    }

    #[test]
    fn a_put_refused_with_400_suggests_a_damaged_body() {
        let (backend, key) = (azure(), key());
        let meta = ObjectMeta::describe(b"{}", "application/json");
        let checksum = backend.put_checksum(b"{}", &meta.sha256);
        let err = PutCopy::new(&backend, &key, &meta, &checksum)
            .read(400, |_| None)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("400 Bad Request from storage (S3's BadDigest"),
            "{err}"
        );
        assert_eq!(err.retry(), Retry::Permanent);
    }

    #[test]
    fn head_is_signed_for_head_on_s3_and_for_reading_on_azure() {
        let key = key();
        let signed = |backend: &BlobBackend, head: bool| {
            let read = if head {
                ReadCopy::head(backend, &key)
            } else {
                ReadCopy::get(backend, &key)
            };
            read.sign(at(1_700_000_000), Duration::from_secs(60))
        };
        // SigV4 signs the method: a GET's URL would be refused for a HEAD.
        assert_ne!(signed(&s3(), true), signed(&s3(), false));
        // A service SAS grants read access, whichever reading method uses it.
        assert_eq!(signed(&azure(), true), signed(&azure(), false));
    }
}
