//! The consumer loop: at-least-once delivery, dead letters, and a clean stop.
//!
//! Offsets are stored only after the handler finished (`enable.auto.offset.store=false`) and
//! committed periodically by the client, on partition revocation and at shutdown. A crash
//! therefore redelivers what was not yet handled; handlers are idempotent for that reason.
//!
//! A handler says whether a failure is permanent (the message can never be processed: it goes to
//! the dead-letter topic with the reason in headers, and the loop moves on) or transient (the
//! database is down: the same message is retried with backoff, holding back the partition so
//! that per-key order is kept).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::producer::FutureProducer;
use rdkafka::{ClientContext, Message, Statistics};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::kafka::{self, Record};
use crate::metrics;
use crate::settings::KafkaSettings;
use crate::trace::export::{self, FinishedSpan};
use crate::trace::{TRACEPARENT, TraceContext};

/// Headers added to a dead-lettered record, named as Spring Kafka names them.
pub mod dead_letter_headers {
    pub const ORIGINAL_TOPIC: &str = "kafka_dlt-original-topic";
    pub const ORIGINAL_PARTITION: &str = "kafka_dlt-original-partition";
    pub const ORIGINAL_OFFSET: &str = "kafka_dlt-original-offset";
    pub const REASON: &str = "kafka_dlt-exception-message";
}

/// How often the loop shows it is alive while it waits for messages.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// How often the client reports statistics, consumer lag among them.
const STATISTICS_INTERVAL_MS: &str = "5000";

/// A consumed record, copied out of the client's buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl InboundMessage {
    fn from_borrowed(message: &BorrowedMessage<'_>) -> Self {
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        (
                            header.key.to_owned(),
                            header.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        InboundMessage {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
        }
    }

    /// The first header of that name, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The key as text, if there is one and it is UTF-8.
    pub fn key_text(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|key| std::str::from_utf8(key).ok())
    }
}

/// Why a message was not handled.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never be processed; it is dead-lettered with this reason.
    #[error("rejected: {0}")]
    Rejected(String),
    /// Processing failed for a reason that may pass (the database is unreachable); retried.
    #[error("failed: {0:#}")]
    Failed(#[from] anyhow::Error),
}

/// What a service does with each consumed message.
pub trait Handler: Send + Sync + 'static {
    /// Handles one message, returning a short label of the outcome for logs (`applied`,
    /// `duplicate`, ...). Must be idempotent: a message may arrive more than once.
    fn handle(
        &self,
        message: &InboundMessage,
    ) -> impl Future<Output = Result<&'static str, HandlerError>> + Send;
}

/// When the consumer loop last showed it was alive: a liveness probe reads it, since a
/// consumer can stop delivering without an error.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicI64>);

impl Heartbeat {
    fn beat(&self) {
        self.0.store(now_millis(), Ordering::Relaxed);
    }

    /// Time since the last beat; `None` before the loop started.
    pub fn age(&self) -> Option<Duration> {
        let last = self.0.load(Ordering::Relaxed);
        (last > 0).then(|| Duration::from_millis(now_millis().saturating_sub(last).max(0) as u64))
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// Commits stored offsets before partitions are taken away, so that the next owner does not
/// redo what this one finished; turns the client's statistics into the consumer lag gauge.
struct ConsumerObserver;

impl ClientContext for ConsumerObserver {
    fn stats(&self, statistics: Statistics) {
        for (name, topic) in &statistics.topics {
            for (partition, stats) in &topic.partitions {
                // Partition -1 is the client's internal unassigned queue; -1 lag is unknown.
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    metrics::set_consumer_lag(name, *partition, stats.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for ConsumerObserver {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            // "No offset" just means nothing was stored since the last commit.
            if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(%error, "commit on revoke");
            }
        }
    }
}

/// What a consumer reads and where it sends what it cannot process.
pub struct Subscription {
    pub group_id: String,
    pub topics: Vec<String>,
    /// The dead-letter topic for a source topic.
    pub dead_letter_topic: fn(&str) -> String,
}

/// Consumes until `shutdown`, handing every message to `handler`.
pub async fn run<H: Handler>(
    settings: KafkaSettings,
    subscription: Subscription,
    producer: FutureProducer,
    handler: H,
    heartbeat: Heartbeat,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let consumer: Arc<StreamConsumer<ConsumerObserver>> = Arc::new(
        kafka::client_config(&settings)
            .set("group.id", &subscription.group_id)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
            .create_with_context(ConsumerObserver)
            .context("creating the Kafka consumer")?,
    );
    let topics: Vec<&str> = subscription.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .context("subscribing to topics")?;
    tracing::info!(group = %subscription.group_id, ?topics, "consumer started");

    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        heartbeat.beat();
        let received = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => continue,
            received = consumer.recv() => received,
        };
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "consumer error");
                continue;
            }
        };
        let inbound = InboundMessage::from_borrowed(&message);
        let context = TraceContext::continue_from(inbound.header(TRACEPARENT));
        let span = tracing::info_span!("event", trace_id = %context.trace_id());
        let started_at = SystemTime::now();
        let processed = process(
            &inbound,
            &handler,
            &producer,
            &subscription,
            &heartbeat,
            &shutdown,
        )
        .instrument(span)
        .await;
        let Some(()) = processed else {
            // Stopped before the message was handled: its offset stays unstored.
            break;
        };
        export::record(FinishedSpan {
            context,
            name: format!("{} process", inbound.topic),
            kind: SpanKind::Consumer,
            start: started_at,
            end: SystemTime::now(),
            attributes: vec![
                KeyValue::new("messaging.system", "kafka"),
                KeyValue::new("messaging.destination.name", inbound.topic.clone()),
                KeyValue::new(
                    "messaging.destination.partition.id",
                    inbound.partition.to_string(),
                ),
                KeyValue::new("messaging.kafka.offset", inbound.offset),
            ],
            failed: false,
        });
        consumer
            .store_offset_from_message(&message)
            .context("storing the consumed offset")?;
    }

    let committing = Arc::clone(&consumer);
    let committed =
        tokio::task::spawn_blocking(move || committing.commit_consumer_state(CommitMode::Sync))
            .await
            .context("committing offsets at shutdown")?;
    if let Err(error) = committed {
        tracing::debug!(%error, "final commit");
    }
    tracing::info!(group = %subscription.group_id, "consumer stopped");
    Ok(())
}

/// Handles one message until it is applied or dead-lettered; `None` if stopped first.
async fn process<H: Handler>(
    message: &InboundMessage,
    handler: &H,
    producer: &FutureProducer,
    subscription: &Subscription,
    heartbeat: &Heartbeat,
    shutdown: &CancellationToken,
) -> Option<()> {
    let mut delays = crate::retry::delays();
    loop {
        // A loop retrying a transient failure is alive, just waiting.
        heartbeat.beat();
        let started = Instant::now();
        let outcome = match handler.handle(message).await {
            Ok(outcome) => {
                metrics::record_consumed(&message.topic, outcome, started.elapsed());
                tracing::info!(
                    topic = %message.topic,
                    partition = message.partition,
                    offset = message.offset,
                    outcome,
                    "event handled"
                );
                return Some(());
            }
            Err(HandlerError::Rejected(reason)) => {
                let target = (subscription.dead_letter_topic)(&message.topic);
                tracing::warn!(
                    topic = %message.topic,
                    partition = message.partition,
                    offset = message.offset,
                    dead_letter_topic = %target,
                    %reason,
                    "event dead-lettered"
                );
                let sent = dead_letter(producer, message, &target, &reason).await;
                if sent.is_ok() {
                    metrics::record_consumed(&message.topic, "dead_lettered", started.elapsed());
                    metrics::record_dead_lettered(&message.topic);
                }
                sent
            }
            Err(HandlerError::Failed(error)) => Err(error),
        };
        let delay = delays.next().unwrap_or(crate::retry::LONGEST_DELAY);
        match outcome {
            Ok(()) => return Some(()),
            Err(error) => tracing::warn!(
                topic = %message.topic,
                offset = message.offset,
                error = format!("{error:#}"),
                retry_in_ms = delay.as_millis() as u64,
                "event not handled yet; retrying"
            ),
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

async fn dead_letter(
    producer: &FutureProducer,
    message: &InboundMessage,
    target: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let mut headers = message.headers.clone();
    headers.extend([
        (
            dead_letter_headers::ORIGINAL_TOPIC.to_owned(),
            message.topic.clone().into_bytes(),
        ),
        (
            dead_letter_headers::ORIGINAL_PARTITION.to_owned(),
            message.partition.to_string().into_bytes(),
        ),
        (
            dead_letter_headers::ORIGINAL_OFFSET.to_owned(),
            message.offset.to_string().into_bytes(),
        ),
        (
            dead_letter_headers::REASON.to_owned(),
            reason.as_bytes().to_vec(),
        ),
    ]);
    kafka::publish(
        producer,
        &Record {
            topic: target,
            key: message.key.as_deref(),
            payload: message.payload.as_deref(),
            headers: &headers,
        },
    )
    .await
}
