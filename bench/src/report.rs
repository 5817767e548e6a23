//! How results are shown: the verdicts (each check a measured value, its baseline, the ratio of
//! the two, the target and pass or miss), Markdown tables, and the report files.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::latency::Named;
use crate::options::Common;

/// What every report starts with: the run, the machine, and the phases' workers and length.
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    /// measured / baseline at least this (throughput: higher is better).
    RatioAtLeast(f64),
    /// measured / baseline at most this (latency: lower is better).
    RatioAtMost(f64),
    /// measured below this, in the check's unit; there is no baseline.
    Below(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Pass,
    Miss,
}

/// The limit of this machine a service figure is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Baseline {
    pub(crate) name: String,
    pub(crate) value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) measured: f64,
    pub(crate) baseline: Option<Baseline>,
    /// measured / baseline; absent without a baseline, or when the baseline is zero.
    pub(crate) ratio: Option<f64>,
    pub(crate) target: Target,
    pub(crate) verdict: Verdict,
}

impl Check {
    /// A figure against the raw figure of the same operation on this machine (`baseline`, as
    /// name and value) for a ratio target, or against an absolute limit for [`Target::Below`].
    pub(crate) fn new(
        name: impl Into<String>,
        (measured, unit): (f64, &'static str),
        baseline: Option<(&str, f64)>,
        target: Target,
    ) -> Self {
        let baseline = baseline.map(|(name, value)| Baseline {
            name: name.to_owned(),
            value,
        });
        let ratio = baseline
            .as_ref()
            .filter(|baseline| baseline.value > 0.0 && baseline.value.is_finite())
            .map(|baseline| measured / baseline.value);
        let passed = match (target, ratio) {
            (Target::RatioAtLeast(limit), Some(ratio)) => ratio >= limit,
            (Target::RatioAtMost(limit), Some(ratio)) => ratio <= limit,
            (Target::Below(limit), _) => measured < limit,
            _ => false,
        };
        Check {
            name: name.into(),
            unit,
            measured,
            baseline,
            ratio,
            target,
            verdict: if passed { Verdict::Pass } else { Verdict::Miss },
        }
    }
}

/// A number for a table: whole above 100, one decimal above 10, two below.
pub(crate) fn number(value: f64) -> String {
    match value.abs() {
        magnitude if magnitude >= 100.0 => format!("{value:.0}"),
        magnitude if magnitude >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// `value` with `decimals` decimals.
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

/// Bytes in MiB, as a table shows them.
pub(crate) fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// A column of a table: its header and how a row shows in it.
pub(crate) type Column<'a, T> = (&'a str, &'a dyn Fn(&T) -> String);

/// A Markdown table of `rows`, one cell per column; a `|` inside a cell is escaped.
pub(crate) fn table<T>(rows: &[T], columns: &[Column<'_, T>]) -> String {
    let headers = columns.iter().map(|(header, _)| (*header).to_owned());
    let cells = rows
        .iter()
        .map(|row| columns.iter().map(|(_, cell)| cell(row)).collect());
    grid(headers.collect(), cells)
}

fn grid(headers: Vec<String>, rows: impl Iterator<Item = Vec<String>>) -> String {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut text = line(headers.iter().map(|_| "---".to_owned()).collect());
    text.insert_str(0, &line(headers));
    for cells in rows {
        text.push_str(&line(
            cells.iter().map(|cell| cell.replace('|', "\\|")).collect(),
        ));
    }
    text
}

/// One row of a report's table, written once: its JSON fields and its Markdown cells, each in
/// order.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Row {
    #[serde(flatten)]
    json: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    cells: Vec<(&'static str, String)>,
}

impl Row {
    /// `value` under `key` in the JSON row, not shown.
    pub(crate) fn keep(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or_default();
        self.json.insert(key.to_owned(), value);
        self
    }

    /// A cell under `header` in the Markdown, not in the JSON row.
    pub(crate) fn show(mut self, header: &'static str, cell: impl Into<String>) -> Self {
        self.cells.push((header, cell.into()));
        self
    }

    /// `value` under `key`, shown with `decimals` under `header`.
    pub(crate) fn figure(
        self,
        (key, header): (&str, &'static str),
        value: f64,
        decimals: usize,
    ) -> Self {
        self.keep(key, value).show(header, fixed(value, decimals))
    }

    /// A count under `key`, shown under `header`.
    pub(crate) fn count(self, (key, header): (&str, &'static str), count: u64) -> Self {
        self.keep(key, count).show(header, count.to_string())
    }

    /// The number under `key`; NaN when absent or not a number.
    pub(crate) fn get(&self, key: &str) -> f64 {
        self.json
            .get(key)
            .and_then(serde_json::Value::as_f64)
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

pub(crate) fn checks_table(checks: &[Check]) -> String {
    let with_unit = |value: f64, unit: &str| format!("{} {unit}", number(value));
    table(
        checks,
        &[
            ("check", &|check| check.name.clone()),
            ("measured", &|check| with_unit(check.measured, check.unit)),
            ("baseline (limit here)", &|check| {
                check.baseline.as_ref().map_or("-".to_owned(), |baseline| {
                    format!(
                        "{} ({})",
                        with_unit(baseline.value, check.unit),
                        baseline.name
                    )
                })
            }),
            ("ratio", &|check| check.ratio.map_or("-".to_owned(), number)),
            ("target", &|check| match check.target {
                Target::RatioAtLeast(limit) => format!(">= {limit} x"),
                Target::RatioAtMost(limit) => format!("<= {limit} x"),
                Target::Below(limit) => format!("< {}", with_unit(limit, check.unit)),
            }),
            ("result", &|check| match check.verdict {
                Verdict::Pass => "pass".to_owned(),
                Verdict::Miss => "**miss**".to_owned(),
            }),
        ],
    )
}

pub(crate) fn latency_table(first_column: &str, operations: &[Named]) -> String {
    table(
        operations,
        &[
            (first_column, &|named| named.name.clone()),
            ("count", &|named| named.summary.count.to_string()),
            ("failed", &|named| named.failures.to_string()),
            ("per s", &|named| number(named.summary.per_second)),
            ("p50 ms", &|named| number(named.summary.p50_ms)),
            ("p90 ms", &|named| number(named.summary.p90_ms)),
            ("p99 ms", &|named| number(named.summary.p99_ms)),
            ("max ms", &|named| number(named.summary.max_ms)),
        ],
    )
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

    #[test]
    fn a_ratio_check_passes_at_its_target_and_misses_past_it_or_without_a_baseline() {
        let verdict = |measured, baseline, target| {
            let check = Check::new("c", (measured, "ms"), Some(("raw", baseline)), target);
            (check.ratio, check.verdict)
        };
        let at_least = Target::RatioAtLeast(0.8);
        assert_eq!(verdict(80.0, 100.0, at_least), (Some(0.8), Verdict::Pass));
        assert_eq!(verdict(79.0, 100.0, at_least).1, Verdict::Miss);
        let at_most = Target::RatioAtMost(3.0);
        assert_eq!(verdict(30.0, 10.0, at_most), (Some(3.0), Verdict::Pass));
        assert_eq!(verdict(31.0, 10.0, at_most).1, Verdict::Miss);
        assert_eq!(verdict(1.0, 0.0, at_most), (None, Verdict::Miss));
    }

    #[test]
    fn the_checks_table_shows_value_baseline_ratio_target_and_result() {
        let checks = [
            Check::new(
                "GET customers/{id}",
                (400.0, "req/s"),
                Some(("raw find_one", 1000.0)),
                Target::RatioAtLeast(0.8),
            ),
            Check::new("ready", (42.0, "ms"), None, Target::Below(100.0)),
            Check::new("a|b", (100.0, "ms"), None, Target::Below(100.0)),
        ];
        assert_eq!(
            checks_table(&checks),
            "| check | measured | baseline (limit here) | ratio | target | result |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | GET customers/{id} | 400 req/s | 1000 req/s (raw find_one) | 0.40 | >= 0.8 x | **miss** |\n\
             | ready | 42.0 ms | - | - | < 100 ms | pass |\n\
             | a\\|b | 100 ms | - | - | < 100 ms | **miss** |\n"
        );
        assert_eq!(number(0.8049), "0.80");
    }
}
