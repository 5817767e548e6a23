//! The data lake through the real services (docs/lake.md): the sample steps and a stream of
//! generated changes go through accounts, orders and fulfillment; the Iceberg sink copies their
//! topics into the tables; the tables then hold every record once, and count the order statuses
//! as fulfillment stored them.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use system_tests::faults::{Rig, Stream, converge, create_customer};
use system_tests::lake::Lake;
use test_support::{EVENT_DEADLINE, TopicReader, eventually, summed};

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
async fn produced(rig: &Rig, topic: &str) -> (usize, usize) {
    let mut reader = TopicReader::new(&rig.store.kafka, topic);
    let records = reader.read_all(EVENT_DEADLINE).await;
    let with_value: HashSet<(i32, i64)> = records
        .iter()
        .filter(|record| record.payload.is_some())
        .map(|record| (record.partition, record.offset))
        .collect();
    (with_value.len(), records.len() - with_value.len())
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
        let (rows, removals) = produced(&rig, topic).await;
        expected.insert(topic.to_owned(), rows);
        tombstones += removals;
    }
    assert!(tombstones >= 1, "the removed customer's tombstone");
    let waited = Instant::now();
    let counts = eventually("the tables to hold every record", LAKE_DEADLINE, || async {
        let counts = lake.query(&["counts"]).await;
        let found: BTreeMap<String, usize> = counts["tables"]
            .as_object()
            .expect("tables")
            .values()
            .map(|table| {
                let rows = table["rows"].as_u64().expect("rows");
                (
                    table["topic"].as_str().expect("topic").to_owned(),
                    rows as usize,
                )
            })
            .collect();
        (found == expected).then_some(counts)
    })
    .await;
    println!(
        "the tables held the {expected:?} records {:.1} s after the services settled",
        waited.elapsed().as_secs_f64()
    );
    for (table, numbers) in counts["tables"].as_object().expect("tables") {
        assert_eq!(
            numbers["rows"], numbers["distinct_offsets"],
            "{table}: a record became two rows"
        );
    }

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
