//! Latency histograms (HDR, microseconds), their summaries, and the closed loop that fills them:
//! a fixed number of workers, each starting its next operation when the previous one finished.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Slowest latency a histogram holds, in microseconds; anything slower is recorded as this.
const HIGHEST_MICROS: u64 = 120_000_000;

fn histogram() -> Histogram<u64> {
    // Three significant digits: 0.1 % relative error.
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("constant histogram bounds are valid")
}

fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    histogram.saturating_record(micros.clamp(1, HIGHEST_MICROS));
}

/// `count` over `elapsed`, per second; zero for no time at all.
pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    fn of(histogram: &Histogram<u64>, elapsed: Duration) -> Self {
        let millis = |quantile| histogram.value_at_quantile(quantile) as f64 / 1000.0;
        Summary {
            count: histogram.len(),
            per_second: rate(histogram.len(), elapsed),
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: millis(0.50),
            p90_ms: millis(0.90),
            p99_ms: millis(0.99),
            max_ms: histogram.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) failures: u64,
    #[serde(flatten)]
    pub(crate) summary: Summary,
}

impl Named {
    pub(crate) fn new(name: &str, failures: u64, summary: Summary) -> Self {
        let name = name.to_owned();
        Named {
            name,
            failures,
            summary,
        }
    }
}

/// A histogram and a count of failures per named operation, shared by concurrent workers.
#[derive(Debug, Default)]
pub(crate) struct Recorders(Mutex<BTreeMap<&'static str, (Histogram<u64>, u64)>>);

impl Recorders {
    fn with(&self, name: &'static str, change: impl FnOnce(&mut (Histogram<u64>, u64))) {
        let mut operations = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        change(operations.entry(name).or_insert_with(|| (histogram(), 0)));
    }

    pub(crate) fn record(&self, name: &'static str, latency: Duration) {
        self.with(name, |(histogram, _)| record(histogram, latency));
    }

    pub(crate) fn fail(&self, name: &'static str) {
        self.with(name, |(_, failures)| *failures += 1);
    }

    pub(crate) fn summaries(&self, elapsed: Duration) -> Vec<Named> {
        let operations = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        operations
            .iter()
            .map(|(name, (histogram, failures))| Named {
                name: (*name).to_owned(),
                failures: *failures,
                summary: Summary::of(histogram, elapsed),
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

#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) summary: Summary,
    pub(crate) failures: u64,
    pub(crate) first_error: Option<String>,
}

impl Outcome {
    pub(crate) fn succeeded(self, what: &str) -> anyhow::Result<Summary> {
        match self.first_error {
            None => Ok(self.summary),
            Some(error) => anyhow::bail!("{what}: {} failed; the first: {error}", self.failures),
        }
    }
}

pub(crate) type Phase = (usize, Duration);

/// Runs `operation(state.clone(), n)` for n = 0, 1, 2, ... on the phase's workers (tasks of
/// their own) until it is over, timing each call. Failed calls are counted, not timed.
pub(crate) async fn closed_loop<S, F, Fut>(
    (workers, duration): Phase,
    state: S,
    operation: F,
) -> Outcome
where
    S: Clone + Send + 'static,
    F: Fn(S, u64) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let recorders = Arc::new(Recorders::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..workers)
        .map(|_| {
            let (state, recorders, next) =
                (state.clone(), Arc::clone(&recorders), Arc::clone(&next));
            tokio::spawn(async move {
                let (mut failures, mut first_error) = (0, None);
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let began = Instant::now();
                    match operation(state.clone(), n).await {
                        Ok(()) => recorders.record("", began.elapsed()),
                        Err(error) => {
                            failures += 1;
                            first_error.get_or_insert_with(|| format!("{error:#}"));
                        }
                    }
                }
                (failures, first_error)
            })
        })
        .collect();
    let (mut failures, mut first_error) = (0, None);
    for worker in workers {
        let (failed, error) = worker
            .await
            .unwrap_or_else(|panicked| (1, Some(panicked.to_string())));
        failures += failed;
        first_error = first_error.or(error);
    }
    let summary = recorders.summaries(started.elapsed()).pop();
    let summary = summary.map(|named| named.summary).unwrap_or_default();
    Outcome {
        summary,
        failures,
        first_error,
    }
}

/// The item for the `n`th request: requests go round the items in turn.
pub(crate) fn nth<T>(items: &[T], n: u64) -> &T {
    &items[usize::try_from(n).unwrap_or(usize::MAX) % items.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= expected * 0.01
    }

    #[test]
    fn a_summary_reads_percentiles_in_milliseconds_and_the_rate_per_second() {
        let recorders = Recorders::default();
        (1..=100).for_each(|ms| recorders.record("GET a", Duration::from_millis(ms)));
        recorders.fail("GET a");
        recorders.fail("POST b");
        let summaries = recorders.summaries(Duration::from_secs(4));
        let s = &summaries[0].summary;
        assert_eq!((s.count, summaries[0].failures), (100, 1));
        for (actual, expected) in [(s.per_second, 25.0), (s.p50_ms, 50.0), (s.p90_ms, 90.0)] {
            assert!(close(actual, expected), "{s:?}");
        }
        for (actual, expected) in [(s.p99_ms, 99.0), (s.max_ms, 100.0), (s.mean_ms, 50.5)] {
            assert!(close(actual, expected), "{s:?}");
        }
        assert_eq!(summaries[1].name, "POST b", "failures alone are listed too");
        assert_eq!((summaries[1].summary.count, summaries[1].failures), (0, 1));
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_and_no_time_is_no_rate() {
        let recorders = Recorders::default();
        recorders.record("a", Duration::ZERO);
        recorders.record("a", Duration::from_secs(3600));
        let summary = &recorders.summaries(Duration::ZERO)[0].summary;
        assert_eq!(summary.count, 2);
        assert!(close(summary.max_ms, 120_000.0), "{summary:?}");
        assert!(summary.per_second.abs() < f64::EPSILON);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(9), ms(1), ms(5)]), Some(ms(5)));
        assert_eq!(median(&[ms(4), ms(1), ms(2), ms(9)]), Some(ms(3)));
        assert_eq!(median(&[]), None);
    }
}
