//! How a record read is answered, whichever tier had the record: the status, the headers the
//! edge sets, and which bytes go out.
//!
//! Two adapters answer through this: the edge component (every tier, in every host) and the
//! tiergate host's cache-hit path, which answers fresh cache hits without entering the
//! component. Both give the same answer because both ask this module.

use crate::server_timing::ServerTiming;
use crate::{ETag, Encoding, Source};

/// Tells the client where the answer came from: `cache`, `blob` or `origin`.
pub const SOURCE_HEADER: &str = "x-tiergate-source";
/// Tells the client which tiers were asked, what each said and how long each took.
pub const SERVER_TIMING_HEADER: &str = "server-timing";

/// Headers of the origin's response that the edge sets itself on the records it serves, or
/// that cannot describe them once the edge has read the body.
pub const REPLACED_HEADERS: &[&str] = &["content-length", "etag", "transfer-encoding"];

/// How the client asked for a record.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadRequest<'a> {
    /// `HEAD`: headers only.
    pub head: bool,
    /// The client's `if-none-match`, if any.
    pub if_none_match: Option<&'a str>,
    /// The client's `accept-encoding`, if any.
    pub accept_encoding: Option<&'a str>,
}

/// A record as a tier holds it, less its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RecordFacts<'a> {
    /// The tier that had it.
    pub source: Source,
    /// Its entity tag.
    pub etag: &'a ETag,
    /// Its content type.
    pub content_type: &'a str,
    /// Length of the record's bytes.
    pub size: usize,
    /// The coding and length of the stored bytes, when the tier holds them compressed: they
    /// are served as they are to a client that accepts the coding.
    pub stored: Option<(Encoding, usize)>,
}

/// Which bytes an answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerBody {
    /// None: `HEAD`, or 304.
    Empty,
    /// The record's bytes.
    Record,
    /// The stored (compressed) bytes, with `content-encoding` set.
    Stored,
}

/// The answer to a record read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAnswer {
    /// 200, or 304 when the client's copy matches.
    pub status: u16,
    /// Headers to set, each replacing any of its name (lowercase names).
    pub headers: Vec<(&'static str, String)>,
    /// Which bytes go out.
    pub body: AnswerBody,
}

impl<'a> ReadRequest<'a> {
    /// How a client asked, from its request's headers (looked up by lowercase name);
    /// `head` for `HEAD`.
    pub fn from_headers(head: bool, header: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            head,
            if_none_match: header("if-none-match"),
            accept_encoding: header("accept-encoding"),
        }
    }

    /// The answer that serves `record`, having asked the tiers as `timing` says.
    pub fn answer(&self, record: &RecordFacts<'_>, timing: &ServerTiming) -> RecordAnswer {
        let not_modified = self
            .if_none_match
            .is_some_and(|candidates| record.etag.matches_if_none_match(candidates));
        // The stored bytes go to a client that accepts their coding (a HEAD is told what its
        // GET would get).
        let coded = record.stored.filter(|(encoding, _)| {
            !not_modified
                && self
                    .accept_encoding
                    .is_some_and(|accepted| encoding.accepted_by(accepted))
        });
        let etag = match coded {
            // The same record in another coding: semantically equal, so a weak tag.
            Some(_) => format!("W/{}", record.etag.as_str()),
            None => record.etag.as_str().to_owned(),
        };
        let mut headers = vec![
            ("content-type", record.content_type.to_owned()),
            ("etag", etag),
            (SOURCE_HEADER, record.source.as_str().to_owned()),
            (SERVER_TIMING_HEADER, timing.header_value()),
        ];
        if not_modified {
            return RecordAnswer {
                status: 304,
                headers,
                body: AnswerBody::Empty,
            };
        }
        if record.stored.is_some() {
            headers.push(("vary", "accept-encoding".to_owned()));
        }
        let (body, length) = match coded {
            Some((encoding, length)) => {
                headers.push(("content-encoding", encoding.as_str().to_owned()));
                (AnswerBody::Stored, length)
            }
            None => (AnswerBody::Record, record.size),
        };
        // A HEAD carries every header of its GET, the length included, and no body.
        headers.push(("content-length", length.to_string()));
        RecordAnswer {
            status: 200,
            headers,
            body: if self.head { AnswerBody::Empty } else { body },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_timing::{Outcome, Tier};
    use std::time::Duration;

    fn header<'a>(answer: &'a RecordAnswer, name: &str) -> Option<&'a str> {
        answer
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn cached(etag: &ETag) -> RecordFacts<'_> {
        RecordFacts {
            source: Source::Cache,
            etag,
            content_type: "application/json",
            size: 300_000,
            stored: None,
        }
    }

    fn timing() -> ServerTiming {
        let mut timing = ServerTiming::default();
        timing.record(Tier::Cache, Outcome::Hit, Duration::from_micros(41));
        timing
    }

    #[test]
    fn a_get_carries_the_record_with_its_tag_source_timing_and_length() {
        let etag = ETag::of(b"record");
        let answer = ReadRequest::default().answer(&cached(&etag), &timing());
        assert_eq!((answer.status, answer.body), (200, AnswerBody::Record));
        assert_eq!(header(&answer, "etag"), Some(etag.as_str()));
        assert_eq!(header(&answer, "content-type"), Some("application/json"));
        assert_eq!(header(&answer, SOURCE_HEADER), Some("cache"));
        assert_eq!(
            header(&answer, SERVER_TIMING_HEADER),
            Some("cache;desc=hit;dur=0.041")
        );
        assert_eq!(header(&answer, "content-length"), Some("300000"));
        assert_eq!(header(&answer, "vary"), None);
    }

    #[test]
    fn a_request_is_read_from_its_conditional_and_encoding_headers() {
        let headers = [("if-none-match", "\"abc\""), ("accept-encoding", "gzip")];
        let request = ReadRequest::from_headers(true, |name| {
            headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        });
        assert_eq!(
            (request.head, request.if_none_match, request.accept_encoding),
            (true, Some("\"abc\""), Some("gzip"))
        );
    }

    #[test]
    fn a_matching_if_none_match_gets_304_without_a_body() {
        let etag = ETag::of(b"record");
        let request = ReadRequest {
            if_none_match: Some(etag.as_str()),
            ..ReadRequest::default()
        };
        let answer = request.answer(&cached(&etag), &timing());
        assert_eq!((answer.status, answer.body), (304, AnswerBody::Empty));
        assert_eq!(header(&answer, "etag"), Some(etag.as_str()));
        assert_eq!(header(&answer, "content-length"), None);
    }

    #[test]
    fn head_gets_the_headers_only() {
        let etag = ETag::of(b"record");
        let request = ReadRequest {
            head: true,
            ..ReadRequest::default()
        };
        let answer = request.answer(&cached(&etag), &timing());
        assert_eq!((answer.status, answer.body), (200, AnswerBody::Empty));
        let get = ReadRequest::default().answer(&cached(&etag), &timing());
        assert_eq!(answer.headers, get.headers, "a HEAD has its GET's headers");
        assert_eq!(header(&answer, "content-length"), Some("300000"));
        assert_eq!(header(&answer, SOURCE_HEADER), Some("cache"));

        // Compressed for a client that takes the coding, as its GET would be.
        let record = RecordFacts {
            stored: Some((Encoding::Gzip, 60_000)),
            ..cached(&etag)
        };
        let gzip_head = ReadRequest {
            head: true,
            accept_encoding: Some("gzip"),
            ..ReadRequest::default()
        };
        let answer = gzip_head.answer(&record, &timing());
        assert_eq!(answer.body, AnswerBody::Empty);
        assert_eq!(header(&answer, "content-encoding"), Some("gzip"));
        assert_eq!(header(&answer, "content-length"), Some("60000"));
    }

    #[test]
    fn stored_bytes_go_to_clients_that_accept_their_coding_under_a_weak_tag() {
        let etag = ETag::of(b"record");
        let record = RecordFacts {
            source: Source::Blob,
            stored: Some((Encoding::Gzip, 60_000)),
            ..cached(&etag)
        };
        let gzip = ReadRequest {
            accept_encoding: Some("gzip, br"),
            ..ReadRequest::default()
        };
        let answer = gzip.answer(&record, &timing());
        assert_eq!(answer.body, AnswerBody::Stored);
        assert_eq!(header(&answer, "content-encoding"), Some("gzip"));
        assert_eq!(header(&answer, "content-length"), Some("60000"));
        assert_eq!(
            header(&answer, "etag"),
            Some(format!("W/{}", etag.as_str()).as_str())
        );
        assert_eq!(header(&answer, "vary"), Some("accept-encoding"));

        let plain = ReadRequest::default().answer(&record, &timing());
        assert_eq!(plain.body, AnswerBody::Record);
        assert_eq!(header(&plain, "content-encoding"), None);
        assert_eq!(header(&plain, "content-length"), Some("300000"));
        assert_eq!(header(&plain, "etag"), Some(etag.as_str()));
        assert_eq!(header(&plain, "vary"), Some("accept-encoding"));
    }
}
