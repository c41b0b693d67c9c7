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
    /// Storage could not answer (error status, refused signature, corrupt object): the
    /// record may be archived there.
    Unavailable(String),
    /// Storage did not answer in time (to connect, with a first byte, or between two bytes
    /// of the object): the record may be archived there.
    Timeout(String),
}

/// Why the origin gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginFailure {
    /// It did not answer in time.
    TimedOut(String),
    /// It could not be reached, or failed mid-response.
    Unreachable(String),
}

/// An answer the edge makes up because the tiers needed are down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 502, 503 or 504.
    pub status: u16,
    /// Which tier failed, and what that means for the caller.
    pub message: String,
}

impl Failure {
    /// The answer to a request passed to the origin (anything but a record read) that got no
    /// answer: 504 when it timed out, 502 when the origin could not be reached.
    pub fn passing(origin: &OriginFailure) -> Self {
        match origin {
            OriginFailure::TimedOut(o) => Self {
                status: 504,
                message: format!("the origin did not answer in time ({o})"),
            },
            OriginFailure::Unreachable(o) => Self {
                status: 502,
                message: format!("the origin is unreachable ({o})"),
            },
        }
    }

    /// The plain-text body the failure is answered with.
    pub fn body(&self) -> String {
        format!("tiergate: {}\n", self.message)
    }
}

/// What the edge does with the origin's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass it on as it is.
    UseOrigin,
    /// Answer with a failure instead.
    Fail(Failure),
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

    /// Decides what to do with the origin's answer, `status`.
    pub fn after_origin_status(&self, record: &str, status: u16) -> Verdict {
        match &self.blob {
            // A storage outage hides archived records: the origin's "not found" is not the truth.
            BlobMiss::Unavailable(why) | BlobMiss::Timeout(why) if matches!(status, 404 | 410) => {
                Verdict::Fail(Failure {
                    status: 503,
                    message: format!(
                        "record {record}: blob storage is unavailable ({why}) and the origin \
                         does not have it, so it may be archived; retry later"
                    ),
                })
            }
            _ => Verdict::UseOrigin,
        }
    }

    /// The answer when the origin gave none.
    pub fn after_origin_failure(&self, record: &str, origin: &OriginFailure) -> Failure {
        match (&self.blob, origin) {
            (
                BlobMiss::Unavailable(why) | BlobMiss::Timeout(why),
                OriginFailure::TimedOut(o) | OriginFailure::Unreachable(o),
            ) => Failure {
                status: 503,
                message: format!(
                    "record {record}: blob storage is unavailable ({why}) and the origin \
                         is unavailable ({o}); retry later"
                ),
            },
            (_, OriginFailure::TimedOut(o)) => Failure {
                status: 504,
                message: format!("record {record}: the origin did not answer in time ({o})"),
            },
            (_, OriginFailure::Unreachable(o)) => Failure {
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
    use OriginFailure::*;

    fn plan(blob: BlobMiss) -> ReadPlan {
        ReadPlan::after_blob(blob)
    }

    #[test]
    fn origin_answers_pass_through_when_blob_storage_is_sure() {
        for blob in [Disabled, NotFound] {
            for code in [200, 404, 410, 500] {
                assert_eq!(
                    plan(blob.clone()).after_origin_status("INV-1", code),
                    Verdict::UseOrigin
                );
            }
        }
        assert_eq!(
            plan(Unavailable("x".into())).after_origin_status("INV-1", 200),
            Verdict::UseOrigin
        );
    }

    #[test]
    fn a_storage_outage_never_turns_into_404() {
        type Outage = fn(String) -> BlobMiss;
        let outages: [(Outage, &str); 2] = [
            (Unavailable, "403 from storage"),
            (Timeout, "no byte for 2s"),
        ];
        for (outage, why) in outages {
            for code in [404, 410] {
                let v = plan(outage(why.into())).after_origin_status("INV-1", code);
                let Verdict::Fail(Failure { status, message }) = v else {
                    panic!("origin {code} during a storage outage ({why}) must not pass through");
                };
                assert_eq!(status, 503);
                assert!(
                    message.contains("INV-1") && message.contains(why),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn a_missing_origin_is_502_or_504_and_both_down_is_503() {
        let status = |blob, failure| plan(blob).after_origin_failure("INV-1", &failure).status;
        assert_eq!(status(NotFound, Unreachable("refused".into())), 502);
        assert_eq!(status(Disabled, TimedOut("5s".into())), 504);
        assert_eq!(
            status(Unavailable("x".into()), Unreachable("y".into())),
            503
        );
        assert_eq!(status(Unavailable("x".into()), TimedOut("y".into())), 503);
        assert_eq!(status(Timeout("x".into()), Unreachable("y".into())), 503);
    }

    #[test]
    fn a_passed_request_without_an_answer_is_502_or_504_with_a_text_body() {
        let refused = Failure::passing(&Unreachable("ErrorCode::ConnectionRefused".into()));
        assert_eq!(refused.status, 502);
        assert_eq!(
            refused.body(),
            "tiergate: the origin is unreachable (ErrorCode::ConnectionRefused)\n"
        );
        let slow = Failure::passing(&TimedOut("ErrorCode::HttpResponseTimeout".into()));
        assert_eq!(slow.status, 504);
        assert_eq!(
            slow.body(),
            "tiergate: the origin did not answer in time (ErrorCode::HttpResponseTimeout)\n"
        );
    }
}
