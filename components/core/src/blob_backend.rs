//! The blob stores tiergate signs for, behind one type: the edge and the archiver ask for a
//! signed URL and the metadata prefix, and never know which store is behind them.

use crate::azure::{self, AzureSigner};
use crate::s3::{self, S3Signer};
use crate::signed_url::{SignedPut, SignedUrl};
use crate::{BlobKey, ObjectMeta, PutChecksum};
use std::time::{Duration, SystemTime};

/// A configured blob store.
#[derive(Debug, Clone)]
pub enum BlobBackend {
    /// S3 or an S3-compatible store, with SigV4 presigned URLs.
    S3(S3Signer),
    /// Azure Blob Storage (or Azurite), with service SAS URLs.
    Azure(AzureSigner),
}

impl BlobBackend {
    /// A GET of `key`, valid for `expires_in` from `now`, with read access only.
    pub fn presign_get(&self, key: &BlobKey, now: SystemTime, expires_in: Duration) -> SignedUrl {
        match self {
            Self::S3(signer) => signer.presign_get(key, now, expires_in),
            Self::Azure(signer) => signer.presign_get(key, now, expires_in),
        }
    }

    /// A HEAD of `key`, valid for `expires_in` from `now`, with read access only.
    pub fn presign_head(&self, key: &BlobKey, now: SystemTime, expires_in: Duration) -> SignedUrl {
        match self {
            Self::S3(signer) => signer.presign_head(key, now, expires_in),
            // A SAS signs no method: read access serves HEAD as it serves GET.
            Self::Azure(signer) => signer.presign_get(key, now, expires_in),
        }
    }

    /// A PUT of `key` carrying `meta`, valid for `expires_in` from `now`, whose body the
    /// store checks against `checksum` (from [`put_checksum`](Self::put_checksum)).
    pub fn presign_put(
        &self,
        key: &BlobKey,
        meta: &ObjectMeta,
        checksum: &PutChecksum,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedPut {
        match self {
            Self::S3(signer) => signer.presign_put(key, meta, checksum, now, expires_in),
            Self::Azure(signer) => signer.presign_put(key, meta, checksum, now, expires_in),
        }
    }

    /// The checksum this store checks a PUT of `body` against; `body_sha256` is its
    /// SHA-256 in hex, which S3 takes as it is.
    pub fn put_checksum(&self, body: &[u8], body_sha256: &str) -> PutChecksum {
        match self {
            Self::S3(_) => PutChecksum::sha256(body_sha256),
            Self::Azure(_) => PutChecksum::md5(body),
        }
    }

    /// A DELETE of `key`, valid for `expires_in` from `now`.
    pub fn presign_delete(
        &self,
        key: &BlobKey,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedUrl {
        match self {
            Self::S3(signer) => signer.presign_delete(key, now, expires_in),
            Self::Azure(signer) => signer.presign_delete(key, now, expires_in),
        }
    }

    /// Where this store's requests go, as `host[:port]`: the endpoint's, or with S3's
    /// virtual-hosted style the bucket's own host (`bucket.endpoint`). Outbound policies
    /// allow this authority and no other.
    pub fn authority(&self) -> String {
        match self {
            Self::S3(signer) => signer.authority(),
            Self::Azure(signer) => signer.authority(),
        }
    }

    /// The prefix of user metadata headers in this store.
    pub fn meta_prefix(&self) -> &'static str {
        match self {
            Self::S3(_) => s3::META_PREFIX,
            Self::Azure(_) => azure::META_PREFIX,
        }
    }
}
