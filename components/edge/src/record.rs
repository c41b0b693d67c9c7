//! A record as a tier other than the cache hands it to the edge: its bytes and what is served
//! with them. (Cache hits are answered from the cache entry itself, without one.)

use tiergate_core::{ETag, Encoding, RecordFacts, Source};

/// A record's bytes and what is served with them.
#[derive(Debug)]
pub(crate) struct Record {
    /// The record's bytes.
    pub(crate) body: Vec<u8>,
    /// Its content type.
    pub(crate) content_type: String,
    /// Its entity tag.
    pub(crate) etag: ETag,
    /// The archived object's bytes when they are compressed: served as they are to a
    /// client that accepts their encoding.
    pub(crate) stored: Option<(Encoding, Vec<u8>)>,
    /// Its owner as the tier had it (an owner column's value), if it had one.
    pub(crate) owner: Option<String>,
}

impl Record {
    /// The record as `source` had it, to answer a read with.
    pub(crate) fn facts(&self, source: Source) -> RecordFacts<'_> {
        RecordFacts {
            source,
            etag: &self.etag,
            content_type: &self.content_type,
            size: self.body.len(),
            stored: self
                .stored
                .as_ref()
                .map(|(encoding, stored)| (*encoding, stored.len())),
        }
    }
}
