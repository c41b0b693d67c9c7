//! Azure Blob Storage: a service SAS for one blob (HMAC-SHA256 over the string-to-sign, with
//! the base64-decoded account key), with time passed in. No maintained crate signs a service
//! SAS without bringing an HTTP stack; the format is small and documented
//! ("Create a service SAS", signed version 2020-12-06 and later).

use crate::blob_object::ObjectMeta;
use crate::signed_url::{SignedPut, SignedUrl, timestamp};
use crate::{BlobKey, PutChecksum};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::{Duration, SystemTime};

/// The prefix Azure gives user metadata headers.
pub const META_PREFIX: &str = "x-ms-meta-";

/// The signed version (`sv`): recent enough for the 2020-12-06 string-to-sign, old enough
/// for Azurite 3.35 (which accepts up to 2025-11-05).
pub const SAS_VERSION: &str = "2022-11-02";

/// What a SAS allows, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read the blob (the edge).
    Read,
    /// Read, create and write the blob (the archiver writes, and reads back to verify).
    ReadCreateWrite,
    /// Delete the blob (the archiver removes a stale copy).
    Delete,
}

impl Access {
    /// The `sp` value; Azure wants permissions in the order `racwd...`.
    fn permissions(self) -> &'static str {
        match self {
            Self::Read => "r",
            Self::ReadCreateWrite => "rcw",
            Self::Delete => "d",
        }
    }
}

/// Signs service SAS URLs for blobs of one container.
#[derive(Clone)]
pub struct AzureSigner {
    /// Where the container's URLs start, without a trailing slash: the account's endpoint
    /// (`https://acct.blob.core.windows.net`), or with path style, as emulators such as
    /// Azurite serve, the endpoint and the account (`http://127.0.0.1:10000/devstoreaccount1`).
    base: String,
    account: String,
    container: String,
    key: Vec<u8>,
    https_only: bool,
}

/// Why the Azure settings cannot sign requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AzureError {
    /// The endpoint is not an http(s) URL with a host.
    #[error("Azure endpoint {0:?} must be an http:// or https:// URL with a host")]
    Endpoint(String),
    /// The endpoint has a path: hosts that allow outbound hosts by list (Spin) take none.
    #[error(
        "Azure endpoint {0:?} must not have a path: give the account in blob_account and, for \
         an emulator such as Azurite (http://127.0.0.1:10000/<account>), set blob_path_style"
    )]
    EndpointPath(String),
    /// The container name breaks Azure's rules.
    #[error(
        "Azure container {0:?}: 3-63 lowercase letters, digits and single hyphens, \
         starting with a letter or digit"
    )]
    Container(String),
    /// The account name breaks Azure's rules.
    #[error("Azure account {0:?}: 3-24 lowercase letters and digits")]
    Account(String),
    /// The account key is not base64.
    #[error("Azure account key is not valid base64 (copy it whole from the portal): {0}")]
    Key(String),
}

impl AzureSigner {
    /// A signer for `container` in `account` at `endpoint`, with the base64 account key;
    /// `path_style` puts the account in the path rather than the host.
    pub fn new(
        endpoint: &str,
        account: &str,
        container: &str,
        account_key: &str,
        path_style: bool,
    ) -> Result<Self, AzureError> {
        let url = url::Url::parse(endpoint).map_err(|_| AzureError::Endpoint(endpoint.into()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(AzureError::Endpoint(endpoint.into()));
        }
        if url.path() != "/" || url.query().is_some() {
            return Err(AzureError::EndpointPath(endpoint.into()));
        }
        let account_ok = (3..=24).contains(&account.len())
            && account
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !account_ok {
            return Err(AzureError::Account(account.into()));
        }
        let container_ok = (3..=63).contains(&container.len())
            && container
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !container.starts_with('-')
            && !container.ends_with('-')
            && !container.contains("--");
        if !container_ok {
            return Err(AzureError::Container(container.into()));
        }
        let key = BASE64
            .decode(account_key.trim())
            .map_err(|e| AzureError::Key(e.to_string()))?;
        let endpoint = endpoint.trim_end_matches('/');
        Ok(Self {
            base: if path_style {
                format!("{endpoint}/{account}")
            } else {
                endpoint.to_owned()
            },
            account: account.to_owned(),
            container: container.to_owned(),
            key,
            https_only: url.scheme() == "https",
        })
    }

    /// Where requests go, as `host[:port]`: the endpoint's (the account is in its host, or
    /// with path style in the path).
    pub fn authority(&self) -> String {
        url::Url::parse(&self.base).map_or_else(|_| String::new(), |url| url.authority().to_owned())
    }

    /// A GET of `key`, valid for `expires_in` from `now`.
    pub fn presign_get(&self, key: &BlobKey, now: SystemTime, expires_in: Duration) -> SignedUrl {
        self.sign(key, Access::Read, now, expires_in)
    }

    /// A PUT of `key` as a block blob carrying `meta`, valid for `expires_in` from `now`,
    /// whose body the store checks against `checksum` (a SAS signs no headers).
    pub fn presign_put(
        &self,
        key: &BlobKey,
        meta: &ObjectMeta,
        checksum: &PutChecksum,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedPut {
        let mut headers = vec![("x-ms-blob-type".to_owned(), "BlockBlob".to_owned())];
        headers.extend(meta.to_headers(META_PREFIX));
        headers.push((checksum.header.to_owned(), checksum.value.clone()));
        SignedPut {
            url: self.sign(key, Access::ReadCreateWrite, now, expires_in),
            headers,
        }
    }

    /// A DELETE of `key`, valid for `expires_in` from `now`.
    pub fn presign_delete(
        &self,
        key: &BlobKey,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedUrl {
        self.sign(key, Access::Delete, now, expires_in)
    }

    /// A URL for `key` granting `access` until `now + expires_in`.
    pub fn sign(
        &self,
        key: &BlobKey,
        access: Access,
        now: SystemTime,
        expires_in: Duration,
    ) -> SignedUrl {
        let expiry = timestamp(now + expires_in)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let protocol = if self.https_only {
            "https"
        } else {
            "https,http"
        };
        let resource = format!("/blob/{}/{}/{}", self.account, self.container, key);
        // Every field of the string-to-sign, in order, empty where tiergate sets nothing.
        let string_to_sign = [
            access.permissions(), // sp
            "",                   // st: valid from now, so that clock skew cannot delay it
            &expiry,              // se
            &resource,            // canonicalized resource
            "",                   // si: no stored access policy
            "",                   // sip
            protocol,             // spr
            SAS_VERSION,          // sv
            "b",                  // sr: one blob
            "",                   // snapshot time
            "",                   // encryption scope
            "",                   // rscc
            "",                   // rscd
            "",                   // rsce
            "",                   // rscl
            "",                   // rsct
        ]
        .join("\n");
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(string_to_sign.as_bytes());
        let signature = BASE64.encode(mac.finalize().into_bytes());

        let mut url = url::Url::parse(&format!("{}/{}/{}", self.base, self.container, key))
            .expect("endpoint, container and key were checked");
        url.query_pairs_mut()
            .append_pair("sv", SAS_VERSION)
            .append_pair("sp", access.permissions())
            .append_pair("se", &expiry)
            .append_pair("sr", "b")
            .append_pair("spr", protocol)
            .append_pair("sig", &signature);
        SignedUrl::new(url)
    }
}

impl fmt::Debug for AzureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureSigner")
            .field("base", &self.base)
            .field("account", &self.account)
            .field("container", &self.container)
            .field("key", &"<secret>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordId;

    /// Azurite's well-known development account key (public, documented by Microsoft).
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn signer(endpoint: &str, path_style: bool) -> AzureSigner {
        AzureSigner::new(endpoint, "devstoreaccount1", "records", DEV_KEY, path_style).unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn query(url: &SignedUrl) -> std::collections::HashMap<String, String> {
        url::Url::parse(url.expose())
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[test]
    fn read_sas_matches_an_independent_computation() {
        let key = BlobKey::for_record(&RecordId::parse("INV-42").unwrap());
        let url = signer("http://127.0.0.1:10000", true).presign_get(
            &key,
            at(1_700_000_000),
            Duration::from_secs(60),
        );
        let q = query(&url);
        assert_eq!(q["sv"], SAS_VERSION);
        assert_eq!(q["sp"], "r");
        assert_eq!(q["se"], "2023-11-14T22:14:20Z");
        assert_eq!(q["sr"], "b");
        assert_eq!(q["spr"], "https,http");
        // Computed with Python's hmac/hashlib/base64 from the 16 fields of the string-to-sign
        // (sp, st, se, resource, si, sip, spr, sv, sr, snapshot, ses, rscc..rsct) joined by
        // "\n", with the key base64-decoded.
        assert_eq!(q["sig"], "3mePvuH6nwBrHD5BuYbtReav5deIRLEBAxP9TPDBqQo=");
        assert!(
            url.expose().starts_with(
                "http://127.0.0.1:10000/devstoreaccount1/records/records/45b4/INV-42?"
            )
        );
    }

    #[test]
    fn https_endpoints_get_https_only_sas_and_writers_get_create_write() {
        let key = BlobKey::for_record(&RecordId::parse("INV-42").unwrap());
        let signer = signer("https://devstoreaccount1.blob.core.windows.net/", false);
        let meta = ObjectMeta::describe(b"{}", "application/json");
        let checksum = PutChecksum::md5(b"{}");
        let put = signer.presign_put(
            &key,
            &meta,
            &checksum,
            at(1_700_000_000),
            Duration::from_secs(60),
        );
        let q = query(&put.url);
        assert_eq!((q["spr"].as_str(), q["sp"].as_str()), ("https", "rcw"));
        assert!(
            put.headers
                .contains(&("x-ms-blob-type".into(), "BlockBlob".into()))
        );
        assert!(
            put.headers
                .iter()
                .any(|(n, _)| n == "x-ms-meta-tiergatesha256")
        );
        assert!(
            put.headers
                .contains(&("content-md5".into(), checksum.value))
        );
    }

    #[test]
    fn bad_settings_are_refused_with_the_rule() {
        let e = AzureSigner::new(
            "http://h",
            "devstoreaccount1",
            "records",
            "not base64!",
            false,
        );
        assert!(matches!(e, Err(AzureError::Key(_))));
        for bad in ["ab", "Records", "-rec", "re--c", &"r".repeat(64)] {
            let e = AzureSigner::new("http://h", "devstoreaccount1", bad, DEV_KEY, false);
            assert_eq!(e.unwrap_err(), AzureError::Container(bad.into()));
        }
        let e = AzureSigner::new("ftp://h", "devstoreaccount1", "records", DEV_KEY, false);
        assert!(matches!(e, Err(AzureError::Endpoint(_))));
        let with_path = "http://127.0.0.1:10000/devstoreaccount1";
        let e = AzureSigner::new(with_path, "devstoreaccount1", "records", DEV_KEY, true);
        assert_eq!(e.unwrap_err(), AzureError::EndpointPath(with_path.into()));
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", signer("http://h", false));
        assert!(
            !shown.contains("Eby8") && shown.contains("<secret>"),
            "{shown}"
        );
    }
}
