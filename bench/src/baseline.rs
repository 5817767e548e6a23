//! The limits of this machine: the raw clients the services use (rdkafka with the services' own
//! producer and consumer settings, the MongoDB driver with their pool settings) against the same
//! broker and database, with nothing of the services in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use mongodb::bson::{Document, doc, oid::ObjectId};
use platform::kafka::{Record, publish};
use platform::settings::{DatabaseSettings, KafkaSettings};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::latency::Summary;
use crate::workers::{Outcome, closed_loop, nth};

/// How long the first record may take to come back: a consumer joining a group on the local
/// broker takes a few seconds.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long one measured record may take to come back before the baseline fails.
const ROUND_TRIP_DEADLINE: Duration = Duration::from_secs(30);
/// Records produced at once in the bulk measurement: as many as one outbox relay pass takes.
const BULK_IN_FLIGHT: usize = 100;
/// Documents in the raw collection: enough that a lookup is not always the same one.
const DOCUMENTS: usize = 1000;

/// A record's headers, name and value.
pub(crate) type Headers = Vec<(String, Vec<u8>)>;
/// A record as produced: key, value and headers.
pub(crate) type KeyedRecord = (String, Vec<u8>, Headers);

/// The headers every storefront event carries, with values of realistic length.
pub(crate) fn event_headers() -> Headers {
    [
        ("eventId", "3f2a9c01-5d4e-4f6a-8b7c-9d0e1f2a3b4c"),
        ("eventType", "CustomerChangeEvent"),
        ("eventSource", "accounts"),
        ("eventTime", "2024-01-01T00:00:00.000Z"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("__TypeId__", "com.storefront.model.CustomerChangeEvent"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.as_bytes().to_vec()))
    .collect()
}

/// A consumer configured as the services' consumer loop configures theirs, but for
/// `fetch_wait`, which replaces librdkafka's default `fetch.wait.max.ms` (500) when given.
fn consumer(
    kafka: &KafkaSettings,
    group: &str,
    topic: &str,
    fetch_wait: Option<Duration>,
) -> anyhow::Result<StreamConsumer> {
    let mut config = platform::kafka::client_config(kafka);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    if let Some(wait) = fetch_wait {
        config.set("fetch.wait.max.ms", wait.as_millis().to_string());
    }
    let consumer: StreamConsumer = config.create().context("creating the baseline consumer")?;
    consumer
        .subscribe(&[topic])
        .context("subscribing the baseline consumer")?;
    Ok(consumer)
}

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<Instant>>>>;

/// Produce -> consume round trips, `concurrency` records in flight, each keyed by its number;
/// a record's latency runs from handing it to the producer until the consumer received it.
pub(crate) async fn kafka_round_trip(
    kafka: &KafkaSettings,
    (topic, group): (&str, &str),
    fetch_wait: Option<Duration>,
    payload: Vec<u8>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let consumer = consumer(kafka, group, topic, fetch_wait)?;
    let producer = platform::kafka::producer(kafka)?;
    let waiting: Waiting = Arc::default();
    let stop = CancellationToken::new();
    let receiving = tokio::spawn({
        let waiting = Arc::clone(&waiting);
        let stop = stop.clone();
        async move {
            while let Some(received) = stop.run_until_cancelled(consumer.recv()).await {
                let Ok(message) = received else { continue };
                let arrived = Instant::now();
                let number = message
                    .key()
                    .and_then(|key| std::str::from_utf8(key).ok())
                    .and_then(|key| key.parse::<u64>().ok());
                if let Some(sender) = number.and_then(|n| waiting.lock().ok()?.remove(&n)) {
                    let _ = sender.send(arrived);
                }
                let _ = consumer.store_offset_from_message(&message);
            }
        }
    });
    let round_trip = RoundTrip {
        producer,
        topic: topic.to_owned(),
        payload: Arc::new(payload),
        headers: Arc::new(event_headers()),
        waiting,
    };
    // The first record waits for the consumer to join its group; it is not measured.
    let warm_up = round_trip.send(u64::MAX, JOIN_DEADLINE).await;
    let outcome = match warm_up {
        Ok(()) => {
            let round_trip = Arc::new(round_trip);
            Ok(closed_loop(concurrency, duration, move |n| {
                let round_trip = Arc::clone(&round_trip);
                async move { round_trip.send(n, ROUND_TRIP_DEADLINE).await }
            })
            .await)
        }
        Err(error) => Err(error.context("waiting for the baseline consumer to join")),
    };
    stop.cancel();
    let _ = receiving.await;
    outcome
}

struct RoundTrip {
    producer: FutureProducer,
    topic: String,
    payload: Arc<Vec<u8>>,
    headers: Arc<Vec<(String, Vec<u8>)>>,
    waiting: Waiting,
}

impl RoundTrip {
    async fn send(&self, number: u64, deadline: Duration) -> anyhow::Result<()> {
        let (sender, arrived) = oneshot::channel();
        self.waiting
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(number, sender);
        let key = number.to_string();
        publish(
            &self.producer,
            &Record {
                topic: &self.topic,
                key: Some(key.as_bytes()),
                payload: Some(&self.payload),
                headers: &self.headers,
            },
        )
        .await?;
        tokio::time::timeout(deadline, arrived)
            .await
            .with_context(|| format!("record {number} did not come back within {deadline:?}"))?
            .context("the consumer stopped")?;
        Ok(())
    }
}

/// Bulk rates: `count` records produced as fast as the producer takes them, then consumed by a
/// new group from the start, timed from the first record received to the last.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BulkRates {
    pub(crate) produce_per_second: f64,
    pub(crate) consume_per_second: f64,
}

pub(crate) async fn kafka_bulk(
    kafka: &KafkaSettings,
    topic: &str,
    group: &str,
    payload: Vec<u8>,
    count: usize,
) -> anyhow::Result<BulkRates> {
    let producer = platform::kafka::producer(kafka)?;
    let headers = event_headers();
    let started = Instant::now();
    produce_all(&producer, topic, count, |n| {
        (n.to_string(), payload.clone(), headers.clone())
    })
    .await?;
    let produce_per_second = count as f64 / started.elapsed().as_secs_f64();

    let consumer = consumer(kafka, group, topic, None)?;
    let mut first = None;
    let mut last = None;
    let mut received = 0;
    while received < count {
        // The first record waits for the group join; later ones only for the broker.
        let wait = if first.is_none() {
            JOIN_DEADLINE
        } else {
            ROUND_TRIP_DEADLINE
        };
        let Ok(message) = tokio::time::timeout(wait, consumer.recv()).await else {
            anyhow::bail!("the bulk consumer stopped after {received} of {count} records");
        };
        let message = message.context("consuming the bulk records")?;
        let now = Instant::now();
        first.get_or_insert(now);
        last = Some(now);
        received += 1;
        consumer.store_offset_from_message(&message)?;
    }
    let consuming = match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    Ok(BulkRates {
        produce_per_second,
        consume_per_second: received.saturating_sub(1) as f64 / consuming.as_secs_f64().max(1e-9),
    })
}

/// Produces `count` records, the `n`th with the key, value and headers `record(n)` gives, as
/// fast as the producer takes them, [`BULK_IN_FLIGHT`] at a time.
pub(crate) async fn produce_all(
    producer: &FutureProducer,
    topic: &str,
    count: usize,
    record: impl Fn(usize) -> KeyedRecord,
) -> anyhow::Result<()> {
    let mut sends = futures_util::stream::iter(0..count)
        .map(|n| {
            let (key, payload, headers) = record(n);
            async move {
                publish(
                    producer,
                    &Record {
                        topic,
                        key: Some(key.as_bytes()),
                        payload: Some(&payload),
                        headers: &headers,
                    },
                )
                .await
            }
        })
        .buffer_unordered(BULK_IN_FLIGHT);
    while let Some(sent) = sends.next().await {
        sent?;
    }
    Ok(())
}

/// The raw MongoDB figures, at the services' pool settings.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct MongoRates {
    pub(crate) find_one: Summary,
    pub(crate) upsert: Summary,
}

/// `find_one` by `_id`, then `update_one` by `_id` with upsert, each on `concurrency` workers
/// for `duration`, over documents shaped like the stored customers.
pub(crate) async fn mongo(
    database: &DatabaseSettings,
    document: Document,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<MongoRates> {
    let database = platform::mongo::connect(database).await?;
    let collection = database.collection::<Document>("customers");
    let ids: Vec<ObjectId> = (0..DOCUMENTS).map(|_| ObjectId::new()).collect();
    let documents = ids.iter().map(|id| {
        let mut document = document.clone();
        document.insert("_id", *id);
        document
    });
    collection
        .insert_many(documents)
        .await
        .context("inserting the baseline documents")?;
    let ids = Arc::new(ids);

    let find = closed_loop(concurrency, duration, {
        let (collection, ids) = (collection.clone(), Arc::clone(&ids));
        move |n| {
            let (collection, ids) = (collection.clone(), Arc::clone(&ids));
            async move {
                let id = *nth(&ids, n);
                collection
                    .find_one(doc! { "_id": id })
                    .await?
                    .context("a baseline document is missing")?;
                Ok(())
            }
        }
    })
    .await;
    let upsert = closed_loop(concurrency, duration, {
        let (collection, ids) = (collection.clone(), Arc::clone(&ids));
        move |n| {
            let (collection, ids) = (collection.clone(), Arc::clone(&ids));
            async move {
                let id = *nth(&ids, n);
                collection
                    .update_one(
                        doc! { "_id": id },
                        doc! { "$set": { "name.firstName": format!("Changed{n}") } },
                    )
                    .upsert(true)
                    .await?;
                Ok(())
            }
        }
    })
    .await;
    if let Err(error) = database.drop().await {
        eprintln!("dropping the baseline database: {error}");
    }
    for (name, outcome) in [("find_one", &find), ("upsert", &upsert)] {
        anyhow::ensure!(
            outcome.failures == 0,
            "raw {name} failed {} times: {}",
            outcome.failures,
            outcome.first_error.as_deref().unwrap_or("")
        );
    }
    Ok(MongoRates {
        find_one: find.summary,
        upsert: upsert.summary,
    })
}
