//! How the bill moves: today, at steady state for a given record count, and month by month.
//!
//! The model is deliberately small, because every input beyond the footprint is a guess
//! and the report should show which ones were guessed:
//!
//! - Records leave the hot database `archive_after_days` after their last change and are
//!   stored at the compression ratio; nothing else moves. Without tiergate, every record
//!   stays hot for ever.
//! - New records arrive at a constant rate (`new_records_per_month`) with the measured
//!   average size. When the rate is not configured, it is taken from the footprint: the hot
//!   records newer than the window arrived within the window, so the window's length divides
//!   them into a monthly rate. That is the only growth signal a count can give; a billing
//!   API that grows faster or slower should set the rate.
//! - The records that are hot and not yet due are assumed to be spread evenly over the
//!   window (a steady inflow gives exactly that), so they age out linearly over one window.
//!   Records already due move in the first month.
//! - At steady state the hot database holds one window of inflow. Projected to another
//!   record count, that is the measured share of young records, or, with a configured
//!   rate, rate x window / records. Shares scale to other sizes, absolute rates do not.
//!
//! Money is in US dollars, per month unless a name says otherwise.

use crate::bill::{Bill, Comparison, Placement, moves_cost, reads_cost};
use crate::footprint::Footprint;
use crate::prices::PriceTable;
use crate::settings::CostSettings;
use crate::units::DAYS_PER_MONTH;

/// lz4 on billing JSON: the ratio tiergate's default encoding reaches on the kind of
/// records it was built for, used until a footprint with archived records measures one.
const ASSUMED_COMPRESSION_RATIO: f64 = 4.0;

/// Where a number the bill depends on comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// From the footprint.
    Measured,
    /// Set in the `[cost]` table.
    Config,
    /// Neither measured nor set: a default, to be read with care.
    Assumed,
}

impl Basis {
    /// The word the report prints next to the value.
    pub fn label(self) -> &'static str {
        match self {
            Basis::Measured => "measured",
            Basis::Config => "config",
            Basis::Assumed => "assumed",
        }
    }
}

/// A number the bill depends on, with where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The value.
    pub value: f64,
    /// Where it comes from.
    pub basis: Basis,
}

/// Every input of the model that is not a price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assumptions {
    /// Days a record stays hot after its last change (`archive.after_days`).
    pub archive_after_days: u64,
    /// Original size / stored size.
    pub compression_ratio: Estimate,
    /// Records added per month.
    pub new_records_per_month: Estimate,
    /// Average original size of a record.
    pub record_bytes: Estimate,
    /// Edge reads served from blob storage per month.
    pub blob_reads_per_month: u64,
}

impl Assumptions {
    pub(crate) fn new(
        footprint: &Footprint,
        settings: &CostSettings,
        archive_after_days: u64,
    ) -> Self {
        let window_months = archive_after_days as f64 / DAYS_PER_MONTH;
        let compression_ratio = match (settings.compression_ratio, footprint.compression_ratio()) {
            (Some(value), _) => config(value),
            (None, Some(value)) => measured(value),
            (None, None) => assumed(ASSUMED_COMPRESSION_RATIO),
        };
        let new_records_per_month = match settings.new_records_per_month {
            Some(value) => config(value as f64),
            None if footprint.records() > 0 && window_months > 0.0 => {
                measured(footprint.young().0 as f64 / window_months)
            }
            None => assumed(0.0),
        };
        let record_bytes = match footprint.average_record_bytes() {
            Some(value) => measured(value),
            None => assumed(settings.projection_record_bytes as f64),
        };
        Assumptions {
            archive_after_days,
            compression_ratio,
            new_records_per_month,
            record_bytes,
            blob_reads_per_month: settings.blob_reads_per_month,
        }
    }

    /// The archive window in months.
    pub fn window_months(&self) -> f64 {
        self.archive_after_days as f64 / DAYS_PER_MONTH
    }

    fn ratio(&self) -> f64 {
        self.compression_ratio.value
    }

    fn inflow(&self) -> f64 {
        self.new_records_per_month.value
    }
}

fn measured(value: f64) -> Estimate {
    Estimate {
        value,
        basis: Basis::Measured,
    }
}

fn config(value: f64) -> Estimate {
    Estimate {
        value,
        basis: Basis::Config,
    }
}

fn assumed(value: f64) -> Estimate {
    Estimate {
        value,
        basis: Basis::Assumed,
    }
}

/// The bill for a given number of records once tiergate has run for longer than the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// Records projected.
    pub records: u64,
    /// Original size of each.
    pub record_bytes: u64,
    /// Share of the records inside the archive window, hence hot (0 to 1).
    pub hot_fraction: Estimate,
    /// The monthly bill at that size without and with tiergate.
    pub bill: Comparison,
}

/// One month of the series: its bill without and with tiergate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthBill {
    /// Months from now, from 1.
    pub month: u32,
    /// Without tiergate: every record hot.
    pub without: Bill,
    /// With tiergate, including that month's moves.
    pub with: Bill,
}

/// Today's footprint, billed as it stands (without) and once the records already due have
/// moved (with). Recurring requests are the monthly moves at the inflow rate and the edge's
/// reads; moving today's backlog is a one-off.
pub(crate) fn today(prices: &PriceTable, a: &Assumptions, footprint: &Footprint) -> Comparison {
    let (due_records, due_bytes) = footprint.due();
    let (_, young_bytes) = footprint.young();
    let with = Placement {
        hot_bytes: young_bytes as f64,
        blob_objects: (footprint.archived_records + due_records) as f64,
        blob_bytes: footprint.stored_bytes as f64 + due_bytes as f64 / a.ratio(),
    };
    let new_stored = a.record_bytes.value / a.ratio();
    let requests =
        moves_cost(prices, a.inflow(), a.inflow() * new_stored) + edge_reads_cost(prices, a, &with);
    Comparison {
        without: Placement::all_hot(footprint.original_bytes() as f64).bill(prices, 0.0),
        with: with.bill(prices, requests),
        one_off_moves: due_records as f64,
        one_off_cost: moves_cost(prices, due_records as f64, due_bytes as f64 / a.ratio()),
    }
}

/// `records` records of `record_bytes` each, at steady state: one window's worth hot, the
/// rest in blob storage, and each month's aging-out moved.
pub(crate) fn steady_state(
    prices: &PriceTable,
    a: &Assumptions,
    footprint: &Footprint,
    records: u64,
    record_bytes: u64,
) -> Projection {
    let n = records as f64;
    let size = record_bytes as f64;
    let window = a.window_months();
    let hot_fraction = match a.new_records_per_month.basis {
        Basis::Config => config((a.inflow() * window / n).min(1.0)),
        _ if footprint.records() > 0 => {
            measured(footprint.young().0 as f64 / footprint.records() as f64)
        }
        _ => assumed(0.0),
    };
    let f = hot_fraction.value;
    // The inflow that keeps this size's window full: the configured rate, or the hot share
    // renewed once per window.
    let inflow = match a.new_records_per_month.basis {
        Basis::Config => a.inflow(),
        _ if window > 0.0 => f * n / window,
        _ => 0.0,
    };
    let stored = size / a.ratio();
    let cold = (1.0 - f) * n;
    let with = Placement {
        hot_bytes: f * n * size,
        blob_objects: cold,
        blob_bytes: cold * stored,
    };
    let requests = moves_cost(prices, inflow, inflow * stored) + edge_reads_cost(prices, a, &with);
    Projection {
        records,
        record_bytes,
        hot_fraction,
        bill: Comparison {
            without: Placement::all_hot(n * size).bill(prices, 0.0),
            with: with.bill(prices, requests),
            one_off_moves: cold,
            one_off_cost: moves_cost(prices, cold, cold * stored),
        },
    }
}

/// The bill for each of the coming `months`, from today's footprint (see the module docs).
pub(crate) fn months(
    prices: &PriceTable,
    a: &Assumptions,
    footprint: &Footprint,
    months: u32,
) -> Vec<MonthBill> {
    let (due_records, due_bytes) = footprint.due();
    let (young_records, young_bytes) = footprint.young();
    let window = a.window_months();
    let size = a.record_bytes.value;
    let new_stored = size / a.ratio();
    let placement = |m: f64| {
        let young_left = if window > 0.0 {
            (1.0 - m / window).max(0.0)
        } else {
            0.0
        };
        let new_hot = a.inflow() * m.min(window);
        let new_cold = a.inflow() * m - new_hot;
        let young_gone = 1.0 - young_left;
        Placement {
            hot_bytes: young_bytes as f64 * young_left + new_hot * size,
            blob_objects: (footprint.archived_records + due_records) as f64
                + young_records as f64 * young_gone
                + new_cold,
            blob_bytes: footprint.stored_bytes as f64
                + (due_bytes as f64 + young_bytes as f64 * young_gone) / a.ratio()
                + new_cold * new_stored,
        }
    };
    // Before the first month nothing has moved yet.
    let mut before = Placement {
        hot_bytes: footprint.hot_bytes as f64,
        blob_objects: footprint.archived_records as f64,
        blob_bytes: footprint.stored_bytes as f64,
    };
    (1..=months)
        .map(|month| {
            let m = f64::from(month);
            let now = placement(m);
            let requests = moves_cost(
                prices,
                now.blob_objects - before.blob_objects,
                now.blob_bytes - before.blob_bytes,
            ) + edge_reads_cost(prices, a, &now);
            before = now;
            let all = footprint.original_bytes() as f64 + a.inflow() * m * size;
            MonthBill {
                month,
                without: Placement::all_hot(all).bill(prices, 0.0),
                with: now.bill(prices, requests),
            }
        })
        .collect()
}

/// The edge's monthly reads from blob storage, at the average size of what is stored there;
/// none while nothing is.
fn edge_reads_cost(prices: &PriceTable, a: &Assumptions, placement: &Placement) -> f64 {
    placement.stored_object_bytes().map_or(0.0, |object| {
        let reads = a.blob_reads_per_month as f64;
        reads_cost(prices, reads, reads * object)
    })
}
