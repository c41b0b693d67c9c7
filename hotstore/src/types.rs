//! The values that go in and out of the store, shared by both backends.

use tiergate_core::LedgerState;

/// Who is acting and when. The store never reads a clock: every mutating call says what
/// time it is, so that several hosts agree on one timeline and tests move time at will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Names the archiver run that holds rows; only it may advance them.
    pub owner: String,
    /// Now, in unix milliseconds.
    pub now_ms: i64,
    /// How long a claimed row stays reserved for `owner`; after that another run may take
    /// it over (the holder is presumed crashed).
    pub duration_ms: i64,
}

impl Lease {
    /// When rows taken under this lease become free again.
    pub fn until_ms(&self) -> i64 {
        self.now_ms.saturating_add(self.duration_ms)
    }
}

/// A cold record claimed for copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The record id.
    pub id: String,
    /// Its version when claimed (as text), recorded in the ledger.
    pub version: String,
}

/// A record as read from the hot table, for copying to blob storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotRecord {
    /// The record id.
    pub id: String,
    /// The version (as text): the delete later checks that it is still this one.
    pub version: String,
    /// When it last changed, unix milliseconds.
    pub changed_ms: i64,
    /// The record's content type; `None` when no content-type column is configured or its
    /// cell is NULL, which the `hot-store` interface defines as `application/json`.
    pub content_type: Option<String>,
    /// The record's bytes, whether the column is binary or text.
    pub body: Vec<u8>,
    /// The owner column's value as text, when one is configured and the cell is not NULL.
    pub owner: Option<String>,
}

/// A verified blob copy of a record, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedCopy {
    /// The record id.
    pub id: String,
    /// The version that was copied; the hot row is deleted only while it is unchanged.
    pub version: String,
    /// Where the copy is.
    pub blob_key: String,
    /// SHA-256 of the original bytes, hex.
    pub sha256: String,
    /// Original size in bytes.
    pub size: u64,
    /// Size as stored (after compression).
    pub stored_size: u64,
    /// SHA-256 of the stored bytes, hex.
    pub stored_sha256: String,
    /// How the stored bytes are encoded (`identity`, `zstd`, ...).
    pub encoding: String,
    /// The hot row may be deleted from this time on (unix ms): the grace period's end.
    pub delete_after_ms: i64,
}

/// What a write through the edge finds when it asks, before it goes to the origin, where
/// the record lives ([`HotStore::before_write`](crate::HotStore::before_write)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeWrite {
    /// The hot row answers for the record, or there is no record: the write can go. A copy
    /// in its grace period had its delete put off, so the row stays for the write.
    Hot,
    /// The hot row is gone and this published copy is the record: restore it first.
    Archived(ArchivedCopy),
    /// The record's retention period is over and its copy was deleted: there is nothing to
    /// restore, and the write goes to the origin as for any record it does not have.
    Expired,
    /// A hot row came back beside a published copy (written around the API, or a restore
    /// that stopped before it hid the copy): the copy must go before anything else.
    StaleCopy,
}

/// A record put back in the hot table from its copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredRow {
    /// The record id.
    pub id: String,
    /// Its bytes, as the copy holds them.
    pub body: Vec<u8>,
    /// Its content type; `None` leaves the column NULL. This and the version and time
    /// below are used only for rows the ledger did not keep whole (schema version 1).
    pub content_type: Option<String>,
    /// Its version, as the ledger recorded it: the version column's value, or, when the
    /// table has none, the changed column's.
    pub version: String,
    /// Now (unix ms): the changed time of a table with a version column, whose original
    /// changed time the copy does not keep.
    pub now_ms: i64,
}

/// What [`delete_if_unchanged`](crate::HotStore::delete_if_unchanged) did: the core's
/// type, so that the archiver's decision after it is made in one place.
pub use tiergate_core::archival::DeleteOutcome;

/// A ledger row whose blob copy no longer matches the hot database, claimed so that its
/// copy can be removed and the row forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleCopy {
    /// The record id.
    pub id: String,
    /// The copy to remove, if one was recorded (a `copying` row may have none).
    pub blob_key: Option<String>,
    /// The ledger state it was found in.
    pub state: LedgerState,
}

/// What a run would take right now, without claiming anything: records to archive, or
/// copies past their retention period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdCount {
    /// How many records.
    pub records: u64,
    /// Their body bytes (for copies: their stored bytes).
    pub bytes: u64,
    /// The first ids in claim order, for `--dry-run` to show.
    pub sample: Vec<String>,
}

/// Tier counts for `tiergate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Rows in the hot records table.
    pub hot_records: u64,
    /// Their body bytes.
    pub hot_bytes: u64,
    /// One entry per ledger state, in protocol order, zeros included.
    pub states: Vec<StateCount>,
    /// The most recently started run, if any.
    pub last_run: Option<RunRow>,
}

/// The ledger rows in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    /// The state.
    pub state: LedgerState,
    /// How many rows.
    pub records: u64,
    /// Sum of their original sizes (rows with a recorded copy).
    pub bytes: u64,
    /// Sum of their stored sizes.
    pub stored_bytes: u64,
}

impl StateCount {
    /// One count per state in protocol order, with zeros for states that have no rows.
    pub(crate) fn every_state(counted: Vec<StateCount>) -> Vec<StateCount> {
        LedgerState::ALL
            .into_iter()
            .map(|state| {
                counted
                    .iter()
                    .find(|count| count.state == state)
                    .cloned()
                    .unwrap_or(StateCount {
                        state,
                        records: 0,
                        bytes: 0,
                        stored_bytes: 0,
                    })
            })
            .collect()
    }
}

/// Keeps a run row small when a run fails on every record; the count is in `failed`.
pub const MAX_RUN_ERRORS: usize = 100;

/// One archiver run, as kept in `<ledger_table>_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// The lease owner the run used.
    pub owner: String,
    /// Start, unix ms.
    pub started_ms: i64,
    /// End, unix ms.
    pub finished_ms: i64,
    /// Records claimed for copying.
    pub claimed: u64,
    /// Records marked archived.
    pub archived: u64,
    /// Hot rows deleted.
    pub deleted: u64,
    /// Stale copies removed and their ledger rows forgotten.
    pub restored: u64,
    /// Records that failed.
    pub failed: u64,
    /// Original bytes read.
    pub bytes_in: u64,
    /// Bytes stored.
    pub bytes_out: u64,
    /// Whether the run only counted.
    pub dry_run: bool,
    /// What went wrong, one line each; at most [`MAX_RUN_ERRORS`] are stored.
    pub errors: Vec<String>,
}

impl RunRow {
    /// The `errors` column: one error per line (newlines inside an error become spaces),
    /// capped at [`MAX_RUN_ERRORS`] lines plus one that counts the rest.
    pub(crate) fn errors_text(&self) -> String {
        let mut lines: Vec<String> = self
            .errors
            .iter()
            .take(MAX_RUN_ERRORS)
            .map(|error| error.replace(['\r', '\n'], " "))
            .collect();
        if self.errors.len() > MAX_RUN_ERRORS {
            lines.push(format!(
                "... and {} more",
                self.errors.len() - MAX_RUN_ERRORS
            ));
        }
        lines.join("\n")
    }

    /// The inverse of [`RunRow::errors_text`].
    pub(crate) fn errors_from_text(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }
}

/// Every column of one ledger row, for audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// The record id.
    pub id: String,
    /// Where the record is in its move.
    pub state: LedgerState,
    /// The version claimed or copied.
    pub version: String,
    /// Where the copy is, once written.
    pub blob_key: Option<String>,
    /// SHA-256 of the original bytes, hex.
    pub sha256: Option<String>,
    /// Original size.
    pub size: Option<u64>,
    /// Stored size.
    pub stored_size: Option<u64>,
    /// SHA-256 of the stored bytes, hex.
    pub stored_sha256: Option<String>,
    /// Stored encoding.
    pub encoding: Option<String>,
    /// How many times the record was claimed for copying.
    pub attempts: u32,
    /// The last copy failure, cleared when archived.
    pub last_error: Option<String>,
    /// Who holds the row, if anyone.
    pub lease_owner: Option<String>,
    /// Until when (unix ms) the row is reserved; a released row waits for this time too.
    pub lease_until: Option<i64>,
    /// Last claimed for copying (unix ms).
    pub claimed_at: Option<i64>,
    /// Marked archived (unix ms).
    pub archived_at: Option<i64>,
    /// The hot row may be deleted from this time on (unix ms).
    pub delete_after: Option<i64>,
    /// The hot row was deleted (unix ms).
    pub deleted_at: Option<i64>,
    /// Last change of this ledger row (unix ms).
    pub updated_at: i64,
}

/// Counts and sizes are stored as SQL `bigint`; no real value comes near the limit.
pub(crate) fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The inverse of [`to_sql`]; a negative value (never written by tiergate) reads as 0.
pub(crate) fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_errors_are_one_per_line_and_capped() {
        let run = RunRow {
            owner: "run-1".into(),
            started_ms: 0,
            finished_ms: 1,
            claimed: 0,
            archived: 0,
            deleted: 0,
            restored: 0,
            failed: 0,
            bytes_in: 0,
            bytes_out: 0,
            dry_run: false,
            errors: (0..MAX_RUN_ERRORS + 5)
                .map(|i| format!("record {i}\nfailed"))
                .collect(),
        };
        let lines = RunRow::errors_from_text(&run.errors_text());
        assert_eq!(lines.len(), MAX_RUN_ERRORS + 1);
        assert_eq!(lines[0], "record 0 failed");
        assert_eq!(lines[MAX_RUN_ERRORS], "... and 5 more");
    }
}
