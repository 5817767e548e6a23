//! The verdicts and how they are shown: each check a measured value, its baseline, the ratio of
//! the two, the target and pass or miss; the tables in Markdown, the whole report in JSON.

use serde::Serialize;

use crate::footprint::Footprint;
use crate::latency::{Named, Summary};
use crate::load::ChangeRates;

/// A step of the run, on stderr (the report goes to stdout and files).
pub(crate) fn log(step: &str) {
    eprintln!("==> {step}");
}

/// CPU time per operation, from `/proc/PID/stat` over each phase, in microseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct CpuPerOperation {
    /// The constant actix-web handler, per request.
    pub(crate) constant_us: f64,
    /// Accounts, per GET customers/{id} of the read phase.
    pub(crate) read_us: f64,
    /// Orders, per customer change it applied in the change phase.
    pub(crate) applied_change_us: f64,
    /// The constant handler's own throughput and latency.
    pub(crate) constant: Summary,
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

/// measured / baseline, when the baseline is a positive number.
pub(crate) fn ratio(measured: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0 && baseline.is_finite()).then(|| measured / baseline)
}

impl Check {
    /// A service figure against the raw figure of the same operation on this machine.
    pub(crate) fn against(
        name: impl Into<String>,
        unit: &'static str,
        measured: f64,
        baseline: Baseline,
        target: Target,
    ) -> Self {
        let ratio = ratio(measured, baseline.value);
        let passed = match (target, ratio) {
            (Target::RatioAtLeast(limit), Some(ratio)) => ratio >= limit,
            (Target::RatioAtMost(limit), Some(ratio)) => ratio <= limit,
            _ => false,
        };
        Check {
            name: name.into(),
            unit,
            measured,
            baseline: Some(baseline),
            ratio,
            target,
            verdict: if passed { Verdict::Pass } else { Verdict::Miss },
        }
    }

    /// A figure with an absolute limit (`Target::Below`).
    pub(crate) fn below(
        name: impl Into<String>,
        unit: &'static str,
        measured: f64,
        limit: f64,
    ) -> Self {
        Check {
            name: name.into(),
            unit,
            measured,
            baseline: None,
            ratio: None,
            target: Target::Below(limit),
            verdict: if measured < limit {
                Verdict::Pass
            } else {
                Verdict::Miss
            },
        }
    }
}

/// A number for a table: whole above 100, one decimal above 10, two below.
pub(crate) fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn with_unit(value: f64, unit: &str) -> String {
    format!("{} {unit}", number(value))
}

impl Target {
    fn describe(self, unit: &str) -> String {
        match self {
            Target::RatioAtLeast(limit) => format!(">= {limit} x"),
            Target::RatioAtMost(limit) => format!("<= {limit} x"),
            Target::Below(limit) => format!("< {}", with_unit(limit, unit)),
        }
    }
}

/// Prints the Markdown and writes it beside the JSON report at `out` (`.md` for `.json`).
pub(crate) fn write(
    out: &std::path::Path,
    report: &impl Serialize,
    markdown: &str,
) -> anyhow::Result<()> {
    use anyhow::Context;

    println!("{markdown}");
    std::fs::write(out, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    let markdown_path = out.with_extension("md");
    std::fs::write(&markdown_path, markdown)
        .with_context(|| format!("writing {}", markdown_path.display()))?;
    log(&format!(
        "report: {} and {}",
        out.display(),
        markdown_path.display()
    ));
    Ok(())
}

/// A Markdown table; a `|` inside a cell is escaped.
pub(crate) fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let escape = |cell: &String| cell.replace('|', "\\|");
    let mut table = line(headers.iter().map(|h| (*h).to_owned()).collect());
    table.push_str(&line(headers.iter().map(|_| "---".to_owned()).collect()));
    for row in rows {
        table.push_str(&line(row.iter().map(escape).collect()));
    }
    table
}

pub(crate) fn checks_table(checks: &[Check]) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|check| {
            vec![
                check.name.clone(),
                with_unit(check.measured, check.unit),
                check.baseline.as_ref().map_or_else(
                    || "-".to_owned(),
                    |baseline| {
                        format!(
                            "{} ({})",
                            with_unit(baseline.value, check.unit),
                            baseline.name
                        )
                    },
                ),
                check.ratio.map_or_else(|| "-".to_owned(), number),
                check.target.describe(check.unit),
                match check.verdict {
                    Verdict::Pass => "pass".to_owned(),
                    Verdict::Miss => "**miss**".to_owned(),
                },
            ]
        })
        .collect();
    markdown_table(
        &[
            "check",
            "measured",
            "baseline (limit here)",
            "ratio",
            "target",
            "result",
        ],
        &rows,
    )
}

pub(crate) fn latency_table(first_column: &str, operations: &[Named]) -> String {
    let rows: Vec<Vec<String>> = operations
        .iter()
        .map(|named| {
            let s = &named.summary;
            vec![
                named.name.clone(),
                s.count.to_string(),
                named.failures.to_string(),
                number(s.per_second),
                number(s.p50_ms),
                number(s.p90_ms),
                number(s.p99_ms),
                number(s.max_ms),
            ]
        })
        .collect();
    markdown_table(
        &[
            first_column,
            "count",
            "failed",
            "per s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
        ],
        &rows,
    )
}

pub(crate) fn footprint_table(footprints: &[Footprint]) -> String {
    let mebibytes = |bytes: u64| number(bytes as f64 / 1_048_576.0);
    let rows: Vec<Vec<String>> = footprints
        .iter()
        .map(|f| {
            vec![
                f.service.to_owned(),
                format!(
                    "{} (min {}, max {}, n={})",
                    number(f.start_to_ready_ms.median),
                    number(f.start_to_ready_ms.min),
                    number(f.start_to_ready_ms.max),
                    f.start_to_ready_ms.samples
                ),
                format!(
                    "{} ({} anon + {} file)",
                    mebibytes(f.idle.rss_bytes),
                    mebibytes(f.idle.anonymous_bytes),
                    mebibytes(f.idle.file_bytes)
                ),
                f.idle.threads.to_string(),
                mebibytes(f.load_rss_bytes),
                mebibytes(f.binary_bytes),
            ]
        })
        .collect();
    markdown_table(
        &[
            "service",
            "start to ready ms: median",
            "idle RSS MiB",
            "threads",
            "peak RSS under load MiB",
            "binary MiB",
        ],
        &rows,
    )
}

/// The raw figures of this machine, measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Baselines {
    pub(crate) kafka_round_trip: Summary,
    /// The same with the consumer's `fetch.wait.max.ms` at 10 ms instead of librdkafka's 500.
    pub(crate) kafka_round_trip_short_fetch_wait: Summary,
    pub(crate) kafka_produce_per_second: f64,
    pub(crate) kafka_consume_per_second: f64,
    pub(crate) mongo_find_one: Summary,
    /// The benchmark's own CPU per raw `find_one`, in microseconds.
    pub(crate) mongo_find_one_cpu_us: f64,
    pub(crate) mongo_upsert: Summary,
    /// Accounts' side of a customer change in the raw pipeline (baseline::pipeline): read, and
    /// conditional write with the outbox push.
    pub(crate) raw_pipeline: Summary,
    /// Changes the raw pipeline's orders side applied per second.
    pub(crate) raw_pipeline_applied_per_second: f64,
}

impl Baselines {
    pub(crate) fn rows(&self) -> Vec<Named> {
        let named = |name: &str, summary: &Summary| Named {
            name: name.to_owned(),
            failures: 0,
            summary: summary.clone(),
        };
        vec![
            named(
                "kafka produce -> consume round trip",
                &self.kafka_round_trip,
            ),
            named(
                "kafka round trip, consumer fetch.wait.max.ms 10",
                &self.kafka_round_trip_short_fetch_wait,
            ),
            named("mongodb find_one by _id", &self.mongo_find_one),
            named("mongodb update_one by _id, upsert", &self.mongo_upsert),
            named(
                "raw change pipeline, accounts' side (read, write with the outbox push)",
                &self.raw_pipeline,
            ),
        ]
    }
}

/// Everything one run measured, as written to JSON.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) run_id: String,
    /// Seconds since the Unix epoch when the run started.
    pub(crate) started_at: u64,
    pub(crate) cores: usize,
    pub(crate) concurrency: usize,
    pub(crate) phase_seconds: u64,
    pub(crate) flow_seconds: u64,
    pub(crate) poll_interval_ms: u64,
    pub(crate) checks: Vec<Check>,
    pub(crate) changes: ChangeRates,
    pub(crate) cpu_per_operation: CpuPerOperation,
    pub(crate) baselines: Baselines,
    pub(crate) http: Vec<Named>,
    pub(crate) end_to_end: Vec<Named>,
    pub(crate) footprint: Vec<Footprint>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn markdown(&self) -> String {
        let mut text = format!(
            "## Storefront benchmark `{}`\n\n{} cores; concurrency {}; {} s per throughput \
             phase, {} s of flows; visibility polled every {} ms.\n\n### Targets\n\n",
            self.run_id,
            self.cores,
            self.concurrency,
            self.phase_seconds,
            self.flow_seconds,
            self.poll_interval_ms
        );
        text.push_str(&checks_table(&self.checks));
        text.push_str(&format!(
            "\nCustomer changes per second: acknowledged by accounts {}, published by its outbox \
             relay {}, applied in orders {}.\n",
            number(self.changes.acknowledged_per_second),
            number(self.changes.published_per_second),
            number(self.changes.applied_per_second)
        ));
        let cpu = &self.cpu_per_operation;
        text.push_str(&format!(
            "\nCPU per operation (user + system, from /proc/PID/stat over each phase): accounts \
             {} us per GET by id, orders {} us per change applied; the constant actix-web \
             handler {} us per request ({} req/s, p50 {} ms).\n",
            number(cpu.read_us),
            number(cpu.applied_change_us),
            number(cpu.constant_us),
            number(cpu.constant.per_second),
            number(cpu.constant.p50_ms)
        ));
        text.push_str("\n### Baselines (raw clients, same broker and database)\n\n");
        text.push_str(&latency_table("operation", &self.baselines.rows()));
        text.push_str(&format!(
            "\nKafka bulk: produce {} msg/s, consume {} msg/s. Raw change pipeline (the \
             database and broker work of a change, with the services' clients, nothing else): \
             {} changes applied per second. CPU per raw find_one in the client (this \
             benchmark's process, the driver and the loop): {} us.\n",
            number(self.baselines.kafka_produce_per_second),
            number(self.baselines.kafka_consume_per_second),
            number(self.baselines.raw_pipeline_applied_per_second),
            number(self.baselines.mongo_find_one_cpu_us)
        ));
        text.push_str("\n### HTTP latency per endpoint\n\n");
        text.push_str(&latency_table("endpoint", &self.http));
        text.push_str(
            "\n### End to end (acknowledged until visible through the other service's API)\n\n",
        );
        text.push_str(&latency_table("hop", &self.end_to_end));
        text.push_str("\n### Footprint\n\n");
        text.push_str(&footprint_table(&self.footprint));
        if !self.notes.is_empty() {
            text.push('\n');
            for note in &self.notes {
                text.push_str(&format!("- {note}\n"));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(value: f64) -> Baseline {
        Baseline {
            name: "raw".to_owned(),
            value,
        }
    }

    #[test]
    fn the_ratio_is_measured_over_baseline_and_absent_for_a_zero_baseline() {
        assert_eq!(ratio(80.0, 100.0), Some(0.8));
        assert_eq!(ratio(80.0, 0.0), None);
    }

    #[test]
    fn a_throughput_check_passes_at_the_target_ratio_and_misses_below_it() {
        let at = Check::against(
            "get",
            "req/s",
            80.0,
            baseline(100.0),
            Target::RatioAtLeast(0.8),
        );
        assert_eq!(at.verdict, Verdict::Pass);
        let below = Check::against(
            "get",
            "req/s",
            79.0,
            baseline(100.0),
            Target::RatioAtLeast(0.8),
        );
        assert_eq!(below.verdict, Verdict::Miss);
    }

    #[test]
    fn a_latency_check_passes_up_to_the_target_ratio() {
        let check = Check::against("p99", "ms", 30.0, baseline(10.0), Target::RatioAtMost(3.0));
        assert_eq!((check.ratio, check.verdict), (Some(3.0), Verdict::Pass));
        let check = Check::against("p99", "ms", 31.0, baseline(10.0), Target::RatioAtMost(3.0));
        assert_eq!(check.verdict, Verdict::Miss);
    }

    #[test]
    fn a_check_against_a_zero_baseline_misses_rather_than_passing_by_accident() {
        let check = Check::against("p99", "ms", 1.0, baseline(0.0), Target::RatioAtMost(3.0));
        assert_eq!((check.ratio, check.verdict), (None, Verdict::Miss));
    }

    #[test]
    fn an_absolute_limit_is_strict() {
        assert_eq!(
            Check::below("ready", "ms", 99.9, 100.0).verdict,
            Verdict::Pass
        );
        assert_eq!(
            Check::below("ready", "ms", 100.0, 100.0).verdict,
            Verdict::Miss
        );
    }

    #[test]
    fn numbers_keep_three_significant_figures_or_so() {
        assert_eq!(number(1234.56), "1235");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.8049), "0.80");
    }

    #[test]
    fn the_checks_table_shows_value_baseline_ratio_target_and_result() {
        let checks = [
            Check::against(
                "GET customers/{id}",
                "req/s",
                400.0,
                Baseline {
                    name: "raw find_one".to_owned(),
                    value: 1000.0,
                },
                Target::RatioAtLeast(0.8),
            ),
            Check::below("accounts start to ready", "ms", 42.0, 100.0),
        ];
        assert_eq!(
            checks_table(&checks),
            "| check | measured | baseline (limit here) | ratio | target | result |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | GET customers/{id} | 400 req/s | 1000 req/s (raw find_one) | 0.40 | >= 0.8 x | **miss** |\n\
             | accounts start to ready | 42.0 ms | - | - | < 100 ms | pass |\n"
        );
    }

    #[test]
    fn a_pipe_in_a_cell_does_not_break_the_table() {
        let table = markdown_table(&["a"], &[vec!["x|y".to_owned()]]);
        assert_eq!(table, "| a |\n| --- |\n| x\\|y |\n");
    }
}
