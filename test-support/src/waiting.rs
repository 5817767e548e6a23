//! Waiting for a condition with a deadline, never for a fixed pause.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for an effect that crosses the broker. Joining a consumer group takes
/// a few seconds, so this is generous.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(30);

/// Pause between two checks of a condition.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` until it yields a value, panicking with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let waited = within(what, deadline, POLL_INTERVAL, || {
        let checked = check();
        async move { Ok(checked.await) }
    });
    waited.await.unwrap_or_else(|error| panic!("{error}"))
}

/// Polls `check` every `interval` until it yields a value; fails with `what` after `deadline`,
/// or at once with the error of a check that failed.
pub async fn within<T, F, Fut>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        anyhow::ensure!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(interval).await;
    }
}
