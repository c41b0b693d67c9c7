//! Which requests are record reads, record writes, or none of tiergate's business.

use crate::record_id::{RecordId, RecordIdError};

/// The record route, such as `/records/{id}`: a literal prefix, the `{id}` segment, and an
/// optional literal suffix. The id segment never spans a `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRoute {
    prefix: String,
    suffix: String,
}

/// Why a route pattern is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The pattern lacks exactly one `{id}`.
    #[error("route {0:?} must contain `{{id}}` exactly once")]
    IdPlaceholder(String),
    /// The pattern does not start with `/`.
    #[error("route {0:?} must start with '/'")]
    NotAbsolute(String),
    /// `{id}` is not a whole path segment.
    #[error("route {0:?}: `{{id}}` must be a whole path segment, like /records/{{id}}")]
    PartialSegment(String),
}

/// What the edge does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// `GET` or `HEAD` of a record: served from the tiers.
    Read {
        /// The record.
        id: RecordId,
        /// `HEAD`: headers only.
        head: bool,
    },
    /// `PUT`, `PATCH`, `POST` or `DELETE` of a record: forwarded, then the cached copy is dropped.
    Write(RecordId),
    /// A record read whose id is malformed: answered with 400 before any I/O.
    BadId(RecordIdError),
    /// Anything else: forwarded untouched.
    Pass,
}

impl RecordRoute {
    /// Parses a pattern such as `/records/{id}` or `/v1/records/{id}/document`.
    pub fn parse(pattern: &str) -> Result<Self, RouteError> {
        if !pattern.starts_with('/') {
            return Err(RouteError::NotAbsolute(pattern.to_owned()));
        }
        let Some((prefix, suffix)) = pattern.split_once("{id}") else {
            return Err(RouteError::IdPlaceholder(pattern.to_owned()));
        };
        if suffix.contains("{id}") {
            return Err(RouteError::IdPlaceholder(pattern.to_owned()));
        }
        if !prefix.ends_with('/') || !(suffix.is_empty() || suffix.starts_with('/')) {
            return Err(RouteError::PartialSegment(pattern.to_owned()));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The raw id segment of `path` (query excluded) if it matches this route.
    fn id_segment<'p>(&self, path: &'p str) -> Option<&'p str> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let middle = path
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        (!middle.contains('/')).then_some(middle)
    }

    /// Classifies a request by method and path-with-query.
    pub fn classify(&self, method: &str, path_with_query: &str) -> RequestKind {
        let Some(raw) = self.id_segment(path_with_query) else {
            return RequestKind::Pass;
        };
        match method {
            "GET" | "HEAD" => match RecordId::parse(raw) {
                Ok(id) => RequestKind::Read {
                    id,
                    head: method == "HEAD",
                },
                Err(e) => RequestKind::BadId(e),
            },
            // A write with an id we would not cache cannot leave a stale copy behind, and the
            // origin owns the validation of its own API: pass it through.
            "PUT" | "PATCH" | "POST" | "DELETE" => match RecordId::parse(raw) {
                Ok(id) => RequestKind::Write(id),
                Err(_) => RequestKind::Pass,
            },
            _ => RequestKind::Pass,
        }
    }
}

impl Default for RecordRoute {
    fn default() -> Self {
        Self::parse("/records/{id}").expect("the default route is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RecordId {
        RecordId::parse(s).unwrap()
    }

    #[test]
    fn default_route_classifies_reads_writes_and_the_rest() {
        let r = RecordRoute::default();
        assert_eq!(
            r.classify("GET", "/records/INV-1"),
            RequestKind::Read {
                id: id("INV-1"),
                head: false
            }
        );
        assert_eq!(
            r.classify("HEAD", "/records/INV-1?x=1"),
            RequestKind::Read {
                id: id("INV-1"),
                head: true
            }
        );
        assert_eq!(
            r.classify("DELETE", "/records/INV-1"),
            RequestKind::Write(id("INV-1"))
        );
        assert_eq!(r.classify("GET", "/records?limit=5"), RequestKind::Pass);
        assert_eq!(r.classify("GET", "/records/INV-1/pdf"), RequestKind::Pass);
        assert_eq!(r.classify("GET", "/health"), RequestKind::Pass);
        assert_eq!(r.classify("OPTIONS", "/records/INV-1"), RequestKind::Pass);
        assert_eq!(r.classify("PUT", "/records/a%20b"), RequestKind::Pass);
    }

    #[test]
    fn bad_ids_on_reads_are_reported() {
        let r = RecordRoute::default();
        assert_eq!(
            r.classify("GET", "/records/"),
            RequestKind::BadId(RecordIdError::Empty)
        );
        assert_eq!(
            r.classify("GET", "/records/a%2Fb"),
            RequestKind::BadId(RecordIdError::BadCharacter('%'))
        );
    }

    #[test]
    fn routes_with_a_suffix_match_only_that_suffix() {
        let r = RecordRoute::parse("/v1/invoices/{id}/document").unwrap();
        assert_eq!(
            r.classify("GET", "/v1/invoices/A1/document"),
            RequestKind::Read {
                id: id("A1"),
                head: false
            }
        );
        assert_eq!(r.classify("GET", "/v1/invoices/A1"), RequestKind::Pass);
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(matches!(
            RecordRoute::parse("records/{id}"),
            Err(RouteError::NotAbsolute(_))
        ));
        assert!(matches!(
            RecordRoute::parse("/records"),
            Err(RouteError::IdPlaceholder(_))
        ));
        assert!(matches!(
            RecordRoute::parse("/r/{id}/{id}"),
            Err(RouteError::IdPlaceholder(_))
        ));
        assert!(matches!(
            RecordRoute::parse("/r/inv-{id}"),
            Err(RouteError::PartialSegment(_))
        ));
    }
}
