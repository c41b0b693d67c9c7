//! The one error type of this crate, split by what the caller should do about it.

/// Why a hot-store call failed. The archiver retries [`StoreError::Unavailable`] on its next
/// attempt or run; [`StoreError::Invalid`] needs an operator to change the configuration or
/// the database, so retrying it only repeats the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered in time (connection lost, pool timeout,
    /// a busy or locked database, a serialization conflict): worth a retry.
    #[error("hot database unavailable: {0}")]
    Unavailable(String),
    /// The configuration does not fit the database (missing table or column, wrong column
    /// type, a bad `exclude_where`) or the data breaks an assumption: permanent.
    #[error("hot database: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// A read-only store asked for what an older ledger does not keep yet.
    pub(crate) fn ledger_behind(version: i64, wanted: &str) -> Self {
        Self::Invalid(format!(
            "{wanted}: tiergate's ledger is at schema version {version}, which does not keep \
             it; the archiver's next run upgrades the ledger (`tiergate archive --once`)"
        ))
    }
}
