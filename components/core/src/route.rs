//! Which requests are record reads, record writes, or none of tiergate's business.

use crate::record_id::RecordId;

/// The record route, such as `/records/{id}`: a literal prefix, the `{id}` segment, and an
/// optional literal suffix. The id segment never spans a `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRoute {
    prefix: String,
    suffix: String,
    /// Query parameters that do not change the record's representation (tracking tags and
    /// the like): a read carrying only these is still a read of the plain record.
    ignored_query: Vec<String>,
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
    /// `GET` or `HEAD` of the plain record (no query string, or only ignored parameters):
    /// served from the tiers. Any other query may select another representation (`?fields=`,
    /// `?format=`), which only the origin can make: such reads pass.
    Read {
        /// The record.
        id: RecordId,
        /// `HEAD`: headers only.
        head: bool,
    },
    /// `PUT`, `PATCH`, `POST` or `DELETE` of a record, or of a path the origin may take for
    /// the record's (`/records/X/`, a percent-encoded id): forwarded unchanged, after the
    /// record is made writable, then its cached copy is dropped.
    Write(RecordId),
    /// Anything else, ids the edge does not handle included: forwarded untouched, never
    /// cached. The origin owns the validation of its own API.
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
            ignored_query: Vec::new(),
        })
    }

    /// Lets reads that carry only these query parameters be served as the plain record.
    pub fn ignoring_query_params(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.ignored_query = names.into_iter().collect();
        self
    }

    /// Whether a query string leaves the record's representation as it is: empty, or made
    /// only of ignored parameters (compared as the origin would, percent-decoded).
    fn plain_query(&self, query: Option<&str>) -> bool {
        query.is_none_or(|query| {
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .all(|pair| {
                    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                    let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
                    self.ignored_query.iter().any(|ignored| *ignored == name)
                })
        })
    }

    /// The raw id segment of `path` (query excluded) if it matches this route.
    fn id_segment<'p>(&self, path: &'p str) -> Option<&'p str> {
        let middle = path
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        (!middle.contains('/')).then_some(middle)
    }

    /// The record an origin may take `path` for, though it is not the record's own path:
    /// one trailing `/`, or a percent-encoded id. Common routers resolve both to the record.
    fn alias_of(&self, path: &str) -> Option<RecordId> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let raw = self.id_segment(path)?;
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .ok()?;
        RecordId::parse(&decoded).ok()
    }

    /// Classifies a request by method and path-with-query.
    pub fn classify(&self, method: &str, path_with_query: &str) -> RequestKind {
        let (path, query) = match path_with_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_with_query, None),
        };
        let id = self
            .id_segment(path)
            .and_then(|raw| RecordId::parse(raw).ok());
        match (method, id) {
            ("GET" | "HEAD", Some(id)) if self.plain_query(query) => RequestKind::Read {
                id,
                head: method == "HEAD",
            },
            ("PUT" | "PATCH" | "POST" | "DELETE", Some(id)) => RequestKind::Write(id),
            // A write under another spelling of a record's path may change that record:
            // it is made writable and its cached copy dropped all the same.
            ("PUT" | "PATCH" | "POST" | "DELETE", None) => self
                .alias_of(path)
                .map_or(RequestKind::Pass, RequestKind::Write),
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
            r.classify("HEAD", "/records/INV-1"),
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
    fn ids_the_edge_does_not_handle_pass_to_the_origin_for_every_method() {
        let r = RecordRoute::default();
        let long = format!("/records/{}", "a".repeat(129));
        for path in [
            "/records/",
            "/records/a%2Fb",
            "/records/%C3%A9",
            "/records/..",
            "/records/.%2E",
            "/records/%2E%2E%2Fadmin",
            long.as_str(),
        ] {
            for method in ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"] {
                assert_eq!(
                    r.classify(method, path),
                    RequestKind::Pass,
                    "{method} {path}"
                );
            }
        }
    }

    #[test]
    fn reads_with_a_query_are_plain_only_when_every_parameter_is_ignored() {
        let r = RecordRoute::default()
            .ignoring_query_params(["utm_source".to_owned(), "trace id".to_owned()]);
        let read = |head| RequestKind::Read {
            id: id("INV-1"),
            head,
        };
        for plain in [
            "/records/INV-1",
            "/records/INV-1?",
            "/records/INV-1?utm_source=mail",
            "/records/INV-1?utm_source&&utm_source=x",
            "/records/INV-1?trace%20id=7",
        ] {
            assert_eq!(r.classify("GET", plain), read(false), "{plain}");
            assert_eq!(r.classify("HEAD", plain), read(true), "{plain}");
        }
        for variant in [
            "/records/INV-1?fields=total",
            "/records/INV-1?utm_source=mail&fields=total",
            "/records/INV-1?format",
            "/records/INV-1?UTM_SOURCE=x",
        ] {
            assert_eq!(r.classify("GET", variant), RequestKind::Pass, "{variant}");
            assert_eq!(r.classify("HEAD", variant), RequestKind::Pass, "{variant}");
        }
        // Writes are writes of the record whatever their query.
        assert_eq!(
            r.classify("PUT", "/records/INV-1?fields=total"),
            RequestKind::Write(id("INV-1"))
        );
        assert_eq!(
            RecordRoute::default().classify("GET", "/records/INV-1?x=1"),
            RequestKind::Pass
        );
    }

    #[test]
    fn writes_to_an_alias_of_a_record_path_are_writes_of_the_record() {
        let r = RecordRoute::default();
        for path in [
            "/records/INV-1/",
            "/records/%49NV-1",
            "/records/INV%2D1/?x=1",
        ] {
            assert_eq!(
                r.classify("PUT", path),
                RequestKind::Write(id("INV-1")),
                "{path}"
            );
            assert_eq!(
                r.classify("DELETE", path),
                RequestKind::Write(id("INV-1")),
                "{path}"
            );
            // Reads of an alias go to the origin, which decides what the alias means.
            assert_eq!(r.classify("GET", path), RequestKind::Pass, "{path}");
        }
        assert_eq!(r.classify("PUT", "/records/INV-1//"), RequestKind::Pass);
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
