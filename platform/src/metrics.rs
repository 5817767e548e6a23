//! Prometheus metrics: one recorder per process, every metric name in one place.
//!
//! Durations are histograms with explicit buckets (summaries cannot be aggregated across pods),
//! in seconds; counters end in `_total`. Every series carries an `application` label naming the
//! service. HTTP requests are labelled by route pattern, never by raw path.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of every `_seconds` histogram: 1 ms to 10 s.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The route label of requests no route matched, so scanners cannot explode the series count.
pub const UNMATCHED_ROUTE: &str = "UNMATCHED";
/// The route label of requests abandoned at their deadline (their route is not known then).
pub const ABANDONED_ROUTE: &str = "ABANDONED";

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
    application: String,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Installs the process-wide recorder, labelling every series with `application`. Later calls
/// (several apps in one test process) keep the first recorder.
pub fn install(application: &str) {
    EXPORTER.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .add_global_label("application", application)
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            })
            .expect("starting the metrics upkeep thread");
        describe();
        let process = metrics_process::Collector::default();
        process.describe();
        Exporter {
            handle,
            process,
            application: application.to_owned(),
        }
    });
}

/// What kind of series a family holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The families the services record, with their HELP text: what `describe` announces and what
/// the tests compare with `deploy/grafana/exported-metrics.txt`.
const FAMILIES: [(&str, Kind, &str); 13] = [
    (
        "http_server_requests_seconds",
        Kind::Histogram,
        "HTTP requests served, by method, route pattern and status",
    ),
    (
        "kafka_records_produced_total",
        Kind::Counter,
        "Records the broker acknowledged, by topic",
    ),
    (
        "kafka_records_consumed_total",
        Kind::Counter,
        "Records consumed, by topic and outcome",
    ),
    (
        "event_handler_duration_seconds",
        Kind::Histogram,
        "Time spent handling one consumed record, by topic",
    ),
    (
        REBALANCES,
        Kind::Counter,
        "Partitions assigned to and revoked from this instance's consumer by its group, by kind",
    ),
    (
        "kafka_dead_lettered_total",
        Kind::Counter,
        "Records sent to the dead-letter topic, by source topic",
    ),
    (
        "outbox_dead_lettered_total",
        Kind::Counter,
        "Outbox entries that can never be published, moved to the dead letters, by collection",
    ),
    (
        CONSUMER_LAG,
        Kind::Gauge,
        "Records not yet consumed, by topic and partition this instance is assigned, as the client last reported",
    ),
    (
        "outbox_pending_events",
        Kind::Gauge,
        "Events written but not yet acknowledged by the broker, by collection",
    ),
    (
        "outbox_oldest_event_age_seconds",
        Kind::Gauge,
        "Age of the oldest event waiting in the outbox, by collection",
    ),
    (
        "mongodb_operation_duration_seconds",
        Kind::Histogram,
        "MongoDB operations as the services await them (connection checkout included), by collection and command",
    ),
    (
        "outbox_relay_pass_duration_seconds",
        Kind::Histogram,
        "Passes of the outbox relay (finding pending events, publishing them, measuring the backlog), by collection",
    ),
    (
        CLEANUP_POLICY,
        Kind::Gauge,
        "1 for the cleanup.policy a changelog topic had when this instance started (compact, delete, or unknown when unreadable), by topic and policy",
    ),
];

/// The consumer rebalance family.
const REBALANCES: &str = "kafka_consumer_rebalances_total";

/// The changelog policy family.
const CLEANUP_POLICY: &str = "kafka_topic_cleanup_policy";

/// The consumer lag family, rendered from [`CONSUMER_LAGS`] rather than by the recorder.
const CONSUMER_LAG: &str = "kafka_consumer_lag";

/// The HELP text of every metric, so that the exposition passes `promtool check metrics`.
fn describe() {
    for (name, kind, help) in FAMILIES {
        let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
        match (kind, unit) {
            (Kind::Counter, _) => describe_counter!(name, help),
            (Kind::Gauge, Some(unit)) => describe_gauge!(name, unit, help),
            (Kind::Gauge, None) => describe_gauge!(name, help),
            (Kind::Histogram, Some(unit)) => describe_histogram!(name, unit, help),
            (Kind::Histogram, None) => describe_histogram!(name, help),
        }
    }
}

/// The exposition in Prometheus text format, process metrics refreshed.
pub fn render() -> String {
    match EXPORTER.get() {
        Some(exporter) => {
            exporter.process.collect();
            let mut exposition = exporter.handle.render();
            render_consumer_lags(&exporter.application, &mut exposition);
            exposition
        }
        None => String::new(),
    }
}

pub fn record_http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    histogram!(
        "http_server_requests_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string(),
    )
    .record(elapsed);
}

pub fn record_produced(topic: &str) {
    counter!("kafka_records_produced_total", "topic" => topic.to_owned()).increment(1);
}

pub fn record_consumed(topic: &str, outcome: &'static str, elapsed: Duration) {
    counter!(
        "kafka_records_consumed_total",
        "topic" => topic.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
    histogram!("event_handler_duration_seconds", "topic" => topic.to_owned()).record(elapsed);
}

/// Makes the dead-letter counters of a consumed topic exist at 0 from the start, so that a
/// dashboard or an alert sees the series before the first dead letter.
pub fn start_dead_letter_count(topic: &str) {
    counter!("kafka_dead_lettered_total", "topic" => topic.to_owned()).increment(0);
}

/// The same for the dead letters of a collection's outbox.
pub fn start_outbox_dead_letter_count(collection: &str) {
    counter!("outbox_dead_lettered_total", "collection" => collection.to_owned()).increment(0);
}

/// The rebalance counters at 0, so that a dashboard's `increase` sees the first rebalance.
pub fn start_rebalance_counts() {
    for kind in ["assigned", "revoked"] {
        counter!(REBALANCES, "kind" => kind).increment(0);
    }
}

/// Counts one rebalance of this instance's consumer: `assigned` when the group handed it
/// partitions, `revoked` when it took them away.
pub fn record_rebalance(kind: &'static str) {
    counter!(REBALANCES, "kind" => kind).increment(1);
}

pub fn record_dead_lettered(topic: &str) {
    counter!("kafka_dead_lettered_total", "topic" => topic.to_owned()).increment(1);
}

pub fn record_outbox_dead_lettered(collection: &str) {
    counter!("outbox_dead_lettered_total", "collection" => collection.to_owned()).increment(1);
}

/// The lag of each partition this instance is assigned, by topic and partition. Kept here and
/// not in the recorder, which cannot remove a series: a partition handed to another instance
/// must leave this instance's scrape, or two instances would report its lag.
static CONSUMER_LAGS: Mutex<BTreeMap<(String, i32), i64>> = Mutex::new(BTreeMap::new());

pub fn set_consumer_lag(topic: &str, partition: i32, lag: i64) {
    lock_lags().insert((topic.to_owned(), partition), lag);
}

/// Removes the lag series of a partition this instance no longer consumes.
pub fn forget_consumer_lag(topic: &str, partition: i32) {
    lock_lags().remove(&(topic.to_owned(), partition));
}

fn lock_lags() -> std::sync::MutexGuard<'static, BTreeMap<(String, i32), i64>> {
    CONSUMER_LAGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn render_consumer_lags(application: &str, exposition: &mut String) {
    use std::fmt::Write;

    let lags = lock_lags();
    if lags.is_empty() {
        return;
    }
    let help = FAMILIES
        .iter()
        .find(|(name, ..)| *name == CONSUMER_LAG)
        .map_or("", |(_, _, help)| *help);
    let _ = writeln!(exposition, "# HELP {CONSUMER_LAG} {help}");
    let _ = writeln!(exposition, "# TYPE {CONSUMER_LAG} gauge");
    for ((topic, partition), lag) in lags.iter() {
        let _ = writeln!(
            exposition,
            "{CONSUMER_LAG}{{application=\"{}\",topic=\"{}\",partition=\"{partition}\"}} {lag}",
            label_value(application),
            label_value(topic),
        );
    }
    exposition.push('\n');
}

/// A label value as the text format writes it: backslash, quote and newline escaped.
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn set_outbox_backlog(collection: &str, pending: u64, oldest_age: Duration) {
    gauge!("outbox_pending_events", "collection" => collection.to_owned()).set(pending as f64);
    gauge!("outbox_oldest_event_age_seconds", "collection" => collection.to_owned())
        .set(oldest_age.as_secs_f64());
}

pub fn record_relay_pass(collection: &str, elapsed: Duration) {
    histogram!("outbox_relay_pass_duration_seconds", "collection" => collection.to_owned())
        .record(elapsed);
}

/// The `cleanup.policy` a changelog topic was found with at start-up.
pub fn set_cleanup_policy(topic: &str, policy: &str) {
    gauge!(CLEANUP_POLICY, "topic" => topic.to_owned(), "policy" => policy.to_owned()).set(1.0);
}

pub fn record_mongo_operation(collection: &str, operation: &str, elapsed: Duration) {
    histogram!(
        "mongodb_operation_duration_seconds",
        "collection" => collection.to_owned(),
        "operation" => operation.to_owned(),
    )
    .record(elapsed);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The committed list of exported families, which the dashboard and its checks read.
    const LIST_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/exported-metrics.txt"
    );

    const LIST_HEADER: &str = "\
# The metric families the services export on {base}/actuator/prometheus, which the Grafana
# dashboard is built on: family name, type, labels. Every series also carries `application`
# (the service name). Derived from what the code registers: platform's metrics tests record
# every metric, read the exposition back and fail when this file differs from it
# (STOREFRONT_WRITE_METRICS_LIST=1 cargo test -p platform --lib metrics rewrites it).
# scripts/check-deploy.sh checks that the dashboard's queries use only these families and labels.
";

    /// Every family of an exposition: its type and the names of its labels (beside
    /// `application`, and a histogram's `le`).
    fn families(exposition: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
        let mut families: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
        for line in exposition.lines() {
            if let Some(declaration) = line.strip_prefix("# TYPE ") {
                let (name, kind) = declaration.split_once(' ').unwrap();
                families.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let (series, labels) = match line.split_once('{') {
                    Some((series, rest)) => (series, rest.rsplit_once('}').unwrap().0),
                    None => (line.split_whitespace().next().unwrap(), ""),
                };
                let family = ["_bucket", "_sum", "_count", ""]
                    .iter()
                    .filter_map(|suffix| series.strip_suffix(suffix))
                    .find(|name| families.contains_key(*name))
                    .unwrap_or_else(|| panic!("a series of no declared family: {line}"));
                let names = labels
                    .split(',')
                    .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
                    .filter(|name| !["application", "le"].contains(name));
                families
                    .get_mut(family)
                    .unwrap()
                    .1
                    .extend(names.map(str::to_owned));
            }
        }
        families
    }

    /// Records one value of every family the services record.
    fn record_every_metric() {
        record_http_request("GET", "/customers/{id}", 200, Duration::from_millis(3));
        record_produced("t");
        record_consumed("t", "applied", Duration::from_millis(2));
        start_dead_letter_count("t");
        record_dead_lettered("t");
        start_outbox_dead_letter_count("c");
        record_outbox_dead_lettered("c");
        set_consumer_lag("t", 0, 5);
        record_rebalance("assigned");
        set_outbox_backlog("c", 3, Duration::from_secs(2));
        record_mongo_operation("c", "find", Duration::from_millis(1));
        record_relay_pass("c", Duration::from_millis(4));
        set_cleanup_policy("t", "compact");
    }

    #[test]
    fn the_committed_metric_list_is_what_the_code_registers() {
        install("test");
        record_every_metric();
        let exported = families(&render());
        for (name, kind, _) in FAMILIES {
            let rendered = exported.get(name).map(|(kind, _)| kind.as_str());
            let expected = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            assert_eq!(
                rendered,
                Some(expected),
                "{name} is described but not recorded by record_every_metric"
            );
        }
        let mut list = LIST_HEADER.to_owned();
        for (name, (kind, labels)) in &exported {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let line = format!("{name:<38} {kind:<10} {}", labels.join(" "));
            list.push_str(line.trim_end());
            list.push('\n');
        }
        if std::env::var_os("STOREFRONT_WRITE_METRICS_LIST").is_some() {
            std::fs::write(LIST_PATH, &list).unwrap();
        }
        let committed = std::fs::read_to_string(LIST_PATH).unwrap();
        assert!(
            committed == list,
            "{LIST_PATH} differs from what the code registers; it should read:\n{list}"
        );
    }

    #[test]
    fn a_partitions_lag_leaves_the_scrape_when_the_partition_is_given_up() {
        install("test");
        set_consumer_lag("orders.order.fulfill", 0, 7);
        set_consumer_lag("orders.order.fulfill", 1, 9);
        forget_consumer_lag("orders.order.fulfill", 0);
        let exposition = render();
        assert_eq!(
            exposition
                .matches("# TYPE kafka_consumer_lag gauge")
                .count(),
            1
        );
        assert!(exposition.contains(
            "kafka_consumer_lag{application=\"test\",topic=\"orders.order.fulfill\",partition=\"1\"} 9"
        ));
        assert!(!exposition.contains("partition=\"0\""), "{exposition}");
    }
}
