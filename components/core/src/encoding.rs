//! How an archived record's bytes are stored: the content codings the archiver can write
//! and the edge can read. Names are HTTP content-coding tokens where one exists, so an
//! object can be served as stored to a client that accepts its coding.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

/// A content coding of stored objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Stored as is.
    Identity,
    /// LZ4 frame format (`lz4_flex`): the fastest to write and to read.
    Lz4,
    /// gzip (`flate2` on miniz_oxide, level 1).
    Gzip,
    /// Zstandard (`ruzstd`, its fastest level).
    Zstd,
}

/// A stored object that does not decode to a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid in this coding.
    #[error("stored bytes are not valid {encoding}: {reason}")]
    Corrupt {
        /// The coding.
        encoding: Encoding,
        /// What the decoder said.
        reason: String,
    },
    /// The bytes decode to more than the record's recorded size.
    #[error("stored bytes decode to more than the {limit} bytes recorded")]
    TooLong {
        /// The recorded size.
        limit: u64,
    },
}

impl Encoding {
    /// Every coding, identity first.
    pub const ALL: [Encoding; 4] = [Self::Identity, Self::Lz4, Self::Gzip, Self::Zstd];

    /// The coding's name: the HTTP content-coding token where there is one.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Lz4 => "lz4",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }

    /// Encodes `bytes`.
    pub fn encode(self, bytes: &[u8]) -> Vec<u8> {
        // Writing into a Vec cannot fail; the encoders only fail on their writer's errors.
        match self {
            Self::Identity => bytes.to_vec(),
            Self::Lz4 => {
                let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
                encoder.write_all(bytes).expect("writing to a Vec");
                encoder.finish().expect("writing to a Vec")
            }
            Self::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(bytes).expect("writing to a Vec");
                encoder.finish().expect("writing to a Vec")
            }
            Self::Zstd => ruzstd::encoding::compress_to_vec(
                bytes,
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        }
    }

    /// Decodes `stored`, refusing output longer than `limit` bytes (the recorded size), so
    /// a corrupt or hostile object cannot exhaust memory.
    pub fn decode(self, stored: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
        let corrupt = |reason: String| DecodeError::Corrupt {
            encoding: self,
            reason,
        };
        let mut out = Vec::with_capacity(limit.min(16 << 20) as usize);
        let read = match self {
            Self::Identity => {
                out.extend_from_slice(stored);
                Ok(stored.len())
            }
            Self::Lz4 => lz4_flex::frame::FrameDecoder::new(stored)
                .take(limit + 1)
                .read_to_end(&mut out),
            Self::Gzip => flate2::read::GzDecoder::new(stored)
                .take(limit + 1)
                .read_to_end(&mut out),
            Self::Zstd => ruzstd::decoding::StreamingDecoder::new(stored)
                .map_err(|e| corrupt(e.to_string()))?
                .take(limit + 1)
                .read_to_end(&mut out),
        };
        read.map_err(|e| corrupt(e.to_string()))?;
        if out.len() as u64 > limit {
            return Err(DecodeError::TooLong { limit });
        }
        Ok(out)
    }

    /// Whether an `accept-encoding` header value accepts this coding (a listed token
    /// without `q=0`; `identity` is always acceptable).
    pub fn accepted_by(self, accept_encoding: &str) -> bool {
        if self == Self::Identity {
            return true;
        }
        accept_encoding.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let token = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            token.eq_ignore_ascii_case(self.as_str()) && !refused
        })
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A coding name tiergate does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding {0:?} (expected identity, lz4, gzip or zstd)")]
pub struct UnknownEncoding(pub String);

impl FromStr for Encoding {
    type Err = UnknownEncoding;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEncoding(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn billing_json() -> Vec<u8> {
        let line =
            r#"{"sku":"SKU-00042","description":"Metered usage","quantity":3,"amount":"12.60"},"#;
        let mut doc = String::from(r#"{"id":"INV-1","lines":["#);
        while doc.len() < 50_000 {
            doc.push_str(line);
        }
        doc.push_str("{}]}");
        doc.into_bytes()
    }

    #[test]
    fn every_encoding_round_trips_and_compresses_json() {
        let record = billing_json();
        for encoding in Encoding::ALL {
            let stored = encoding.encode(&record);
            if encoding != Encoding::Identity {
                assert!(
                    stored.len() < record.len() / 3,
                    "{encoding}: {}",
                    stored.len()
                );
            }
            let back = encoding.decode(&stored, record.len() as u64).unwrap();
            assert!(back == record, "{encoding} did not round-trip");
            assert_eq!(encoding.as_str().parse(), Ok(encoding));
        }
    }

    #[test]
    fn decoding_stops_at_the_recorded_size() {
        let record = billing_json();
        for encoding in Encoding::ALL {
            let stored = encoding.encode(&record);
            let err = encoding.decode(&stored, 100).unwrap_err();
            assert_eq!(err, DecodeError::TooLong { limit: 100 }, "{encoding}");
        }
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_record() {
        for encoding in [Encoding::Lz4, Encoding::Gzip, Encoding::Zstd] {
            let mut stored = encoding.encode(&billing_json());
            stored.truncate(stored.len() / 2);
            assert!(
                encoding.decode(&stored, 1 << 20).is_err(),
                "{encoding} accepted a truncated object"
            );
        }
    }

    #[test]
    fn accept_encoding_is_read_token_by_token() {
        assert!(Encoding::Gzip.accepted_by("gzip, deflate, br"));
        assert!(Encoding::Zstd.accepted_by("br;q=1.0, ZSTD;q=0.5"));
        assert!(!Encoding::Gzip.accepted_by("gzip;q=0, br"));
        assert!(!Encoding::Lz4.accepted_by("gzip, deflate"));
        assert!(!Encoding::Gzip.accepted_by("x-gzip2"));
        assert!(Encoding::Identity.accepted_by(""));
    }
}
