//! Topics as any client sees them: creating them, publishing raw records, reading them back
//! and the offsets a group committed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use platform::settings::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::names::unique_name;
use crate::waiting::{EVENT_DEADLINE, POLL_INTERVAL, eventually};

/// Creates each topic and its dead-letter topic (`<topic>.DLT`), 3 partitions each.
pub async fn create_topics_with_dead_letters(kafka: &KafkaSettings, topics: &[&str]) {
    create_topics_compacting(kafka, topics, &[]).await;
}

/// [`create_topics_with_dead_letters`], with those of `topics` also in `compacted` created with
/// `cleanup.policy=compact`.
pub async fn create_topics_compacting(kafka: &KafkaSettings, topics: &[&str], compacted: &[&str]) {
    let mut names: Vec<String> = Vec::new();
    for topic in topics {
        names.push((*topic).to_owned());
        names.push(format!("{topic}.DLT"));
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    platform::kafka::create_topics(kafka, &names, 3, compacted)
        .await
        .expect("creating test topics");
}

/// Publishes one record as any producer could, e.g. upstream's Java services (no key, no
/// headers) or a broken one (a value that is not an event).
pub async fn publish_raw(
    kafka: &KafkaSettings,
    topic: &str,
    key: Option<&str>,
    payload: Option<&[u8]>,
    headers: &[(&str, &str)],
) {
    let producer = platform::kafka::producer(kafka).expect("creating a test producer");
    let headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect();
    platform::kafka::publish(
        &producer,
        &platform::kafka::Record {
            topic,
            key: key.map(str::as_bytes),
            payload,
            headers: &headers,
        },
    )
    .await
    .expect("publishing a test record");
}

/// The value of `name` in a topic's configuration, as the broker reports it once it describes
/// the topic (a topic just created takes a moment).
pub async fn topic_config(kafka: &KafkaSettings, topic: &str, name: &str) -> Option<String> {
    eventually(
        &format!("the broker to describe {topic}"),
        EVENT_DEADLINE,
        || async { platform::kafka::topic_config(kafka, topic, name).await.ok() },
    )
    .await
}

/// A consumer of the group `group` that commits nothing, and the partitions of `topic`.
fn test_consumer(kafka: &KafkaSettings, group: &str, topic: &str) -> (BaseConsumer, Vec<i32>) {
    let consumer: BaseConsumer = platform::kafka::client_config(kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a test consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("reading topic metadata");
    let partitions = metadata
        .topics()
        .iter()
        .flat_map(|topic| topic.partitions())
        .map(|partition| partition.id())
        .collect();
    (consumer, partitions)
}

/// How many records of `topic` the consumer group `group` has committed, over all partitions.
pub fn committed_count(kafka: &KafkaSettings, group: &str, topic: &str) -> i64 {
    try_committed_count(kafka, group, topic).expect("reading committed offsets")
}

/// [`committed_count`], with the client's error when the broker cannot tell yet (a group
/// coordinator still being chosen on a fresh broker, say).
pub fn try_committed_count(
    kafka: &KafkaSettings,
    group: &str,
    topic: &str,
) -> Result<i64, KafkaError> {
    let (consumer, ids) = test_consumer(kafka, group, topic);
    let mut partitions = TopicPartitionList::new();
    for partition in ids {
        partitions.add_partition(topic, partition);
    }
    let committed = consumer.committed_offsets(partitions, Duration::from_secs(10))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        })
        .sum())
}

/// How many records of `topic` the group `group` has yet to commit: over all partitions, the
/// end offset (the high watermark) less the group's committed offset, or less the partition's
/// start where the group committed nothing. With the client's error when the broker cannot
/// tell (one being restarted, say).
pub fn try_group_lag(kafka: &KafkaSettings, group: &str, topic: &str) -> Result<i64, KafkaError> {
    let (consumer, ids) = test_consumer(kafka, group, topic);
    let mut partitions = TopicPartitionList::new();
    for partition in ids {
        partitions.add_partition(topic, partition);
    }
    let committed = consumer.committed_offsets(partitions, Duration::from_secs(10))?;
    let mut lag = 0;
    for element in committed.elements() {
        let (low, high) =
            consumer.fetch_watermarks(topic, element.partition(), Duration::from_secs(10))?;
        let done = match element.offset() {
            Offset::Offset(offset) => offset,
            _ => low,
        };
        lag += high - done;
    }
    Ok(lag)
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct ConsumedRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Option<Vec<u8>>,
    /// Each header's value as text (lossy where it is not UTF-8).
    pub headers: HashMap<String, String>,
    /// Each header's value as sent, for headers that are not text.
    pub header_bytes: HashMap<String, Vec<u8>>,
}

impl ConsumedRecord {
    /// The payload as text; panics on a tombstone.
    pub fn text(&self) -> &str {
        std::str::from_utf8(self.payload.as_deref().expect("a tombstone has no payload"))
            .expect("payload is UTF-8")
    }
}

/// Reads a topic from its beginning, outside any consumer group (no rebalance to wait for).
pub struct TopicReader {
    consumer: BaseConsumer,
    topic: String,
    partitions: Vec<i32>,
    records: Vec<ConsumedRecord>,
}

impl TopicReader {
    pub fn new(kafka: &KafkaSettings, topic: &str) -> Self {
        let (consumer, partitions) = test_consumer(kafka, &unique_name("reader"), topic);
        assert!(!partitions.is_empty(), "topic {topic} has no partitions");
        let mut assignment = TopicPartitionList::new();
        for partition in &partitions {
            assignment
                .add_partition_offset(topic, *partition, Offset::Beginning)
                .expect("assigning a partition");
        }
        consumer.assign(&assignment).expect("assigning partitions");
        TopicReader {
            consumer,
            topic: topic.to_owned(),
            partitions,
            records: Vec::new(),
        }
    }

    /// Reads every record the topic holds now (up to each partition's high watermark, as the
    /// services write no transactions), panicking after `deadline`.
    pub async fn read_all(&mut self, deadline: Duration) -> &[ConsumedRecord] {
        let mut held = 0;
        for partition in &self.partitions {
            let (low, high) = self
                .consumer
                .fetch_watermarks(&self.topic, *partition, Duration::from_secs(10))
                .expect("reading a partition's watermarks");
            held += usize::try_from(high - low).expect("watermarks in order");
        }
        self.read_at_least(held, deadline).await
    }

    /// Every record read so far.
    pub fn records(&self) -> &[ConsumedRecord] {
        &self.records
    }

    /// Reads until `count` records have arrived in all, panicking after `deadline`.
    pub async fn read_at_least(&mut self, count: usize, deadline: Duration) -> &[ConsumedRecord] {
        let started = Instant::now();
        while self.records.len() < count {
            assert!(
                started.elapsed() < deadline,
                "timed out after {deadline:?} with {} of {count} records",
                self.records.len()
            );
            if !self.poll(Duration::ZERO) {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        &self.records
    }

    /// Reads whatever arrives within `window`: used to show that nothing more arrives after
    /// the records a test waited for.
    pub async fn read_for(&mut self, window: Duration) -> &[ConsumedRecord] {
        let started = Instant::now();
        while started.elapsed() < window {
            if !self.poll(Duration::ZERO) {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        &self.records
    }

    /// Takes one record if one is there; false if there was none. A broker that is down (a
    /// test stopped it) is reported by the client and then worked around: not a failure.
    fn poll(&mut self, timeout: Duration) -> bool {
        let message = match self.consumer.poll(timeout) {
            None => return false,
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown,
            ))) => return false,
            Some(result) => result.expect("reading a test topic"),
        };
        let header_bytes: HashMap<String, Vec<u8>> = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        let value = header.value.unwrap_or_default().to_vec();
                        (header.key.to_owned(), value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let headers = header_bytes
            .iter()
            .map(|(name, value)| (name.clone(), String::from_utf8_lossy(value).into_owned()))
            .collect();
        self.records.push(ConsumedRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned()),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            header_bytes,
        });
        true
    }
}
