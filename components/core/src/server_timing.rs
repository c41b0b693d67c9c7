//! The `server-timing` header: how long each tier took for one request.

use std::fmt::Write as _;
use std::time::Duration;

/// Timings collected while a request walks the tiers, rendered as `server-timing`.
#[derive(Debug, Default, Clone)]
pub struct ServerTiming(Vec<(&'static str, Duration)>);

impl ServerTiming {
    /// Records that `tier` took `spent`.
    pub fn record(&mut self, tier: &'static str, spent: Duration) {
        self.0.push((tier, spent));
    }

    /// The header value, such as `cache;dur=0.041, blob;dur=2.310`.
    pub fn header_value(&self) -> String {
        let mut out = String::new();
        for (i, (tier, spent)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{tier};dur={:.3}", spent.as_secs_f64() * 1000.0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_tier_in_milliseconds() {
        let mut t = ServerTiming::default();
        t.record("cache", Duration::from_micros(41));
        t.record("blob", Duration::from_micros(2310));
        assert_eq!(t.header_value(), "cache;dur=0.041, blob;dur=2.310");
    }
}
