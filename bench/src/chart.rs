//! Line charts drawn as SVG, for the figures the README embeds: panels, two to a row, over one
//! logarithmic x axis (the amount of data), each with a linear y axis from zero, so that a flat
//! line reads as flat and a bend shows where it starts.

use std::fmt::Write;

/// One panel's width and height in pixels, margins included.
const WIDTH: f64 = 330.0;
const HEIGHT: f64 = 250.0;
/// Room for the y axis's labels on the left, the x axis's below, the title above.
const LEFT: f64 = 52.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 44.0;
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

#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub(crate) title: String,
    /// The y axis's unit, written above it.
    pub(crate) unit: String,
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
    let highest = panel
        .series
        .iter()
        .flat_map(|series| series.values.iter().copied())
        .filter(|value| value.is_finite())
        .fold(0.0, f64::max);
    let top = nice_ceiling(highest);
    let x_at = |x: f64| x0 + log_position(xs, x) * (x1 - x0);
    let y_at = |y: f64| y0 - y / top * (y0 - y1);
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
    for tick in 0..=Y_TICKS {
        let value = top * f64::from(tick) / f64::from(Y_TICKS);
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
    for (number, series) in panel.series.iter().enumerate() {
        let colour = COLOURS[number % COLOURS.len()];
        for segment in segments(xs, &series.values) {
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
        let y = y1 + 4.0 + 14.0 * number as f64;
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
        assert!(figure.contains("width=\"660\" height=\"500\""));
        assert_eq!(figure.matches("<polyline").count(), 6);
        assert_eq!(figure.matches("<circle").count(), 18);
        assert!(figure.contains("p50 &lt;GET&gt;"));
        assert!(figure.contains("p99 &amp; more"));
        assert!(!figure.contains("<GET>"));
    }
}
