//! Records like the API's: billing documents as JSON, of an exact size, the same bytes for
//! the same seed (so a failing test can be rerun on the same data).

use bytes::Bytes;
use std::fmt::Write as _;

/// The content type of generated records.
pub const CONTENT_TYPE: &str = "application/json";

/// The size of the API's largest records (docs/architecture.md: "billing records of up to 300 KB").
pub const LARGE_RECORD_BYTES: usize = 300_000;

/// A billing record for `id` of exactly `size` bytes of JSON, determined by `seed`: invoice
/// lines up to the size, then a note that pads it to the byte. `id` is written as it is
/// (record ids need no JSON escaping).
///
/// # Panics
///
/// If `size` cannot hold the record's fixed fields (about 120 bytes).
pub fn billing_record(id: &str, seed: u64, size: usize) -> Bytes {
    let mut rng = SplitMix64(seed);
    let mut json = format!(
        r#"{{"id":"{id}","customer":"CUST-{:06}","issued":"2024-{:02}-{:02}","currency":"{}","lines":["#,
        rng.below(1_000_000),
        1 + rng.below(12),
        1 + rng.below(28),
        ["EUR", "USD", "GBP", "CHF"][rng.below(4) as usize],
    );
    const NOTE_OPEN: &str = r#"],"note":""#;
    const CLOSE: &str = r#""}"#;
    let fixed = json.len() + NOTE_OPEN.len() + CLOSE.len();
    assert!(
        fixed <= size,
        "a billing record for {id} needs at least {fixed} bytes, not {size}"
    );

    let mut line = String::new();
    for n in 0.. {
        line.clear();
        if n > 0 {
            line.push(',');
        }
        let _ = write!(
            line,
            r#"{{"n":{n},"sku":"SKU-{:05}","description":"{}","quantity":{},"unit_price_cents":{}}}"#,
            rng.below(100_000),
            DESCRIPTIONS[rng.below(DESCRIPTIONS.len() as u64) as usize],
            1 + rng.below(500),
            rng.below(1_000_000),
        );
        if json.len() + line.len() + NOTE_OPEN.len() + CLOSE.len() > size {
            break;
        }
        json.push_str(&line);
    }

    json.push_str(NOTE_OPEN);
    const NOTE_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz      ";
    while json.len() + CLOSE.len() < size {
        json.push(NOTE_CHARS[rng.below(NOTE_CHARS.len() as u64) as usize] as char);
    }
    json.push_str(CLOSE);
    debug_assert_eq!(json.len(), size);
    Bytes::from(json)
}

const DESCRIPTIONS: &[&str] = &[
    "metered storage, hot tier",
    "metered storage, archive tier",
    "API requests, per million",
    "egress, per GB",
    "support plan, monthly",
    "reserved capacity, annual share",
];

/// SplitMix64: tiny, fast and fully determined by its seed, which is all test data and
/// seeded test steps need.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (the slight modulo bias does not matter here).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_exact_size_and_depend_only_on_the_seed() {
        for size in [200, 1_000, LARGE_RECORD_BYTES] {
            let record = billing_record("INV-2024-000001", 7, size);
            assert_eq!(record.len(), size);
            assert_eq!(record, billing_record("INV-2024-000001", 7, size));
            let json: serde_json::Value = serde_json::from_slice(&record)
                .unwrap_or_else(|e| panic!("a {size}-byte record is not JSON: {e}"));
            assert_eq!(json["id"], "INV-2024-000001");
        }
        assert_ne!(
            billing_record("INV-1", 1, 5_000),
            billing_record("INV-1", 2, 5_000)
        );
    }
}
