//! What went wrong with a blob request, read from the store's answer: one type for the edge,
//! the archiver and `tiergate verify`, whose message names the request, the key and what to
//! check.

use crate::BlobKey;
use crate::archival::Retry;
use crate::blob_object::ObjectError;
use crate::put_checksum::ChecksumMismatch;
use std::fmt;

/// A blob request that storage did not answer as it succeeds, such as
/// `GET records/45b4/INV-42: 403 from storage (refused: wrong key, expired URL, clock skew,
/// or on S3 a missing object that the credentials may not list)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    /// The request's method: `GET`, `HEAD`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The object asked for.
    pub key: BlobKey,
    /// What was wrong with the answer.
    pub problem: BlobProblem,
}

/// What was wrong with a blob store's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProblem {
    /// 403: the store refused the request: the signature (wrong key, expired URL or clock
    /// skew) or the permission. S3 also answers 403 for a missing object to credentials
    /// without `s3:ListBucket`, so that they cannot learn which keys exist.
    Forbidden,
    /// 400 to a PUT: most likely the store found that the body does not match its checksum
    /// (S3's `BadDigest`, Azure's `Md5Mismatch`).
    BodyRefused,
    /// Another status the request does not succeed with.
    Status(u16),
    /// The object's metadata is absent or unreadable: not an object tiergate wrote.
    Meta(ObjectError),
    /// The store answered a PUT naming another checksum than the body's: it kept other bytes.
    Receipt(ChecksumMismatch),
}

impl BlobError {
    pub(crate) fn new(method: &'static str, key: &BlobKey, problem: BlobProblem) -> Self {
        Self {
            method,
            key: key.clone(),
            problem,
        }
    }

    /// The error for an answer of `status` to `method`, which it does not succeed with.
    pub(crate) fn status(method: &'static str, key: &BlobKey, status: u16) -> Self {
        let problem = match (status, method) {
            (403, _) => BlobProblem::Forbidden,
            (400, "PUT") => BlobProblem::BodyRefused,
            _ => BlobProblem::Status(status),
        };
        Self::new(method, key, problem)
    }

    /// Whether the same request may pass if sent again shortly: storage overloaded or
    /// failing (408, 429, 5xx), not refusing this request or its object.
    pub fn retry(&self) -> Retry {
        match self.problem {
            BlobProblem::Status(status) => Retry::of_status(status),
            _ => Retry::Permanent,
        }
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.key, self.problem)
    }
}

impl std::error::Error for BlobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            BlobProblem::Meta(e) => Some(e),
            BlobProblem::Receipt(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for BlobProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Forbidden => write!(f, "{FORBIDDEN}"),
            Self::BodyRefused => write!(
                f,
                "{} from storage (S3's BadDigest or Azure's Md5Mismatch if the body was \
                 damaged on its way)",
                status_line(400)
            ),
            Self::Status(status) => write!(f, "{} from storage", status_line(*status)),
            Self::Meta(e) => write!(f, "{e}"),
            Self::Receipt(e) => write!(f, "{e}"),
        }
    }
}

/// Every cause of a 403 an operator meets, the last one the least expected.
const FORBIDDEN: &str = "403 from storage (refused: wrong key, expired URL or clock skew? \
     On S3 a missing object is 403, not 404, when the credentials lack s3:ListBucket: \
     give the edge's key s3:ListBucket on the bucket)";

/// `status` with its reason phrase, as operators know it: `503 Service Unavailable`.
fn status_line(status: u16) -> String {
    match http::StatusCode::from_u16(status) {
        Ok(code) => code.to_string(),
        Err(_) => status.to_string(),
    }
}
