//! A closed loop: a fixed number of workers, each starting its next operation as soon as the
//! previous one finished, for a bounded time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::latency::{Recorder, Summary};

/// What a closed loop measured.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// The successful operations only.
    pub(crate) summary: Summary,
    pub(crate) failures: u64,
    /// The first failure, to show why.
    pub(crate) first_error: Option<String>,
}

/// Runs `operation(n)` for n = 0, 1, 2, ... on `concurrency` workers until `duration` has
/// passed, timing each call. Failed calls are counted, not timed.
pub(crate) async fn closed_loop<F, Fut>(
    concurrency: usize,
    duration: Duration,
    operation: F,
) -> Outcome
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let recorder = Arc::new(Recorder::default());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let operation = operation.clone();
            let recorder = Arc::clone(&recorder);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut failures = 0;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let began = Instant::now();
                    match operation(n).await {
                        Ok(()) => recorder.record(began.elapsed()),
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
    let mut failures = 0;
    let mut first_error = None;
    for worker in workers {
        match worker.await {
            Ok((failed, error)) => {
                failures += failed;
                first_error = first_error.or(error);
            }
            Err(panicked) => {
                failures += 1;
                first_error.get_or_insert_with(|| panicked.to_string());
            }
        }
    }
    Outcome {
        summary: recorder.summary(started.elapsed()),
        failures,
        first_error,
    }
}

/// The item for the `n`th request: requests go round the items in turn.
pub(crate) fn nth<T>(items: &[T], n: u64) -> &T {
    let turn = usize::try_from(n).unwrap_or(usize::MAX);
    &items[turn % items.len()]
}
