//! The read path's decisions when a tier misses or fails.
//!
//! The edge asks the cache, then blob storage, then the origin. A hit is served at once;
//! this module decides what happens after a miss or a failure, so that a record that exists
//! in any tier is never answered with 404, and a missing tier shows up as 502/503/504 with a
//! message that says which tier failed and what it means.

use std::fmt;

/// Where an answer came from, as told in `x-tiergate-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The edge KV cache.
    Cache,
    /// Blob storage, through a signed URL.
    Blob,
    /// The origin API (the next hop).
    Origin,
}

impl Source {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Blob => "blob",
            Self::Origin => "origin",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What blob storage said about a record it did not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobMiss {
    /// No blob backend is configured.
    Disabled,
    /// Storage answered that the object does not exist: the record is not archived.
    NotFound,
    /// Storage could not answer (error status, timeout, refused signature, corrupt object):
    /// the record may be archived there.
    Unavailable(String),
}

/// What the origin did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginOutcome {
    /// It answered with this status.
    Answered(u16),
    /// It did not answer in time.
    TimedOut(String),
    /// It could not be reached or failed mid-response.
    Unreachable(String),
}

/// What the edge answers once the origin has been asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass the origin's response on as it is.
    UseOrigin,
    /// The tiers needed for an answer are down: answer `status` with `message`.
    Fail {
        /// 502, 503 or 504.
        status: u16,
        /// Which tier failed, and what that means for the caller.
        message: String,
    },
}

/// The state of one record read after the cache and blob tiers have missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    blob: BlobMiss,
}

impl ReadPlan {
    /// Blob storage did not serve the record, for this reason; the origin is next.
    pub fn after_blob(blob: BlobMiss) -> Self {
        Self { blob }
    }

    /// Decides the answer from what the origin did.
    pub fn after_origin(&self, record: &str, origin: &OriginOutcome) -> Verdict {
        let absent = matches!(origin, OriginOutcome::Answered(404 | 410));
        match (&self.blob, origin) {
            // A storage outage hides archived records: the origin's "not found" is not the truth.
            (BlobMiss::Unavailable(why), _) if absent => Verdict::Fail {
                status: 503,
                message: format!(
                    "record {record}: blob storage is unavailable ({why}) and the origin does \
                     not have it, so it may be archived; retry later"
                ),
            },
            (_, OriginOutcome::Answered(_)) => Verdict::UseOrigin,
            (
                BlobMiss::Unavailable(why),
                OriginOutcome::TimedOut(o) | OriginOutcome::Unreachable(o),
            ) => Verdict::Fail {
                status: 503,
                message: format!(
                    "record {record}: blob storage is unavailable ({why}) and the origin \
                         is unavailable ({o}); retry later"
                ),
            },
            (_, OriginOutcome::TimedOut(o)) => Verdict::Fail {
                status: 504,
                message: format!("record {record}: the origin did not answer in time ({o})"),
            },
            (_, OriginOutcome::Unreachable(o)) => Verdict::Fail {
                status: 502,
                message: format!("record {record}: the origin is unreachable ({o})"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BlobMiss::*;
    use OriginOutcome::*;

    fn verdict(blob: BlobMiss, origin: OriginOutcome) -> Verdict {
        ReadPlan::after_blob(blob).after_origin("INV-1", &origin)
    }

    fn status(v: Verdict) -> Option<u16> {
        match v {
            Verdict::UseOrigin => None,
            Verdict::Fail { status, .. } => Some(status),
        }
    }

    #[test]
    fn origin_answers_pass_through_when_blob_storage_is_sure() {
        for blob in [Disabled, NotFound] {
            for code in [200, 404, 410, 500] {
                assert_eq!(verdict(blob.clone(), Answered(code)), Verdict::UseOrigin);
            }
        }
    }

    #[test]
    fn a_storage_outage_never_turns_into_404() {
        for code in [404, 410] {
            let v = verdict(Unavailable("403 from storage".into()), Answered(code));
            assert_eq!(status(v.clone()), Some(503));
            let Verdict::Fail { message, .. } = v else {
                unreachable!()
            };
            assert!(
                message.contains("INV-1") && message.contains("403 from storage"),
                "{message}"
            );
        }
        assert_eq!(
            verdict(Unavailable("x".into()), Answered(200)),
            Verdict::UseOrigin
        );
    }

    #[test]
    fn a_missing_origin_is_502_or_504_and_both_down_is_503() {
        assert_eq!(
            status(verdict(NotFound, Unreachable("refused".into()))),
            Some(502)
        );
        assert_eq!(status(verdict(Disabled, TimedOut("5s".into()))), Some(504));
        assert_eq!(
            status(verdict(Unavailable("x".into()), Unreachable("y".into()))),
            Some(503)
        );
        assert_eq!(
            status(verdict(Unavailable("x".into()), TimedOut("y".into()))),
            Some(503)
        );
    }
}
