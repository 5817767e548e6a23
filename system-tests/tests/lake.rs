//! The data lake through the real services (docs/lake.md): the sample steps and a stream of
//! generated changes go through accounts, orders and fulfillment; the Iceberg sink copies their
//! topics into the tables; the tables then hold every record once, and count the order statuses
//! as fulfillment stored them.
//!
//! Then the lake's failure behaviour, on one lake of its own: poison records go to Connect's
//! dead-letter topic, and after Connect killed, the object store away and the broker away, the
//! tables hold every record once; each fault writes its row of the reliability table.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use platform::settings::KafkaSettings;
use serde_json::Value;
use system_tests::Topics;
use system_tests::faults::{Rig, Row, Stream, converge, create_customer, fixture_text};
use system_tests::lake::Lake;
use test_support::{ConsumedRecord, EVENT_DEADLINE, PrivateKafka, TopicReader, eventually, summed};

/// Changes the stream drives through the services; `STOREFRONT_LAKE_STREAM` sets another size.
fn stream_size() -> usize {
    std::env::var("STOREFRONT_LAKE_STREAM")
        .ok()
        .and_then(|size| size.parse().ok())
        .unwrap_or(2_000)
}

/// Concurrent clients of the stream.
const WORKERS: usize = 4;

/// How long the tables may take to catch up with the topics once the services have settled:
/// the sink commits every 2 s in this test, and the worker shares two cores with everything.
const LAKE_DEADLINE: Duration = Duration::from_secs(240);

/// The statuses fulfillment's own API and events add; CREATED and APPROVED come with the
/// fulfillment request.
const FULFILLMENT_STATUSES: [&str; 2] = ["CREATED", "APPROVED"];

async fn get(rig: &Rig, url: &str) -> (u16, String) {
    let response = rig.client.get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

async fn summary(rig: &Rig, url: &str, field: &str) -> Vec<Value> {
    let (status, body) = get(rig, url).await;
    assert_eq!(status, 200, "GET {url}");
    let body: Value = serde_json::from_str(&body).expect("a JSON summary");
    body[field].as_array().cloned().unwrap_or_default()
}

/// The seven sample calls, each taking effect before the next.
async fn sample_steps(rig: &Rig) {
    let (accounts, orders, fulfillment) = (
        &rig.store.accounts.url,
        &rig.store.orders.url,
        &rig.store.fulfillment.url,
    );
    let (status, _) = get(rig, &format!("{accounts}/customers/sample")).await;
    assert_eq!(status, 201, "sample customers");
    eventually("orders to copy the 3 customers", EVENT_DEADLINE, || async {
        let copies = summary(rig, &format!("{orders}/customers/summary"), "customers").await;
        (copies.len() == 3).then_some(())
    })
    .await;
    let (status, _) = get(rig, &format!("{orders}/customers/sample/orders")).await;
    assert_eq!(status, 200, "sample orders");
    let (status, _) = get(rig, &format!("{orders}/customers/sample/fulfill")).await;
    assert_eq!(status, 200, "sample fulfill");
    let fulfillments = format!("{fulfillment}/fulfillments/summary");
    eventually(
        "fulfillment to take the 3 requests",
        EVENT_DEADLINE,
        || async { (summary(rig, &fulfillments, "fulfillments").await.len() == 3).then_some(()) },
    )
    .await;
    for step in ["process", "ship", "in-transit", "receive"] {
        let (status, body) = get(rig, &format!("{fulfillment}/fulfillment/sample/{step}")).await;
        assert_eq!(status, 200, "sample step {step}: {body}");
    }
}

/// The records of a topic that carry a value (tombstones do not become rows), by partition
/// and offset, and how many tombstones there were.
async fn produced(kafka: &KafkaSettings, topic: &str) -> (usize, usize) {
    let mut reader = TopicReader::new(kafka, topic);
    let records = reader.read_all(EVENT_DEADLINE).await;
    let with_value: HashSet<(i32, i64)> = records
        .iter()
        .filter(|record| record.payload.is_some())
        .map(|record| (record.partition, record.offset))
        .collect();
    (with_value.len(), records.len() - with_value.len())
}

/// Per topic, the distinct (partition, offset) the lake's table holds, from `counts`.
fn distinct_rows(counts: &Value) -> BTreeMap<String, usize> {
    counts["tables"]
        .as_object()
        .expect("tables")
        .values()
        .map(|table| {
            let rows = table["distinct_offsets"]
                .as_u64()
                .expect("distinct offsets");
            (
                table["topic"].as_str().expect("topic").to_owned(),
                usize::try_from(rows).expect("a count"),
            )
        })
        .collect()
}

/// Waits until each table holds a row for every record in `expected` (per topic) and returns
/// the lake's counts then, having checked that no record became two rows.
async fn wait_for_the_tables(lake: &Lake, expected: &BTreeMap<String, usize>) -> Value {
    let counts = eventually("the tables to hold every record", LAKE_DEADLINE, || async {
        let counts = lake.query(&["counts"]).await;
        if distinct_rows(&counts) == *expected {
            return Some(counts);
        }
        // A failed task does not restart by itself: no use waiting for it.
        let (states, trace) = lake.states().await;
        assert!(
            !states.iter().any(|state| state == "FAILED"),
            "the sink failed: {states:?} {}",
            trace.unwrap_or_default()
        );
        None
    })
    .await;
    for (table, numbers) in counts["tables"].as_object().expect("tables") {
        assert_eq!(
            numbers["rows"], numbers["distinct_offsets"],
            "{table}: a record became two rows"
        );
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lake_holds_every_published_record_once_and_the_statuses_fulfillment_stored() {
    let rig = Rig::start(&[]).await;
    let lake = Lake::start(&rig.broker.bootstrap_servers(), &rig.store.topics);

    sample_steps(&rig).await;
    // A customer removed: its tombstone is on the changelog, and no row.
    let accounts = &rig.store.accounts.url;
    let removed = create_customer(&rig.client, accounts, "removed@example.com").await;
    let response = rig
        .client
        .delete(format!("{accounts}/customers/{removed}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204, "removing a customer");
    let sent = Stream::start(&rig, WORKERS, stream_size()).finish().await;
    let check = converge(&rig, &sent).await;
    assert!(
        check.missing.is_empty() && check.diverged.is_empty(),
        "the services did not settle: {:?} {:?}",
        &check.missing[..check.missing.len().min(3)],
        &check.diverged[..check.diverged.len().min(3)]
    );

    let mut expected = BTreeMap::new();
    let mut tombstones = 0;
    for topic in rig.store.topics.all() {
        let (rows, removals) = produced(&rig.store.kafka, topic).await;
        expected.insert(topic.to_owned(), rows);
        tombstones += removals;
    }
    assert!(tombstones >= 1, "the removed customer's tombstone");
    let waited = Instant::now();
    let counts = wait_for_the_tables(&lake, &expected).await;
    println!(
        "the tables held the {expected:?} records {:.1} s after the services settled",
        waited.elapsed().as_secs_f64()
    );

    // Connect's metrics tell the same: the connector and its task run, and the task read
    // every record (a record read again after a rebalance counts again).
    let metrics = lake.metrics().await;
    let running = ("status", "running");
    for state in [
        "kafka_connect_connector_status",
        "kafka_connect_connector_task_status",
    ] {
        assert_eq!(summed(&metrics, state, running), 1.0, "{state}\n{metrics}");
    }
    let read = summed(
        &metrics,
        "kafka_connect_sink_task_sink_record_read_total",
        ("task", "0"),
    );
    let records = expected.values().sum::<usize>() + tombstones;
    assert!(read >= records as f64, "{read} of {records} records read");

    // Each status change fulfillment stored is one event in the lake, counted once by its id.
    let fulfillments = summary(
        &rig,
        &format!("{}/fulfillments/summary", rig.store.fulfillment.url),
        "fulfillments",
    )
    .await;
    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    let mut received: BTreeMap<String, u64> = BTreeMap::new();
    for fulfillment in &fulfillments {
        for event in fulfillment["order"]["orderStatusEvents"]
            .as_array()
            .expect("a status history")
        {
            let status = event["orderStatusType"].as_str().expect("a status");
            if !FULFILLMENT_STATUSES.contains(&status) {
                *stored.entry(status.to_owned()).or_default() += 1;
            }
            if status == "RECEIVED" {
                let method = fulfillment["shippingMethod"].as_str().expect("a method");
                *received.entry(method.to_owned()).or_default() += 1;
            }
        }
    }
    let in_lake: BTreeMap<String, u64> = counts["order_status_changes_per_status"]
        .as_object()
        .expect("per status")
        .iter()
        .map(|(status, count)| (status.clone(), count.as_u64().expect("a count")))
        .collect();
    assert_eq!(
        in_lake, stored,
        "status changes per status: lake, fulfillment"
    );

    // The report: every received order timed from approval, under the shipping method
    // fulfillment stored for it, and the chart.
    let chart = lake.folder().join("lake.svg");
    let report = lake
        .query(&[
            "report",
            "--json",
            "--chart",
            chart.to_str().expect("a path"),
        ])
        .await;
    let mut timed: BTreeMap<String, u64> = BTreeMap::new();
    for row in report["approval_to_received"].as_array().expect("rows") {
        let method = row["shipping_method"].as_str().expect("a shipping method");
        *timed.entry(method.to_owned()).or_default() += row["orders"].as_u64().expect("orders");
    }
    assert_eq!(
        timed, received,
        "orders timed from approval to received, per shipping method: lake, fulfillment"
    );
    let drawn = std::fs::metadata(&chart).expect("the chart").len();
    assert!(drawn > 0, "an empty chart");
}

/// Pause between two records of the traffic that flows while a fault is injected: about 100
/// records a second, round robin over the three topics.
const TRAFFIC_PACE: Duration = Duration::from_millis(10);

/// Records the traffic has produced before a fault hits: the sink is then between commits,
/// with records written and not yet committed.
const TRAFFIC_BEFORE_FAULT: usize = 300;

/// How long the object store and the broker are away.
const OUTAGE: Duration = Duration::from_secs(30);

/// Valid events produced straight onto the three topics with the real client while a fault
/// is injected, as any producer could, until stopped.
struct Traffic {
    running: Arc<AtomicBool>,
    acknowledged: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<usize>,
}

impl Traffic {
    fn start(kafka: &KafkaSettings, topics: &Topics) -> Self {
        let producer = platform::kafka::producer(kafka).expect("a producer");
        let events: Vec<(String, String, String)> = [
            (&topics.customer_change, "customer-change-event.json"),
            (&topics.order_fulfill, "fulfillment-request-event.json"),
            (
                &topics.order_status_change,
                "order-status-change-event.json",
            ),
        ]
        .into_iter()
        .enumerate()
        .map(|(index, (topic, fixture))| {
            (
                topic.clone(),
                format!("traffic-{index}"),
                fixture_text(fixture),
            )
        })
        .collect();
        let running = Arc::new(AtomicBool::new(true));
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let (flowing, counted) = (running.clone(), acknowledged.clone());
        let task = tokio::spawn(async move {
            let mut failed = 0;
            let mut pace = tokio::time::interval(TRAFFIC_PACE);
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for (topic, key, payload) in events.iter().cycle() {
                if !flowing.load(Ordering::SeqCst) {
                    break;
                }
                pace.tick().await;
                let record = platform::kafka::Record {
                    topic,
                    key: Some(key.as_bytes()),
                    payload: Some(payload.as_bytes()),
                    headers: &[],
                };
                match platform::kafka::publish(&producer, &record).await {
                    Ok(()) => {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => failed += 1,
                }
            }
            failed
        });
        Traffic {
            running,
            acknowledged,
            task,
        }
    }

    /// Waits until the broker acknowledged `count` records of it.
    async fn wait_for(&self, count: usize) {
        eventually("the traffic to flow", EVENT_DEADLINE, || {
            let flowed = self.acknowledged.load(Ordering::SeqCst) >= count;
            async move { flowed.then_some(()) }
        })
        .await;
    }

    /// Stops it; the records the broker acknowledged, and those it did not.
    async fn stop(self) -> (usize, usize) {
        self.running.store(false, Ordering::SeqCst);
        let failed = self.task.await.expect("the traffic");
        (self.acknowledged.load(Ordering::SeqCst), failed)
    }
}

/// The lake's dead-letter topic: the poison records Connect put there, with the headers it
/// adds (`__connect.errors.*`).
async fn dead_letters(kafka: &KafkaSettings, lake: &Lake, at_least: usize) -> Vec<ConsumedRecord> {
    let settings = lake.settings();
    let topic = settings["dead_letter_topic"].as_str().expect("a DLT");
    let mut reader = TopicReader::new(kafka, topic);
    reader.read_at_least(at_least, EVENT_DEADLINE).await;
    reader.read_all(EVENT_DEADLINE).await.to_vec()
}

/// The records the tables cannot take, which the test put on the topics, per topic; Connect
/// dead-letters each.
#[derive(Default)]
struct Poison {
    left_out: BTreeMap<String, usize>,
}

impl Poison {
    fn dead_lettered(&self) -> usize {
        self.left_out.values().sum()
    }
}

/// What the lake should hold now: per topic, the records with a value less the poison.
async fn expected_rows(
    kafka: &KafkaSettings,
    topics: &Topics,
    poisoned: &Poison,
) -> BTreeMap<String, usize> {
    let mut expected = BTreeMap::new();
    for topic in topics.all() {
        let (with_value, _) = produced(kafka, topic).await;
        expected.insert(
            topic.to_owned(),
            with_value - poisoned.left_out.get(topic).copied().unwrap_or_default(),
        );
    }
    expected
}

/// After a fault: waits until the lake holds every record produced (less the poison), checks
/// that the connector and its task run, and writes the fault's row of the reliability table.
async fn after_fault(
    lake: &Lake,
    kafka: &KafkaSettings,
    topics: &Topics,
    poisoned: &Poison,
    scenario: &str,
    fault_ended: Instant,
    notes: String,
) {
    let expected = expected_rows(kafka, topics, poisoned).await;
    let counts = wait_for_the_tables(lake, &expected).await;
    let queryable = fault_ended.elapsed();
    let (states, trace) = lake.states().await;
    assert!(
        states.iter().all(|state| state == "RUNNING"),
        "{scenario}: the connector and its task run: {states:?} {trace:?}"
    );
    let tables = counts["tables"].as_object().expect("tables").values();
    let rows: u64 = tables
        .clone()
        .map(|table| table["rows"].as_u64().expect("rows"))
        .sum();
    let distinct: u64 = tables
        .map(|table| table["distinct_offsets"].as_u64().expect("distinct"))
        .sum();
    let produced: usize = expected.values().sum();
    let dead_lettered = dead_letters(kafka, lake, poisoned.dead_lettered())
        .await
        .len();
    let applied = usize::try_from(distinct).expect("a count");
    let row = Row {
        scenario: scenario.to_owned(),
        acknowledged: produced,
        applied,
        duplicated: usize::try_from(rows - distinct).expect("a count"),
        dead_lettered,
        lost: produced - applied,
        records_per_event: None,
        recovery_seconds: queryable.as_secs_f64(),
        notes,
    };
    row.report();
    assert_eq!(
        dead_lettered,
        poisoned.dead_lettered(),
        "{scenario}: the DLT holds the poison, nothing else"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lake_dead_letters_poison_and_holds_every_record_once_after_crashes_and_outages() {
    let mut broker = PrivateKafka::start();
    let kafka = broker.admin_settings();
    let topics = Topics::unique();
    test_support::create_topics_compacting(&kafka, &topics.all(), &[&topics.customer_change]).await;
    let lake = Lake::start(&broker.bootstrap_servers(), &topics);

    // Poison: records the tables cannot take, each followed by a good record on its partition
    // (the same key), each with what its reason on the DLT names.
    let valid_request: Value =
        serde_json::from_str(&fixture_text("fulfillment-request-event.json")).expect("an event");
    let mut wrong_type = valid_request.clone();
    wrong_type["timestamp"] = Value::from("yesterday");
    let mut too_many = valid_request.clone();
    too_many["order"]["orderItems"][0]["quantity"] = Value::from(3_000_000_000_u64);
    let valid_change: Value =
        serde_json::from_str(&fixture_text("order-status-change-event.json")).expect("an event");
    let mut nested = valid_change.clone();
    nested["orderStatusEvent"]["timestamp"] = Value::from("soon");
    let poison = [
        (
            &topics.customer_change,
            "not JSON",
            b"{not json".to_vec(),
            fixture_text("customer-change-event.json"),
            "Converting byte[] to Kafka Connect data failed",
        ),
        (
            &topics.order_fulfill,
            "a string for a long",
            wrong_type.to_string().into_bytes(),
            valid_request.to_string(),
            "/timestamp: string found, integer expected",
        ),
        (
            &topics.order_fulfill,
            "an int32 out of range",
            too_many.to_string().into_bytes(),
            valid_request.to_string(),
            "/order/orderItems/0/quantity: does not match the int32 pattern",
        ),
        (
            &topics.order_status_change,
            "JSON, not an object",
            b"42".to_vec(),
            valid_change.to_string(),
            "/: integer found, object expected",
        ),
        (
            &topics.order_status_change,
            "a wrong type nested in the value",
            nested.to_string().into_bytes(),
            valid_change.to_string(),
            "/orderStatusEvent/timestamp: string found, integer expected",
        ),
    ];
    let mut poisoned = Poison::default();
    for (topic, _, payload, good, _) in &poison {
        test_support::publish_raw(&kafka, topic, Some("poison"), Some(payload), &[]).await;
        test_support::publish_raw(&kafka, topic, Some("poison"), Some(good.as_bytes()), &[]).await;
        *poisoned.left_out.entry((*topic).clone()).or_default() += 1;
    }
    let published = Instant::now();
    let dead = dead_letters(&kafka, &lake, poison.len()).await;
    let mut reasons = Vec::new();
    for (topic, kind, payload, _, names) in &poison {
        let letter = dead
            .iter()
            .find(|letter| letter.payload.as_deref() == Some(payload.as_slice()))
            .unwrap_or_else(|| panic!("{kind} on the DLT"));
        assert_eq!(letter.headers["__connect.errors.topic"], **topic);
        let reason = &letter.headers["__connect.errors.exception.message"];
        assert!(
            reason.contains(names),
            "{kind}: the reason names it: {reason}"
        );
        reasons.push(format!("{kind}: {reason}"));
    }
    after_fault(
        &lake,
        &kafka,
        &topics,
        &poisoned,
        "lake: poison records (not JSON; a string for a long; an int32 out of range; not an object; a wrong type nested in the value)",
        published,
        format!(
            "each on the lake's DLT with its reason, the task RUNNING ({}); the good record behind each landed",
            reasons.join("; ")
        ),
    )
    .await;

    // Connect killed between commits while changes flow, then started again.
    let traffic = Traffic::start(&kafka, &topics);
    traffic.wait_for(TRAFFIC_BEFORE_FAULT).await;
    lake.kill_connect().await;
    let restarted = Instant::now();
    lake.start_again();
    let running_in = restarted.elapsed();
    let (acknowledged, failed) = traffic.stop().await;
    after_fault(
        &lake,
        &kafka,
        &topics,
        &poisoned,
        "lake: Connect killed (SIGKILL) while changes flow, started again",
        restarted,
        format!("{acknowledged} records produced meanwhile ({failed} refused); connector and task RUNNING {:.1} s after the restart", running_in.as_secs_f64()),
    )
    .await;

    // The object store away for 30 s while changes flow: the sink's S3 client retries
    // (iceberg.catalog.s3.retry.num-retries) until it is back, and the task runs throughout.
    let traffic = Traffic::start(&kafka, &topics);
    traffic.wait_for(TRAFFIC_BEFORE_FAULT).await;
    lake.stop_object_store();
    // The fault itself: the object store is away this long while the records flow.
    tokio::time::sleep(OUTAGE).await;
    let (states, trace) = lake.states().await;
    assert!(
        states.iter().all(|state| state == "RUNNING"),
        "the sink rides out the object store's outage: {states:?} {}",
        trace.unwrap_or_default()
    );
    lake.start_again();
    let back = Instant::now();
    let (acknowledged, failed) = traffic.stop().await;
    after_fault(
        &lake,
        &kafka,
        &topics,
        &poisoned,
        "lake: object store stopped for 30 s while changes flow",
        back,
        format!(
            "{acknowledged} records produced meanwhile ({failed} refused); the task RUNNING throughout, its S3 client retrying"
        ),
    )
    .await;

    // The broker away for 30 s while changes flow.
    let traffic = Traffic::start(&kafka, &topics);
    traffic.wait_for(TRAFFIC_BEFORE_FAULT).await;
    broker.stop();
    // The fault itself: the broker is away this long.
    tokio::time::sleep(OUTAGE).await;
    broker.restart();
    let back = Instant::now();
    let (acknowledged, failed) = traffic.stop().await;
    // Back means serving its partitions again, which follows the broker's start by a moment.
    eventually("the topics to have leaders again", EVENT_DEADLINE, || {
        let led = topics.all().iter().all(|topic| {
            let leaders = broker.leaders(topic);
            !leaders.is_empty() && leaders.iter().all(Option::is_some)
        });
        async move { led.then_some(()) }
    })
    .await;
    after_fault(
        &lake,
        &kafka,
        &topics,
        &poisoned,
        "lake: broker stopped for 30 s while changes flow",
        back,
        format!(
            "{acknowledged} records produced meanwhile, {failed} not acknowledged (counted from the topics all the same)"
        ),
    )
    .await;
}
