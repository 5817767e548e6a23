//! How long to wait before trying again after a transient failure (database or broker away):
//! exponential backoff with jitter, so that many consumers and relays coming back at once do
//! not retry in step.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait, and the wait once the sequence is exhausted (it never is: no maximum).
pub(crate) const LONGEST_DELAY: Duration = Duration::from_secs(10);

/// The delays before each retry: 100 ms doubling up to 10 s, jittered, without end.
pub(crate) fn delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(FIRST_DELAY)
        .with_max_delay(LONGEST_DELAY)
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_never_end() {
        let delays: Vec<Duration> = delays().take(20).collect();
        assert_eq!(delays.len(), 20);
        assert!(
            delays[0] >= FIRST_DELAY && delays[0] < FIRST_DELAY * 2,
            "{delays:?}"
        );
        assert!(
            delays.iter().all(|delay| *delay <= LONGEST_DELAY * 2),
            "{delays:?}"
        );
        assert!(delays[19] >= LONGEST_DELAY, "{delays:?}");
    }
}
