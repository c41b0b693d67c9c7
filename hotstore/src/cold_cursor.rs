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
///
/// One claim statement looks at a window of the walk, not at however many rows it takes to
/// fill the batch: a walk that starts over passes every copy still in its grace period,
/// and one statement over all of them would hold its snapshot (and, on SQLite, the write
/// lock the edge's writes wait for) for as long as that takes, and fail against a server's
/// `statement_timeout`. The window adapts to how sparse claimable records are.
#[derive(Debug, Clone, Default)]
pub struct ColdCursor {
    pub(crate) at: Option<Position>,
    /// Rows of the walk the next statement looks at; 0 before the first.
    window: u32,
}

/// The most rows of the walk one claim statement looks at: passing them costs tens of
/// milliseconds (a lookup in the ledger each), so that a statement stays far below any
/// sensible `statement_timeout` however long the stretch of copies in their grace period.
const WINDOW_MAX: u32 = 16_384;

impl ColdCursor {
    /// A walk that goes on after `at`, where an earlier run's stopped.
    pub(crate) fn after(at: Position) -> Self {
        Self {
            at: Some(at),
            window: 0,
        }
    }

    /// How many rows of the walk the next statement of a claim of `limit` looks at.
    pub(crate) fn window(&self, limit: u32) -> u32 {
        let start = if self.window == 0 {
            limit.saturating_mul(8)
        } else {
            self.window
        };
        start.clamp(limit.clamp(1, WINDOW_MAX), WINDOW_MAX)
    }

    /// Moves past a statement's `window`, in which `found` rows were claimable and the
    /// first of them, up to `asked`, were tried, the last at `last_found`: to that one
    /// when there were as many as asked (what follows in the window is looked at again by
    /// the next statement), else past the whole window, to its `edge`. The window doubles
    /// after a statement that found too few and halves after one that found enough: it
    /// follows how densely claimable records lie.
    pub(crate) fn pass(
        &mut self,
        window: u32,
        asked: u32,
        found: usize,
        last_found: Option<Position>,
        edge: Position,
    ) {
        let found_all = found >= asked as usize;
        let next = if found_all {
            window / 2
        } else {
            window.saturating_mul(2)
        };
        self.at = Some(last_found.filter(|_| found_all).unwrap_or(edge));
        self.window = next.clamp(asked.clamp(1, WINDOW_MAX), WINDOW_MAX);
    }
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
