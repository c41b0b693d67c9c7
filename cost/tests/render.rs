//! What a person sees: the terminal table and the SVG chart.

mod support;

use support::running_deployment;
use tiergate_cost::{CostSettings, Footprint, Report, render_svg, render_table};

fn report(toml_text: &str, footprint: Footprint) -> Report {
    let settings: CostSettings = toml::from_str(toml_text).expect("test settings parse");
    Report::new(footprint, &settings, 90)
}

#[test]
fn the_table_shows_the_bills_the_saving_and_where_each_number_comes_from() {
    let table = render_table(&report("", Footprint::default()));
    for expected in [
        "azure-cosmos",
        "2,000,000 records x 300,000 bytes = 558.8 GB",
        "$139.70",                   // Cosmos DB, without tiergate
        "$1.40",                     // Blob cool, with tiergate
        "saving: $138.30 per month", // 139.70 - 1.40
        "(99.0%)",
        "no records measured",
        "assumed",
        "$0.25 per GB-month",
        "$0.10 per 10,000 requests",
        "East US 2, 2026-11, https://learn.microsoft.com/",
        "GB = 2^30 bytes",
    ] {
        assert!(
            table.contains(expected),
            "{expected:?} missing from:\n{table}"
        );
    }
}

#[test]
fn the_table_marks_overridden_prices_as_config_and_shows_today() {
    let table = render_table(&report(
        "profile = \"aws-dynamodb\"\nhot_storage_gb_month = 0.3",
        running_deployment(),
    ));
    for expected in [
        "aws-dynamodb",
        "DynamoDB Standard table storage",
        "$0.30 per GB-month",
        "$0.0125 per GB-month",
        "131,072 bytes",
        "Today: 5,000 records (1.4 GB): 1,000 hot, 600 of them past the 90-day window",
        "one-off: moving the 600 records due now costs",
        "Coming 24 months",
        "measured",
    ] {
        assert!(
            table.contains(expected),
            "{expected:?} missing from:\n{table}"
        );
    }
    let hot_price = table
        .lines()
        .find(|line| line.contains("DynamoDB Standard table storage"))
        .unwrap();
    assert!(hot_price.trim_end().ends_with("config"), "{hot_price}");
}

#[test]
fn the_chart_is_one_well_formed_svg_with_every_tier_and_side_labelled() {
    let svg = render_svg(&report("", running_deployment())).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_balanced(&svg);
    for label in [
        "hot DB storage",
        "blob storage",
        "blob requests",
        "without tiergate",
        "with tiergate",
        "Today: 5,000 records",
        "Projection: 2,000,000 x 300 KB",
        "Monthly bill, next 24 months",
    ] {
        assert!(svg.contains(label), "{label:?} missing from the chart");
    }
}

#[test]
fn the_chart_draws_an_empty_footprint() {
    let svg = render_svg(&report("months = 1", Footprint::default())).unwrap();
    assert_balanced(&svg);
    assert!(svg.contains("Today: no records measured"));
}

/// Every opened element is closed, in order: enough to know a viewer will parse it.
fn assert_balanced(svg: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("a tag is closed") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop(),
                Some(name.trim()),
                "</{name}> closes the wrong element"
            );
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap_or(tag));
        }
    }
    assert!(open.is_empty(), "unclosed elements: {open:?}");
}
