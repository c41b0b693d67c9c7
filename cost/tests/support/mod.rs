//! What the tests share.

use tiergate_cost::Footprint;

/// 5,000 records of 300,000 bytes: 1,000 hot (600 of them past the window), 4,000
/// archived at 4x.
pub(crate) fn running_deployment() -> Footprint {
    Footprint {
        hot_records: 1000,
        hot_bytes: 300_000_000,
        due_records: 600,
        due_bytes: 180_000_000,
        archived_records: 4000,
        archived_bytes: 1_200_000_000,
        stored_bytes: 300_000_000,
    }
}
