//! The limits of this machine: the raw clients the services use (rdkafka with the services' own
//! producer and consumer settings, the MongoDB driver with their pool settings) against the same
//! broker and database, with nothing of the services in between.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use mongodb::Collection;
use mongodb::bson::{Document, doc, oid::ObjectId};
use platform::kafka::Producer;
use platform::kafka::{Record, publish};
use platform::settings::{DatabaseSettings, KafkaSettings};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::footprint;
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
    producer: Producer,
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
    producer: &Producer,
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
    /// CPU of this process per `find_one`, in microseconds: the client's side of a read (the
    /// driver and the loop), which a service's GET by id does too.
    pub(crate) find_one_cpu_us: f64,
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

    let before = footprint::cpu(&[std::process::id()])?;
    let find = find_by_id(&collection, Arc::clone(&ids), concurrency, duration).await;
    let find_cpu = footprint::cpu(&[std::process::id()])?.since(before);
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
        find_one_cpu_us: find_cpu.total() * 1e6 / (find.summary.count as f64).max(1.0),
        find_one: find.summary,
        upsert: upsert.summary,
    })
}

/// `find_one` by `_id` on `concurrency` workers for `duration`, going round `ids`; a document
/// that is not there counts as a failure.
pub(crate) async fn find_by_id(
    collection: &Collection<Document>,
    ids: Arc<Vec<ObjectId>>,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let collection = collection.clone();
    closed_loop(concurrency, duration, move |n| {
        let (collection, ids) = (collection.clone(), Arc::clone(&ids));
        async move {
            let id = *nth(&ids, n);
            collection
                .find_one(doc! { "_id": id })
                .await?
                .context("a document read by id is missing")?;
            Ok(())
        }
    })
    .await
}

/// `update_one` on `concurrency` workers for `duration`, going round `ids`: the filter is the
/// document's `_id` and the fields of `condition` (which every document meets), the update sets
/// a name. A document the filter missed counts as a failure.
pub(crate) async fn update_by_id(
    collection: &Collection<Document>,
    ids: Arc<Vec<ObjectId>>,
    condition: Document,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let collection = collection.clone();
    closed_loop(concurrency, duration, move |n| {
        let (collection, ids) = (collection.clone(), Arc::clone(&ids));
        let mut filter = doc! { "_id": *nth(&ids, n) };
        filter.extend(condition.clone());
        async move {
            let update = doc! { "$set": { "name.firstName": format!("Raw{n}") } };
            let result = collection.update_one(filter, update).await?;
            anyhow::ensure!(result.matched_count == 1, "an updated document is missing");
            Ok(())
        }
    })
    .await
}

/// The raw change pipeline: how fast accounts' side ran, and the rate orders applied changes
/// at, from the start until the last was applied (as the services' change phase is measured).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PipelineRates {
    pub(crate) changes: Summary,
    pub(crate) applied_per_second: f64,
}

/// The real limit of this design for customer changes: exactly the database and broker work one
/// applied change needs, with the services' clients and settings and nothing else, in the same
/// three stages: `concurrency` workers do accounts' read and conditional write that pushes the
/// event onto the document's outbox; a relay publishes each event ([`BULK_IN_FLIGHT`] at a time)
/// and pulls it; orders' side consumes the record, reads the copy and writes it, and stores the
/// offset, each record on a task of its own (at least as parallel as the services' lanes).
pub(crate) async fn pipeline(
    kafka: &KafkaSettings,
    database: &DatabaseSettings,
    (topic, group): (&str, &str),
    document: Document,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<PipelineRates> {
    let database = platform::mongo::connect(database).await?;
    let accounts = database.collection::<Document>("accounts");
    let orders = database.collection::<Document>("orders");
    let ids: Vec<ObjectId> = (0..DOCUMENTS).map(|_| ObjectId::new()).collect();
    accounts
        .insert_many(ids.iter().map(|id| {
            let mut document = document.clone();
            document.insert("_id", *id);
            document.insert("version", 0_i64);
            document
        }))
        .await
        .context("inserting the pipeline's documents")?;

    let applied = Arc::new(Applied::default());
    let consumer = Arc::new(consumer(kafka, group, topic, None)?);
    let stop = CancellationToken::new();
    let applying = tokio::spawn(apply_all(
        Arc::clone(&consumer),
        orders,
        Arc::clone(&applied),
        stop.clone(),
    ));
    let producer = platform::kafka::producer(kafka)?;
    // The first change waits for the consumer to join its group; it is not measured.
    let (events, relayed) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let relay = tokio::spawn(relay_all(
        producer,
        accounts.clone(),
        topic.to_owned(),
        relayed,
    ));
    let change = Arc::new(Change {
        accounts,
        ids,
        events,
        written: AtomicU64::new(0),
    });
    let warm_up = async {
        change.write(u64::MAX).await?;
        let deadline = Instant::now() + JOIN_DEADLINE;
        while applied.count() == 0 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the pipeline's consumer did not join"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    };
    let measured = match warm_up.await {
        Ok(()) => {
            let before = applied.count();
            let started = Instant::now();
            let outcome = closed_loop(concurrency, duration, {
                let change = Arc::clone(&change);
                move |n| {
                    let change = Arc::clone(&change);
                    async move { change.write(n).await }
                }
            })
            .await;
            let written = change.written.load(Ordering::Relaxed);
            let deadline = Instant::now() + JOIN_DEADLINE;
            while applied.count() < written {
                if Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let count = applied.count() - before;
            let last = applied.last().unwrap_or(started);
            anyhow::ensure!(
                applied.count() >= written,
                "orders' side applied {count} of {} changes",
                written - before
            );
            anyhow::ensure!(
                outcome.failures == 0,
                "raw changes failed: {}",
                outcome.first_error.unwrap_or_default()
            );
            Ok(PipelineRates {
                changes: outcome.summary,
                applied_per_second: count as f64 / (last - started).as_secs_f64().max(1e-9),
            })
        }
        Err(error) => Err(error),
    };
    drop(change);
    let _ = relay.await;
    stop.cancel();
    let _ = applying.await;
    if let Err(error) = database.drop().await {
        eprintln!("dropping the pipeline's database: {error}");
    }
    measured
}

/// An event accounts' side wrote: the document, the event's id, its key and its value.
type Event = (ObjectId, String, String, Vec<u8>);

/// Accounts' side of the raw changes.
struct Change {
    accounts: mongodb::Collection<Document>,
    ids: Vec<ObjectId>,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    /// Changes written (and handed to the relay).
    written: AtomicU64,
}

impl Change {
    /// Reads a customer and writes its change with the event, if the version still holds.
    async fn write(&self, number: u64) -> anyhow::Result<()> {
        let id = *nth(&self.ids, number);
        let stored = self
            .accounts
            .find_one(doc! { "_id": id })
            .projection(doc! { "outbox": 0 })
            .await?
            .context("a pipeline document is missing")?;
        let version = stored.get_i64("version")?;
        let first_name = format!("Changed{number}");
        // The event: the changed customer as JSON, its id as text, as accounts publishes it.
        let mut changed = stored;
        changed.insert("_id", id.to_hex());
        changed.insert("name", doc! { "firstName": &first_name });
        changed.insert("version", version + 1);
        let payload = serde_json::to_vec(&changed)?;
        let event_id = ObjectId::new().to_hex();
        let entry =
            doc! { "_id": &event_id, "payload": String::from_utf8_lossy(&payload).as_ref() };
        let written = self
            .accounts
            .update_one(
                doc! { "_id": id, "version": version },
                doc! {
                    "$set": { "name.firstName": &first_name, "version": version + 1 },
                    "$push": { "outbox": entry },
                },
            )
            .await?;
        // Another worker changed the same document in between: its change is the one that counts.
        if written.modified_count == 1 {
            self.written.fetch_add(1, Ordering::Relaxed);
            self.events
                .send((id, event_id, id.to_hex(), payload))
                .map_err(|_| anyhow::anyhow!("the relay stopped"))?;
        }
        Ok(())
    }
}

/// The relay's side: publishes each event and pulls it from its document's outbox.
async fn relay_all(
    producer: Producer,
    accounts: mongodb::Collection<Document>,
    topic: String,
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    let headers = event_headers();
    tokio_stream_of(events)
        .map(|(id, event_id, key, payload)| {
            let (producer, accounts, topic, headers) = (&producer, &accounts, &topic, &headers);
            async move {
                let published = publish(
                    producer,
                    &Record {
                        topic,
                        key: Some(key.as_bytes()),
                        payload: Some(&payload),
                        headers,
                    },
                )
                .await;
                let pulled = accounts
                    .update_one(
                        doc! { "_id": id },
                        doc! { "$pull": { "outbox": { "_id": &event_id } } },
                    )
                    .await;
                if let Err(error) = published
                    .map(|_| ())
                    .and(pulled.map(|_| ()).map_err(anyhow::Error::from))
                {
                    eprintln!("the raw relay failed: {error:#}");
                }
            }
        })
        .buffer_unordered(BULK_IN_FLIGHT)
        .for_each(|()| async {})
        .await;
}

/// An unbounded receiver as a stream.
fn tokio_stream_of<T>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
}

/// How many changes orders' side applied, and when the last was.
#[derive(Default)]
struct Applied {
    count: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl Applied {
    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn last(&self) -> Option<Instant> {
        self.last.lock().ok().and_then(|last| *last)
    }

    fn one(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Instant::now());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Orders' side: each record applied on a task of its own, its offset stored once applied.
async fn apply_all(
    consumer: Arc<StreamConsumer>,
    orders: mongodb::Collection<Document>,
    applied: Arc<Applied>,
    stop: CancellationToken,
) {
    while let Some(received) = stop.run_until_cancelled(consumer.recv()).await {
        let Ok(message) = received else { continue };
        let message = message.detach();
        let (consumer, orders, applied) =
            (Arc::clone(&consumer), orders.clone(), Arc::clone(&applied));
        tokio::spawn(async move {
            match apply_copy(&orders, &message).await {
                Ok(()) => applied.one(),
                Err(error) => eprintln!("the raw pipeline's orders write failed: {error:#}"),
            }
            let _ = consumer.store_offset(message.topic(), message.partition(), message.offset());
        });
    }
}

/// Orders' side of one raw change: read the copy, write it if the record is newer.
async fn apply_copy(
    orders: &mongodb::Collection<Document>,
    message: &rdkafka::message::OwnedMessage,
) -> anyhow::Result<()> {
    let event: serde_json::Value = serde_json::from_slice(message.payload().unwrap_or_default())?;
    let id = ObjectId::parse_str(event["_id"].as_str().context("no id in the event")?)?;
    let version = event["version"]
        .as_i64()
        .context("no version in the event")?;
    let mut event = mongodb::bson::to_document(&event)?;
    event.insert("_id", id);
    event.insert("version", version);
    let copy = orders.find_one(doc! { "_id": id }).await?;
    if copy.is_some_and(|copy| copy.get_i64("version").is_ok_and(|held| held >= version)) {
        return Ok(());
    }
    orders
        .replace_one(doc! { "_id": id }, event)
        .upsert(true)
        .await?;
    Ok(())
}
