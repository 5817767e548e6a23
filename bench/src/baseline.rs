//! The limits of this machine: the raw clients the services use (rdkafka with the services' own
//! producer and consumer settings, the MongoDB driver with their pool settings) against the same
//! broker and database, with nothing of the services in between.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
use serde::Serialize;
use test_support::within;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::footprint::{metered, micros_per};
use crate::latency::{Named, Outcome, Phase, Summary, closed_loop, nth, rate};
use crate::load;
use crate::options::Options;
use crate::stack::Launcher;

/// How long the first record may take to come back: a consumer joining a group on the local
/// broker takes a few seconds.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// How long one measured record may take to come back before the baseline fails.
const ROUND_TRIP_DEADLINE: Duration = Duration::from_secs(30);
/// Records produced at once in the bulk measurement: as many as one outbox relay pass takes.
const BULK_IN_FLIGHT: usize = 100;
/// Documents in the raw collections: enough that a lookup is not always the same one.
const DOCUMENTS: usize = 1000;
/// The consumer's `fetch.wait.max.ms` in the second round-trip baseline: far below librdkafka's
/// default of 500 ms, which the services keep.
const SHORT_FETCH_WAIT: Duration = Duration::from_millis(10);

pub(crate) type Headers = Vec<(String, Vec<u8>)>;
pub(crate) type KeyedRecord = (String, Vec<u8>, Headers);

/// The topics of the raw Kafka baselines, in the run `run_id`: round trips, round trips with
/// the short fetch wait, bulk, pipeline.
pub(crate) fn raw_topics(run_id: &str) -> [String; 4] {
    ["raw", "raw.short-wait", "raw.bulk", "raw.pipeline"].map(|name| format!("{run_id}.{name}"))
}

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

pub(crate) struct Publisher {
    producer: Producer,
    topic: String,
}

impl Publisher {
    pub(crate) fn new(kafka: &KafkaSettings, topic: &str) -> anyhow::Result<Self> {
        let (producer, topic) = (platform::kafka::producer(kafka)?, topic.to_owned());
        Ok(Publisher { producer, topic })
    }

    /// Publishes one keyed record and waits for the broker's acknowledgement.
    pub(crate) async fn send(
        &self,
        key: &str,
        payload: &[u8],
        headers: &[(String, Vec<u8>)],
    ) -> anyhow::Result<()> {
        let (topic, key, payload) = (&self.topic, Some(key.as_bytes()), Some(payload));
        let record = Record {
            topic,
            key,
            payload,
            headers,
        };
        publish(&self.producer, &record).await
    }

    /// Produces `count` records, the `n`th with the key, value and headers `record(n)` gives, as
    /// fast as the producer takes them, [`BULK_IN_FLIGHT`] at a time.
    pub(crate) async fn send_all(
        &self,
        count: usize,
        record: impl Fn(usize) -> KeyedRecord,
    ) -> anyhow::Result<()> {
        let mut sends = futures_util::stream::iter(0..count)
            .map(|n| {
                let (key, payload, headers) = record(n);
                async move { self.send(&key, &payload, &headers).await }
            })
            .buffer_unordered(BULK_IN_FLIGHT);
        while let Some(sent) = sends.next().await {
            sent?;
        }
        Ok(())
    }
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

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Baselines {
    pub(crate) kafka_round_trip: Summary,
    /// The same with the consumer's `fetch.wait.max.ms` at 10 ms instead of librdkafka's 500.
    pub(crate) kafka_round_trip_short_fetch_wait: Summary,
    pub(crate) kafka_produce_per_second: f64,
    pub(crate) kafka_consume_per_second: f64,
    pub(crate) mongo_find_one: Summary,
    /// The benchmark's own CPU per raw `find_one`, in microseconds.
    pub(crate) mongo_find_one_cpu_us: f64,
    pub(crate) mongo_upsert: Summary,
    /// Accounts' side of a customer change in the raw pipeline: read, and conditional write
    /// with the outbox push.
    pub(crate) raw_pipeline: Summary,
    /// Changes the raw pipeline's orders side applied per second.
    pub(crate) raw_pipeline_applied_per_second: f64,
}

impl Baselines {
    /// Measures them on the run's raw topics ([`raw_topics`]) and databases of their own.
    pub(crate) async fn measure(options: &Options, launcher: &Launcher) -> anyhow::Result<Self> {
        let (kafka, run_id) = (&launcher.kafka, &launcher.run_id);
        let phases @ (concurrency, phase) = options.common.phases();
        let [round_trips, short_wait, bulk, pipeline_topic] = raw_topics(run_id);
        let event = load::customer_event(0, "5b189af9a8d05613315b0212");
        let payload = serde_json::to_vec(&event)?;
        step!("raw Kafka: produce -> consume round trips, {concurrency} in flight, {phase:?}");
        let measure = (&payload[..], phases);
        let group = format!("{run_id}-raw");
        let round_trip = kafka_round_trip(kafka, (&round_trips, &group), None, measure).await?;
        step!("raw Kafka again, the consumer's fetch.wait.max.ms at {SHORT_FETCH_WAIT:?}");
        let group = format!("{run_id}-raw-short-wait");
        let short = kafka_round_trip(
            kafka,
            (&short_wait, &group),
            Some(SHORT_FETCH_WAIT),
            measure,
        );
        let short = short.await?;
        let (count, group) = (options.bulk_messages, format!("{run_id}-bulk"));
        step!("raw Kafka: {count} records produced, then consumed");
        let (produced, consumed) = kafka_bulk(kafka, (&bulk, &group), &payload, count).await?;
        step!("raw MongoDB: find_one, then upsert, by _id, {concurrency} workers, {phase:?} each");
        let document = mongodb::bson::to_document(&load::customer(0))?;
        let mongo = mongo(&launcher.database("raw"), &document, phases).await?;
        step!(
            "raw customer change pipeline (the services' database and broker work, nothing \
             else), {concurrency} workers, {phase:?}"
        );
        let (raw_pipeline, raw_pipeline_applied_per_second) = pipeline(
            kafka,
            &launcher.database("raw-pipeline"),
            (&pipeline_topic, &format!("{run_id}-raw-pipeline")),
            document,
            phases,
        )
        .await?;
        Ok(Baselines {
            kafka_round_trip: round_trip,
            kafka_round_trip_short_fetch_wait: short,
            kafka_produce_per_second: produced,
            kafka_consume_per_second: consumed,
            mongo_find_one: mongo.find_one,
            mongo_find_one_cpu_us: mongo.find_one_cpu_us,
            mongo_upsert: mongo.upsert,
            raw_pipeline,
            raw_pipeline_applied_per_second,
        })
    }

    pub(crate) fn rows(&self) -> Vec<Named> {
        [
            (
                "kafka produce -> consume round trip",
                &self.kafka_round_trip,
            ),
            (
                "kafka round trip, consumer fetch.wait.max.ms 10",
                &self.kafka_round_trip_short_fetch_wait,
            ),
            ("mongodb find_one by _id", &self.mongo_find_one),
            ("mongodb update_one by _id, upsert", &self.mongo_upsert),
            (
                "raw change pipeline, accounts' side (read, write with the outbox push)",
                &self.raw_pipeline,
            ),
        ]
        .map(|(name, summary)| Named {
            name: name.to_owned(),
            failures: 0,
            summary: summary.clone(),
        })
        .into()
    }
}

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;

/// Produce -> consume round trips of `payload`, `concurrency` records in flight for `duration`,
/// each keyed by its number; a record's latency runs from handing it to the producer until the
/// consumer received it.
async fn kafka_round_trip(
    kafka: &KafkaSettings,
    (topic, group): (&str, &str),
    fetch_wait: Option<Duration>,
    (payload, phase): (&[u8], Phase),
) -> anyhow::Result<Summary> {
    let consumer = consumer(kafka, group, topic, fetch_wait)?;
    let waiting: Waiting = Arc::default();
    let stop = CancellationToken::new();
    let receiving = tokio::spawn({
        let (waiting, stop) = (Arc::clone(&waiting), stop.clone());
        async move {
            while let Some(received) = stop.run_until_cancelled(consumer.recv()).await {
                let Ok(message) = received else { continue };
                let number = message
                    .key()
                    .and_then(|key| std::str::from_utf8(key).ok()?.parse::<u64>().ok());
                let mut waiting = waiting.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(sender) = number.and_then(|n| waiting.remove(&n)) {
                    let _ = sender.send(());
                }
                let _ = consumer.store_offset_from_message(&message);
            }
        }
    });
    let round_trip = Arc::new(RoundTrip {
        publisher: Publisher::new(kafka, topic)?,
        payload: payload.to_vec(),
        headers: event_headers(),
        waiting,
    });
    let measured = async {
        // The first record waits for the consumer to join its group; it is not measured.
        let joined = round_trip.send(u64::MAX, JOIN_DEADLINE).await;
        joined.context("waiting for the baseline consumer to join")?;
        let outcome = closed_loop(phase, round_trip, |round_trip, n| async move {
            round_trip.send(n, ROUND_TRIP_DEADLINE).await
        });
        outcome.await.succeeded("raw round trips")
    }
    .await;
    stop.cancel();
    let _ = receiving.await;
    measured
}

struct RoundTrip {
    publisher: Publisher,
    payload: Vec<u8>,
    headers: Headers,
    waiting: Waiting,
}

impl RoundTrip {
    async fn send(&self, number: u64, deadline: Duration) -> anyhow::Result<()> {
        let (sender, arrived) = oneshot::channel();
        let waiting = self.waiting.lock();
        waiting
            .unwrap_or_else(PoisonError::into_inner)
            .insert(number, sender);
        let key = number.to_string();
        self.publisher
            .send(&key, &self.payload, &self.headers)
            .await?;
        tokio::time::timeout(deadline, arrived)
            .await
            .with_context(|| format!("record {number} did not come back within {deadline:?}"))?
            .context("the consumer stopped")
    }
}

/// Bulk rates, per second: `count` records produced as fast as the producer takes them, then
/// consumed by a new group from the start, timed from the first record received to the last.
async fn kafka_bulk(
    kafka: &KafkaSettings,
    (topic, group): (&str, &str),
    payload: &[u8],
    count: usize,
) -> anyhow::Result<(f64, f64)> {
    let headers = event_headers();
    let started = Instant::now();
    let record = |n: usize| (n.to_string(), payload.to_vec(), headers.clone());
    Publisher::new(kafka, topic)?
        .send_all(count, record)
        .await?;
    let produced = rate(count as u64, started.elapsed());
    let consumer = consumer(kafka, group, topic, None)?;
    let (mut first, mut consuming) = (None, Duration::ZERO);
    for received in 0..count {
        // The first record waits for the group join; later ones only for the broker.
        let wait = first.map_or(JOIN_DEADLINE, |_| ROUND_TRIP_DEADLINE);
        let message = tokio::time::timeout(wait, consumer.recv())
            .await
            .with_context(|| format!("the bulk consumer stopped after {received} of {count}"))?
            .context("consuming the bulk records")?;
        let now = Instant::now();
        consuming = now - *first.get_or_insert(now);
        consumer.store_offset_from_message(&message)?;
    }
    Ok((produced, rate(count.saturating_sub(1) as u64, consuming)))
}

pub(crate) async fn insert_copies(
    collection: &Collection<Document>,
    template: &Document,
    ids: &[ObjectId],
) -> anyhow::Result<()> {
    let copies = ids.iter().map(|id| {
        let mut copy = template.clone();
        copy.insert("_id", *id);
        copy
    });
    collection
        .insert_many(copies)
        .await
        .with_context(|| format!("inserting documents into {}", collection.name()))?;
    Ok(())
}

/// A database of the raw baselines with [`DOCUMENTS`] copies of `template` in `collection`,
/// dropped after `measure` ran on them, however that went.
async fn on_copies<T>(
    database: &DatabaseSettings,
    (collection, template): (&str, &Document),
    measure: impl AsyncFnOnce(&mongodb::Database, Vec<ObjectId>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let database = platform::mongo::connect(database).await?;
    let ids: Vec<ObjectId> = (0..DOCUMENTS).map(|_| ObjectId::new()).collect();
    let collection = database.collection::<Document>(collection);
    let measured = match insert_copies(&collection, template, &ids).await {
        Ok(()) => measure(&database, ids).await,
        Err(error) => Err(error),
    };
    if let Err(error) = database.drop().await {
        eprintln!("dropping {}: {error}", database.name());
    }
    measured
}

/// The raw MongoDB figures, at the services' pool settings.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MongoRates {
    pub(crate) find_one: Summary,
    /// CPU of this process per `find_one`, in microseconds: the client's side of a read (the
    /// driver and the loop), which a service's GET by id does too.
    pub(crate) find_one_cpu_us: f64,
    pub(crate) upsert: Summary,
}

/// `find_one` by `_id`, then `update_one` by `_id` with upsert, each on `concurrency` workers
/// for `duration`, over documents like `document`.
pub(crate) async fn mongo(
    database: &DatabaseSettings,
    document: &Document,
    phase: Phase,
) -> anyhow::Result<MongoRates> {
    on_copies(database, ("customers", document), async |database, ids| {
        let (collection, ids) = (database.collection("customers"), Arc::new(ids));
        let find_one = find_by_id(&collection, Arc::clone(&ids), phase);
        let (find_one, find_cpu, _) = metered(&[std::process::id()], find_one).await?;
        let find_one = find_one.succeeded("raw find_one")?;
        let upsert = update_by_id(&collection, ids, doc! {}, true, phase);
        Ok(MongoRates {
            find_one_cpu_us: micros_per(find_cpu.total(), find_one.count as f64),
            find_one,
            upsert: upsert.await.succeeded("raw upsert")?,
        })
    })
    .await
}

/// `find_one` by `_id` on `concurrency` workers for `duration`, going round `ids`; a document
/// that is not there counts as a failure.
pub(crate) async fn find_by_id(
    collection: &Collection<Document>,
    ids: Arc<Vec<ObjectId>>,
    phase: Phase,
) -> Outcome {
    let state = (collection.clone(), ids);
    closed_loop(phase, state, |(collection, ids), n| async move {
        let found = collection.find_one(doc! { "_id": nth(&ids, n) }).await?;
        found.context("a document read by id is missing").map(drop)
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
    upsert: bool,
    phase: Phase,
) -> Outcome {
    let state = (collection.clone(), ids, condition);
    closed_loop(phase, state, move |(collection, ids, condition), n| {
        let mut filter = doc! { "_id": nth(&ids, n) };
        filter.extend(condition);
        async move {
            let update = doc! { "$set": { "name.firstName": format!("Changed{n}") } };
            let result = collection.update_one(filter, update).upsert(upsert).await?;
            anyhow::ensure!(result.matched_count == 1, "an updated document is missing");
            Ok(())
        }
    })
    .await
}

/// How many changes orders' side applied, and when the last was.
type Applied = Arc<Mutex<(u64, Option<Instant>)>>;

/// The real limit of this design for customer changes: exactly the database and broker work one
/// applied change needs, with the services' clients and settings and nothing else, in the same
/// three stages: `concurrency` workers do accounts' read and conditional write that pushes the
/// event onto the document's outbox; a relay publishes each event ([`BULK_IN_FLIGHT`] at a time)
/// and pulls it; orders' side consumes the record, reads the copy and writes it, and stores the
/// offset, each record on a task of its own (at least as parallel as the services' lanes).
/// Returns how fast accounts' side ran, and the rate orders' side applied changes at, from the
/// start until the last was applied (as the services' change phase is measured).
async fn pipeline(
    kafka: &KafkaSettings,
    database: &DatabaseSettings,
    (topic, group): (&str, &str),
    mut document: Document,
    phase: Phase,
) -> anyhow::Result<(Summary, f64)> {
    document.insert("version", 0_i64);
    let consumer = consumer(kafka, group, topic, None)?;
    let publisher = Publisher::new(kafka, topic)?;
    on_copies(database, ("accounts", &document), async |database, ids| {
        let applied = Applied::default();
        let stop = CancellationToken::new();
        let orders = database.collection("orders");
        let applying = tokio::spawn(apply_all(
            consumer,
            orders,
            Arc::clone(&applied),
            stop.clone(),
        ));
        let (events, relayed) = mpsc::unbounded_channel();
        let accounts = database.collection("accounts");
        let relay = tokio::spawn(relay_all(publisher, accounts.clone(), relayed));
        let written = Arc::new(AtomicU64::new(0));
        let change = Arc::new(Change {
            accounts,
            ids,
            events,
            written: Arc::clone(&written),
        });
        let count = || applied.lock().unwrap_or_else(PoisonError::into_inner).0;
        let applied_all = async |what: &str, changes: u64| {
            let done = || async { Ok((count() >= changes).then_some(())) };
            within(what, JOIN_DEADLINE, Duration::from_millis(1), done).await
        };
        let measured = async {
            // The first change waits for the consumer to join its group; it is not measured.
            change.write(u64::MAX).await?;
            applied_all("the pipeline's consumer to join", 1).await?;
            let (before, started) = (count(), Instant::now());
            let change = Arc::clone(&change);
            let outcome = closed_loop(
                phase,
                change,
                |change, n| async move { change.write(n).await },
            );
            let outcome = outcome.await;
            let written = written.load(Ordering::Relaxed);
            applied_all("orders' side to apply every change", written).await?;
            let (count, last) = *applied.lock().unwrap_or_else(PoisonError::into_inner);
            let applied = rate(count - before, last.unwrap_or(started) - started);
            Ok((outcome.succeeded("raw changes")?, applied))
        }
        .await;
        drop(change);
        let _ = relay.await;
        stop.cancel();
        let _ = applying.await;
        measured
    })
    .await
}

type Event = (ObjectId, String, Vec<u8>);

struct Change {
    accounts: Collection<Document>,
    ids: Vec<ObjectId>,
    events: mpsc::UnboundedSender<Event>,
    written: Arc<AtomicU64>,
}

impl Change {
    /// Reads a customer and writes its change with the event, if the version still holds.
    async fn write(&self, number: u64) -> anyhow::Result<()> {
        let id = *nth(&self.ids, number);
        let stored = self
            .accounts
            .find_one(doc! { "_id": id })
            .projection(doc! { "outbox": 0 });
        let mut changed = stored.await?.context("a pipeline document is missing")?;
        let version = changed.get_i64("version")?;
        let first_name = format!("Changed{number}");
        // The event: the changed customer as JSON, its id as text, as accounts publishes it.
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
            let relayed = self.events.send((id, event_id, payload));
            relayed.map_err(|_| anyhow::anyhow!("the relay stopped"))?;
        }
        Ok(())
    }
}

/// The relay's side: publishes each event and pulls it from its document's outbox.
async fn relay_all(
    publisher: Publisher,
    accounts: Collection<Document>,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let headers = event_headers();
    futures_util::stream::poll_fn(|context| events.poll_recv(context))
        .map(|(id, event_id, payload)| {
            let (publisher, accounts, headers) = (&publisher, &accounts, &headers);
            async move {
                publisher.send(&id.to_hex(), &payload, headers).await?;
                let pull = doc! { "$pull": { "outbox": { "_id": &event_id } } };
                accounts.update_one(doc! { "_id": id }, pull).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(BULK_IN_FLIGHT)
        .for_each(|relayed| async move {
            if let Err(error) = relayed {
                eprintln!("the raw relay failed: {error:#}");
            }
        })
        .await;
}

/// Orders' side: each record applied on a task of its own, its offset stored once applied.
async fn apply_all(
    consumer: StreamConsumer,
    orders: Collection<Document>,
    applied: Applied,
    stop: CancellationToken,
) {
    let consumer = Arc::new(consumer);
    while let Some(received) = stop.run_until_cancelled(consumer.recv()).await {
        let Ok(message) = received else { continue };
        let message = message.detach();
        let (consumer, orders, applied) =
            (Arc::clone(&consumer), orders.clone(), Arc::clone(&applied));
        tokio::spawn(async move {
            // Read the copy, write it if the record is newer.
            let applied_copy = async {
                let event: serde_json::Value =
                    serde_json::from_slice(message.payload().unwrap_or_default())?;
                let id = ObjectId::parse_str(event["_id"].as_str().context("no id in the event")?)?;
                let version = event["version"]
                    .as_i64()
                    .context("no version in the event")?;
                let mut event = mongodb::bson::to_document(&event)?;
                event.insert("_id", id);
                event.insert("version", version);
                let copy = orders.find_one(doc! { "_id": id }).await?;
                let up_to_date =
                    |copy: Document| copy.get_i64("version").is_ok_and(|held| held >= version);
                if !copy.is_some_and(up_to_date) {
                    let replace = orders.replace_one(doc! { "_id": id }, event).upsert(true);
                    replace.await?;
                }
                anyhow::Ok(())
            };
            match applied_copy.await {
                Ok(()) => {
                    let mut applied = applied.lock().unwrap_or_else(PoisonError::into_inner);
                    *applied = (applied.0 + 1, Some(Instant::now()));
                }
                Err(error) => eprintln!("the raw pipeline's orders write failed: {error:#}"),
            }
            let _ = consumer.store_offset(message.topic(), message.partition(), message.offset());
        });
    }
}
