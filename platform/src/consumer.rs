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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use futures_util::FutureExt;
use futures_util::future::join_all;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{ClientContext, Message, Statistics, Timestamp, TopicPartitionList};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::documents::TooLarge;
use crate::kafka::{self, Producer, Record};
use crate::kafka_access::KafkaAccess;
use crate::metrics;
use crate::settings::KafkaSettings;
use crate::settings::MAX_EVENT_BYTES;
use crate::trace::{self, ReadHeaderPairs, RecordWork};

/// Headers added to a dead-lettered record, named and encoded as Spring Kafka's
/// `DeadLetterPublishingRecoverer` writes them, so that Spring tooling and Kafka UIs read them:
/// text as UTF-8, the partition as a 4-byte and the offset and timestamp as 8-byte big-endian
/// integers.
pub mod dead_letter_headers {
    /// The source topic (text).
    pub const ORIGINAL_TOPIC: &str = "kafka_dlt-original-topic";
    /// The source partition (4-byte big-endian integer).
    pub const ORIGINAL_PARTITION: &str = "kafka_dlt-original-partition";
    /// The source offset (8-byte big-endian integer).
    pub const ORIGINAL_OFFSET: &str = "kafka_dlt-original-offset";
    /// The source record's timestamp, epoch millis (8-byte big-endian integer).
    pub const ORIGINAL_TIMESTAMP: &str = "kafka_dlt-original-timestamp";
    /// `CreateTime` or `LogAppendTime` (text).
    pub const ORIGINAL_TIMESTAMP_TYPE: &str = "kafka_dlt-original-timestamp-type";
    /// The consumer group that gave up on the record (text).
    pub const ORIGINAL_CONSUMER_GROUP: &str = "kafka_dlt-original-consumer-group";
    /// What refused the record (text; a Java class name in Spring, ours here).
    pub const EXCEPTION_FQCN: &str = "kafka_dlt-exception-fqcn";
    /// Why the record can never be processed (text).
    pub const REASON: &str = "kafka_dlt-exception-message";

    /// Every header above with what it holds, for the AsyncAPI documents.
    pub const DESCRIBED: [(&str, &str); 8] = [
        (ORIGINAL_TOPIC, "The source topic."),
        (
            ORIGINAL_PARTITION,
            "The source partition: a 4-byte big-endian integer.",
        ),
        (
            ORIGINAL_OFFSET,
            "The source offset: an 8-byte big-endian integer.",
        ),
        (
            ORIGINAL_TIMESTAMP,
            "The source record's timestamp in epoch millis: an 8-byte big-endian integer.",
        ),
        (ORIGINAL_TIMESTAMP_TYPE, "CreateTime or LogAppendTime."),
        (
            ORIGINAL_CONSUMER_GROUP,
            "The consumer group that gave up on the record.",
        ),
        (EXCEPTION_FQCN, "What refused the record."),
        (REASON, "Why the record can never be processed."),
    ];
}

/// The `kafka_dlt-exception-fqcn` of every record this loop dead-letters.
const REJECTION: &str = "platform.consumer.HandlerError.Rejected";

/// The least a fetch may ask for: librdkafka's `message.max.bytes`, rounded up to 1 MiB.
const MIN_FETCH_BYTES: u64 = 1024 * 1024;
/// How often the loop shows it is alive while it waits for messages.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Most messages handled at once: those already received when the loop asks for more, split
/// into lanes by key.
const MAX_BATCH: usize = 64;
/// How long a member that died without leaving the group (a crash, `kill -9`, a lost node)
/// keeps its partitions before the group hands them to the others, or to its own restart:
/// 10 s instead of the client's 45 s, so a restarted pod is back at work within seconds.
const SESSION_TIMEOUT_MS: &str = "10000";
/// How long a batch may take before the loop pauses its partitions and polls while it waits:
/// far below `max.poll.interval.ms`, past which the client would leave the group.
const PAUSE_AFTER: Duration = Duration::from_secs(1);
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
    /// When the record was created, or appended to the log, as the broker reports it.
    pub timestamp: Timestamp,
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
            timestamp: message.timestamp(),
        }
    }

    /// The first header of that name, if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The value read as JSON, as a `type_name`; a message without a value, or whose value is
    /// not a `type_name`, is rejected.
    pub fn json<T: DeserializeOwned>(&self, type_name: &str) -> Result<T, HandlerError> {
        let payload = self.payload.as_deref().ok_or_else(|| {
            HandlerError::Rejected(format!("an empty value is not a {type_name}"))
        })?;
        serde_json::from_slice(payload)
            .map_err(|error| HandlerError::Rejected(format!("not a valid {type_name}: {error}")))
    }

    /// The key as text, if there is one and it is UTF-8.
    pub fn key_text(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|key| std::str::from_utf8(key).ok())
    }
}

/// What a handler did with a message, as logs and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The message changed what the service stores.
    Applied,
    /// The message was applied before (a redelivery, or an event seen twice).
    Duplicate,
    /// The message changed nothing: what it says is already stored.
    Unchanged,
    /// The message is about an older version of its aggregate than the one stored (records
    /// that arrived out of order): it is not applied.
    Stale,
    /// The message (a tombstone) removed what it names.
    Removed,
}

impl Outcome {
    /// The label in logs and in the `outcome` of `kafka_records_consumed_total`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Unchanged => "unchanged",
            Outcome::Stale => "stale",
            Outcome::Removed => "removed",
        }
    }
}

/// The `outcome` label of a message that went to its dead-letter topic.
const DEAD_LETTERED: &str = "dead_lettered";

/// Why a message was not handled.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never be processed; it is dead-lettered with this reason.
    #[error("rejected: {0}")]
    Rejected(String),
    /// Processing failed for a reason that may pass (the database is unreachable); retried.
    #[error("failed: {0:#}")]
    Failed(anyhow::Error),
}

/// A failure is retried, except a write refused for its size: no retry makes the document
/// smaller, so the record is dead-lettered and the lane moves on.
impl From<anyhow::Error> for HandlerError {
    fn from(error: anyhow::Error) -> Self {
        if error.downcast_ref::<TooLarge>().is_some() || crate::mongo::is_too_large(&error) {
            HandlerError::Rejected(format!("{error:#}"))
        } else {
            HandlerError::Failed(error)
        }
    }
}

/// What a service does with each consumed message.
pub trait Handler: Send + Sync + 'static {
    /// Handles one message. Must be idempotent: a message may arrive more than once.
    fn handle(
        &self,
        message: &InboundMessage,
    ) -> impl Future<Output = Result<Outcome, HandlerError>> + Send;
}

/// When the consumer loop last showed it was alive: a liveness probe reads it, since a
/// consumer can stop delivering without an error.
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicI64>);

/// What a [`Heartbeat`] says about its loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulse {
    /// The loop has not started.
    NotStarted,
    /// The loop beat this long ago.
    Beating(Duration),
    /// The client hit a fatal error: the loop has stopped for good.
    Failed,
}

/// The stored value of a heartbeat whose loop failed.
const FAILED: i64 = i64::MIN;

impl Heartbeat {
    fn beat(&self) {
        self.0.store(now_millis(), Ordering::Relaxed);
    }

    fn fail(&self) {
        self.0.store(FAILED, Ordering::Relaxed);
    }

    pub fn pulse(&self) -> Pulse {
        match self.0.load(Ordering::Relaxed) {
            FAILED => Pulse::Failed,
            last if last > 0 => {
                let age = now_millis().saturating_sub(last);
                Pulse::Beating(Duration::from_millis(u64::try_from(age).unwrap_or(0)))
            }
            _ => Pulse::NotStarted,
        }
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Commits stored offsets before partitions are taken away, so that the next owner does not
/// redo what this one finished; turns the client's statistics into the consumer lag gauge, for
/// the partitions this instance is assigned only (the client goes on reporting the last values
/// of those it gave up); notes what the broker refuses in the service's [`KafkaAccess`], and
/// that the refusal ended once partitions are assigned.
struct ConsumerObserver {
    assigned: Mutex<HashSet<(String, i32)>>,
    access: KafkaAccess,
    group: String,
    topics: Vec<String>,
}

impl ConsumerObserver {
    fn assigned(&self) -> std::sync::MutexGuard<'_, HashSet<(String, i32)>> {
        self.assigned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ClientContext for ConsumerObserver {
    fn error(&self, error: KafkaError, reason: &str) {
        if !self
            .access
            .consumer_error(&error, &self.group, &self.topics)
        {
            tracing::error!(%error, reason, "Kafka consumer error");
        }
    }

    fn stats(&self, statistics: Statistics) {
        let assigned = self.assigned();
        for (name, topic) in &statistics.topics {
            for (partition, stats) in &topic.partitions {
                // -1 lag is unknown.
                if stats.consumer_lag >= 0 && assigned.contains(&(name.clone(), *partition)) {
                    metrics::set_consumer_lag(name, *partition, stats.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for ConsumerObserver {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            metrics::record_rebalance("revoked");
            // "No offset" just means nothing was stored since the last commit.
            if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
                tracing::debug!(%error, "commit on revoke");
            }
            let mut assigned = self.assigned();
            for element in partitions.elements() {
                assigned.remove(&(element.topic().to_owned(), element.partition()));
                metrics::forget_consumer_lag(element.topic(), element.partition());
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            metrics::record_rebalance("assigned");
            self.access.reading();
            let mut assigned = self.assigned();
            for element in partitions.elements() {
                assigned.insert((element.topic().to_owned(), element.partition()));
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
    /// This instance's static membership name, if it has one.
    pub instance_id: Option<String>,
    /// Deadline for handling one message; past it the attempt is abandoned and retried.
    pub handler_timeout: Duration,
    /// The client's `max.poll.interval.ms` (5 minutes when `None`): a member that does not
    /// poll for this long leaves its group. The loop keeps polling while a batch retries, so
    /// only a stuck process reaches it.
    pub max_poll_interval: Option<Duration>,
    /// What the client fetches ahead of the handler at most, in KiB (see
    /// [`crate::settings::ConsumerSettings::prefetch_kbytes`]).
    pub prefetch_kbytes: u32,
}

/// A consumer of a service: its Kafka client and subscription, the handler of what it reads,
/// the producer of its dead letters, the heartbeat a liveness probe reads, and the token that
/// stops it.
pub struct Consumer<H> {
    client: Arc<StreamConsumer<ConsumerObserver>>,
    subscription: Subscription,
    handler: H,
    /// Publishes dead letters.
    producer: Producer,
    heartbeat: Heartbeat,
    stop: CancellationToken,
}

/// What one turn of the loop received.
enum Received {
    /// Up to [`MAX_BATCH`] messages, in the order they arrived.
    Batch(Vec<InboundMessage>),
    /// Nothing within a heartbeat interval.
    Nothing,
    /// The stop token was cancelled.
    Stopped,
    /// The client hit a fatal error (fenced by another member with this instance id, say): it
    /// is no longer usable.
    Fatal(String),
}

impl<H: Handler> Consumer<H> {
    /// Creates the client; nothing is read until [`Consumer::run`].
    pub fn new(
        settings: &KafkaSettings,
        subscription: Subscription,
        producer: Producer,
        handler: H,
    ) -> anyhow::Result<Self> {
        let mut config = kafka::client_config(settings);
        if let Some(instance) = &subscription.instance_id {
            config.set("group.instance.id", instance);
        }
        if let Some(interval) = subscription.max_poll_interval {
            config.set("max.poll.interval.ms", interval.as_millis().to_string());
        }
        // One fetch may bring a whole response beyond the queue's limit: it asks for no more
        // than the limit, and librdkafka wants at least `message.max.bytes` (1 MB) per fetch.
        let prefetch_bytes = u64::from(subscription.prefetch_kbytes) * 1024;
        let client = config
            .set(
                "queued.max.messages.kbytes",
                subscription.prefetch_kbytes.to_string(),
            )
            .set(
                "fetch.max.bytes",
                prefetch_bytes.max(MIN_FETCH_BYTES).to_string(),
            )
            .set("group.id", &subscription.group_id)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
            .set("session.timeout.ms", SESSION_TIMEOUT_MS)
            .create_with_context(ConsumerObserver {
                assigned: Mutex::default(),
                access: producer.access().clone(),
                group: subscription.group_id.clone(),
                topics: subscription.topics.clone(),
            })
            .context("creating the Kafka consumer")?;
        Ok(Consumer {
            client: Arc::new(client),
            subscription,
            handler,
            producer,
            heartbeat: Heartbeat::default(),
            stop: CancellationToken::new(),
        })
    }

    /// When the loop last showed it was alive.
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// Cancelling this token stops the loop: it finishes the messages in hand or, if one is
    /// waiting for a retry, leaves it and the rest unstored, then commits and returns.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Consumes until stopped, handing every message to the handler.
    pub async fn run(self) -> anyhow::Result<()> {
        let topics: Vec<&str> = self
            .subscription
            .topics
            .iter()
            .map(String::as_str)
            .collect();
        self.client
            .subscribe(&topics)
            .context("subscribing to topics")?;
        metrics::start_rebalance_counts();
        tracing::info!(group = %self.subscription.group_id, ?topics, "consumer started");
        for topic in &topics {
            metrics::start_dead_letter_count(topic);
        }
        let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
        // Records received while the previous batch was handled: the next batch starts with them.
        let mut carried = Vec::new();
        loop {
            self.heartbeat.beat();
            let received = if carried.is_empty() {
                self.receive(&mut ticker).await
            } else {
                Received::Batch(std::mem::take(&mut carried))
            };
            let batch = match received {
                Received::Batch(batch) => batch,
                Received::Nothing => continue,
                Received::Stopped => break,
                Received::Fatal(reason) => return Err(self.failed(&reason)),
            };
            let lanes = lanes(batch);
            let finished = match self.handle_while_polling(&lanes, &mut carried).await {
                Ok(finished) => finished,
                Err(reason) => return Err(self.failed(&reason)),
            };
            self.store_offsets(&lanes, &finished);
            if lanes
                .iter()
                .zip(&finished)
                .any(|(lane, done)| *done < lane.len())
            {
                // Stopped before every message was handled: the rest stay unstored.
                break;
            }
        }
        self.commit().await?;
        tracing::info!(group = %self.subscription.group_id, "consumer stopped");
        Ok(())
    }

    /// Waits for a message, then takes whatever else has already arrived, without waiting
    /// for more.
    async fn receive(&self, ticker: &mut tokio::time::Interval) -> Received {
        let first = tokio::select! {
            () = self.stop.cancelled() => return Received::Stopped,
            _ = ticker.tick() => return self.fatal_error().map_or(Received::Nothing, Received::Fatal),
            received = self.client.recv() => received,
        };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(received) = next {
            match received {
                Ok(message) => batch.push(InboundMessage::from_borrowed(&message)),
                Err(error) => {
                    if let Some(reason) = self.triage(&error) {
                        return Received::Fatal(reason);
                    }
                }
            }
            next = if batch.len() < MAX_BATCH {
                self.client.recv().now_or_never()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            self.producer.access().reading();
        }
        Received::Batch(batch)
    }

    /// Handles the lanes; when that takes longer than [`PAUSE_AFTER`] (a lane retrying while the
    /// database is away), pauses the assigned partitions and keeps polling until it is done, so
    /// that the member stays in its group past `max.poll.interval.ms` and takes part in
    /// rebalances. Pausing drops what the client prefetched for those partitions, and resuming
    /// fetches from the next offset not yet received, so nothing is skipped or repeated; a record
    /// that arrives meanwhile (from a partition assigned during the batch) is kept in `carried`
    /// for the next batch. A fatal error ends the batch unstored.
    async fn handle_while_polling(
        &self,
        lanes: &[Vec<InboundMessage>],
        carried: &mut Vec<InboundMessage>,
    ) -> Result<Vec<usize>, String> {
        let handling = self.handle_lanes(lanes);
        tokio::pin!(handling);
        let pause_after = tokio::time::sleep(PAUSE_AFTER);
        tokio::pin!(pause_after);
        let mut paused: Option<TopicPartitionList> = None;
        let outcome = loop {
            tokio::select! {
                finished = &mut handling => break Ok(finished),
                () = &mut pause_after, if paused.is_none() => {
                    paused = Some(self.pause_assignment());
                }
                received = self.client.recv(), if paused.is_some() => match received {
                    Ok(message) => carried.push(InboundMessage::from_borrowed(&message)),
                    Err(error) => {
                        if let Some(reason) = self.triage(&error) {
                            break Err(reason);
                        }
                    }
                },
            }
        };
        if let Some(partitions) = paused
            && let Err(error) = self.client.resume(&partitions)
        {
            // A partition revoked meanwhile cannot be resumed; its next owner reads it.
            tracing::debug!(%error, "resuming partitions");
        }
        outcome
    }

    /// Pauses every partition assigned to this member; the ones it paused.
    fn pause_assignment(&self) -> TopicPartitionList {
        let assignment = match self.client.assignment() {
            Ok(assignment) => assignment,
            Err(error) => {
                tracing::warn!(%error, "reading the assignment to pause it");
                return TopicPartitionList::new();
            }
        };
        match self.client.pause(&assignment) {
            Ok(()) => {
                tracing::info!(
                    partitions = assignment.count(),
                    "a batch is waiting: partitions paused, polling goes on"
                );
                assignment
            }
            Err(error) => {
                tracing::warn!(%error, "pausing the assignment");
                TopicPartitionList::new()
            }
        }
    }

    /// What a consumer error means: the reason, when it is fatal; a refused group or topic is
    /// noted in the service's access (readiness gives the reason, the log says it once) while
    /// the client goes on asking; anything else is logged.
    fn triage(&self, error: &KafkaError) -> Option<String> {
        if let Some(reason) = self.fatal_error() {
            return Some(reason);
        }
        if let KafkaError::MessageConsumptionFatal(code) = error {
            return Some(code.to_string());
        }
        let subscription = &self.subscription;
        let noted = self.producer.access().consumer_error(
            error,
            &subscription.group_id,
            &subscription.topics,
        );
        if !noted {
            tracing::warn!(%error, "consumer error");
        }
        None
    }

    /// Marks the loop failed for good: liveness goes DOWN at once, and the service stops and
    /// exits non-zero, so that the orchestrator starts a fresh instance; what was not committed
    /// is redelivered to the group.
    fn failed(&self, reason: &str) -> anyhow::Error {
        self.heartbeat.fail();
        tracing::error!(group = %self.subscription.group_id, %reason, "consumer failed");
        anyhow::anyhow!("the Kafka consumer failed for good: {reason}")
    }

    /// Handles the lanes concurrently, each in order up to its first message left unhandled
    /// (stopped while retrying); returns how many of each lane were handled.
    async fn handle_lanes(&self, lanes: &[Vec<InboundMessage>]) -> Vec<usize> {
        join_all(lanes.iter().map(|lane| async move {
            let mut done = 0;
            for message in lane {
                if self.handle(message).await.is_none() {
                    break;
                }
                done += 1;
            }
            done
        }))
        .await
    }

    /// Stores, for each partition, the offset up to which the batch was handled; the client
    /// commits it.
    fn store_offsets(&self, lanes: &[Vec<InboundMessage>], finished: &[usize]) {
        for ((topic, partition), offset) in handled_offsets(lanes, finished) {
            // Fails for a partition taken away meanwhile: its next owner handles the message
            // again, which handlers are made for.
            if let Err(error) = self.client.store_offset(&topic, partition, offset) {
                tracing::warn!(%topic, partition, offset, %error, "offset not stored");
            }
        }
    }

    /// The fatal error the client raised, if it did: the client is then no longer usable.
    fn fatal_error(&self) -> Option<String> {
        self.client
            .client()
            .fatal_error()
            .map(|(code, reason)| format!("{code}: {reason}"))
    }

    /// Commits what was stored, at the end.
    async fn commit(&self) -> anyhow::Result<()> {
        let client = Arc::clone(&self.client);
        let committed =
            tokio::task::spawn_blocking(move || client.commit_consumer_state(CommitMode::Sync))
                .await
                .context("committing offsets at shutdown")?;
        if let Err(error) = committed {
            tracing::debug!(%error, "final commit");
        }
        Ok(())
    }

    /// Handles one message within its trace; `None` if stopped first.
    async fn handle(&self, message: &InboundMessage) -> Option<()> {
        let span = trace::record_span(
            RecordWork::Process,
            &message.topic,
            &ReadHeaderPairs(&message.headers),
        );
        span.set_attribute(
            "messaging.destination.partition.id",
            message.partition.to_string(),
        );
        span.set_attribute("messaging.kafka.offset", message.offset);
        self.process(message).instrument(span).await
    }

    /// Handles one message until it is applied or dead-lettered; `None` if stopped first.
    async fn process(&self, message: &InboundMessage) -> Option<()> {
        let mut delays = crate::retry::delays();
        loop {
            // A loop retrying a transient failure is alive, just waiting.
            self.heartbeat.beat();
            let started = Instant::now();
            let failure = match self.attempt(message).await {
                Ok(outcome) => {
                    metrics::record_consumed(&message.topic, outcome.label(), started.elapsed());
                    tracing::info!(
                        topic = %message.topic,
                        partition = message.partition,
                        offset = message.offset,
                        outcome = outcome.label(),
                        "event handled"
                    );
                    return Some(());
                }
                Err(HandlerError::Rejected(reason)) => {
                    match self.dead_letter(message, &reason).await {
                        Ok(()) => {
                            metrics::record_consumed(
                                &message.topic,
                                DEAD_LETTERED,
                                started.elapsed(),
                            );
                            return Some(());
                        }
                        Err(error) => error,
                    }
                }
                Err(HandlerError::Failed(error)) => error,
            };
            let delay = delays.next().unwrap_or(crate::retry::LONGEST_DELAY);
            tracing::warn!(
                topic = %message.topic,
                offset = message.offset,
                error = format!("{failure:#}"),
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "event not handled yet; retrying"
            );
            tokio::select! {
                () = self.stop.cancelled() => return None,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// One attempt of the handler, within the handler's deadline; a value larger than any
    /// event the services publish is not one of ours (or an attempt to exhaust memory) and is
    /// rejected unread.
    async fn attempt(&self, message: &InboundMessage) -> Result<Outcome, HandlerError> {
        let size = message.payload.as_ref().map_or(0, Vec::len);
        if size > MAX_EVENT_BYTES {
            return Err(HandlerError::Rejected(format!(
                "the value is {size} bytes; events are at most {MAX_EVENT_BYTES}"
            )));
        }
        let limit = self.subscription.handler_timeout;
        tokio::time::timeout(limit, self.handler.handle(message))
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::Failed(anyhow::anyhow!(
                    "not handled within {limit:?}"
                )))
            })
    }

    /// Sends a message that can never be processed to its dead-letter topic, with the reason
    /// and where it came from in headers.
    async fn dead_letter(&self, message: &InboundMessage, reason: &str) -> anyhow::Result<()> {
        let target = (self.subscription.dead_letter_topic)(&message.topic);
        tracing::warn!(
            topic = %message.topic,
            partition = message.partition,
            offset = message.offset,
            dead_letter_topic = %target,
            %reason,
            "event dead-lettered"
        );
        let mut headers = message.headers.clone();
        headers.extend(spring_dead_letter_headers(
            message,
            &self.subscription.group_id,
            reason,
        ));
        kafka::publish(
            &self.producer,
            &Record {
                topic: &target,
                key: message.key.as_deref(),
                payload: message.payload.as_deref(),
                headers: &headers,
            },
        )
        .await?;
        metrics::record_dead_lettered(&message.topic);
        Ok(())
    }
}

/// The headers a dead letter gets besides the record's own, as Spring writes them.
fn spring_dead_letter_headers(
    message: &InboundMessage,
    group: &str,
    reason: &str,
) -> Vec<(String, Vec<u8>)> {
    let text = |name: &str, value: &str| (name.to_owned(), value.as_bytes().to_vec());
    let mut headers = vec![
        text(dead_letter_headers::ORIGINAL_TOPIC, &message.topic),
        (
            dead_letter_headers::ORIGINAL_PARTITION.to_owned(),
            message.partition.to_be_bytes().to_vec(),
        ),
        (
            dead_letter_headers::ORIGINAL_OFFSET.to_owned(),
            message.offset.to_be_bytes().to_vec(),
        ),
    ];
    let timestamp = match message.timestamp {
        Timestamp::CreateTime(millis) => Some((millis, "CreateTime")),
        Timestamp::LogAppendTime(millis) => Some((millis, "LogAppendTime")),
        Timestamp::NotAvailable => None,
    };
    if let Some((millis, kind)) = timestamp.filter(|(millis, _)| *millis >= 0) {
        headers.push((
            dead_letter_headers::ORIGINAL_TIMESTAMP.to_owned(),
            millis.to_be_bytes().to_vec(),
        ));
        headers.push(text(dead_letter_headers::ORIGINAL_TIMESTAMP_TYPE, kind));
    }
    headers.extend([
        text(dead_letter_headers::ORIGINAL_CONSUMER_GROUP, group),
        text(dead_letter_headers::EXCEPTION_FQCN, REJECTION),
        text(dead_letter_headers::REASON, reason),
    ]);
    headers
}

/// Splits a batch into lanes that may be handled concurrently: the messages of one key (in
/// one partition) stay in one lane, in the order they arrived, so per-key order is kept.
/// Messages without a key keep the order of their partition.
fn lanes(batch: Vec<InboundMessage>) -> Vec<Vec<InboundMessage>> {
    let mut lanes: Vec<Vec<InboundMessage>> = Vec::new();
    let mut index: HashMap<(String, i32, Option<Vec<u8>>), usize> = HashMap::new();
    for message in batch {
        let lane = (
            message.topic.clone(),
            message.partition,
            message.key.clone(),
        );
        let position = *index.entry(lane).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[position].push(message);
    }
    lanes
}

/// For each partition, the last offset up to which every message of the batch was handled,
/// given how many messages of each lane were (a lane stops at its first unhandled message).
fn handled_offsets(
    lanes: &[Vec<InboundMessage>],
    finished: &[usize],
) -> BTreeMap<(String, i32), i64> {
    let mut outcomes: BTreeMap<(String, i32), BTreeMap<i64, bool>> = BTreeMap::new();
    for (lane, done) in lanes.iter().zip(finished) {
        for (position, message) in lane.iter().enumerate() {
            outcomes
                .entry((message.topic.clone(), message.partition))
                .or_default()
                .insert(message.offset, position < *done);
        }
    }
    outcomes
        .into_iter()
        .filter_map(|(partition, offsets)| {
            let last = offsets
                .into_iter()
                .take_while(|(_, handled)| *handled)
                .last()?;
            Some((partition, last.0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(partition: i32, offset: i64, key: Option<&str>) -> InboundMessage {
        InboundMessage {
            topic: "t".into(),
            partition,
            offset,
            key: key.map(|key| key.as_bytes().to_vec()),
            payload: Some(b"{}".to_vec()),
            headers: Vec::new(),
            timestamp: Timestamp::CreateTime(1_700_000_000_000),
        }
    }

    fn offsets(lane: &[InboundMessage]) -> Vec<(i32, i64)> {
        lane.iter()
            .map(|message| (message.partition, message.offset))
            .collect()
    }

    #[test]
    fn a_write_refused_for_its_size_is_rejected_and_other_failures_retried() {
        let too_large = anyhow::Error::new(TooLarge::Document {
            collection: "customer.orders".into(),
            bytes: 2048,
            limit: 1024,
        })
        .context("applying a customer change");
        assert!(matches!(
            HandlerError::from(too_large),
            HandlerError::Rejected(reason) if reason.contains("over its limit of 1024")
        ));
        assert!(matches!(
            HandlerError::from(anyhow::anyhow!("the database is away")),
            HandlerError::Failed(_)
        ));
    }

    #[test]
    fn lanes_keep_each_key_in_arrival_order() {
        let batch = vec![
            message(0, 10, Some("a")),
            message(0, 11, Some("b")),
            message(1, 5, Some("c")),
            message(0, 12, Some("a")),
            message(0, 13, None),
            message(0, 14, None),
        ];
        let lanes = lanes(batch);
        let lanes: Vec<Vec<(i32, i64)>> = lanes.iter().map(|lane| offsets(lane)).collect();
        assert_eq!(
            lanes,
            [
                vec![(0, 10), (0, 12)],
                vec![(0, 11)],
                vec![(1, 5)],
                vec![(0, 13), (0, 14)],
            ]
        );
    }

    #[test]
    fn offsets_are_stored_only_up_to_the_first_unhandled_message_of_a_partition() {
        let lanes = lanes(vec![
            message(0, 10, Some("a")),
            message(0, 11, Some("b")),
            message(0, 12, Some("a")),
            message(1, 5, Some("c")),
            message(2, 7, Some("d")),
        ]);
        // Key a stopped after its first message; b, c were handled; d was not started.
        let handled = handled_offsets(&lanes, &[1, 1, 1, 0]);
        let expected: BTreeMap<(String, i32), i64> =
            [(("t".to_owned(), 0), 11), (("t".to_owned(), 1), 5)].into();
        assert_eq!(handled, expected);
    }

    #[test]
    fn dead_letter_headers_are_encoded_as_spring_writes_them() {
        let mut poison = message(2, 300, Some("k"));
        poison.topic = "accounts.customer.change".into();
        let headers: BTreeMap<String, Vec<u8>> =
            spring_dead_letter_headers(&poison, "orders", "not a valid CustomerChangeEvent")
                .into_iter()
                .collect();
        let header = |name: &str| headers[name].as_slice();
        assert_eq!(
            header(dead_letter_headers::ORIGINAL_TOPIC),
            b"accounts.customer.change"
        );
        assert_eq!(
            header(dead_letter_headers::ORIGINAL_PARTITION),
            [0, 0, 0, 2]
        );
        assert_eq!(
            header(dead_letter_headers::ORIGINAL_OFFSET),
            [0, 0, 0, 0, 0, 0, 1, 44]
        );
        assert_eq!(
            header(dead_letter_headers::ORIGINAL_TIMESTAMP),
            1_700_000_000_000_i64.to_be_bytes()
        );
        assert_eq!(
            header(dead_letter_headers::ORIGINAL_TIMESTAMP_TYPE),
            b"CreateTime"
        );
        assert_eq!(
            header(dead_letter_headers::ORIGINAL_CONSUMER_GROUP),
            b"orders"
        );
        assert_eq!(
            header(dead_letter_headers::REASON),
            b"not a valid CustomerChangeEvent"
        );
        assert!(!header(dead_letter_headers::EXCEPTION_FQCN).is_empty());
    }

    #[test]
    fn a_fully_handled_batch_stores_the_last_offset_of_each_partition() {
        let lanes = lanes(vec![
            message(0, 10, Some("a")),
            message(0, 11, Some("b")),
            message(0, 12, Some("a")),
        ]);
        let handled = handled_offsets(&lanes, &[2, 1]);
        assert_eq!(handled.get(&("t".to_owned(), 0)), Some(&12));
    }
}
