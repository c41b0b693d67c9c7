//! URLs that carry their own authorisation, as both blob backends sign them.

use std::fmt;
use std::time::SystemTime;

/// A URL whose query carries a signature: it grants access until it expires, so it is never
/// printed. `Debug` and `Display` show it without its query.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedUrl(url::Url);

/// A presigned PUT: the URL and the headers the request must send with it.
#[derive(Debug, Clone)]
pub struct SignedPut {
    /// Where to send the body.
    pub url: SignedUrl,
    /// Headers to send: those covered by the signature, and those the store requires.
    pub headers: Vec<(String, String)>,
}

impl SignedUrl {
    pub(crate) fn new(url: url::Url) -> Self {
        Self(url)
    }

    /// The full URL, signature included: for sending, never for printing.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        shown.set_query(None);
        write!(f, "{shown}?<signature>")
    }
}

impl fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedUrl({self})")
    }
}

/// `now` as a signing timestamp.
pub(crate) fn timestamp(now: SystemTime) -> jiff::Timestamp {
    // A clock before 1970 or after 9999 is a broken host; sign at the epoch and let storage refuse.
    jiff::Timestamp::try_from(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
