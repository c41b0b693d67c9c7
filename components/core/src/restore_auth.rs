//! The restore endpoint's authentication: the edge asks the tiergate host to put an archived
//! record back in the hot table before it forwards a write, and signs that request with a
//! key it shares with the host. The signature is an HMAC-SHA256 over the method, the record
//! id and the time, so a captured header restores only that record, only for a minute, and
//! the key itself never travels.

use crate::RecordId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

/// The header that carries the signature: `t=<unix seconds>,sig=<hex HMAC>`.
pub const HEADER: &str = "x-tiergate-restore";

/// How far the signing time may be from the checker's clock, either way.
pub const MAX_SKEW_SECS: u64 = 60;

/// The shared key. Its `Debug` does not show it.
#[derive(Clone)]
pub struct RestoreKey(Vec<u8>);

impl fmt::Debug for RestoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RestoreKey(..)")
    }
}

/// Why a restore request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreAuthError {
    /// No signature header.
    #[error("the request carries no {HEADER} header")]
    Missing,
    /// The header is not `t=...,sig=...`.
    #[error("the {HEADER} header is malformed")]
    Malformed,
    /// Signed too long ago, or in the future.
    #[error("the signature's time is more than {MAX_SKEW_SECS} s from this host's clock")]
    Stale,
    /// Signed with another key, or for another method or record.
    #[error("the signature does not match")]
    Mismatch,
}

impl RestoreKey {
    /// A key from its secret text (at least 16 bytes: it stands between the internet and
    /// the hot database's write path).
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < 16 {
            return Err(format!(
                "the restore key is {} bytes long; it needs at least 16",
                secret.len()
            ));
        }
        Ok(Self(secret.as_bytes().to_vec()))
    }

    /// The header value that authorizes `method` on record `id` at `now_secs`.
    pub fn sign(&self, method: &str, id: &RecordId, now_secs: u64) -> String {
        let mac = self.mac(method, id.as_str(), now_secs);
        format!(
            "t={now_secs},sig={}",
            hex::encode(mac.finalize().into_bytes())
        )
    }

    /// Checks `header` (the value of [`HEADER`], if any) for `method` on record `id`, at
    /// `now_secs` by the checker's clock. The comparison takes the same time whatever the
    /// signature.
    pub fn check(
        &self,
        header: Option<&str>,
        method: &str,
        id: &str,
        now_secs: u64,
    ) -> Result<(), RestoreAuthError> {
        let header = header.ok_or(RestoreAuthError::Missing)?;
        let (t, sig) = header
            .split_once(",sig=")
            .and_then(|(t, sig)| Some((t.strip_prefix("t=")?.parse::<u64>().ok()?, sig)))
            .ok_or(RestoreAuthError::Malformed)?;
        let sig = hex::decode(sig).map_err(|_| RestoreAuthError::Malformed)?;
        if t.abs_diff(now_secs) > MAX_SKEW_SECS {
            return Err(RestoreAuthError::Stale);
        }
        self.mac(method, id, t)
            .verify_slice(&sig)
            .map_err(|_| RestoreAuthError::Mismatch)
    }

    fn mac(&self, method: &str, id: &str, secs: u64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        // Newline-separated: no method, id or number contains one.
        mac.update(format!("{method}\n{id}\n{secs}").as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> RestoreKey {
        RestoreKey::new(secret).unwrap()
    }

    #[test]
    fn a_signature_authorizes_its_method_and_record_for_a_minute() {
        let k = key("0123456789abcdef-shared");
        let id = RecordId::parse("INV-1").unwrap();
        let header = k.sign("POST", &id, 1_000);
        assert_eq!(k.check(Some(&header), "POST", "INV-1", 1_000), Ok(()));
        assert_eq!(k.check(Some(&header), "POST", "INV-1", 1_060), Ok(()));
        assert_eq!(k.check(Some(&header), "POST", "INV-1", 940), Ok(()));
        assert_eq!(
            k.check(Some(&header), "POST", "INV-1", 1_061),
            Err(RestoreAuthError::Stale)
        );
        assert_eq!(
            k.check(Some(&header), "POST", "INV-2", 1_000),
            Err(RestoreAuthError::Mismatch)
        );
        assert_eq!(
            k.check(Some(&header), "DELETE", "INV-1", 1_000),
            Err(RestoreAuthError::Mismatch)
        );
        let other = key("another-key-of-16-bytes");
        assert_eq!(
            other.check(Some(&header), "POST", "INV-1", 1_000),
            Err(RestoreAuthError::Mismatch)
        );
        // A later time in the header does not carry the old signature.
        let moved = header.replacen("t=1000", "t=1001", 1);
        assert_eq!(
            k.check(Some(&moved), "POST", "INV-1", 1_000),
            Err(RestoreAuthError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let k = key("0123456789abcdef");
        assert_eq!(
            k.check(None, "POST", "INV-1", 0),
            Err(RestoreAuthError::Missing)
        );
        for bad in ["", "t=1", "sig=00", "t=x,sig=00", "t=1,sig=zz"] {
            assert_eq!(
                k.check(Some(bad), "POST", "INV-1", 1),
                Err(RestoreAuthError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert!(RestoreKey::new("short").is_err());
        assert_eq!(format!("{:?}", key("0123456789abcdef")), "RestoreKey(..)");
    }
}
