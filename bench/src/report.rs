//! How results are shown: the checks, Markdown tables, and the report files.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};

use crate::latency::Named;
use crate::options::Common;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    pub(crate) run_id: String,
    pub(crate) cores: usize,
    pub(crate) concurrency: usize,
    pub(crate) phase_seconds: u64,
}

impl Run {
    pub(crate) fn new(run_id: &str, common: &Common) -> Self {
        Run {
            run_id: run_id.to_owned(),
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            concurrency: common.concurrency,
            phase_seconds: common.phase.as_secs(),
        }
    }
}

/// What a check requires.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    /// measured / baseline at least this (throughput: higher is better).
    RatioAtLeast(f64),
    /// measured / baseline at most this (latency: lower is better).
    RatioAtMost(f64),
    /// measured below this, in the check's unit; there is no baseline.
    Below(f64),
}

/// A check's row: a figure against the raw figure of the same operation on this machine
/// (`baseline`, as name and value) for a ratio target, or against an absolute limit for
/// [`Target::Below`]; with the ratio (none without a baseline or for a zero one) and the verdict.
pub(crate) fn check(
    name: impl Into<String>,
    (measured, unit): (f64, &str),
    baseline: Option<(&str, f64)>,
    target: Target,
) -> Row {
    let (name, with_unit) = (name.into(), |value: f64| {
        format!("{} {unit}", number(value))
    });
    let ratio = baseline
        .filter(|(_, value)| *value > 0.0 && value.is_finite())
        .map(|(_, value)| measured / value);
    let passed = match (target, ratio) {
        (Target::RatioAtLeast(limit), Some(ratio)) => ratio >= limit,
        (Target::RatioAtMost(limit), Some(ratio)) => ratio <= limit,
        (Target::Below(limit), _) => measured < limit,
        _ => false,
    };
    let baseline_json = baseline.map(|(name, value)| json!({ "name": name, "value": value }));
    let shown = |(name, value)| format!("{} ({name})", with_unit(value));
    let shown_baseline = baseline.map_or_else(|| "-".to_owned(), shown);
    let shown_target = match target {
        Target::RatioAtLeast(limit) => format!(">= {limit} x"),
        Target::RatioAtMost(limit) => format!("<= {limit} x"),
        Target::Below(limit) => format!("< {}", with_unit(limit)),
    };
    let verdict = [("miss", "**miss**"), ("pass", "pass")][usize::from(passed)];
    let fields = [
        ("name", json!(name)),
        ("unit", json!(unit)),
        ("measured", json!(measured)),
        ("baseline", json!(baseline_json)),
        ("ratio", json!(ratio)),
        ("target", json!(target)),
        ("verdict", json!(verdict.0)),
    ];
    let cells = [
        ("check", name),
        ("measured", with_unit(measured)),
        ("baseline (limit here)", shown_baseline),
        ("ratio", ratio.map_or_else(|| "-".to_owned(), number)),
        ("target", shown_target),
        ("result", verdict.1.to_owned()),
    ];
    Row::new(fields, cells)
}

/// A number for a table: whole above 100, one decimal above 10, two below.
pub(crate) fn number(value: f64) -> String {
    match value.abs() {
        magnitude if magnitude >= 100.0 => format!("{value:.0}"),
        magnitude if magnitude >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

pub(crate) fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// A Markdown table; a `|` inside a cell is escaped.
pub(crate) fn grid(headers: Vec<String>, rows: impl Iterator<Item = Vec<String>>) -> String {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut text = line(headers.iter().map(|_| "---".to_owned()).collect());
    text.insert_str(0, &line(headers));
    for cells in rows {
        let escaped = cells.iter().map(|cell| cell.replace('|', "\\|")).collect();
        text.push_str(&line(escaped));
    }
    text
}

/// One row of a report's table: its JSON fields and its Markdown cells, each in order.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Row {
    #[serde(flatten)]
    json: serde_json::Map<String, Value>,
    #[serde(skip)]
    cells: Vec<(&'static str, String)>,
}

impl Row {
    pub(crate) fn new<const F: usize, const C: usize>(
        fields: [(&str, Value); F],
        cells: [(&'static str, String); C],
    ) -> Self {
        let json = fields.map(|(key, value)| (key.to_owned(), value));
        let (json, cells) = (json.into_iter().collect(), cells.into());
        Row { json, cells }
    }

    /// The number under `key`; NaN when absent or not a number.
    pub(crate) fn get(&self, key: &str) -> f64 {
        self.json
            .get(key)
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    }

    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.json.get(key)?.as_str()
    }
}

/// The Markdown table of `rows`, its headers those of the first row.
pub(crate) fn rows_table(rows: &[Row]) -> String {
    let headers = rows.first().map(|row| &row.cells[..]).unwrap_or_default();
    let headers = headers.iter().map(|(header, _)| (*header).to_owned());
    let cells = rows
        .iter()
        .map(|row| row.cells.iter().map(|(_, cell)| cell.clone()).collect());
    grid(headers.collect(), cells)
}

/// The latency table of `operations`, named under `first_column`.
pub(crate) fn latency_table(first_column: &str, operations: &[Named]) -> String {
    let headers = [
        "count", "failed", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms",
    ];
    let headers = std::iter::once(first_column)
        .chain(headers)
        .map(str::to_owned);
    let rows = operations.iter().map(|named| {
        let s = &named.summary;
        let figures = [s.per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms].map(number);
        let counts = [
            named.name.clone(),
            s.count.to_string(),
            named.failures.to_string(),
        ];
        counts.into_iter().chain(figures).collect()
    });
    grid(headers.collect(), rows)
}

/// Prints the Markdown and writes it beside the JSON report at `out` (`.md` for `.json`).
pub(crate) fn write(out: &Path, report: &impl Serialize, markdown: &str) -> anyhow::Result<()> {
    println!("{markdown}");
    let markdown_path = out.with_extension("md");
    for (path, contents) in [
        (out, serde_json::to_vec_pretty(report)?),
        (&markdown_path, markdown.as_bytes().to_vec()),
    ] {
        std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    step!("report: {} and {}", out.display(), markdown_path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(measured: f64, baseline: f64, target: Target) -> String {
        let row = check("c", (measured, "ms"), Some(("raw", baseline)), target);
        row.text("verdict").unwrap_or_default().to_owned()
    }

    #[test]
    fn a_check_passes_at_its_target_and_misses_past_it_or_without_a_baseline() {
        let (at_least, at_most) = (Target::RatioAtLeast(0.8), Target::RatioAtMost(3.0));
        assert_eq!(verdict(80.0, 100.0, at_least), "pass");
        assert_eq!(verdict(79.0, 100.0, at_least), "miss");
        assert_eq!(verdict(30.0, 10.0, at_most), "pass");
        assert_eq!(verdict(31.0, 10.0, at_most), "miss");
        assert_eq!(verdict(1.0, 0.0, at_most), "miss");
        let checks = [
            check(
                "GET customers/{id}",
                (400.0, "req/s"),
                Some(("raw find_one", 1e3)),
                at_least,
            ),
            check("a|b", (42.0, "ms"), None, Target::Below(100.0)),
        ];
        assert_eq!(
            rows_table(&checks),
            "| check | measured | baseline (limit here) | ratio | target | result |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | GET customers/{id} | 400 req/s | 1000 req/s (raw find_one) | 0.40 | >= 0.8 x | **miss** |\n\
             | a\\|b | 42.0 ms | - | - | < 100 ms | pass |\n"
        );
    }
}
