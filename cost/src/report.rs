//! The report `tiergate cost` prints and charts: everything computed, nothing formatted.

use crate::bill::Comparison;
use crate::footprint::Footprint;
use crate::prices::PriceTable;
use crate::projection::{self, Assumptions, MonthBill, Projection};
use crate::settings::CostSettings;

/// The bill today and with tiergate, a projection to another record count, and the coming
/// months; with the prices and assumptions it was computed from, so that it explains itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The prices used, overrides applied.
    pub prices: PriceTable,
    /// What was measured.
    pub footprint: Footprint,
    /// The model's other inputs, each with where it comes from.
    pub assumptions: Assumptions,
    /// Today's records: all hot, or tiered once the records already due have moved.
    pub today: Comparison,
    /// The configured record count (2M x 300 KB by default) at steady state.
    pub projection: Projection,
    /// The coming months, from today's footprint.
    pub months: Vec<MonthBill>,
}

impl Report {
    /// Computes the report for `footprint` under `settings`, with records archived
    /// `archive_after_days` after their last change (the host's `archive.after_days`).
    pub fn new(footprint: Footprint, settings: &CostSettings, archive_after_days: u64) -> Self {
        let prices = settings.prices();
        let assumptions = Assumptions::new(&footprint, settings, archive_after_days);
        Report {
            today: projection::today(&prices, &assumptions, &footprint),
            projection: projection::steady_state(
                &prices,
                &assumptions,
                &footprint,
                settings.projection_records,
                settings.projection_record_bytes,
            ),
            months: projection::months(&prices, &assumptions, &footprint, settings.months),
            prices,
            footprint,
            assumptions,
        }
    }

    /// Dollars saved over all the months of the series, one-off moves included.
    pub fn cumulative_saving(&self) -> f64 {
        self.months
            .iter()
            .map(|month| month.without.total() - month.with.total())
            .sum()
    }
}
