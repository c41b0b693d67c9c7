//! The `[cost]` table of the config: which price profile, which prices to override, and
//! what to project.
//!
//! Values are checked while they are deserialized, so that a bad one is reported by the
//! config parser at its line and column, with the key in view, before anything is computed.
//! The fields are private for the same reason: a `CostSettings` is either the defaults or a
//! checked table.

use serde::Deserialize;
use serde::de::{Deserializer, Error as _, Unexpected};

use crate::prices::{MinObjectSize, Price, PriceSource, PriceTable, Profile, Unit};

/// The `[cost]` table; every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostSettings {
    /// The built-in price table: `azure-cosmos`, `aws-rds` or `aws-dynamodb`.
    pub(crate) profile: Profile,
    /// Overrides, in US dollars: storage per GB-month, requests per 10,000 whatever the
    /// provider's own unit, retrieval per GB.
    #[serde(deserialize_with = "price")]
    pub(crate) hot_storage_gb_month: Option<f64>,
    #[serde(deserialize_with = "price")]
    pub(crate) blob_storage_gb_month: Option<f64>,
    #[serde(deserialize_with = "price")]
    pub(crate) blob_writes_per_10k: Option<f64>,
    #[serde(deserialize_with = "price")]
    pub(crate) blob_reads_per_10k: Option<f64>,
    #[serde(deserialize_with = "price")]
    pub(crate) blob_retrieval_gb: Option<f64>,
    /// Override of the blob tier's minimum billable object size.
    pub(crate) blob_min_object_bytes: Option<u64>,
    /// Edge reads served from blob storage per month (cache misses on archived records),
    /// counted whenever blob storage holds records. 0 by default: it depends on traffic
    /// that no count of records can tell.
    pub(crate) blob_reads_per_month: u64,
    /// The record count and size to project to.
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) projection_records: u64,
    #[serde(deserialize_with = "at_least_one")]
    pub(crate) projection_record_bytes: u64,
    /// Length of the month-by-month series.
    #[serde(deserialize_with = "months")]
    pub(crate) months: u32,
    /// Records added per month; measured from the footprint when unset (see
    /// [`crate::projection`]).
    pub(crate) new_records_per_month: Option<u64>,
    /// Original size / stored size; measured from the archived records when unset, else 4.
    #[serde(deserialize_with = "ratio")]
    pub(crate) compression_ratio: Option<f64>,
}

/// The example: 2M billing records of 300 KB, 600 GB (558.8 billed GB).
const DEFAULT_PROJECTION_RECORDS: u64 = 2_000_000;
const DEFAULT_PROJECTION_RECORD_BYTES: u64 = 300_000;
/// Two years: long enough to see a 90-day window fill and the saving settle.
const DEFAULT_MONTHS: u32 = 24;
/// A century; more is surely a typo.
const MAX_MONTHS: u32 = 1200;

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings {
            profile: Profile::default(),
            hot_storage_gb_month: None,
            blob_storage_gb_month: None,
            blob_writes_per_10k: None,
            blob_reads_per_10k: None,
            blob_retrieval_gb: None,
            blob_min_object_bytes: None,
            blob_reads_per_month: 0,
            projection_records: DEFAULT_PROJECTION_RECORDS,
            projection_record_bytes: DEFAULT_PROJECTION_RECORD_BYTES,
            months: DEFAULT_MONTHS,
            new_records_per_month: None,
            compression_ratio: None,
        }
    }
}

impl CostSettings {
    /// The profile's prices with the config's overrides applied; an overridden line keeps
    /// its item and takes the config as its source.
    pub fn prices(&self) -> PriceTable {
        let mut table = self.profile.prices();
        override_price(
            &mut table.hot_storage,
            self.hot_storage_gb_month,
            Unit::GbMonth,
        );
        override_price(
            &mut table.blob_storage,
            self.blob_storage_gb_month,
            Unit::GbMonth,
        );
        override_price(
            &mut table.blob_writes,
            self.blob_writes_per_10k,
            Unit::Requests(10_000),
        );
        override_price(
            &mut table.blob_reads,
            self.blob_reads_per_10k,
            Unit::Requests(10_000),
        );
        override_price(
            &mut table.blob_retrieval,
            self.blob_retrieval_gb,
            Unit::GbRetrieved,
        );
        if let Some(bytes) = self.blob_min_object_bytes {
            table.blob_min_object = MinObjectSize {
                bytes,
                source: PriceSource::Config,
            };
        }
        table
    }
}

fn override_price(price: &mut Price, amount: Option<f64>, unit: Unit) {
    if let Some(amount) = amount {
        price.amount = amount;
        price.unit = unit;
        price.source = PriceSource::Config;
    }
}

fn price<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let amount = f64::deserialize(deserializer)?;
    if amount.is_finite() && amount >= 0.0 {
        Ok(Some(amount))
    } else {
        Err(D::Error::invalid_value(
            Unexpected::Float(amount),
            &"a price in US dollars, 0 or more",
        ))
    }
}

fn ratio<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let ratio = f64::deserialize(deserializer)?;
    if ratio.is_finite() && ratio > 0.0 {
        Ok(Some(ratio))
    } else {
        Err(D::Error::invalid_value(
            Unexpected::Float(ratio),
            &"original size / stored size, above 0 (lz4 gives about 4.0 on billing JSON)",
        ))
    }
}

fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(deserializer)?;
    if n >= 1 {
        Ok(n)
    } else {
        Err(D::Error::invalid_value(
            Unexpected::Unsigned(n),
            &"a whole number, 1 or more",
        ))
    }
}

fn months<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(deserializer)?;
    if (1..=MAX_MONTHS).contains(&n) {
        Ok(n)
    } else {
        Err(D::Error::invalid_value(
            Unexpected::Unsigned(u64::from(n)),
            &"a number of months from 1 to 1200",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CostSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_table_is_the_azure_profile_and_the_2m_by_300kb_projection() {
        let settings = parse("").unwrap();
        assert_eq!(settings, CostSettings::default());
        assert_eq!(settings.profile, Profile::AzureCosmos);
        assert_eq!(settings.projection_records, 2_000_000);
        assert_eq!(settings.projection_record_bytes, 300_000);
        assert_eq!(settings.months, 24);
        assert_eq!(settings.prices(), Profile::AzureCosmos.prices());
    }

    #[test]
    fn an_override_replaces_the_amount_and_says_it_came_from_the_config() {
        let settings = parse(
            "profile = \"aws-rds\"\nhot_storage_gb_month = 0.23\nblob_writes_per_10k = 0.05\n\
             blob_min_object_bytes = 0",
        )
        .unwrap();
        let prices = settings.prices();
        assert_eq!(prices.profile, Profile::AwsRds);
        assert_eq!(prices.hot_storage.amount, 0.23);
        assert_eq!(prices.hot_storage.source, PriceSource::Config);
        assert_eq!(
            prices.hot_storage.item,
            "RDS General Purpose SSD (gp3) storage, Single-AZ"
        );
        // Config request prices are per 10,000 whatever the provider quotes.
        assert_eq!(prices.blob_writes.unit, Unit::Requests(10_000));
        assert_eq!(prices.blob_writes.per_one(), 0.05 / 10_000.0);
        assert_eq!(prices.blob_min_object.bytes, 0);
        // Lines not overridden keep the list price and its source.
        assert_eq!(prices.blob_storage, Profile::AwsRds.prices().blob_storage);
    }

    #[test]
    fn a_negative_price_is_rejected_at_its_key() {
        let err = parse("hot_storage_gb_month = -0.25").unwrap_err();
        assert!(err.contains("hot_storage_gb_month"), "{err}");
        assert!(err.contains("-0.25"), "{err}");
        assert!(err.contains("0 or more"), "{err}");
    }

    #[test]
    fn an_unknown_profile_lists_the_known_ones() {
        let err = parse("profile = \"gcp\"").unwrap_err();
        assert!(
            err.contains("`azure-cosmos`, `aws-rds`, `aws-dynamodb`"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_is_rejected() {
        let err = parse("hot_storage = 0.25").unwrap_err();
        assert!(err.contains("unknown field `hot_storage`"), "{err}");
    }

    #[test]
    fn impossible_projection_inputs_are_rejected() {
        for (text, expected) in [
            ("compression_ratio = 0.0", "above 0"),
            ("compression_ratio = nan", "above 0"),
            ("projection_records = 0", "1 or more"),
            ("projection_record_bytes = 0", "1 or more"),
            ("months = 0", "from 1 to 1200"),
            ("months = 5000", "from 1 to 1200"),
            ("blob_reads_per_month = -1", "u64"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
