//! What the host measured: how many records, and how many bytes, sit in each tier.

/// The measured counts and sizes the bill starts from. Each record is counted once:
/// either it still has a row in the hot database (`hot_*`, including records copied but
/// still in their grace period), or its hot row is gone and only the blob copy is left
/// (`archived_*`, the ledger's `deleted` state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Records with a row in the hot database.
    pub hot_records: u64,
    /// Their size as stored in the hot database.
    pub hot_bytes: u64,
    /// Of the hot records, those already older than the archive window: what the next
    /// archiver run would move (`archive --dry-run`). 0 if not measured.
    pub due_records: u64,
    /// Their size as stored in the hot database.
    pub due_bytes: u64,
    /// Records that live only in blob storage.
    pub archived_records: u64,
    /// Their original (uncompressed) size.
    pub archived_bytes: u64,
    /// Their size as stored in blob storage (compressed).
    pub stored_bytes: u64,
}

impl Footprint {
    /// Every record, wherever it is.
    pub fn records(&self) -> u64 {
        self.hot_records + self.archived_records
    }

    /// Every record's original size: what the hot database would hold without tiergate.
    pub fn original_bytes(&self) -> u64 {
        self.hot_bytes + self.archived_bytes
    }

    /// Due records, never more than the hot ones. The host counts the two in separate
    /// queries while the archiver may be running, so a due count can briefly exceed the hot
    /// count; the clamp keeps such a race from producing negative storage.
    pub(crate) fn due(&self) -> (u64, u64) {
        (
            self.due_records.min(self.hot_records),
            self.due_bytes.min(self.hot_bytes),
        )
    }

    /// Hot records newer than the archive window: those that stay hot for now.
    pub(crate) fn young(&self) -> (u64, u64) {
        let (records, bytes) = self.due();
        (self.hot_records - records, self.hot_bytes - bytes)
    }

    /// Original size / stored size of what was archived, if anything was.
    pub(crate) fn compression_ratio(&self) -> Option<f64> {
        (self.archived_records > 0 && self.archived_bytes > 0 && self.stored_bytes > 0)
            .then(|| self.archived_bytes as f64 / self.stored_bytes as f64)
    }

    /// The average original record size, if there are records.
    pub(crate) fn average_record_bytes(&self) -> Option<f64> {
        (self.records() > 0).then(|| self.original_bytes() as f64 / self.records() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compression_ratio_is_measured_only_from_archived_records() {
        let none = Footprint {
            hot_records: 10,
            hot_bytes: 1000,
            ..Footprint::default()
        };
        assert_eq!(none.compression_ratio(), None);
        let some = Footprint {
            archived_records: 4,
            archived_bytes: 1200,
            stored_bytes: 300,
            ..none
        };
        assert_eq!(some.compression_ratio(), Some(4.0));
        assert_eq!(some.average_record_bytes(), Some(2200.0 / 14.0));
    }

    #[test]
    fn a_due_count_above_the_hot_count_is_clamped() {
        let raced = Footprint {
            hot_records: 5,
            hot_bytes: 500,
            due_records: 7,
            due_bytes: 700,
            ..Footprint::default()
        };
        assert_eq!(raced.due(), (5, 500));
        assert_eq!(raced.young(), (0, 0));
    }
}
