//! The report as one SVG with three panels: today's monthly bill by tier without and with
//! tiergate (stacked bars), the same for the projected record count, and the monthly bill
//! over the coming months (two lines).
//!
//! Drawn with plotters' SVG backend only: text goes out as SVG `<text>` for the viewer's
//! sans-serif font, so nothing here reads a font file.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::bill::{Comparison, Tier};
use crate::projection::MonthBill;
use crate::report::Report;
use crate::units::count;

const WIDTH: u32 = 1260;
const HEIGHT: u32 = 460;
const HOT: RGBColor = RGBColor(214, 69, 65);
const BLOB: RGBColor = RGBColor(52, 120, 198);
const REQUESTS: RGBColor = RGBColor(240, 170, 40);
const WITHOUT: RGBColor = HOT;
const WITH: RGBColor = RGBColor(46, 139, 87);
const GREY: RGBColor = RGBColor(110, 110, 110);
const FONT: &str = "sans-serif";

/// Drawing failed; with an in-memory SVG that means a layout plotters refused.
#[derive(Debug, thiserror::Error)]
#[error("cost chart: {0}")]
pub struct ChartError(String);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Renders `report` as an SVG document.
pub fn render_svg(report: &Report) -> Result<String, ChartError> {
    let mut svg = String::new();
    draw(&mut svg, report).map_err(|e| ChartError(e.to_string()))?;
    Ok(svg)
}

fn draw(svg: &mut String, report: &Report) -> Drawn {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 3));
    if report.footprint.records() == 0 {
        nothing_measured(&panels[0])?;
    } else {
        let today = format!("Today: {} records", count(report.footprint.records()));
        bars(&panels[0], &today, &report.today)?;
    }
    let p = &report.projection;
    let record = if p.record_bytes >= 1000 {
        format!("{} KB", count(p.record_bytes / 1000))
    } else {
        format!("{} bytes", p.record_bytes)
    };
    let projected = format!("Projection: {} x {record}", count(p.records));
    bars(&panels[1], &projected, &p.bill)?;
    months(&panels[2], &report.months)?;
    root.present()
}

/// The first panel when the footprint is empty: a bill of nothing would only mislead.
fn nothing_measured(area: &Area) -> Drawn {
    let (width, height) = area.dim_in_pixel();
    let style = TextStyle::from((FONT, 20))
        .color(&GREY)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        "Today: no records measured",
        (width as i32 / 2, height as i32 / 2),
        style,
    ))
}

/// Stacked bars, one per side, one segment per tier.
fn bars(area: &Area, title: &str, c: &Comparison) -> Drawn {
    let top = headroom(c.without.total().max(c.with.total()));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d((0u32..1).into_segmented(), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|x| {
            match x {
                SegmentValue::CenterOf(0) => "without tiergate",
                SegmentValue::CenterOf(1) => "with tiergate",
                _ => "",
            }
            .to_owned()
        })
        .y_desc("US dollars per month")
        .y_label_formatter(&|y| axis_usd(*y, top))
        .draw()?;
    let mut base = [0.0; 2];
    for (tier, color) in Tier::ALL.into_iter().zip([HOT, BLOB, REQUESTS]) {
        let style = color.filled();
        let segments = [&c.without, &c.with]
            .into_iter()
            .enumerate()
            .map(|(x, bill)| {
                let from = base[x];
                base[x] += bill.cost(tier);
                let x = x as u32;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(x), from),
                        (SegmentValue::Exact(x + 1), base[x as usize]),
                    ],
                    style,
                );
                bar.set_margin(0, 0, 18, 18);
                bar
            });
        chart
            .draw_series(segments.collect::<Vec<_>>())?
            .label(tier.label())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
}

/// The monthly bill without and with tiergate, month by month.
fn months(area: &Area, months: &[MonthBill]) -> Drawn {
    let last = months.last().map_or(1, |m| m.month);
    let top = headroom(
        months
            .iter()
            .map(|m| m.without.total().max(m.with.total()))
            .fold(0.0, f64::max),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(format!("Monthly bill, next {last} months"), (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1u32..last.max(2), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("months from now")
        .y_desc("US dollars per month")
        .y_label_formatter(&|y| axis_usd(*y, top))
        .draw()?;
    for (name, color, side) in [("without tiergate", WITHOUT, 0), ("with tiergate", WITH, 1)] {
        let style = color.stroke_width(3);
        let points = months.iter().map(move |m| {
            let bill = if side == 0 { &m.without } else { &m.with };
            (m.month, bill.total())
        });
        chart
            .draw_series(LineSeries::new(points, style))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::MiddleRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
}

/// The y axis' top: room above the highest value for the legend, and a visible axis when
/// everything is 0.
fn headroom(highest: f64) -> f64 {
    if highest > 0.0 { highest * 1.3 } else { 1.0 }
}

/// An axis label in dollars, with as many decimals as the axis' step needs (about a tenth of
/// `top`), so that a cents-sized bill does not show the same label twice.
fn axis_usd(amount: f64, top: f64) -> String {
    let decimals = (-(top / 10.0).log10()).ceil().max(0.0) as usize;
    if decimals == 0 {
        format!("${}", count(amount.round() as u64))
    } else {
        format!("${amount:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_have_the_decimals_their_step_needs() {
        assert_eq!(axis_usd(12_000.0, 180_000.0), "$12,000");
        assert_eq!(axis_usd(0.12, 0.18), "$0.12");
        assert_eq!(axis_usd(0.035, 0.043), "$0.035");
    }
}
