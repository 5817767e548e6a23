//! Prometheus metrics: one recorder per process, every metric name in one place.
//!
//! Durations are histograms with explicit buckets (summaries cannot be aggregated across pods),
//! in seconds; counters end in `_total`. Every series carries an `application` label naming the
//! service. HTTP requests are labelled by route pattern, never by raw path.

use std::sync::OnceLock;
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
        Exporter { handle, process }
    });
}

/// The HELP text of every metric, so that the exposition passes `promtool check metrics`.
fn describe() {
    describe_histogram!(
        "http_server_requests_seconds",
        Unit::Seconds,
        "HTTP requests served, by method, route pattern and status"
    );
    describe_counter!(
        "kafka_records_produced_total",
        "Records the broker acknowledged, by topic"
    );
    describe_counter!(
        "kafka_records_consumed_total",
        "Records consumed, by topic and outcome"
    );
    describe_histogram!(
        "event_handler_duration_seconds",
        Unit::Seconds,
        "Time spent handling one consumed record, by topic"
    );
    describe_counter!(
        "kafka_dead_lettered_total",
        "Records sent to the dead-letter topic, by source topic"
    );
    describe_counter!(
        "outbox_dead_lettered_total",
        "Outbox entries that can never be published, moved to the dead letters, by collection"
    );
    describe_gauge!(
        "kafka_consumer_lag",
        "Records not yet consumed, by topic and partition, as the client last reported"
    );
    describe_gauge!(
        "outbox_pending_events",
        "Events written but not yet acknowledged by the broker, by collection"
    );
    describe_gauge!(
        "outbox_oldest_event_age_seconds",
        Unit::Seconds,
        "Age of the oldest event waiting in the outbox, by collection"
    );
    describe_histogram!(
        "mongodb_operation_duration_seconds",
        Unit::Seconds,
        "MongoDB commands, by collection and operation"
    );
}

/// The exposition in Prometheus text format, process metrics refreshed.
pub fn render() -> String {
    match EXPORTER.get() {
        Some(exporter) => {
            exporter.process.collect();
            exporter.handle.render()
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

pub fn record_dead_lettered(topic: &str) {
    counter!("kafka_dead_lettered_total", "topic" => topic.to_owned()).increment(1);
}

pub fn record_outbox_dead_lettered(collection: &str) {
    counter!("outbox_dead_lettered_total", "collection" => collection.to_owned()).increment(1);
}

pub fn set_consumer_lag(topic: &str, partition: i32, lag: i64) {
    gauge!(
        "kafka_consumer_lag",
        "topic" => topic.to_owned(),
        "partition" => partition.to_string(),
    )
    .set(lag as f64);
}

pub fn set_outbox_backlog(collection: &str, pending: u64, oldest_age: Duration) {
    gauge!("outbox_pending_events", "collection" => collection.to_owned()).set(pending as f64);
    gauge!("outbox_oldest_event_age_seconds", "collection" => collection.to_owned())
        .set(oldest_age.as_secs_f64());
}

pub fn record_mongo_operation(collection: &str, operation: &str, elapsed: Duration) {
    histogram!(
        "mongodb_operation_duration_seconds",
        "collection" => collection.to_owned(),
        "operation" => operation.to_owned(),
    )
    .record(elapsed);
}
