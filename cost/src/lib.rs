//! tiergate's storage bill, with no I/O: what the hot database costs today with every
//! record in it, and what it costs with tiergate, where records older than the archive
//! window live compressed in blob storage.
//!
//! The host measures a [`Footprint`] (counts and sizes per tier), reads a [`CostSettings`]
//! from the config's `[cost]` table, and passes both, with the archive window, to
//! [`Report::new`]; it prints [`render_table`] and writes [`render_svg`] to a file.
//!
//! - [`footprint`]: what was measured ([`Footprint`]).
//! - [`prices`]: the built-in price profiles, each price with its region, date and source
//!   ([`Profile`], [`PriceTable`], [`Price`]).
//! - [`settings`]: the `[cost]` table: profile, price overrides, projection inputs
//!   ([`CostSettings`]).
//! - [`bill`]: one month's bill by tier, without and with tiergate ([`Bill`], [`Comparison`]).
//! - [`projection`]: how the bill moves: today, at steady state for a record count, and
//!   month by month; the model and its assumptions are explained there.
//! - [`report`]: all of it together ([`Report`]).
//! - [`table`]: the report as aligned text for the terminal.
//! - [`chart`]: the report as an SVG chart.
//! - [`units`]: billed GB, months, and how money and sizes are written.

#![deny(missing_docs, missing_debug_implementations)]

pub mod bill;
pub mod chart;
pub mod footprint;
pub mod prices;
pub mod projection;
pub mod report;
pub mod settings;
pub mod table;
pub mod units;

pub use bill::{Bill, Comparison, Tier};
pub use chart::{ChartError, render_svg};
pub use footprint::Footprint;
pub use prices::{MinObjectSize, Price, PriceSource, PriceTable, Profile, Unit};
pub use projection::{Assumptions, Basis, Estimate, MonthBill, Projection};
pub use report::Report;
pub use settings::CostSettings;
pub use table::render_table;
