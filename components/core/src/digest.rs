//! SHA-256 of records and stored objects, in lower-case hex.
//!
//! Natively this is the sha2 crate, on the CPU's SHA instructions where it has them. Wasm has
//! no such instructions: in the archiver component, hashing took a quarter of the CPU of a
//! copy run and nearly half of a delete run (`bench/results/2026-11-27-archiver-digest.md`),
//! so a component whose host offers SHA-256 hands the work over with [`hash_with`]. Hashes of
//! short strings (blob keys, HMAC keys) stay with the crate.

use sha2::{Digest as _, Sha256};
use std::sync::OnceLock;

/// A SHA-256 implementation: the hex digest of its input.
pub type Sha256Hex = fn(&[u8]) -> String;

static SHA256: OnceLock<Sha256Hex> = OnceLock::new();

/// Whoever computes [`sha256_hex`] from now on, in this process or instance.
pub fn hash_with(sha256: Sha256Hex) -> Result<(), WrongDigest> {
    // Every hash in the ledger and in object metadata comes from here: a broken
    // implementation must be refused before it hashes anything.
    const PROBE: &[u8] = b"tiergate digest probe";
    let expected = crate_sha256_hex(PROBE);
    let actual = sha256(PROBE);
    if actual != expected {
        return Err(WrongDigest { expected, actual });
    }
    // A second call (the next run on a reused instance) keeps the first implementation.
    let _ = SHA256.set(sha256);
    Ok(())
}

/// The SHA-256 of `data`, as 64 hex digits.
pub fn sha256_hex(data: &[u8]) -> String {
    SHA256
        .get()
        .map_or_else(|| crate_sha256_hex(data), |f| f(data))
}

fn crate_sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// [`hash_with`] was given a SHA-256 that computes something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the SHA-256 offered computes {actual:?} where SHA-256 is {expected:?}; it is not used")]
pub struct WrongDigest {
    /// SHA-256 of the probe.
    pub expected: String,
    /// What the offered implementation computed.
    pub actual: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crate_computes_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_wrong_implementation_is_refused_and_not_used() {
        let err = hash_with(|_| "00".repeat(32)).unwrap_err();
        assert_eq!(err.actual, "00".repeat(32));
        assert_eq!(err.expected, crate_sha256_hex(b"tiergate digest probe"));
        assert_eq!(sha256_hex(b"abc"), crate_sha256_hex(b"abc"));
    }

    #[test]
    fn a_right_implementation_is_taken() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn counted(data: &[u8]) -> String {
            CALLS.fetch_add(1, Ordering::SeqCst);
            crate_sha256_hex(data)
        }
        hash_with(counted).unwrap();
        let before = CALLS.load(Ordering::SeqCst);
        assert_eq!(sha256_hex(b"abc"), crate_sha256_hex(b"abc"));
        // Other tests in this process may hash through it too.
        assert!(CALLS.load(Ordering::SeqCst) > before);
    }
}
