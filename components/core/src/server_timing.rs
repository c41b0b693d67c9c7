//! The `server-timing` header: which tiers one request asked, what each said, and how long
//! each took.
//!
//! Browsers and curl users read it; the tiergate host reads it too, to count requests per
//! tier and outcome for its metrics without a second channel between guest and host (a Spin
//! host simply passes it on).

use crate::read_plan::{BlobMiss, OriginFailure};
use std::fmt::Write as _;
use std::time::Duration;

/// A tier of the read path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The edge KV cache.
    Cache,
    /// Blob storage.
    Blob,
    /// The origin API.
    Origin,
}

/// What a tier said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It had the record.
    Hit,
    /// It answered without the record.
    Miss,
    /// It answered with an error, or with bytes that failed their checks.
    Error,
    /// It did not answer in time.
    Timeout,
    /// It could not be reached.
    Unreachable,
}

impl Tier {
    /// Every tier, in read order.
    pub const ALL: [Tier; 3] = [Tier::Cache, Tier::Blob, Tier::Origin];

    /// Its name in the header and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Blob => "blob",
            Self::Origin => "origin",
        }
    }
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::Hit,
        Outcome::Miss,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Unreachable,
    ];

    /// What an HTTP status from a tier says: the record (2xx), no record (404, 410 and
    /// other client errors), or a failure (5xx).
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Hit,
            500.. => Self::Error,
            _ => Self::Miss,
        }
    }

    /// What blob storage said, from what a read of it `fetched`: the record, no record
    /// (none archived, or no storage configured), an error or a timeout.
    pub fn of_blob<T>(fetched: &Result<T, BlobMiss>) -> Self {
        match fetched {
            Ok(_) => Self::Hit,
            Err(BlobMiss::Unavailable(_)) => Self::Error,
            Err(BlobMiss::Timeout(_)) => Self::Timeout,
            Err(BlobMiss::NotFound | BlobMiss::Disabled) => Self::Miss,
        }
    }

    /// What the origin said when it gave no response.
    pub fn of_origin_failure(failure: &OriginFailure) -> Self {
        match failure {
            OriginFailure::TimedOut(_) => Self::Timeout,
            OriginFailure::Unreachable(_) => Self::Unreachable,
        }
    }

    /// Its name in the header (`desc`) and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
        }
    }
}

/// One tier's part in a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierTiming {
    /// The tier.
    pub tier: Tier,
    /// What it said.
    pub outcome: Outcome,
    /// How long it took.
    pub spent: Duration,
}

/// Timings collected while a request walks the tiers, rendered as `server-timing`.
#[derive(Debug, Default, Clone)]
pub struct ServerTiming(Vec<TierTiming>);

impl ServerTiming {
    /// Records that `tier` answered with `outcome` after `spent`.
    pub fn record(&mut self, tier: Tier, outcome: Outcome, spent: Duration) {
        self.0.push(TierTiming {
            tier,
            outcome,
            spent,
        });
    }

    /// The header value, such as `cache;desc=miss;dur=0.041, blob;desc=hit;dur=2.310`.
    pub fn header_value(&self) -> String {
        let mut out = String::new();
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(
                out,
                "{};desc={};dur={:.3}",
                t.tier.as_str(),
                t.outcome.as_str(),
                t.spent.as_secs_f64() * 1000.0
            );
        }
        out
    }

    /// The tiers named in a header value this module wrote; entries it did not write
    /// (another server's metrics passed through) are skipped.
    pub fn parse(value: &str) -> impl Iterator<Item = TierTiming> + '_ {
        value.split(',').filter_map(|entry| {
            let mut params = entry.trim().split(';');
            let name = params.next()?.trim();
            let tier = Tier::ALL.into_iter().find(|t| t.as_str() == name)?;
            let (mut outcome, mut spent) = (None, None);
            for param in params {
                match param.trim().split_once('=')? {
                    ("desc", v) => outcome = Outcome::ALL.into_iter().find(|o| o.as_str() == v),
                    ("dur", v) => {
                        spent = Duration::try_from_secs_f64(v.parse::<f64>().ok()? / 1000.0).ok()
                    }
                    _ => {}
                }
            }
            Some(TierTiming {
                tier,
                outcome: outcome?,
                spent: spent?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_tier_with_its_outcome_in_milliseconds() {
        let mut t = ServerTiming::default();
        t.record(Tier::Cache, Outcome::Miss, Duration::from_micros(41));
        t.record(Tier::Blob, Outcome::Hit, Duration::from_micros(2310));
        assert_eq!(
            t.header_value(),
            "cache;desc=miss;dur=0.041, blob;desc=hit;dur=2.310"
        );
    }

    #[test]
    fn parses_what_it_renders() {
        let mut t = ServerTiming::default();
        t.record(Tier::Cache, Outcome::Miss, Duration::from_micros(41));
        t.record(Tier::Blob, Outcome::Error, Duration::from_micros(2310));
        t.record(Tier::Origin, Outcome::Timeout, Duration::from_secs(5));
        let parsed: Vec<_> = ServerTiming::parse(&t.header_value()).collect();
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            (parsed[1].tier, parsed[1].outcome, parsed[1].spent),
            (Tier::Blob, Outcome::Error, Duration::from_micros(2310))
        );
        assert_eq!(parsed[2].outcome, Outcome::Timeout);
    }

    #[test]
    fn blob_storage_that_failed_is_an_error_or_a_timeout_and_one_without_the_record_a_miss() {
        let said = |fetched: Result<(), BlobMiss>| Outcome::of_blob(&fetched);
        assert_eq!(said(Ok(())), Outcome::Hit);
        assert_eq!(said(Err(BlobMiss::NotFound)), Outcome::Miss);
        assert_eq!(said(Err(BlobMiss::Disabled)), Outcome::Miss);
        assert_eq!(
            said(Err(BlobMiss::Unavailable("403".into()))),
            Outcome::Error
        );
        assert_eq!(
            said(Err(BlobMiss::Timeout("read".into()))),
            Outcome::Timeout
        );
    }

    #[test]
    fn an_origin_that_gave_no_response_timed_out_or_was_unreachable() {
        assert_eq!(
            Outcome::of_origin_failure(&OriginFailure::TimedOut("x".into())),
            Outcome::Timeout
        );
        assert_eq!(
            Outcome::of_origin_failure(&OriginFailure::Unreachable("x".into())),
            Outcome::Unreachable
        );
    }

    #[test]
    fn skips_entries_it_did_not_write() {
        let parsed: Vec<_> = ServerTiming::parse(
            "db;dur=53, cache;desc=hit;dur=0.1, blob;dur=x, origin;desc=odd;dur=1, app",
        )
        .collect();
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            (parsed[0].tier, parsed[0].outcome),
            (Tier::Cache, Outcome::Hit)
        );
    }
}
