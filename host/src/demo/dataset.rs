//! The demo's records: billing documents (customer, period, line items, taxes, totals) from
//! a few KB up to 300 KB, last changed at dates spread over the past two years, the same for
//! the same seed.

use chrono::Datelike as _;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// The largest record, as in the API tiergate was built for.
const MAX_BYTES: f64 = 300_000.0;
/// The smallest.
const MIN_BYTES: f64 = 3_000.0;
/// How far back the records' dates go.
const SPAN: Duration = Duration::from_secs(730 * 86_400);

/// One generated record.
#[derive(Debug, Clone)]
pub(super) struct DemoRecord {
    /// Its id, such as `INV-2025-03-000042`.
    pub id: String,
    /// Its JSON.
    pub body: String,
    /// When it last changed.
    pub changed: SystemTime,
}

/// Record `n` of `count`, the oldest first, dated back from `now`.
pub(super) fn record(n: u64, count: u64, now: SystemTime) -> DemoRecord {
    let mut rng = SplitMix64(n.wrapping_mul(0x9E37_79B9) ^ 0x7469_6572);
    let age = SPAN.mul_f64(1.0 - (n as f64 + 0.5) / count.max(1) as f64);
    let changed = now - age;
    let date = chrono::DateTime::<chrono::Utc>::from(changed).date_naive();
    let id = format!("INV-{}-{:02}-{n:06}", date.year(), date.month());
    // Sizes spread evenly on a log scale: many small invoices, some very large ones.
    let target = (MIN_BYTES * (MAX_BYTES / MIN_BYTES).powf(rng.unit())) as usize;
    let customer = rng.below(5_000);
    let mut body = format!(
        r#"{{"id":"{id}","customer":{{"id":"CUST-{customer:05}","name":"{} {}","country":"{}"}},"period":{{"from":"{}-{:02}-01","to":"{}-{:02}-28"}},"issued":"{date}","currency":"{}","lines":["#,
        ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark"][rng.below(6) as usize],
        ["GmbH", "Ltd", "Inc", "SA", "BV"][rng.below(5) as usize],
        ["DE", "FR", "GB", "US", "NL", "CH"][rng.below(6) as usize],
        date.year(),
        date.month(),
        date.year(),
        date.month(),
        ["EUR", "USD", "GBP", "CHF"][rng.below(4) as usize],
    );
    let mut subtotal = 0u64;
    let mut line = 0;
    // The closing part is about 200 bytes; stop adding lines before it would overflow.
    while body.len() + 400 < target {
        let quantity = 1 + rng.below(500);
        let unit_cents = 1 + rng.below(20_000);
        let amount = quantity * unit_cents;
        subtotal += amount;
        if line > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"line":{line},"sku":"SKU-{:05}","description":"{} usage, {} tier, region {}","quantity":{quantity},"unit_price":"{}.{:02}","amount":"{}.{:02}"}}"#,
            rng.below(100_000),
            ["Compute", "Storage", "Egress", "Support", "Licence"][rng.below(5) as usize],
            ["standard", "premium", "archive"][rng.below(3) as usize],
            ["eu-west-1", "us-east-1", "ap-south-1"][rng.below(3) as usize],
            unit_cents / 100,
            unit_cents % 100,
            amount / 100,
            amount % 100,
        );
        line += 1;
    }
    let tax = subtotal * 19 / 100;
    let _ = write!(
        body,
        r#"],"taxes":[{{"name":"VAT","rate":"0.19","amount":"{}.{:02}"}}],"subtotal":"{}.{:02}","total":"{}.{:02}","status":"paid"}}"#,
        tax / 100,
        tax % 100,
        subtotal / 100,
        subtotal % 100,
        (subtotal + tax) / 100,
        (subtotal + tax) % 100,
    );
    DemoRecord { id, body, changed }
}

/// SplitMix64: small, fast, and the same sequence everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_of_a_few_kb_to_300_kb_over_two_years() {
        let now = SystemTime::now();
        let records: Vec<_> = (0..200).map(|n| record(n, 200, now)).collect();
        for r in &records {
            assert!(
                (2_000..=300_000).contains(&r.body.len()),
                "{}: {}",
                r.id,
                r.body.len()
            );
            assert!(r.body.starts_with('{') && r.body.ends_with('}'));
            assert!(tiergate_core::RecordId::parse(&r.id).is_ok());
        }
        assert!(records.iter().any(|r| r.body.len() > 150_000));
        assert!(records.iter().any(|r| r.body.len() < 10_000));
        let oldest = now.duration_since(records[0].changed).unwrap();
        assert!(oldest > Duration::from_secs(700 * 86_400));
        assert_eq!(
            record(7, 200, now).body,
            records[7].body,
            "the same for the same seed"
        );
    }
}
