//! `storefront-bench load`: the realistic flow against a running deployment, as a Kubernetes Job
//! aimed at the Istio gateway or compose's `loadgen` profile.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;

use crate::load::{Load, Urls};
use crate::options::TrafficOptions;
use crate::report::latency_table;

/// In a run until stopped, the length of one round: a summary line after each.
const ROUND: Duration = Duration::from_secs(10);

pub(crate) async fn run(options: TrafficOptions) -> anyhow::Result<()> {
    let urls = options.urls().map_err(anyhow::Error::msg)?;
    let (log_line, duration) = (urls.join(", "), options.duration());
    let [accounts, orders, fulfillment] = urls.map(|url| vec![url]);
    let urls = Urls {
        accounts,
        orders,
        fulfillment,
    };
    let load = Load::new(client()?, urls, options.poll);
    let stop = CancellationToken::new();
    tokio::spawn(platform::shutdown::cancel_on_signal(stop.clone()));
    let pace = options.rate.map(|rate| format!(", {rate} per second"));
    let until = duration.map_or_else(|| "until stopped".to_owned(), |d| format!("for {d:?}"));
    let (concurrency, pace) = (options.concurrency, pace.unwrap_or_default());
    step!("flows against {log_line}: {concurrency} at once{pace}, {until}");
    let started = Instant::now();
    let (mut succeeded, mut failed, mut first_error) = (0, 0, None);
    while !stop.is_cancelled() {
        let left = duration.map_or(ROUND, |duration| duration.saturating_sub(started.elapsed()));
        if left.is_zero() {
            break;
        }
        let round = left.min(ROUND);
        let outcome = load.flows((options.concurrency, round), options.rate).await;
        succeeded += outcome.summary.count;
        failed += outcome.failures;
        first_error = first_error.or(outcome.first_error);
        step!(
            "{:>5.0} s: {succeeded} flows, {failed} failed; last {round:?}: {:.1} flows per second, p99 {:.0} ms",
            started.elapsed().as_secs_f64(),
            outcome.summary.per_second,
            outcome.summary.p99_ms,
        );
    }
    let elapsed = started.elapsed();
    println!(
        "{}\n{}",
        latency_table("call", &load.http.summaries(elapsed)),
        latency_table("effect or flow", &load.end_to_end.summaries(elapsed)),
    );
    anyhow::ensure!(succeeded > 0, "no flow completed");
    let all = succeeded + failed;
    first_error.map_or(Ok(()), |error| {
        anyhow::bail!("{failed} of {all} flows failed; the first: {error}")
    })
}

/// The HTTP client, with `STOREFRONT_TOKEN` as a bearer token if set (istio/jwt).
fn client() -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    if let Ok(token) = std::env::var("STOREFRONT_TOKEN")
        && !token.is_empty()
    {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("STOREFRONT_TOKEN is not a valid header value")?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}
