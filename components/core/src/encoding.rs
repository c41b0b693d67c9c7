//! How an archived record's bytes are stored: the content codings the archiver can write
//! and the edge can read. Names are HTTP content-coding tokens where one exists, so an
//! object can be served as stored to a client that accepts its coding.

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::str::FromStr;

/// How much of a record the gzip and zstd decoders produce at a time: an LZ4 block, which
/// is what the LZ4 decoder hands over from its own buffer.
const CHUNK: usize = 64 * 1024;

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
                // Linked 64 KB blocks compress as well as one large block (LZ4 looks back 64
                // KB at most), and let a decoder work in 192 KB of buffer: left to choose,
                // lz4_flex writes a record over 256 KB as one 4 MB block, and its decoder
                // zeroes 4 MB for every such object it opens. The header carries the size,
                // which the decoder checks.
                let info = FrameInfo::new()
                    .block_size(BlockSize::Max64KB)
                    .block_mode(BlockMode::Linked)
                    .content_size(Some(bytes.len() as u64));
                let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
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
        let mut out = Vec::with_capacity(limit.min(16 << 20) as usize);
        let whole = self.decode_chunks(stored, |chunk| {
            let fits = (out.len() + chunk.len()) as u64 <= limit;
            if fits {
                out.extend_from_slice(chunk);
            }
            fits
        })?;
        if !whole {
            return Err(DecodeError::TooLong { limit });
        }
        Ok(out)
    }

    /// Whether `stored` decodes to exactly `record`. Compared as it decodes, a chunk at a
    /// time: no decoded copy of the record is made, and a difference stops the decoding.
    pub fn decodes_to(self, stored: &[u8], record: &[u8]) -> Result<bool, DecodeError> {
        let mut rest = record;
        let whole =
            self.decode_chunks(stored, |chunk| match rest.split_at_checked(chunk.len()) {
                Some((head, tail)) if head == chunk => {
                    rest = tail;
                    true
                }
                _ => false,
            })?;
        Ok(whole && rest.is_empty())
    }

    /// Hands what `stored` decodes to, a chunk at a time, to `take` until the end (true) or
    /// until `take` returns false (false). The chunks are the decoder's own buffer: nothing
    /// is copied or zeroed on the way.
    fn decode_chunks(
        self,
        stored: &[u8],
        mut take: impl FnMut(&[u8]) -> bool,
    ) -> Result<bool, DecodeError> {
        let mut decoder: Box<dyn BufRead + '_> = match self {
            Self::Identity => Box::new(stored),
            Self::Lz4 => Box::new(FrameDecoder::new(stored)),
            Self::Gzip => Box::new(BufReader::with_capacity(
                CHUNK,
                flate2::read::GzDecoder::new(stored),
            )),
            Self::Zstd => Box::new(BufReader::with_capacity(
                CHUNK,
                ruzstd::decoding::StreamingDecoder::new(stored).map_err(|e| self.corrupt(e))?,
            )),
        };
        loop {
            let chunk = decoder.fill_buf().map_err(|e| self.corrupt(e))?;
            if chunk.is_empty() {
                return Ok(true);
            }
            if !take(chunk) {
                return Ok(false);
            }
            let taken = chunk.len();
            decoder.consume(taken);
        }
    }

    fn corrupt(self, reason: impl fmt::Display) -> DecodeError {
        DecodeError::Corrupt {
            encoding: self,
            reason: reason.to_string(),
        }
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
    fn a_record_is_compared_with_what_its_bytes_decode_to() {
        // Several LZ4 blocks and decoded chunks, so that a difference can be in a later one.
        let record = billing_json().repeat(4);
        for encoding in Encoding::ALL {
            let stored = encoding.encode(&record);
            assert_eq!(
                encoding.decodes_to(&stored, &record),
                Ok(true),
                "{encoding}"
            );
            for at in [0, 3 * CHUNK + 5, record.len() - 1] {
                let mut other = record.clone();
                other[at] ^= 1;
                assert_eq!(
                    encoding.decodes_to(&stored, &other),
                    Ok(false),
                    "{encoding}"
                );
            }
            let shorter = &record[..record.len() - 1];
            assert_eq!(
                encoding.decodes_to(&stored, shorter),
                Ok(false),
                "{encoding}"
            );
            let longer = [&record[..], b" "].concat();
            assert_eq!(
                encoding.decodes_to(&stored, &longer),
                Ok(false),
                "{encoding}"
            );
        }
        let mut cut = Encoding::Lz4.encode(&record);
        cut.truncate(cut.len() / 2);
        assert!(Encoding::Lz4.decodes_to(&cut, &record).is_err());
    }

    #[test]
    fn lz4_writes_small_linked_blocks_with_the_size_in_the_header() {
        // The frame descriptor: FLG (version 01, linked, content size), then BD (64 KB).
        let stored = Encoding::Lz4.encode(&billing_json());
        let (flg, bd) = (stored[4], stored[5]);
        assert_eq!(flg & 0b1100_0000, 0b0100_0000, "version");
        assert_eq!(flg & 0b0010_0000, 0, "blocks must be linked");
        assert_ne!(flg & 0b0000_1000, 0, "content size");
        assert_eq!(bd, 4 << 4, "64 KB blocks");
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
