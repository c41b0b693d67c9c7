//! The report as plain text for the terminal: the bills side by side, the coming months,
//! then every assumption and price with its source, so that a number can be traced to its
//! origin without reading code.

use std::fmt::Write as _;

use crate::bill::{Bill, Comparison, Tier};
use crate::prices::{Price, PriceTable};
use crate::projection::{Estimate, MonthBill};
use crate::report::Report;
use crate::units::{count, size, usd};

/// Renders `report` as aligned text (ends with a newline).
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let prices = &report.prices;
    let a = &report.assumptions;
    let _ = writeln!(
        out,
        "tiergate cost: {} ({})\n",
        prices.profile,
        prices.profile.description()
    );

    let f = &report.footprint;
    if f.records() == 0 {
        out.push_str("Today: no records measured; see the projection.\n\n");
    } else {
        let (due, _) = f.due();
        let today = format!(
            "Today: {} records ({}): {} hot, {} of them past the {}-day window; {} archived",
            count(f.records()),
            size(f.original_bytes() as f64),
            count(f.hot_records),
            count(due),
            a.archive_after_days,
            count(f.archived_records),
        );
        out.push_str(&wrapped(&today, "", "  "));
        comparison(&mut out, &report.today, "due now");
    }

    let p = &report.projection;
    let _ = writeln!(
        out,
        "Projection: {} records x {} bytes = {}, {:.1}% hot ({}-day window, {})",
        count(p.records),
        count(p.record_bytes),
        size(p.records as f64 * p.record_bytes as f64),
        p.hot_fraction.value * 100.0,
        a.archive_after_days,
        p.hot_fraction.basis.label(),
    );
    comparison(&mut out, &p.bill, "outside the window");

    months(&mut out, report);

    out.push_str("Assumptions:\n");
    let assumptions = [
        vec![
            "archive window".to_owned(),
            format!(
                "{} days ({:.2} months)",
                a.archive_after_days,
                a.window_months()
            ),
            "archive.after_days".to_owned(),
        ],
        estimate_row("compression ratio", a.compression_ratio, |v| {
            format!("{v:.2}x")
        }),
        estimate_row("new records per month", a.new_records_per_month, |v| {
            count(v.round() as u64)
        }),
        estimate_row("average record size", a.record_bytes, |v| {
            format!("{} bytes", count(v.round() as u64))
        }),
        vec![
            "edge reads from blob".to_owned(),
            format!("{} per month", count(a.blob_reads_per_month)),
            "blob_reads_per_month".to_owned(),
        ],
    ];
    out.push_str(&columns(&assumptions, "lrl"));
    out.push('\n');

    let _ = writeln!(out, "Prices ({}):", prices.profile);
    out.push_str(&columns(&price_rows(prices), "lll"));
    out.push_str("  GB = 2^30 bytes, as providers bill it.\n\nNotes:\n");
    let requests = "Database request charges (RU/s, instance hours, capacity units) are not \
                    included: tiering leaves them about as they are.";
    for note in prices.profile.notes().iter().chain([&requests]) {
        out.push_str(&wrapped(note, "  - ", "    "));
    }
    out
}

/// A price as its page writes it: at least cents (`$0.10`), more digits when it has them
/// (`$0.0125`).
fn price_amount(amount: f64) -> String {
    let cents = format!("{amount:.2}");
    if cents.parse::<f64>() == Ok(amount) {
        format!("${cents}")
    } else {
        format!("${amount}")
    }
}

/// `text` wrapped at 90 columns, the first line after `first`, the others after `rest`.
fn wrapped(text: &str, first: &str, rest: &str) -> String {
    const WIDTH: usize = 90;
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A bill block: each tier's size and cost without and with tiergate, the total, the
/// saving, and the one-off cost of moving the backlog (the records `backlog`).
fn comparison(out: &mut String, c: &Comparison, backlog: &str) {
    let mut rows = vec![vec![
        String::new(),
        "size".to_owned(),
        "without tiergate".to_owned(),
        "size".to_owned(),
        "with tiergate".to_owned(),
    ]];
    for tier in Tier::ALL {
        rows.push(vec![
            tier.label().to_owned(),
            tier_size(&c.without, tier),
            cost_or_dash(&c.without, tier),
            tier_size(&c.with, tier),
            cost_or_dash(&c.with, tier),
        ]);
    }
    rows.push(vec![
        "total per month".to_owned(),
        String::new(),
        usd(c.without.total()),
        String::new(),
        usd(c.with.total()),
    ]);
    out.push_str(&columns(&rows, "lrrrr"));
    let percent = c
        .saving_percent()
        .map(|p| format!(" ({p:.1}%)"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  saving: {} per month{percent}\n  one-off: moving the {} records {backlog} costs {}\n",
        usd(c.saving()),
        count(c.one_off_moves.round() as u64),
        usd(c.one_off_cost),
    );
}

fn tier_size(bill: &Bill, tier: Tier) -> String {
    match tier {
        Tier::HotStorage => size(bill.hot_bytes),
        Tier::BlobStorage if bill.blob_billed_bytes > 0.0 => size(bill.blob_billed_bytes),
        Tier::BlobStorage => "-".to_owned(),
        Tier::BlobRequests => String::new(),
    }
}

fn cost_or_dash(bill: &Bill, tier: Tier) -> String {
    let cost = bill.cost(tier);
    if cost == 0.0 && tier != Tier::HotStorage {
        "-".to_owned()
    } else {
        usd(cost)
    }
}

/// The coming months: the first, the third, then every 6 (every 12 past three years) and
/// the last, so that a long series stays a glance.
fn months(out: &mut String, report: &Report) {
    let Some(last) = report.months.last() else {
        return;
    };
    let a = &report.assumptions;
    let _ = writeln!(
        out,
        "Coming {} months ({} new records per month, {}):",
        last.month,
        count(a.new_records_per_month.value.round() as u64),
        a.new_records_per_month.basis.label(),
    );
    let step = if last.month > 36 { 12 } else { 6 };
    let mut rows = vec![vec![
        "month".to_owned(),
        "without tiergate".to_owned(),
        "with tiergate".to_owned(),
        "saving".to_owned(),
    ]];
    rows.extend(
        report
            .months
            .iter()
            .filter(|m| m.month == 1 || m.month == 3 || m.month.is_multiple_of(step) || m == &last)
            .map(|m: &MonthBill| {
                vec![
                    m.month.to_string(),
                    usd(m.without.total()),
                    usd(m.with.total()),
                    usd(m.without.total() - m.with.total()),
                ]
            }),
    );
    out.push_str(&columns(&rows, "rrrr"));
    let _ = writeln!(
        out,
        "  saved over {} months, one-off moves included: {}\n",
        last.month,
        usd(report.cumulative_saving()),
    );
}

fn estimate_row(name: &str, estimate: Estimate, value: impl Fn(f64) -> String) -> Vec<String> {
    vec![
        name.to_owned(),
        value(estimate.value),
        estimate.basis.label().to_owned(),
    ]
}

fn price_rows(prices: &PriceTable) -> Vec<Vec<String>> {
    let line = |price: &Price| {
        vec![
            price.item.to_owned(),
            format!("{} {}", price_amount(price.amount), price.unit),
            price.source.to_string(),
        ]
    };
    let min = &prices.blob_min_object;
    vec![
        line(&prices.hot_storage),
        line(&prices.blob_storage),
        line(&prices.blob_writes),
        line(&prices.blob_reads),
        line(&prices.blob_retrieval),
        vec![
            "blob minimum billable object".to_owned(),
            if min.bytes == 0 {
                "none".to_owned()
            } else {
                format!("{} bytes", count(min.bytes))
            },
            min.source.to_string(),
        ],
    ]
}

/// Rows as columns, two spaces apart and indented by two; `align` has an `l` (text) or `r`
/// (numbers) per column.
fn columns(rows: &[Vec<String>], align: &str) -> String {
    let widths: Vec<usize> = (0..align.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for ((cell, &width), align) in row.iter().zip(&widths).zip(align.chars()) {
            let _ = if align == 'r' {
                write!(line, "  {cell:>width$}")
            } else {
                write!(line, "  {cell:<width$}")
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
