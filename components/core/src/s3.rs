//! SigV4 presigned URLs for S3-compatible storage (rusty-s3), with time passed in.

use crate::blob_object::ObjectMeta;
use crate::signed_url::{SignedPut, SignedUrl, timestamp};
use crate::{BlobKey, PutChecksum};
use rusty_s3::actions::{DeleteObject, GetObject, HeadObject, PutObject, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use std::time::{Duration, SystemTime};

/// The prefix S3 gives user metadata headers.
pub const META_PREFIX: &str = "x-amz-meta-";

/// Signs requests for one bucket with one set of credentials.
#[derive(Debug, Clone)]
pub struct S3Signer {
    bucket: Bucket,
    credentials: Credentials,
}

/// Why the blob settings cannot sign requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    /// The endpoint is not an http(s) URL with a host, or the bucket name does not fit it.
    #[error("blob endpoint {endpoint:?} with bucket {bucket:?} is unusable: {reason}")]
    Endpoint {
        /// The configured endpoint.
        endpoint: String,
        /// The configured bucket.
        bucket: String,
        /// What is wrong.
        reason: String,
    },
}

impl S3Signer {
    /// A signer for `bucket` at `endpoint` (such as `https://s3.eu-west-1.amazonaws.com` or
    /// `http://127.0.0.1:9000`); `path_style` puts the bucket in the path rather than the host.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        path_style: bool,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Self, S3Error> {
        let fail = |reason: String| S3Error::Endpoint {
            endpoint: endpoint.to_owned(),
            bucket: bucket.to_owned(),
            reason,
        };
        let url = url::Url::parse(endpoint).map_err(|e| fail(e.to_string()))?;
        let style = if path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(url, style, bucket.to_owned(), region.to_owned())
            .map_err(|e| fail(format!("{e:?}")))?;
        Ok(Self {
            bucket,
            credentials: Credentials::new(access_key_id, secret_access_key),
        })
    }

    /// Where requests go, as `host[:port]`: with the virtual-hosted style, the bucket's
    /// host.
    pub fn authority(&self) -> String {
        self.bucket.base_url().authority().to_owned()
    }

    /// A GET of `key`, valid for `expires_in` from `now`.
    pub fn presign_get(&self, key: &BlobKey, now: SystemTime, expires_in: Duration) -> SignedUrl {
        let action = GetObject::new(&self.bucket, Some(&self.credentials), key.as_str());
        SignedUrl::new(action.sign_with_time(expires_in, &timestamp(now)))
    }

    /// A HEAD of `key`, valid for `expires_in` from `now`: SigV4 signs the method, so a
    /// GET's URL does not serve.
    pub fn presign_head(&self, key: &BlobKey, now: SystemTime, expires_in: Duration) -> SignedUrl {
        let action = HeadObject::new(&self.bucket, Some(&self.credentials), key.as_str());
        SignedUrl::new(action.sign_with_time(expires_in, &timestamp(now)))
    }

    /// A DELETE of `key`, valid for `expires_in` from `now`.
    pub fn presign_delete(
        &self,
        key: &BlobKey,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedUrl {
        let action = DeleteObject::new(&self.bucket, Some(&self.credentials), key.as_str());
        SignedUrl::new(action.sign_with_time(expires_in, &timestamp(now)))
    }

    /// A PUT of `key` carrying `meta`, valid for `expires_in` from `now`, whose body the
    /// store checks against `checksum`. Both are signed: a request without them, or with
    /// others, is refused.
    pub fn presign_put(
        &self,
        key: &BlobKey,
        meta: &ObjectMeta,
        checksum: &PutChecksum,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedPut {
        let mut headers = meta.to_headers(META_PREFIX);
        headers.push((checksum.header.to_owned(), checksum.value.clone()));
        let mut action = PutObject::new(&self.bucket, Some(&self.credentials), key.as_str());
        for (name, value) in &headers {
            action.headers_mut().insert(name.clone(), value.clone());
        }
        SignedPut {
            url: SignedUrl::new(action.sign_with_time(expires_in, &timestamp(now))),
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordId;

    fn signer() -> S3Signer {
        S3Signer::new(
            "http://127.0.0.1:9000",
            "records",
            "us-east-1",
            true,
            "AKID",
            "SECRET",
        )
        .unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn requests_go_to_the_bucket_host_in_the_virtual_hosted_style() {
        assert_eq!(signer().authority(), "127.0.0.1:9000");
        let virtual_hosted = S3Signer::new(
            "https://s3.eu-west-1.amazonaws.com",
            "billing-archive",
            "eu-west-1",
            false,
            "AKID",
            "SECRET",
        )
        .unwrap();
        assert_eq!(
            virtual_hosted.authority(),
            "billing-archive.s3.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn get_is_signed_for_the_key_at_the_given_time() {
        let key = BlobKey::for_record(&RecordId::parse("INV-42").unwrap());
        let url = signer().presign_get(&key, at(1_700_000_000), Duration::from_secs(60));
        let u = url::Url::parse(url.expose()).unwrap();
        assert_eq!(u.path(), format!("/records/{key}"));
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["X-Amz-Date"], "20231114T221320Z");
        assert_eq!(q["X-Amz-Expires"], "60");
        assert_eq!(
            q["X-Amz-Credential"],
            "AKID/20231114/us-east-1/s3/aws4_request"
        );
        assert_eq!(q["X-Amz-SignedHeaders"], "host");
        // Same inputs, same signature: pinned so that a change in signing is noticed.
        let again = signer().presign_get(&key, at(1_700_000_000), Duration::from_secs(60));
        assert_eq!(url, again);
        let later = signer().presign_get(&key, at(1_700_000_001), Duration::from_secs(60));
        assert_ne!(url, later);
    }

    #[test]
    fn put_signs_the_metadata_and_checksum_headers() {
        let key = BlobKey::for_record(&RecordId::parse("INV-42").unwrap());
        let meta = ObjectMeta::describe(b"{}", "application/json");
        let checksum = PutChecksum::sha256(&meta.sha256);
        let put = signer().presign_put(
            &key,
            &meta,
            &checksum,
            at(1_700_000_000),
            Duration::from_secs(60),
        );
        assert!(
            put.headers
                .contains(&("x-amz-checksum-sha256".into(), checksum.value))
        );
        let u = url::Url::parse(put.url.expose()).unwrap();
        let signed: String = u
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-SignedHeaders")
            .unwrap()
            .1
            .into_owned();
        for (name, _) in &put.headers {
            assert!(
                signed.contains(name.as_str()),
                "{name} not signed in {signed}"
            );
        }
    }

    #[test]
    fn printing_a_signed_url_hides_the_signature() {
        let key = BlobKey::for_record(&RecordId::parse("INV-42").unwrap());
        let url = signer().presign_get(&key, at(1_700_000_000), Duration::from_secs(60));
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("X-Amz-Signature"), "{shown}");
            assert!(shown.contains("INV-42"));
        }
    }

    #[test]
    fn unusable_endpoints_are_reported() {
        let err = S3Signer::new("ftp://x", "b", "r", true, "k", "s").unwrap_err();
        assert!(err.to_string().contains("ftp://x"), "{err}");
    }
}
