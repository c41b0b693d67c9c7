//! The bill's arithmetic, checked against values computed by hand.
//!
//! GB = 2^30 bytes, so 2M x 300,000 bytes = 6e11 bytes = 558.79 GB. Azure: Cosmos DB $0.25
//! per GB-month; Blob cool $0.01 per GB-month, writes $0.10 and reads $0.01 per 10,000,
//! retrieval $0.01 per GB. AWS: RDS gp3 $0.115, S3 Standard-IA $0.0125 per GB-month, PUT
//! $0.01 and GET $0.001 per 1,000, retrieval $0.01 per GB, objects billed as 128 KiB at
//! least. Moving a record = 1 PUT + 1 read-back (a GET and retrieval).

mod support;

use support::running_deployment;
use tiergate_cost::{Basis, CostSettings, Footprint, Report};

const GB: f64 = 1_073_741_824.0;
/// 90 days in months of 30.4375 days.
const WINDOW_90: f64 = 90.0 / 30.4375;

fn settings(toml_text: &str) -> CostSettings {
    toml::from_str(toml_text).expect("test settings parse")
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected}"
    );
}

#[test]
fn two_million_300kb_records_cost_139_70_a_month_in_cosmos_db_and_1_40_in_cool_blob() {
    let report = Report::new(Footprint::default(), &settings(""), 90);
    let p = &report.projection;
    assert_eq!((p.records, p.record_bytes), (2_000_000, 300_000));
    // Nothing measured, no inflow set: every record is older than the window.
    assert_eq!(p.hot_fraction.value, 0.0);
    assert_eq!(p.hot_fraction.basis, Basis::Assumed);
    assert_eq!(report.assumptions.compression_ratio.basis, Basis::Assumed);

    assert_close(
        p.bill.without.hot_storage,
        6e11 / GB * 0.25,
        "hot storage without",
    );
    assert_close(
        p.bill.without.total(),
        139.698_386_192_321_78,
        "total without",
    );
    assert_eq!(p.bill.with.hot_storage, 0.0);
    // 1.5e11 bytes at 4x, $0.01/GB-month.
    assert_close(
        p.bill.with.blob_storage,
        1.5e11 / GB * 0.01,
        "blob storage with",
    );
    assert_eq!(p.bill.with.blob_requests, 0.0);
    assert_close(p.bill.saving_percent().unwrap(), 99.0, "saving percent");
    // 2M x (writes 0.10 + reads 0.01 per 10,000) + 139.70 GB x $0.01.
    assert_close(p.bill.one_off_moves, 2e6, "records moved once");
    assert_close(
        p.bill.one_off_cost,
        2e6 * 1.1e-5 + 1.5e11 / GB * 0.01,
        "one-off move",
    );
}

#[test]
fn in_s3_standard_ia_a_75kb_copy_is_billed_as_128_kib() {
    let report = Report::new(Footprint::default(), &settings("profile = \"aws-rds\""), 90);
    let bill = &report.projection.bill;
    assert_close(
        bill.without.hot_storage,
        6e11 / GB * 0.115,
        "RDS gp3 storage",
    );
    // 300,000 / 4 = 75,000 bytes per copy, under 131,072: billed 2M x 128 KiB = 244.14 GB.
    assert_eq!(bill.with.blob_billed_bytes, 2e6 * 131_072.0);
    assert_close(
        bill.with.blob_storage,
        3.051_757_812_5,
        "S3 Standard-IA storage",
    );
}

#[test]
fn a_configured_inflow_keeps_one_window_of_new_records_hot() {
    let report = Report::new(
        Footprint::default(),
        &settings("new_records_per_month = 100000"),
        90,
    );
    let p = &report.projection;
    let hot = 100_000.0 * WINDOW_90 / 2e6;
    assert_eq!(p.hot_fraction.basis, Basis::Config);
    assert_close(p.hot_fraction.value, hot, "hot fraction");
    assert_close(
        p.bill.with.hot_storage,
        hot * 6e11 / GB * 0.25,
        "hot storage with",
    );
    // Each month 100,000 records of 75,000 stored bytes move.
    assert_close(
        p.bill.with.blob_requests,
        100_000.0 * 1.1e-5 + 100_000.0 * 75_000.0 / GB * 0.01,
        "monthly moves",
    );
}

#[test]
fn today_the_due_records_move_and_the_young_ones_stay_hot() {
    let report = Report::new(running_deployment(), &settings(""), 90);
    let a = &report.assumptions;
    assert_eq!(a.compression_ratio.value, 4.0);
    assert_eq!(a.compression_ratio.basis, Basis::Measured);
    assert_eq!(a.record_bytes.value, 300_000.0);
    // The 400 young records arrived within the 90-day window.
    let inflow = 400.0 / WINDOW_90;
    assert_close(a.new_records_per_month.value, inflow, "measured inflow");

    let today = &report.today;
    assert_close(
        today.without.hot_storage,
        1.5e9 / GB * 0.25,
        "everything hot",
    );
    assert_close(
        today.with.hot_storage,
        1.2e8 / GB * 0.25,
        "young records hot",
    );
    // 3e8 already stored + 1.8e8 / 4 moved now.
    assert_close(today.with.blob_storage, 3.45e8 / GB * 0.01, "blob storage");
    assert_close(
        today.with.blob_requests,
        inflow * 1.1e-5 + inflow * 75_000.0 / GB * 0.01,
        "recurring moves",
    );
    assert_close(today.one_off_moves, 600.0, "due records");
    assert_close(
        today.one_off_cost,
        600.0 * 1.1e-5 + 4.5e7 / GB * 0.01,
        "moving the due records",
    );
    // Projected, the measured share of young records stays hot: 400 / 5,000.
    assert_eq!(report.projection.hot_fraction.value, 0.08);
    assert_eq!(report.projection.hot_fraction.basis, Basis::Measured);
}

#[test]
fn a_configured_compression_ratio_overrides_the_measured_one() {
    let report = Report::new(
        running_deployment(),
        &settings("compression_ratio = 2.5"),
        90,
    );
    assert_eq!(report.assumptions.compression_ratio.value, 2.5);
    assert_eq!(report.assumptions.compression_ratio.basis, Basis::Config);
    // Already stored bytes are what they are; the 1.8e8 due bytes move at 2.5x.
    assert_close(
        report.today.with.blob_storage,
        (3e8 + 1.8e8 / 2.5) / GB * 0.01,
        "blob storage at 2.5x",
    );
}

#[test]
fn with_a_steady_inflow_the_hot_database_stays_one_window_full() {
    // 3,000 young records of 1,000 bytes, nothing due or archived yet.
    let footprint = Footprint {
        hot_records: 3000,
        hot_bytes: 3_000_000,
        ..Footprint::default()
    };
    let report = Report::new(footprint, &settings("months = 12"), 90);
    let inflow = 3000.0 / WINDOW_90;
    assert_eq!(report.months.len(), 12);
    for m in &report.months {
        let month = f64::from(m.month);
        assert_close(
            m.with.hot_bytes,
            3e6,
            &format!("hot bytes in month {}", m.month),
        );
        assert_close(
            m.without.hot_bytes,
            3e6 + inflow * month * 1000.0,
            &format!("all bytes in month {}", m.month),
        );
    }
    // By month 12 the first 3,000 records and the new ones older than the window are in
    // blob storage, at the assumed 4x.
    assert_close(
        report.months[11].with.blob_billed_bytes,
        (3000.0 + inflow * (12.0 - WINDOW_90)) * 250.0,
        "blob bytes in month 12",
    );
}

#[test]
fn records_already_due_move_in_the_first_month_and_cost_nothing_after() {
    // A deployment before its first archiver run: every record past the window.
    let footprint = Footprint {
        hot_records: 1000,
        hot_bytes: 300_000_000,
        due_records: 1000,
        due_bytes: 300_000_000,
        ..Footprint::default()
    };
    let report = Report::new(footprint, &settings("months = 3"), 90);
    assert_eq!(report.assumptions.new_records_per_month.value, 0.0);
    let [first, second, third] = [&report.months[0], &report.months[1], &report.months[2]];
    assert_eq!(first.with.hot_bytes, 0.0);
    assert_close(
        first.with.blob_requests,
        1000.0 * 1.1e-5 + 7.5e7 / GB * 0.01,
        "moving 1,000 records in month 1",
    );
    assert_eq!(second.with.blob_requests, 0.0);
    let storage_saving = 3e8 / GB * 0.25 - 7.5e7 / GB * 0.01;
    assert_close(
        report.cumulative_saving(),
        3.0 * storage_saving - first.with.blob_requests,
        "saved over 3 months",
    );
    assert_eq!(second.with, third.with);
}

#[test]
fn edge_reads_from_blob_are_priced_as_read_requests_and_retrieval() {
    let footprint = Footprint {
        archived_records: 1000,
        archived_bytes: 300_000_000,
        stored_bytes: 75_000_000,
        ..Footprint::default()
    };
    let report = Report::new(footprint, &settings("blob_reads_per_month = 1000000"), 90);
    // 1M reads x $0.01/10,000 + 1M x 75,000 bytes retrieved x $0.01/GB.
    assert_close(
        report.today.with.blob_requests,
        1e6 * 0.01 / 10_000.0 + 1e6 * 75_000.0 / GB * 0.01,
        "edge reads",
    );
    assert_eq!(report.today.without.blob_requests, 0.0);
}
