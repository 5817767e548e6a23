//! The limits of this machine: the services' clients and settings on the same broker and
//! database, with nothing of the services in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use mongodb::Collection;
use mongodb::bson::{Document, doc, oid::ObjectId};
use platform::kafka::{Producer, Record, publish};
use platform::settings::{DatabaseSettings, KafkaSettings};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, OwnedMessage};
use serde::Serialize;
use test_support::within;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

use crate::footprint::{metered, micros_per};
use crate::latency::{Named, Outcome, Phase, Summary, closed_loop, nth, rate};
use crate::load;
use crate::options::Options;
use crate::stack::Launcher;

/// How long the first record may take to come back: a consumer joins a group in seconds.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);
const ROUND_TRIP_DEADLINE: Duration = Duration::from_secs(30);
/// Records produced at once in bulk: as many as one outbox relay pass takes.
const BULK_IN_FLIGHT: usize = 100;
/// Documents in the raw collections: enough that a lookup is not always the same one.
const DOCUMENTS: usize = 1000;
/// `fetch.wait.max.ms` of the second round trip: far below librdkafka's 500, which the
/// services keep.
const SHORT_FETCH_WAIT: Duration = Duration::from_millis(10);

pub(crate) type Headers = Vec<(String, Vec<u8>)>;
pub(crate) type KeyedRecord = (String, Vec<u8>, Headers);

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
    .map(|(name, value)| (name.to_owned(), value.as_bytes().to_vec()))
    .into()
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

    /// Produces `count` records, the `n`th as `record(n)` gives it, [`BULK_IN_FLIGHT`] at a time.
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

/// Records received so far, and when the first and the last arrived.
#[derive(Default)]
struct Tally {
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

type Shared<T> = Arc<Mutex<T>>;
type Waiting = Shared<HashMap<u64, oneshot::Sender<()>>>;

fn lock<T>(shared: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn count(tally: &Mutex<Tally>) -> u64 {
    lock(tally).count
}

impl Tally {
    fn add(tally: &Mutex<Tally>) {
        let (mut tally, now) = (lock(tally), Instant::now());
        tally.count += 1;
        tally.first.get_or_insert(now);
        tally.last = Some(now);
    }

    async fn reached(tally: &Mutex<Tally>, what: &str, records: u64) -> anyhow::Result<()> {
        let done = || async { Ok((count(tally) >= records).then_some(())) };
        within(what, JOIN_DEADLINE, Duration::from_millis(1), done).await
    }
}

/// A consumer configured as the services' consumer loop configures theirs (librdkafka's
/// `fetch.wait.max.ms` replaced by `fetch_wait` if given), handing each record of `topic` to
/// `handle` on a task of its own until the token is cancelled.
fn receive(
    kafka: &KafkaSettings,
    (topic, group): (&str, &str),
    fetch_wait: Option<Duration>,
    handle: impl Fn(&Arc<StreamConsumer>, BorrowedMessage<'_>) + Send + 'static,
) -> anyhow::Result<(CancellationToken, tokio::task::JoinHandle<()>)> {
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
    let (consumer, stop) = (Arc::new(consumer), CancellationToken::new());
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        while let Some(received) = stopped.run_until_cancelled(consumer.recv()).await {
            if let Ok(message) = received {
                handle(&consumer, message);
            }
        }
    });
    Ok((stop, task))
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Baselines {
    pub(crate) kafka_round_trip: Summary,
    pub(crate) kafka_round_trip_short_fetch_wait: Summary,
    pub(crate) kafka_produce_per_second: f64,
    pub(crate) kafka_consume_per_second: f64,
    pub(crate) mongo_find_one: Summary,
    pub(crate) mongo_find_one_cpu_us: f64,
    pub(crate) mongo_upsert: Summary,
    /// Accounts' side of a change in the raw pipeline: read, conditional write, outbox push.
    pub(crate) raw_pipeline: Summary,
    pub(crate) raw_pipeline_applied_per_second: f64,
}

impl Baselines {
    pub(crate) async fn measure(options: &Options, launcher: &Launcher) -> anyhow::Result<Self> {
        let (kafka, run_id) = (&launcher.kafka, &launcher.run_id);
        let phases @ (concurrency, phase) = options.common.phases();
        let [round_trips, short_wait, bulk, changes] = raw_topics(run_id);
        let payload = serde_json::to_vec(&load::customer_event(0, "5b189af9a8d05613315b0212"))?;
        step!("raw Kafka: produce -> consume round trips, {concurrency} in flight, {phase:?}");
        let group = format!("{run_id}-raw");
        let round_trip = kafka_round_trip(kafka, (&round_trips, &group), None, &payload, phases);
        let round_trip = round_trip.await?;
        step!("raw Kafka again, the consumer's fetch.wait.max.ms at {SHORT_FETCH_WAIT:?}");
        let group = format!("{run_id}-raw-short-wait");
        let wait = Some(SHORT_FETCH_WAIT);
        let short = kafka_round_trip(kafka, (&short_wait, &group), wait, &payload, phases);
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
        let group = format!("{run_id}-raw-pipeline");
        let database = launcher.database("raw-pipeline");
        let pipeline = pipeline(kafka, &database, (&changes, &group), document, phases);
        let (raw_pipeline, raw_pipeline_applied_per_second) = pipeline.await?;
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
        .map(|(name, summary)| Named::new(name, 0, summary.clone()))
        .into()
    }
}

/// Produce -> consume round trips of `payload`, as many in flight as the phase has workers,
/// each keyed by its number; a record's latency runs from handing it to the producer until the
/// consumer received it.
async fn kafka_round_trip(
    kafka: &KafkaSettings,
    topic_and_group: (&str, &str),
    fetch_wait: Option<Duration>,
    payload: &[u8],
    phase: Phase,
) -> anyhow::Result<Summary> {
    let waiting: Waiting = Arc::default();
    let arrived = Arc::clone(&waiting);
    let arrive = move |consumer: &Arc<StreamConsumer>, message: BorrowedMessage<'_>| {
        let key = message.key().and_then(|key| std::str::from_utf8(key).ok());
        if let Some(sender) = key.and_then(|key| lock(&arrived).remove(&key.parse().ok()?)) {
            let _ = sender.send(());
        }
        let _ = consumer.store_offset_from_message(&message);
    };
    let (stop, receiving) = receive(kafka, topic_and_group, fetch_wait, arrive)?;
    let publisher = Publisher::new(kafka, topic_and_group.0)?;
    let state = Arc::new((publisher, payload.to_vec(), event_headers(), waiting));
    let round_trip =
        async |state: Arc<(Publisher, Vec<u8>, Headers, Waiting)>, n: u64, deadline| {
            let (publisher, payload, headers, waiting) = &*state;
            let (sender, arrived) = oneshot::channel();
            lock(waiting).insert(n, sender);
            publisher.send(&n.to_string(), payload, headers).await?;
            let late = || format!("record {n} did not come back within {deadline:?}");
            let arrived = tokio::time::timeout(deadline, arrived)
                .await
                .with_context(late)?;
            arrived.context("the consumer stopped")
        };
    let measured = async {
        // The first record waits for the consumer to join its group; it is not measured.
        let joined = round_trip(Arc::clone(&state), u64::MAX, JOIN_DEADLINE).await;
        joined.context("waiting for the baseline consumer to join")?;
        let outcome = closed_loop(phase, state, move |state, n| {
            round_trip(state, n, ROUND_TRIP_DEADLINE)
        });
        outcome.await.succeeded("raw round trips")
    }
    .await;
    stop.cancel();
    let _ = receiving.await;
    measured
}

/// Bulk rates, per second: `count` records produced as fast as the producer takes them, then
/// consumed by a new group from the start, timed from the first record received to the last.
async fn kafka_bulk(
    kafka: &KafkaSettings,
    (topic, group): (&str, &str),
    payload: &[u8],
    count: usize,
) -> anyhow::Result<(f64, f64)> {
    let (headers, started) = (event_headers(), Instant::now());
    let record = |n: usize| (n.to_string(), payload.to_vec(), headers.clone());
    Publisher::new(kafka, topic)?
        .send_all(count, record)
        .await?;
    let produced = rate(count as u64, started.elapsed());
    let tally: Shared<Tally> = Arc::default();
    let received = Arc::clone(&tally);
    let (stop, receiving) = receive(kafka, (topic, group), None, move |consumer, message| {
        Tally::add(&received);
        let _ = consumer.store_offset_from_message(&message);
    })?;
    let consumed = Tally::reached(&tally, "the bulk records", count as u64).await;
    stop.cancel();
    let _ = receiving.await;
    consumed?;
    let tally = lock(&tally);
    let consuming = tally
        .last
        .zip(tally.first)
        .map(|(last, first)| last - first);
    let consumed = rate(count as u64 - 1, consuming.unwrap_or_default());
    Ok((produced, consumed))
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
    let inserted = collection.insert_many(copies).await;
    inserted.with_context(|| format!("inserting documents into {}", collection.name()))?;
    Ok(())
}

/// [`DOCUMENTS`] copies of `template` in `collection`, dropped after `measure` ran on them.
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

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MongoRates {
    pub(crate) find_one: Summary,
    /// CPU of this process per `find_one`, in microseconds: the client's side of a read (the
    /// driver and the loop), which a service's GET by id does too.
    pub(crate) find_one_cpu_us: f64,
    pub(crate) upsert: Summary,
}

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

/// `find_one` by `_id` over the phase, going round `ids`; a missing document is a failure.
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

/// `update_one` over the phase, going round `ids`: the filter is the document's `_id` and the
/// fields of `condition` (which every document meets), the update sets a name. A document the
/// filter missed is a failure.
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

struct Accounts {
    collection: Collection<Document>,
    ids: Vec<ObjectId>,
    publisher: Publisher,
    headers: Headers,
    /// The relay's bound: events published and pulled at once.
    relaying: Semaphore,
    written: Mutex<u64>,
}

/// The real limit of this design for customer changes: exactly the database and broker work one
/// applied change needs, with the services' clients and settings and nothing else, in the same
/// three stages: the phase's workers do accounts' read and conditional write that pushes the
/// event onto the document's outbox; a relay publishes each event ([`BULK_IN_FLIGHT`] at a time)
/// and pulls it; orders' side consumes the record, reads the copy and writes it, and stores the
/// offset, each record on a task of its own (at least as parallel as the services' lanes).
/// Returns how fast accounts' side ran, and the rate orders' side applied changes at, from the
/// start until the last was applied (as the services' change phase is measured).
async fn pipeline(
    kafka: &KafkaSettings,
    database: &DatabaseSettings,
    topic_and_group: (&str, &str),
    mut document: Document,
    phase: Phase,
) -> anyhow::Result<(Summary, f64)> {
    document.insert("version", 0_i64);
    let publisher = Publisher::new(kafka, topic_and_group.0)?;
    on_copies(database, ("accounts", &document), async |database, ids| {
        let (applied, orders) = (Shared::<Tally>::default(), database.collection("orders"));
        let tally = Arc::clone(&applied);
        let (stop, receiving) = receive(kafka, topic_and_group, None, move |consumer, message| {
            let (consumer, orders, tally) = (Arc::clone(consumer), orders.clone(), tally.clone());
            let message = message.detach();
            tokio::spawn(async move {
                match apply(&orders, &message).await {
                    Ok(()) => Tally::add(&tally),
                    Err(error) => eprintln!("the raw pipeline's orders write failed: {error:#}"),
                }
                let (topic, partition) = (message.topic(), message.partition());
                let _ = consumer.store_offset(topic, partition, message.offset());
            });
        })?;
        let accounts = Arc::new(Accounts {
            collection: database.collection("accounts"),
            ids,
            publisher,
            headers: event_headers(),
            relaying: Semaphore::new(BULK_IN_FLIGHT),
            written: Mutex::new(0),
        });
        let measured = async {
            // The first change waits for the consumer to join its group; it is not measured.
            Arc::clone(&accounts).write(u64::MAX).await?;
            Tally::reached(&applied, "the pipeline's consumer to join", 1).await?;
            let (before, started) = (count(&applied), Instant::now());
            let outcome = closed_loop(phase, Arc::clone(&accounts), Accounts::write);
            let outcome = outcome.await;
            let written = *lock(&accounts.written);
            Tally::reached(&applied, "orders' side to apply every change", written).await?;
            let tally = lock(&applied);
            let applied = rate(
                tally.count - before,
                tally.last.unwrap_or(started) - started,
            );
            Ok((outcome.succeeded("raw changes")?, applied))
        }
        .await;
        stop.cancel();
        let _ = receiving.await;
        measured
    })
    .await
}

impl Accounts {
    /// Reads a customer and writes its change with the event if the version holds; the relay
    /// then publishes the event and pulls it.
    async fn write(self: Arc<Self>, number: u64) -> anyhow::Result<()> {
        let id = *nth(&self.ids, number);
        let stored = self
            .collection
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
        let written = self.collection.update_one(
            doc! { "_id": id, "version": version },
            doc! {
                "$set": { "name.firstName": &first_name, "version": version + 1 },
                "$push": { "outbox": entry },
            },
        );
        // Another worker changed the same document in between: its change is the one that counts.
        if written.await?.modified_count == 1 {
            *lock(&self.written) += 1;
            tokio::spawn(async move {
                let _permit = self.relaying.acquire().await;
                let relayed = async {
                    self.publisher
                        .send(&id.to_hex(), &payload, &self.headers)
                        .await?;
                    let pull = doc! { "$pull": { "outbox": { "_id": &event_id } } };
                    anyhow::Ok(self.collection.update_one(doc! { "_id": id }, pull).await?)
                };
                if let Err(error) = relayed.await {
                    eprintln!("the raw relay failed: {error:#}");
                }
            });
        }
        Ok(())
    }
}

/// Orders' side of one record: reads the copy, writes it if the record is newer.
async fn apply(orders: &Collection<Document>, message: &OwnedMessage) -> anyhow::Result<()> {
    let event: serde_json::Value = serde_json::from_slice(message.payload().unwrap_or_default())?;
    let id = ObjectId::parse_str(event["_id"].as_str().context("no id in the event")?)?;
    let version = event["version"]
        .as_i64()
        .context("no version in the event")?;
    let mut event = mongodb::bson::to_document(&event)?;
    event.insert("_id", id);
    event.insert("version", version);
    let copy = orders.find_one(doc! { "_id": id }).await?;
    let up_to_date = |copy: Document| copy.get_i64("version").is_ok_and(|held| held >= version);
    if !copy.is_some_and(up_to_date) {
        orders
            .replace_one(doc! { "_id": id }, event)
            .upsert(true)
            .await?;
    }
    Ok(())
}
