//! The records that failed in one archiver run, shared by the run's instances (the host
//! keeps one per run, behind a lock).
//!
//! A run tries each record once. A record that failed is released to wait before it is
//! tried again; when that wait is shorter than the run (0 above all), a claim hands it
//! straight back, and a lasting failure would never let the run end. Such claims are held
//! instead: their lease keeps them from the run's next claims, which go on to younger
//! records, and they are released again, with their failure, when the run ends.

use std::collections::BTreeMap;

/// The records that failed in this run, by id.
#[derive(Debug, Clone, Default)]
pub struct FailedRecords {
    by_id: BTreeMap<String, Failed>,
}

/// A record that failed in this run: why, and how long it is to wait.
#[derive(Debug, Clone)]
struct Failed {
    error: String,
    retry_after_ms: i64,
    /// Claimed again by this run and kept under its lease, to be released when it ends.
    held: bool,
}

/// A record held by the run after it failed, to be released when the run ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// The record.
    pub id: String,
    /// Its failure, as it was released with.
    pub error: String,
    /// How long it is to wait before it is tried again.
    pub retry_after_ms: i64,
}

impl FailedRecords {
    /// Notes that record `id` failed with `error`, to wait `retry_after_ms`. Note it before
    /// the store frees it: with a short wait, another of the run's instances may claim it
    /// the moment it is free, and must find it noted.
    pub fn note(&mut self, id: String, error: String, retry_after_ms: i64) {
        let failed = Failed {
            error,
            retry_after_ms,
            held: false,
        };
        self.by_id.insert(id, failed);
    }

    /// Forgets record `id`: the store did not free it for this run (another holds it, or
    /// the store failed), so there is nothing to hold.
    pub fn forget(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// The `claims` to hand out: those of records that have not failed in this run. The
    /// others are held from now on.
    pub fn fresh<C>(&mut self, claims: Vec<C>, id: impl Fn(&C) -> &str) -> Vec<C> {
        claims
            .into_iter()
            .filter(|claim| match self.by_id.get_mut(id(claim)) {
                Some(again) => {
                    again.held = true;
                    false
                }
                None => true,
            })
            .collect()
    }

    /// The held records, to release as the run ends, each to wait as its failure said;
    /// every record is forgotten.
    pub fn take_held(&mut self) -> Vec<HeldRecord> {
        std::mem::take(&mut self.by_id)
            .into_iter()
            .filter(|(_, failed)| failed.held)
            .map(|(id, failed)| HeldRecord {
                id,
                error: failed.error,
                retry_after_ms: failed.retry_after_ms,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(claims: &[&'static str]) -> Vec<&'static str> {
        claims.to_vec()
    }

    #[test]
    fn claims_of_records_that_failed_in_the_run_are_held_not_handed_out() {
        let mut failed = FailedRecords::default();
        failed.note("INV-1".into(), "403 from storage".into(), 0);
        let fresh = failed.fresh(ids(&["INV-1", "INV-2"]), |id| id);
        assert_eq!(fresh, ["INV-2"]);
        assert_eq!(
            failed.take_held(),
            [HeldRecord {
                id: "INV-1".into(),
                error: "403 from storage".into(),
                retry_after_ms: 0,
            }]
        );
    }

    #[test]
    fn a_failed_record_not_claimed_again_is_not_held() {
        let mut failed = FailedRecords::default();
        failed.note("INV-1".into(), "timeout".into(), 60_000);
        assert_eq!(failed.fresh(ids(&["INV-2"]), |id| id), ["INV-2"]);
        assert_eq!(failed.take_held(), []);
    }

    #[test]
    fn a_forgotten_record_is_handed_out_again() {
        let mut failed = FailedRecords::default();
        failed.note("INV-1".into(), "timeout".into(), 0);
        failed.forget("INV-1");
        assert_eq!(failed.fresh(ids(&["INV-1"]), |id| id), ["INV-1"]);
        assert_eq!(failed.take_held(), []);
    }

    #[test]
    fn taking_the_held_records_forgets_every_failure() {
        let mut failed = FailedRecords::default();
        failed.note("INV-1".into(), "a".into(), 0);
        failed.note("INV-2".into(), "b".into(), 0);
        assert_eq!(failed.fresh(ids(&["INV-1"]), |id| id), Vec::<&str>::new());
        assert_eq!(failed.take_held().len(), 1);
        assert_eq!(failed.take_held(), []);
        assert_eq!(
            failed.fresh(ids(&["INV-1", "INV-2"]), |id| id),
            ["INV-1", "INV-2"]
        );
    }

    #[test]
    fn a_second_failure_replaces_the_first_and_is_no_longer_held() {
        let mut failed = FailedRecords::default();
        failed.note("INV-1".into(), "first".into(), 0);
        failed.fresh(ids(&["INV-1"]), |id| id);
        failed.note("INV-1".into(), "second".into(), 5);
        assert_eq!(failed.take_held(), []);
    }
}
