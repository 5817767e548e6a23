//! Latency histograms (HDR, microsecond resolution) and the summary every measured operation
//! reports: count, rate, mean and percentiles.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Slowest latency a histogram holds, in microseconds; anything slower is recorded as this.
const HIGHEST_MICROS: u64 = 120_000_000;
/// Significant decimal digits kept: 0.1 % relative error.
const SIGNIFICANT_DIGITS: u8 = 3;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, HIGHEST_MICROS)
}

/// What one operation measured, in milliseconds and operations per second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub(crate) count: u64,
    /// Completed operations per second of the phase that measured them.
    pub(crate) per_second: f64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Summary {
    /// Summarises a histogram of microseconds filled during `elapsed`.
    fn of(histogram: &Histogram<u64>, elapsed: Duration) -> Self {
        let millis = |value: u64| value as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64();
        let count = histogram.len();
        Summary {
            count,
            per_second: if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: millis(histogram.value_at_quantile(0.50)),
            p90_ms: millis(histogram.value_at_quantile(0.90)),
            p99_ms: millis(histogram.value_at_quantile(0.99)),
            max_ms: millis(histogram.max()),
        }
    }
}

/// One histogram shared by concurrent workers.
#[derive(Debug)]
pub(crate) struct Recorder(Mutex<Histogram<u64>>);

impl Default for Recorder {
    fn default() -> Self {
        Recorder(Mutex::new(histogram()))
    }
}

impl Recorder {
    pub(crate) fn record(&self, latency: Duration) {
        if let Ok(mut histogram) = self.0.lock() {
            histogram.saturating_record(micros(latency));
        }
    }

    pub(crate) fn summary(&self, elapsed: Duration) -> Summary {
        let histogram = self
            .0
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| histogram());
        Summary::of(&histogram, elapsed)
    }
}

/// One histogram per named operation, e.g. per endpoint, plus a count of failures.
#[derive(Debug, Default)]
pub(crate) struct Recorders {
    histograms: Mutex<BTreeMap<&'static str, Histogram<u64>>>,
    failures: Mutex<BTreeMap<&'static str, u64>>,
}

/// The summary of one named operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) failures: u64,
    #[serde(flatten)]
    pub(crate) summary: Summary,
}

impl Recorders {
    pub(crate) fn record(&self, name: &'static str, latency: Duration) {
        if let Ok(mut histograms) = self.histograms.lock() {
            histograms
                .entry(name)
                .or_insert_with(histogram)
                .saturating_record(micros(latency));
        }
    }

    pub(crate) fn fail(&self, name: &'static str) {
        if let Ok(mut failures) = self.failures.lock() {
            *failures.entry(name).or_default() += 1;
        }
    }

    /// Every operation recorded or failed, by name, as measured over `elapsed`.
    pub(crate) fn summaries(&self, elapsed: Duration) -> Vec<Named> {
        let histograms = self
            .histograms
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default();
        let failures = self.failures.lock().map(|f| f.clone()).unwrap_or_default();
        let mut names: Vec<&'static str> =
            histograms.keys().chain(failures.keys()).copied().collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|name| Named {
                name: name.to_owned(),
                failures: failures.get(name).copied().unwrap_or(0),
                summary: match histograms.get(name) {
                    Some(recorded) => Summary::of(recorded, elapsed),
                    None => Summary::of(&histogram(), elapsed),
                },
            })
            .collect()
    }
}

/// The median of some samples (the mean of the middle two for an even count).
pub(crate) fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected * 0.01
    }

    #[test]
    fn a_summary_reads_percentiles_in_milliseconds_and_the_rate_per_second() {
        let recorder = Recorder::default();
        for millis in 1..=100 {
            recorder.record(Duration::from_millis(millis));
        }
        let summary = recorder.summary(Duration::from_secs(4));
        assert_eq!(summary.count, 100);
        assert!(close(summary.per_second, 25.0), "{summary:?}");
        assert!(close(summary.p50_ms, 50.0), "{summary:?}");
        assert!(close(summary.p90_ms, 90.0), "{summary:?}");
        assert!(close(summary.p99_ms, 99.0), "{summary:?}");
        assert!(close(summary.max_ms, 100.0), "{summary:?}");
        assert!(close(summary.mean_ms, 50.5), "{summary:?}");
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_rather_than_lost() {
        let recorder = Recorder::default();
        recorder.record(Duration::ZERO);
        recorder.record(Duration::from_secs(3600));
        let summary = recorder.summary(Duration::from_secs(1));
        assert_eq!(summary.count, 2);
        assert!(close(summary.max_ms, 120_000.0), "{summary:?}");
    }

    #[test]
    fn an_empty_phase_reports_zero_rather_than_dividing_by_zero() {
        let summary = Recorder::default().summary(Duration::ZERO);
        assert_eq!(summary.count, 0);
        assert!(summary.per_second.abs() < f64::EPSILON);
    }

    #[test]
    fn named_summaries_list_failures_even_for_operations_that_never_succeeded() {
        let recorders = Recorders::default();
        recorders.record("GET a", Duration::from_millis(2));
        recorders.fail("GET a");
        recorders.fail("POST b");
        let summaries = recorders.summaries(Duration::from_secs(1));
        let names: Vec<(&str, u64, u64)> = summaries
            .iter()
            .map(|named| (named.name.as_str(), named.summary.count, named.failures))
            .collect();
        assert_eq!(names, [("GET a", 1, 1), ("POST b", 0, 1)]);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(9), ms(1), ms(5)]), Some(ms(5)));
        assert_eq!(median(&[ms(4), ms(1), ms(2), ms(9)]), Some(ms(3)));
        assert_eq!(median(&[]), None);
    }
}
