//! Line charts drawn as SVG, for the figures docs/performance.md embeds: panels, two to a row, over one
//! logarithmic x axis (the amount of data), each with a linear y axis from zero, so that a flat
//! line reads as flat and a bend shows where it starts, or a logarithmic one where the series
//! differ by orders of magnitude.

use std::fmt::Write;

/// Series names listed under a panel, one per line below its x axis, where they hide no line.
const LEGEND_ROWS: u32 = 3;
const LEGEND_ROW: f64 = 14.0;
/// One panel's width and height in pixels, margins included.
const WIDTH: f64 = 330.0;
const HEIGHT: f64 = 250.0 + BOTTOM - 44.0;
/// Room for the y axis's labels on the left, the x axis's and the legend below, the title above.
const LEFT: f64 = 52.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 44.0 + LEGEND_ROW * LEGEND_ROWS as f64 + 6.0;
/// Panels side by side before the next row starts.
const COLUMNS: usize = 2;
/// Horizontal grid lines above zero.
const Y_TICKS: u32 = 4;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// One line: a value per point of the x axis; a value that is not finite leaves a gap.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) values: Vec<f64>,
}

/// How a panel's y axis maps values to heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YAxis {
    /// From zero to the next round value above the highest, [`Y_TICKS`] grid lines.
    Linear,
    /// A grid line per power of ten, from the one at or below the lowest positive value to the
    /// one at or above the highest; a value at or below zero leaves a gap.
    Logarithmic,
}

#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub(crate) title: String,
    /// The y axis's unit, written above it.
    pub(crate) unit: String,
    pub(crate) y_axis: YAxis,
    pub(crate) series: Vec<Series>,
}

/// The figure: `panels`, [`COLUMNS`] to a row, each over the points `xs` (positive,
/// increasing) on a logarithmic axis named `x_label`.
pub(crate) fn svg(x_label: &str, xs: &[f64], panels: &[Panel]) -> String {
    let width = WIDTH * panels.len().clamp(1, COLUMNS) as f64;
    let height = HEIGHT * panels.len().div_ceil(COLUMNS).max(1) as f64;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (index, panel) in panels.iter().enumerate() {
        let corner = (
            WIDTH * (index % COLUMNS) as f64,
            HEIGHT * (index / COLUMNS) as f64,
        );
        draw_panel(&mut out, corner, x_label, xs, panel);
    }
    out.push_str("</svg>\n");
    out
}

/// Draws one panel with its top left corner at `(left_edge, top_edge)`.
fn draw_panel(
    out: &mut String,
    (left_edge, top_edge): (f64, f64),
    x_label: &str,
    xs: &[f64],
    panel: &Panel,
) {
    let (x0, x1) = (left_edge + LEFT, left_edge + WIDTH - RIGHT);
    let (y0, y1) = (top_edge + HEIGHT - BOTTOM, top_edge + TOP);
    let plotted: Vec<Vec<f64>> = panel
        .series
        .iter()
        .map(|series| {
            series
                .values
                .iter()
                .map(|&value| match panel.y_axis {
                    YAxis::Logarithmic if value <= 0.0 => f64::NAN,
                    _ => value,
                })
                .collect()
        })
        .collect();
    let ticks = y_ticks(
        panel.y_axis,
        plotted
            .iter()
            .flatten()
            .copied()
            .filter(|value| value.is_finite()),
    );
    let (lowest, top) = (ticks[0], ticks[ticks.len() - 1]);
    let x_at = |x: f64| x0 + log_position(xs, x) * (x1 - x0);
    let y_at = |y: f64| {
        let fraction = match panel.y_axis {
            YAxis::Linear => y / top,
            YAxis::Logarithmic => (y / lowest).log10() / (top / lowest).log10(),
        };
        y0 - fraction * (y0 - y1)
    };
    let centre = (x0 + x1) / 2.0;
    let _ = writeln!(
        out,
        "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
        top_edge + 16.0,
        escaped(&panel.title)
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">{}</text>",
        left_edge + 4.0,
        y1 - 6.0,
        escaped(&panel.unit)
    );
    for &value in &ticks {
        let y = y_at(value);
        let _ = writeln!(
            out,
            "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 4.0,
            y + 4.0,
            tick_label(value)
        );
    }
    for &x in xs {
        let at = x_at(x);
        let _ = writeln!(
            out,
            "<line x1=\"{at:.1}\" y1=\"{y0:.1}\" x2=\"{at:.1}\" y2=\"{y1:.1}\" stroke=\"#eee\"/>\n\
             <text x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y0 + 14.0,
            tick_label(x)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        y0 + 32.0,
        escaped(x_label)
    );
    for (number, (series, values)) in panel.series.iter().zip(&plotted).enumerate() {
        let colour = COLOURS[number % COLOURS.len()];
        for segment in segments(xs, values) {
            let points: Vec<String> = segment
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", x_at(x), y_at(y)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                points.join(" ")
            );
            for &(x, y) in &segment {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                    x_at(x),
                    y_at(y)
                );
            }
        }
        let y = y0 + 48.0 + LEGEND_ROW * number as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x0 + 8.0,
            x0 + 24.0,
            x0 + 28.0,
            y + 4.0,
            escaped(&series.name)
        );
    }
}

/// Where `x` falls between the first and the last of `xs`, from 0 to 1, on a log scale.
fn log_position(xs: &[f64], x: f64) -> f64 {
    match (xs.first(), xs.last()) {
        (Some(&first), Some(&last)) if last > first && first > 0.0 => {
            (x.log10() - first.log10()) / (last.log10() - first.log10())
        }
        _ => 0.5,
    }
}

/// The runs of consecutive finite values, each point paired with its x.
fn segments(xs: &[f64], values: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut segments = vec![Vec::new()];
    for (&x, &y) in xs.iter().zip(values) {
        if !y.is_finite() {
            segments.push(Vec::new());
        } else if let Some(segment) = segments.last_mut() {
            segment.push((x, y));
        }
    }
    segments.retain(|segment| !segment.is_empty());
    segments
}

/// The y axis's grid values, lowest first (at least two), for the finite `values` it shows.
fn y_ticks(axis: YAxis, values: impl Iterator<Item = f64>) -> Vec<f64> {
    match axis {
        YAxis::Linear => {
            let top = nice_ceiling(values.fold(0.0, f64::max));
            (0..=Y_TICKS)
                .map(|tick| top * f64::from(tick) / f64::from(Y_TICKS))
                .collect()
        }
        YAxis::Logarithmic => {
            let (low, high) = values.fold((f64::INFINITY, 0.0_f64), |(low, high), value| {
                (low.min(value), high.max(value))
            });
            let (first, last) = if high > 0.0 {
                let first = low.log10().floor() as i32;
                (first, (high.log10().ceil() as i32).max(first + 1))
            } else {
                (0, 1)
            };
            (first..=last).map(|power| 10f64.powi(power)).collect()
        }
    }
}

/// The smallest of 1, 2, 2.5 and 5 times a power of ten at or above `value` (1 for nothing).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// An axis label: thousands and millions shortened, small values with the decimals they need.
fn tick_label(value: f64) -> String {
    if value >= 1_000_000.0 {
        format!("{}M", trimmed(value / 1_000_000.0))
    } else if value >= 1_000.0 {
        format!("{}k", trimmed(value / 1_000.0))
    } else {
        trimmed(value)
    }
}

fn trimmed(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_ends_at_the_next_round_value() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.3), 10.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        assert_eq!(nice_ceiling(430.0), 500.0);
        assert_eq!(nice_ceiling(5000.0), 5000.0);
        assert_eq!(nice_ceiling(0.03), 0.05);
    }

    #[test]
    fn a_linear_axis_starts_at_zero_and_a_logarithmic_one_spans_whole_decades() {
        assert_eq!(
            y_ticks(YAxis::Linear, [3.0, 7.3].into_iter()),
            vec![0.0, 2.5, 5.0, 7.5, 10.0]
        );
        assert_eq!(
            y_ticks(YAxis::Logarithmic, [2.0, 357.0, 10_557.0].into_iter()),
            vec![1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0]
        );
        assert_eq!(
            y_ticks(YAxis::Logarithmic, [100.0].into_iter()),
            vec![100.0, 1_000.0]
        );
        assert_eq!(
            y_ticks(YAxis::Logarithmic, std::iter::empty()),
            vec![1.0, 10.0]
        );
    }

    #[test]
    fn each_power_of_ten_takes_the_same_width() {
        let xs = [1e4, 1e5, 1e6];
        assert_eq!(log_position(&xs, 1e4), 0.0);
        assert!((log_position(&xs, 1e5) - 0.5).abs() < 1e-12);
        assert!((log_position(&xs, 1e6) - 1.0).abs() < 1e-12);
        assert_eq!(log_position(&[1e4], 1e4), 0.5);
    }

    #[test]
    fn a_missing_value_breaks_the_line() {
        let xs = [1.0, 10.0, 100.0, 1000.0];
        let split = segments(&xs, &[1.0, f64::NAN, 3.0, 4.0]);
        assert_eq!(
            split,
            vec![vec![(1.0, 1.0)], vec![(100.0, 3.0), (1000.0, 4.0)]]
        );
        assert!(segments(&xs, &[f64::NAN; 4]).is_empty());
    }

    #[test]
    fn ticks_read_as_thousands_and_millions() {
        assert_eq!(tick_label(10_000.0), "10k");
        assert_eq!(tick_label(1_000_000.0), "1M");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(12_500.0), "12.5k");
    }

    #[test]
    fn the_figure_draws_a_line_per_series_and_escapes_names() {
        let panel = |title: &str| Panel {
            title: title.to_owned(),
            unit: "ms".to_owned(),
            y_axis: YAxis::Linear,
            series: vec![
                Series {
                    name: "p50 <GET>".to_owned(),
                    values: vec![1.0, 1.1, 1.3],
                },
                Series {
                    name: "p99 & more".to_owned(),
                    values: vec![3.0, 3.5, 9.0],
                },
            ],
        };
        let figure = svg(
            "customers",
            &[1e4, 1e5, 1e6],
            &[panel("a"), panel("b"), panel("c")],
        );
        assert!(figure.starts_with("<svg "));
        assert!(figure.trim_end().ends_with("</svg>"));
        assert!(figure.contains("width=\"660\" height=\"596\""));
        assert_eq!(figure.matches("<polyline").count(), 6);
        assert_eq!(figure.matches("<circle").count(), 18);
        assert!(figure.contains("p50 &lt;GET&gt;"));
        assert!(figure.contains("p99 &amp; more"));
        assert!(!figure.contains("<GET>"));
    }

    #[test]
    fn a_logarithmic_panel_leaves_out_what_is_not_above_zero() {
        let panel = Panel {
            title: "writes".to_owned(),
            unit: "per second".to_owned(),
            y_axis: YAxis::Logarithmic,
            series: vec![Series {
                name: "applied".to_owned(),
                values: vec![104.0, 0.0, 1.0],
            }],
        };
        let figure = svg("customers", &[1e4, 1e5, 1e6], &[panel]);
        assert_eq!(figure.matches("<circle").count(), 2);
        assert_eq!(figure.matches("<polyline").count(), 2);
        assert!(figure.contains(">1k</text>"));
    }
}
