//! [`ColdCursor`]: where a run's walk over the records table has got to.

use crate::StoreError;

/// Where a run's walk over cold records has got to. Each claim goes on after the last
/// record the walk passed, so that no claim of the run reads again what an earlier one
/// passed (copies in their grace period, held rows, records another archiver took): a
/// claim costs about its batch, however large the table and however many copies wait in
/// their grace period. A new cursor starts at the beginning of the walk: one per run,
/// shared by the run's instances.
///
/// A record the walk passed that becomes claimable later in the run (a failed copy whose
/// retry time comes, a hold lifted) waits for the next run, whose walk starts again.
#[derive(Debug, Clone, Default)]
pub struct ColdCursor {
    pub(crate) at: Option<Position>,
}

/// The last record a walk passed, in its engine's terms.
#[derive(Debug, Clone)]
pub(crate) enum Position {
    /// PostgreSQL: the record's changed time and id as text, in the session's fixed text
    /// forms, which cast back to the same values.
    Postgres {
        /// The changed column, as text.
        changed: String,
        /// The id column, as text.
        id: String,
    },
    /// SQLite: the cells themselves, which compare in SQLite's own order.
    Sqlite {
        /// The changed column's cell.
        changed: rusqlite::types::Value,
        /// The id column's cell.
        id: rusqlite::types::Value,
    },
}

/// The error for a cursor handed to a store of the other engine: a caller's mistake.
pub(crate) fn foreign() -> StoreError {
    StoreError::Invalid("a claim's cursor comes from a store of another engine".into())
}
