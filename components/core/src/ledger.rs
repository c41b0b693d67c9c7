//! The states of a record in tiergate's ledger, the one place that names them.
//!
//! A record without a ledger row is hot and not being archived. The archiver moves it
//! `copying` (claimed, blob copy under way) -> `archived` (copy written and verified; the
//! hot row stays until the grace period is over) -> `deleted` (the hot row is gone; the
//! blob copy is the record). A record that changes or reappears in the hot table loses its
//! ledger row again, after its stale copy was removed. With a retention period, a `deleted`
//! record's copy is deleted for good once the period is over: `expired`.

use std::fmt;
use std::str::FromStr;

/// Where a record is in its move from the hot database to blob storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerState {
    /// Claimed under a lease; a blob copy may or may not exist yet.
    Copying,
    /// A verified blob copy exists; the hot row is deleted once `delete_after` has passed.
    Archived,
    /// The hot row was deleted; the blob copy is the record.
    Deleted,
    /// The retention period is over and the copy was deleted: the record is gone.
    Expired,
}

impl LedgerState {
    /// Every state, in protocol order.
    pub const ALL: [LedgerState; 4] = [Self::Copying, Self::Archived, Self::Deleted, Self::Expired];

    /// The name stored in the ledger's `state` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Copying => "copying",
            Self::Archived => "archived",
            Self::Deleted => "deleted",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for LedgerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `state` column value that is not a ledger state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ledger state {0:?} (expected copying, archived, deleted or expired)")]
pub struct UnknownState(pub String);

impl FromStr for LedgerState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_parses_back_from_its_name() {
        for state in LedgerState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
        assert!("Archived".parse::<LedgerState>().is_err());
    }
}
