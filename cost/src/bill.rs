//! One month's bill, by tier, for records placed in the hot database and blob storage.
//!
//! Only what tiering changes is priced: storage on both sides, and blob storage's requests
//! and retrieval. The database's own request charges (Cosmos DB RU/s, RDS instance hours,
//! DynamoDB capacity) are left out: they follow the traffic, which tiergate does not change
//! much (blob reads replace some database reads, which makes the saving slightly larger).

use crate::prices::PriceTable;
use crate::units::gb;

/// The archiver reads each copy back in full once, before the hot row is deleted: S3 and
/// Azure check each PUT's checksum and confirm it, which verifies the copy as it is written.
/// The read is a read request plus retrieval.
const ARCHIVER_READS_PER_RECORD: f64 = 1.0;

/// A line of the bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Storage of the records in the hot database.
    HotStorage,
    /// Storage of the compressed copies in blob storage.
    BlobStorage,
    /// Blob storage requests and retrieval: archiving records and reading them back.
    BlobRequests,
}

impl Tier {
    /// The lines in the order they are shown and stacked.
    pub const ALL: [Tier; 3] = [Tier::HotStorage, Tier::BlobStorage, Tier::BlobRequests];

    /// The line's name in tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            Tier::HotStorage => "hot DB storage",
            Tier::BlobStorage => "blob storage",
            Tier::BlobRequests => "blob requests",
        }
    }
}

/// One month's bill: what each tier holds and costs (US dollars).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bill {
    /// Bytes in the hot database.
    pub hot_bytes: f64,
    /// Bytes billed in blob storage: compressed, and no object less than the tier's minimum.
    pub blob_billed_bytes: f64,
    /// Hot database storage, per month.
    pub hot_storage: f64,
    /// Blob storage, per month.
    pub blob_storage: f64,
    /// Blob requests and retrieval, per month.
    pub blob_requests: f64,
}

impl Bill {
    /// The month's total.
    pub fn total(&self) -> f64 {
        self.hot_storage + self.blob_storage + self.blob_requests
    }

    /// One line of the bill.
    pub fn cost(&self, tier: Tier) -> f64 {
        match tier {
            Tier::HotStorage => self.hot_storage,
            Tier::BlobStorage => self.blob_storage,
            Tier::BlobRequests => self.blob_requests,
        }
    }
}

/// A month's bill without tiergate and with it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Comparison {
    /// Every record in the hot database.
    pub without: Bill,
    /// Records past the archive window in blob storage, the rest hot.
    pub with: Bill,
    /// Records that must be moved once before `with` holds (the backlog older than the
    /// window).
    pub one_off_moves: f64,
    /// What moving them costs in blob requests, once.
    pub one_off_cost: f64,
}

impl Comparison {
    /// Dollars saved per month.
    pub fn saving(&self) -> f64 {
        self.without.total() - self.with.total()
    }

    /// The saving as a percentage of the bill without tiergate; none when that bill is 0.
    pub fn saving_percent(&self) -> Option<f64> {
        let without = self.without.total();
        (without > 0.0).then(|| self.saving() / without * 100.0)
    }
}

/// Where records sit: the quantities a bill is priced from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Placement {
    pub(crate) hot_bytes: f64,
    pub(crate) blob_objects: f64,
    /// Compressed bytes in blob storage.
    pub(crate) blob_bytes: f64,
}

impl Placement {
    /// Everything in the hot database.
    pub(crate) fn all_hot(bytes: f64) -> Self {
        Placement {
            hot_bytes: bytes,
            ..Placement::default()
        }
    }

    /// The average compressed object, which request and retrieval charges are priced on.
    pub(crate) fn stored_object_bytes(&self) -> Option<f64> {
        (self.blob_objects > 0.0).then(|| self.blob_bytes / self.blob_objects)
    }

    /// The month's bill for this placement, with `requests` dollars of blob requests.
    ///
    /// With a minimum object size, the billed bytes are taken as the larger of the stored
    /// bytes and objects x minimum. That is exact when all objects are on one side of the
    /// minimum and a lower bound otherwise (small records are billed up, large ones are not),
    /// which is what per-record sizes would be needed for.
    pub(crate) fn bill(&self, prices: &PriceTable, requests: f64) -> Bill {
        let minimum = self.blob_objects * prices.blob_min_object.bytes as f64;
        let blob_billed_bytes = self.blob_bytes.max(minimum);
        Bill {
            hot_bytes: self.hot_bytes,
            blob_billed_bytes,
            hot_storage: gb(self.hot_bytes) * prices.hot_storage.per_one(),
            blob_storage: gb(blob_billed_bytes) * prices.blob_storage.per_one(),
            blob_requests: requests,
        }
    }
}

/// Blob requests for moving `records` copies totalling `stored_bytes`: a PUT each, and
/// the archiver's read-backs.
pub(crate) fn moves_cost(prices: &PriceTable, records: f64, stored_bytes: f64) -> f64 {
    records * prices.blob_writes.per_one()
        + ARCHIVER_READS_PER_RECORD * reads_cost(prices, records, stored_bytes)
}

/// Blob requests for `reads` reads of copies totalling `stored_bytes`.
pub(crate) fn reads_cost(prices: &PriceTable, reads: f64, stored_bytes: f64) -> f64 {
    reads * prices.blob_reads.per_one() + gb(stored_bytes) * prices.blob_retrieval.per_one()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::Profile;

    const GB: f64 = crate::units::BYTES_PER_GB;

    #[test]
    fn storage_is_priced_per_billed_gb_month() {
        let prices = Profile::AzureCosmos.prices();
        let bill = Placement {
            hot_bytes: 100.0 * GB,
            blob_objects: 1000.0,
            blob_bytes: 50.0 * GB,
        }
        .bill(&prices, 1.5);
        assert_eq!(bill.hot_storage, 25.0); // 100 GB x $0.25
        assert_eq!(bill.blob_storage, 0.5); // 50 GB x $0.01
        assert_eq!(bill.total(), 27.0);
    }

    #[test]
    fn objects_under_the_minimum_are_billed_at_the_minimum() {
        let prices = Profile::AwsRds.prices();
        // 1,000,000 copies of 75 KiB: 71.5 GB stored, billed as 128 KiB each = 122.1 GB.
        let placement = Placement {
            hot_bytes: 0.0,
            blob_objects: 1_000_000.0,
            blob_bytes: 1_000_000.0 * 75.0 * 1024.0,
        };
        let bill = placement.bill(&prices, 0.0);
        assert_eq!(bill.blob_billed_bytes, 1_000_000.0 * 131_072.0);
        let expected = 1_000_000.0 * 131_072.0 / GB * 0.0125;
        assert!(
            (bill.blob_storage - expected).abs() < 1e-9,
            "{}",
            bill.blob_storage
        );
    }

    #[test]
    fn moving_a_record_costs_a_put_and_one_read_back() {
        let prices = Profile::AwsRds.prices();
        // One 0.5 GB copy: PUT $0.01/1000 + GET $0.001/1000 + 0.5 GB x $0.01
        let expected = 0.00001 + 0.000001 + 0.005;
        assert!((moves_cost(&prices, 1.0, 0.5 * GB) - expected).abs() < 1e-12);
        // A million copies of 75,000 bytes on Azure cool: writes $0.10 and reads $0.01 per
        // 10,000, retrieval $0.01/GB.
        let azure = Profile::AzureCosmos.prices();
        let bytes = 1e6 * 75_000.0;
        let expected = 100.0 * 0.10 + 100.0 * 0.01 + bytes / GB * 0.01;
        assert!((moves_cost(&azure, 1e6, bytes) - expected).abs() < 1e-9);
    }

    #[test]
    fn the_saving_is_a_share_of_the_bill_without_tiergate() {
        let comparison = Comparison {
            without: Bill {
                hot_storage: 200.0,
                ..Bill::default()
            },
            with: Bill {
                hot_storage: 20.0,
                blob_storage: 5.0,
                blob_requests: 1.0,
                ..Bill::default()
            },
            ..Comparison::default()
        };
        assert_eq!(comparison.saving(), 174.0);
        assert_eq!(comparison.saving_percent(), Some(87.0));
        assert_eq!(Comparison::default().saving_percent(), None);
    }
}
