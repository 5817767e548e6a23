//! Line charts as SVG (plotters): panels, two to a row, over one logarithmic x axis; a linear y
//! axis from zero shows a flat line as flat, a logarithmic one series orders of magnitude apart.
//! Each legend sits below its x axis, where it hides no line.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::report::Row;

const PANEL: (u32, u32) = (330, 300);
/// Room below each plot for its legend: one row per series.
const LEGEND_ROW: u32 = 14;
const LEGEND_ROWS: u32 = 3;
const COLUMNS: usize = 2;
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YAxis {
    /// From zero to a little above the highest value.
    Linear,
    /// Over the positive values; a value at or below zero leaves a gap.
    Logarithmic,
}

/// A panel: its title, unit and y axis, and each line's name and the rows' field it draws (a
/// value that is not finite leaves a gap).
pub(crate) type Panel = (
    &'static str,
    &'static str,
    YAxis,
    &'static [(&'static str, &'static str)],
);

/// The figure: `panels` over the rows' `x` field (positive, increasing), named `x_label`.
pub(crate) fn svg(
    rows: &[Row],
    (x, x_label): (&str, &str),
    panels: &[Panel],
) -> anyhow::Result<String> {
    let xs: Vec<f64> = rows.iter().map(|row| row.get(x)).collect();
    let columns = panels.len().clamp(1, COLUMNS);
    let panel_rows = panels.len().div_ceil(COLUMNS).max(1);
    let size = (
        PANEL.0 * u32::try_from(columns)?,
        PANEL.1 * u32::try_from(panel_rows)?,
    );
    let (first, last) = match (xs.first(), xs.last()) {
        (Some(&first), Some(&last)) => (first, last),
        _ => anyhow::bail!("a chart needs at least one point"),
    };
    // Half a decade's margin either side keeps the first and last points off the frame.
    let x_range = || (first / 1.5..last * 1.5).log_scale();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        for (area, panel) in root.split_evenly((panel_rows, columns)).iter().zip(panels) {
            let (_, _, y_axis, series) = *panel;
            let values = |key| rows.iter().map(|row| row.get(key)).collect::<Vec<_>>();
            let lines: Vec<Vec<Vec<(f64, f64)>>> = series
                .iter()
                .map(|(_, key)| segments(&xs, &values(key), y_axis))
                .collect();
            let values = lines.iter().flatten().flatten().map(|&(_, y)| y);
            match y_axis {
                YAxis::Linear => {
                    let top = values.fold(0.0, f64::max).max(f64::MIN_POSITIVE);
                    draw(area, x_label, panel, &lines, x_range(), 0.0..top * 1.1)
                }
                YAxis::Logarithmic => {
                    let (low, high) = values.fold((f64::INFINITY, 0.0_f64), |(low, high), y| {
                        (low.min(y), high.max(y))
                    });
                    let (low, high) = if high > 0.0 { (low, high) } else { (1.0, 10.0) };
                    let y_range = (low / 2.0..high * 2.0).log_scale();
                    draw(area, x_label, panel, &lines, x_range(), y_range)
                }
            }?;
        }
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

fn drawing(error: impl std::error::Error) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {error}")
}

/// One panel: its plot with `lines` (each series' runs of points), its legend below.
fn draw<X, Y>(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    x_label: &str,
    &(title, unit, _, series): &Panel,
    lines: &[Vec<Vec<(f64, f64)>>],
    x_range: X,
    y_range: Y,
) -> anyhow::Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let (plot, legend) = area.split_vertically(PANEL.1 - LEGEND_ROW * LEGEND_ROWS - 8);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 13).into_font().style(FontStyle::Bold))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(44)
        .build_cartesian_2d(x_range, y_range)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .max_light_lines(0)
        .y_labels(6)
        .x_desc(x_label)
        .y_desc(unit)
        .x_label_formatter(&|x| tick_label(*x))
        .y_label_formatter(&|y| tick_label(*y))
        .draw()
        .map_err(drawing)?;
    for ((number, (name, _)), runs) in series.iter().enumerate().zip(lines) {
        let colour = COLOURS[number % COLOURS.len()];
        for run in runs {
            chart
                .draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))
                .map_err(drawing)?;
            chart
                .draw_series(
                    run.iter()
                        .map(|&point| Circle::new(point, 3, colour.filled())),
                )
                .map_err(drawing)?;
        }
        let y = i32::try_from(LEGEND_ROW * u32::try_from(number)? + 8)?;
        legend
            .draw(&PathElement::new(
                [(52, y), (68, y)],
                colour.stroke_width(2),
            ))
            .map_err(drawing)?;
        legend
            .draw(&Text::new(*name, (72, y - 6), ("sans-serif", 11)))
            .map_err(drawing)?;
    }
    Ok(())
}

/// The runs of consecutive values the axis can show, each point paired with its x.
fn segments(xs: &[f64], values: &[f64], axis: YAxis) -> Vec<Vec<(f64, f64)>> {
    let mut segments = vec![Vec::new()];
    for (&x, &y) in xs.iter().zip(values) {
        if !y.is_finite() || (axis == YAxis::Logarithmic && y <= 0.0) {
            segments.push(Vec::new());
        } else if let Some(segment) = segments.last_mut() {
            segment.push((x, y));
        }
    }
    segments.retain(|segment| !segment.is_empty());
    segments
}

/// An axis label: thousands and millions shortened, small values with the decimals they need.
fn tick_label(value: f64) -> String {
    let trimmed = |value: f64| {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if value >= 1_000_000.0 {
        format!("{}M", trimmed(value / 1_000_000.0))
    } else if value >= 1_000.0 {
        format!("{}k", trimmed(value / 1_000.0))
    } else {
        trimmed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_value_or_one_a_log_axis_cannot_show_breaks_the_line() {
        let xs = [1.0, 10.0, 100.0, 1000.0];
        let split = segments(&xs, &[1.0, f64::NAN, 3.0, 0.0], YAxis::Logarithmic);
        assert_eq!(split, vec![vec![(1.0, 1.0)], vec![(100.0, 3.0)]]);
        assert_eq!(segments(&xs, &[1.0, 2.0, 3.0, 0.0], YAxis::Linear).len(), 1);
        assert_eq!(tick_label(12_500.0), "12.5k");
        assert_eq!(tick_label(1_000_000.0), "1M");
    }
}
