//! What both backends do alike when they upgrade an older ledger.

use crate::sql_name::SqlName;
use tiergate_core::LedgerState;

/// Brings copies made before copies were staged (ledger schema 1) into the protocol.
///
/// That version wrote a record's copy straight to the key the edge reads, while the hot
/// row stayed for its grace period: such a copy answers for a row that may change. Marked
/// `deleted` (copy published) beside a hot row, it is what a stale copy looks like: a
/// write through the edge hides it before it goes on (`before_write`), and the next run's
/// stale pass removes it, both copy keys and the cached copy; the record is then archived
/// again in its time. A `copying` row may or may not have a copy yet; removing an absent
/// object is no error.
pub(crate) fn publish_unstaged(l: &SqlName) -> String {
    format!(
        "UPDATE {l} SET state = '{deleted}' WHERE state IN ('{copying}', '{archived}');",
        deleted = LedgerState::Deleted,
        copying = LedgerState::Copying,
        archived = LedgerState::Archived,
    )
}
