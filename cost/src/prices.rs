//! Price tables: the built-in profiles, each price with where and when it was taken.
//!
//! Every profile is one region, so that its prices belong together: Azure prices are for
//! East US 2, AWS prices for US East (N. Virginia), pay-as-you-go, no reservations or
//! discounts. Providers change prices; every line carries its `as_of` month and source URL
//! so that a reader can check it, and any line can be overridden in the config.
//!
//! How the figures were established (the pricing pages themselves render prices with
//! scripts, so a stored copy of them often shows none):
//!
//! - Cosmos DB storage, $0.25/GB-month: stated in Microsoft's "Optimize storage cost in
//!   Azure Cosmos DB" page (undated); `as_of` is the month this table was compiled.
//! - Blob Storage cool LRS (storage $0.01/GB-month, writes $0.10 and reads $0.01 per
//!   10,000, retrieval $0.01/GB): the list prices as known for East US 2, matching a
//!   published East US 2 rate table (undated); `as_of` is the month compiled. Blob prices
//!   differ between Azure regions, even between East US and East US 2.
//! - RDS gp3 storage, $0.115/GB-month Single-AZ: AWS's price, as quoted by cost guides dated
//!   May and June 2026.
//! - DynamoDB Standard table storage, $0.25/GB-month: stated on AWS's DynamoDB pricing page
//!   (undated); `as_of` is the month compiled.
//! - S3 Standard-IA (storage $0.0125/GB-month, retrieval $0.01/GB, 128 KB minimum object):
//!   a rate table dated March 2026; PUT $0.01 and GET $0.001 per 1,000 are the list prices
//!   as known, `as_of` the month compiled.

use std::fmt;

use serde::Deserialize;

/// The month this table was compiled: the `as_of` of prices whose source page has no date.
const COMPILED: &str = "2026-11";

/// What a price is charged per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Per GB (2^30 bytes) held for a month.
    GbMonth,
    /// Per GB read back: the access charge of cool and infrequent-access tiers.
    GbRetrieved,
    /// Per this many requests. Kept as the provider quotes it (AWS per 1,000, Azure per
    /// 10,000) so that a line can be checked against its page at a glance.
    Requests(u32),
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::GbMonth => f.write_str("per GB-month"),
            Unit::GbRetrieved => f.write_str("per GB retrieved"),
            Unit::Requests(n) => write!(f, "per {} requests", crate::units::count(u64::from(*n))),
        }
    }
}

/// Where a price comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceSource {
    /// A provider's published list price.
    List {
        /// The region it applies to.
        region: &'static str,
        /// The month (`YYYY-MM`) it was known to be current; see the module docs.
        as_of: &'static str,
        /// The page that states or lists it.
        url: &'static str,
    },
    /// Set in the config's `[cost]` table (a negotiated price, another region, ...).
    Config,
}

impl fmt::Display for PriceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceSource::List { region, as_of, url } => write!(f, "{region}, {as_of}, {url}"),
            PriceSource::Config => f.write_str("config"),
        }
    }
}

/// One line of a price table.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// What is charged, in the provider's words.
    pub item: &'static str,
    /// US dollars per `unit`.
    pub amount: f64,
    /// What `amount` is charged per.
    pub unit: Unit,
    /// Where `amount` comes from.
    pub source: PriceSource,
}

impl Price {
    /// Dollars for one request, or for one GB (-month): what the arithmetic multiplies by.
    pub fn per_one(&self) -> f64 {
        match self.unit {
            Unit::GbMonth | Unit::GbRetrieved => self.amount,
            Unit::Requests(n) => self.amount / f64::from(n),
        }
    }
}

/// The smallest object size a blob tier bills: smaller objects are billed as this size.
/// It is a billing rule rather than a price, but it moves the bill as much as one (a 75 KB
/// compressed record in S3 Standard-IA is billed as 128 KB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinObjectSize {
    /// The size, in bytes; 0 when the tier has no minimum.
    pub bytes: u64,
    /// Where the rule comes from.
    pub source: PriceSource,
}

/// The prices one bill is computed from: the hot database's storage and blob storage's
/// storage, requests and retrieval.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    /// The built-in profile the table started from.
    pub profile: Profile,
    /// Hot database storage, per GB-month.
    pub hot_storage: Price,
    /// Blob storage, per GB-month.
    pub blob_storage: Price,
    /// Blob writes (one PUT per archived record).
    pub blob_writes: Price,
    /// Blob reads (GETs: the archiver's read-backs and the edge's reads).
    pub blob_reads: Price,
    /// Blob retrieval, per GB read.
    pub blob_retrieval: Price,
    /// The blob tier's minimum billable object size.
    pub blob_min_object: MinObjectSize,
}

/// A built-in price table: a hot database and the blob tier records move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Azure Cosmos DB (transactional storage) + Blob Storage cool, LRS; East US 2.
    #[default]
    AzureCosmos,
    /// Amazon RDS (gp3 storage, Single-AZ) + S3 Standard-IA; US East (N. Virginia).
    AwsRds,
    /// Amazon DynamoDB (Standard table class) + S3 Standard-IA; US East (N. Virginia).
    AwsDynamodb,
}

const AZURE_REGION: &str = "East US 2";
const AWS_REGION: &str = "US East (N. Virginia)";
const AZURE_BLOB_PRICING: &str = "https://azure.microsoft.com/en-us/pricing/details/storage/blobs/";
const S3_PRICING: &str = "https://aws.amazon.com/s3/pricing/";

impl Profile {
    /// The name used in the config (`profile = "azure-cosmos"`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::AzureCosmos => "azure-cosmos",
            Profile::AwsRds => "aws-rds",
            Profile::AwsDynamodb => "aws-dynamodb",
        }
    }

    /// The two services and the region, for the report's heading.
    pub fn description(self) -> &'static str {
        match self {
            Profile::AzureCosmos => "Azure Cosmos DB + Blob Storage cool (LRS), East US 2",
            Profile::AwsRds => "Amazon RDS gp3 (Single-AZ) + S3 Standard-IA, US East (N. Virginia)",
            Profile::AwsDynamodb => {
                "Amazon DynamoDB Standard + S3 Standard-IA, US East (N. Virginia)"
            }
        }
    }

    /// What this bill leaves out or gets wrong for this profile, said next to the numbers.
    pub fn notes(self) -> &'static [&'static str] {
        match self {
            Profile::AzureCosmos => &[
                "Cosmos DB also bills its index (about 10-20% of item size by default) and \
                 every replica region; both grow the hot side, so the saving is understated.",
            ],
            Profile::AwsRds => &[
                "RDS bills allocated storage, which cannot shrink in place: the saving applies \
                 to storage no longer added as records grow, or after moving to a smaller \
                 instance. Multi-AZ doubles the storage price.",
            ],
            Profile::AwsDynamodb => &[
                "DynamoDB's first 25 GB per month are free and each item carries 100 bytes of \
                 overhead; both are left out (the free 25 GB lower both bills alike).",
            ],
        }
    }

    /// The profile's list prices.
    pub fn prices(self) -> PriceTable {
        match self {
            Profile::AzureCosmos => PriceTable {
                profile: self,
                hot_storage: Price {
                    item: "Cosmos DB transactional storage",
                    amount: 0.25,
                    unit: Unit::GbMonth,
                    source: azure(
                        "https://learn.microsoft.com/en-us/azure/cosmos-db/optimize-cost-storage",
                    ),
                },
                blob_storage: Price {
                    item: "Blob Storage cool LRS capacity",
                    amount: 0.01,
                    unit: Unit::GbMonth,
                    source: azure(AZURE_BLOB_PRICING),
                },
                blob_writes: Price {
                    item: "Blob Storage cool write operations",
                    amount: 0.10,
                    unit: Unit::Requests(10_000),
                    source: azure(AZURE_BLOB_PRICING),
                },
                blob_reads: Price {
                    item: "Blob Storage cool read operations",
                    amount: 0.01,
                    unit: Unit::Requests(10_000),
                    source: azure(AZURE_BLOB_PRICING),
                },
                blob_retrieval: Price {
                    item: "Blob Storage cool data retrieval",
                    amount: 0.01,
                    unit: Unit::GbRetrieved,
                    source: azure(AZURE_BLOB_PRICING),
                },
                blob_min_object: MinObjectSize {
                    bytes: 0,
                    source: azure(AZURE_BLOB_PRICING),
                },
            },
            Profile::AwsRds => s3_standard_ia(
                self,
                Price {
                    item: "RDS General Purpose SSD (gp3) storage, Single-AZ",
                    amount: 0.115,
                    unit: Unit::GbMonth,
                    source: PriceSource::List {
                        region: AWS_REGION,
                        as_of: "2026-06",
                        url: "https://aws.amazon.com/rds/postgresql/pricing/",
                    },
                },
            ),
            Profile::AwsDynamodb => s3_standard_ia(
                self,
                Price {
                    item: "DynamoDB Standard table storage",
                    amount: 0.25,
                    unit: Unit::GbMonth,
                    source: aws("https://aws.amazon.com/dynamodb/pricing/"),
                },
            ),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn azure(url: &'static str) -> PriceSource {
    PriceSource::List {
        region: AZURE_REGION,
        as_of: COMPILED,
        url,
    }
}

fn aws(url: &'static str) -> PriceSource {
    PriceSource::List {
        region: AWS_REGION,
        as_of: COMPILED,
        url,
    }
}

/// The S3 Standard-IA side shared by both AWS profiles.
fn s3_standard_ia(profile: Profile, hot_storage: Price) -> PriceTable {
    let dated = PriceSource::List {
        region: AWS_REGION,
        as_of: "2026-03",
        url: S3_PRICING,
    };
    PriceTable {
        profile,
        hot_storage,
        blob_storage: Price {
            item: "S3 Standard-IA storage",
            amount: 0.0125,
            unit: Unit::GbMonth,
            source: dated.clone(),
        },
        blob_writes: Price {
            item: "S3 Standard-IA PUT, COPY, POST, LIST requests",
            amount: 0.01,
            unit: Unit::Requests(1_000),
            source: aws(S3_PRICING),
        },
        blob_reads: Price {
            item: "S3 Standard-IA GET, SELECT and other requests",
            amount: 0.001,
            unit: Unit::Requests(1_000),
            source: aws(S3_PRICING),
        },
        blob_retrieval: Price {
            item: "S3 Standard-IA data retrieval",
            amount: 0.01,
            unit: Unit::GbRetrieved,
            source: dated.clone(),
        },
        blob_min_object: MinObjectSize {
            bytes: 128 * 1024,
            source: dated,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Profile; 3] = [Profile::AzureCosmos, Profile::AwsRds, Profile::AwsDynamodb];

    #[test]
    fn every_built_in_price_names_its_region_date_and_page() {
        for profile in ALL {
            let table = profile.prices();
            for price in [
                &table.hot_storage,
                &table.blob_storage,
                &table.blob_writes,
                &table.blob_reads,
                &table.blob_retrieval,
            ] {
                let PriceSource::List { region, as_of, url } = &price.source else {
                    panic!("{profile}: {} has no list source", price.item);
                };
                assert!(
                    !region.is_empty(),
                    "{profile}: {} has no region",
                    price.item
                );
                assert!(
                    as_of.len() == 7 && as_of.as_bytes()[4] == b'-',
                    "{profile}: {} as_of {as_of:?} is not YYYY-MM",
                    price.item
                );
                assert!(
                    url.starts_with("https://"),
                    "{profile}: {}: {url}",
                    price.item
                );
                assert!(price.amount > 0.0, "{profile}: {} is free?", price.item);
            }
        }
    }

    #[test]
    fn request_prices_are_reduced_to_one_request() {
        let aws = Profile::AwsRds.prices();
        assert_eq!(aws.blob_writes.per_one(), 0.01 / 1000.0);
        let azure = Profile::AzureCosmos.prices();
        assert_eq!(azure.blob_writes.per_one(), 0.10 / 10_000.0);
        assert_eq!(azure.hot_storage.per_one(), 0.25);
    }

    #[test]
    fn s3_standard_ia_bills_small_objects_as_128_kib() {
        assert_eq!(Profile::AwsDynamodb.prices().blob_min_object.bytes, 131_072);
        assert_eq!(Profile::AzureCosmos.prices().blob_min_object.bytes, 0);
    }
}
