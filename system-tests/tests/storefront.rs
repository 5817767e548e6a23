//! The whole storefront: the seven sample calls, and a customer's life across services.

use serde_json::{Value, json};
use shared_events::headers;
use system_tests::faults::create_customer;
use system_tests::sample::refresh_sample_data;
use system_tests::schemas::{self, Case};
use system_tests::{Storefront, same_shape};
use test_support::{EVENT_DEADLINE, TopicReader, committed_count, eventually};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared-events/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The optional fields our events carry beyond upstream's (docs/events.md): upstream's consumers
/// ignore them, so the golden shape is checked without them; the schema cases check them.
const BEYOND_UPSTREAM: [&str; 1] = ["shippingMethod"];

/// Reads every record of a topic and checks each has a key, every header, and the golden shape:
/// what upstream's Spring `JsonDeserializer` needs is the `__TypeId__` naming upstream's `class`
/// and that JSON, apart from [`BEYOND_UPSTREAM`]. Returns their payloads.
async fn assert_topic_shape(
    store: &Storefront,
    topic: &str,
    count: usize,
    golden: &str,
    class: &str,
) -> Vec<Value> {
    let golden = fixture(golden);
    let mut payloads = Vec::new();
    let mut reader = TopicReader::new(&store.kafka, topic);
    let records = reader.read_at_least(count, EVENT_DEADLINE).await;
    for record in records {
        assert!(record.key.is_some(), "{topic}: a record without a key");
        for header in [
            headers::EVENT_ID,
            headers::EVENT_TYPE,
            headers::EVENT_SOURCE,
            headers::EVENT_TIME,
            headers::TRACEPARENT,
            headers::AGGREGATE_VERSION,
            headers::TYPE_ID,
        ] {
            assert!(
                record.headers.contains_key(header),
                "{topic}: no {header} header"
            );
        }
        assert_eq!(
            record.headers[headers::TYPE_ID],
            format!("{}.{class}", headers::JAVA_PACKAGE),
            "{topic}"
        );
        let payload: Value = serde_json::from_str(record.text()).unwrap();
        let mut upstreams = payload.clone();
        if let Value::Object(fields) = &mut upstreams {
            fields.retain(|name, _| !BEYOND_UPSTREAM.contains(&name.as_str()));
        }
        assert!(
            same_shape(&upstreams, &golden),
            "{topic}: {payload} is not shaped like {golden}"
        );
        payloads.push(payload);
    }
    payloads
}

/// The cases that hold `payloads` (of the event whose schemas are `<file>.json`) against what
/// producers write and what consumers read.
fn cases(what: &str, file: &str, payloads: Vec<Value>) -> Vec<Case> {
    payloads
        .into_iter()
        .enumerate()
        .flat_map(|(n, payload)| {
            ["json", "accepted.json"].map(|suffix| Case {
                what: format!("{what} #{n}"),
                schema: format!("{file}.{suffix}"),
                instance: payload.clone(),
            })
        })
        .collect()
}

#[tokio::test]
async fn the_seven_sample_calls_take_every_fifth_order_to_received() {
    let store = Storefront::start().await;
    let (accounts, orders, fulfillment) = (&store.accounts, &store.orders, &store.fulfillment);

    let (status, body) = store.get(&format!("{accounts}/customers/sample")).await;
    assert_eq!(
        (status, body.as_str()),
        (201, Some("Sample customer accounts created"))
    );
    store
        .wait_for(&format!("{orders}/customers/summary"), |summary| {
            summary["customers"]
                .as_array()
                .is_some_and(|c| c.len() == 3)
        })
        .await;

    let (status, body) = store
        .get(&format!("{orders}/customers/sample/orders"))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (200, Some("Sample orders added to customer orders"))
    );

    for _ in 0..2 {
        let (status, body) = store
            .get(&format!("{orders}/customers/sample/fulfill"))
            .await;
        assert_eq!(
            (status, body.as_str()),
            (200, Some("All 'Approved' orders sent for fulfillment"))
        );
    }
    // Both rounds of requests consumed, whatever the order of the partitions.
    eventually(
        "fulfillment to consume both rounds",
        EVENT_DEADLINE,
        || async {
            (committed_count(
                &store.kafka,
                &store.fulfillment_group,
                &store.topics.order_fulfill,
            ) == 6)
                .then_some(())
        },
    )
    .await;

    let steps = [
        (
            "process",
            "Order status changed to 'Processing'",
            "PROCESSING",
        ),
        ("ship", "Order status changed to 'Shipped'", "SHIPPED"),
        (
            "in-transit",
            "Order status changed to 'In Transit'",
            "IN_TRANSIT",
        ),
        ("receive", "Order status changed to 'Received'", "RECEIVED"),
    ];
    for (step, reply, status_type) in steps {
        let (status, body) = store
            .get(&format!("{fulfillment}/fulfillment/sample/{step}"))
            .await;
        assert_eq!((status, body.as_str()), (200, Some(reply)), "{step}");
        store.wait_for_fifth_orders(3, status_type).await;
    }

    let (_, customers) = store.get(&format!("{accounts}/customers/summary")).await;
    assert_eq!(customers["customers"].as_array().unwrap().len(), 3);
    let (_, copies) = store.get(&format!("{orders}/customers/summary")).await;
    for copy in copies["customers"].as_array().unwrap() {
        let orders = copy["orders"].as_array().unwrap();
        assert_eq!(orders.len(), 5);
        let history: Vec<&str> = orders[4]["orderStatusEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["orderStatusType"].as_str().unwrap())
            .collect();
        assert_eq!(
            history,
            [
                "CREATED",
                "APPROVED",
                "PROCESSING",
                "SHIPPED",
                "IN_TRANSIT",
                "RECEIVED"
            ]
        );
    }
    let (_, fulfillments) = store
        .get(&format!("{fulfillment}/fulfillments/summary"))
        .await;
    assert_eq!(fulfillments["fulfillments"].as_array().unwrap().len(), 3);

    let mut checked = Vec::new();
    for (topic, count, event, class) in [
        (
            &store.topics.customer_change,
            3,
            "customer-change-event",
            "CustomerChangeEvent",
        ),
        (
            &store.topics.order_fulfill,
            6,
            "fulfillment-request-event",
            "FulfillmentRequestEvent",
        ),
        (
            &store.topics.order_status_change,
            12,
            "order-status-change-event",
            "OrderStatusChangeEvent",
        ),
    ] {
        let golden = format!("{event}.json");
        let payloads = assert_topic_shape(&store, topic, count, &golden, class).await;
        checked.extend(cases(&format!("record of {topic}"), event, payloads));
        checked.extend(cases(
            &format!("fixture {golden}"),
            event,
            vec![fixture(&golden)],
        ));
    }
    // The validator does refuse: a customer without an email, and a price as a string, which
    // only consumers take.
    let mut no_email = fixture("customer-change-event.json");
    no_email["contact"].as_object_mut().unwrap().remove("email");
    checked.extend(cases("no email", "customer-change-event", vec![no_email]));
    let mut string_price = fixture("fulfillment-request-event.json");
    string_price["order"]["orderItems"][0]["product"]["price"] = json!("11.99");
    checked.extend(cases(
        "string price",
        "fulfillment-request-event",
        vec![string_price],
    ));
    let failures = schemas::failures(&checked).await;
    let failed: Vec<(&str, &str)> = failures
        .iter()
        .map(|line| {
            let (what, rest) = line.split_once(" against ").unwrap();
            (what, rest.split_once(':').unwrap().0)
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("no email #0", "customer-change-event.json"),
            ("no email #0", "customer-change-event.accepted.json"),
            ("string price #0", "fulfillment-request-event.json"),
        ],
        "every record produced and every fixture satisfies both schemas: {failures:#?}"
    );
}

#[tokio::test]
async fn a_customer_change_in_accounts_reaches_orders_and_a_delete_removes_the_copy() {
    let store = Storefront::start().await;
    let id = create_customer(&store.client, &store.accounts, "ada@example.com").await;
    let copy_url = format!("{}/customers/{id}", store.orders);
    store.wait_for(&copy_url, |_| true).await;

    let placed = store
        .client
        .post(format!("{copy_url}/orders"))
        .json(&json!({"orderItems": [
            {"product": {"guid": "b5efd4a0-4eb9-4ad0-bc9e-2f5542cbe897"}, "quantity": 3}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);

    let patched = store
        .client
        .patch(format!("{}/customers/{id}", store.accounts))
        .json(
            &json!({"contact": {"primaryPhone": "555-000-2222", "email": "countess@example.com"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let copy = store
        .wait_for(&copy_url, |copy| {
            copy["contact"]["email"] == "countess@example.com"
        })
        .await;
    assert_eq!(
        copy["orders"].as_array().unwrap().len(),
        1,
        "orders untouched"
    );

    let deleted = store
        .client
        .delete(format!("{}/customers/{id}", store.accounts))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    eventually("the copy to be removed", EVENT_DEADLINE, || async {
        (store.get(&copy_url).await.0 == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_sample_data_script_loads_the_sample_data() {
    let store = Storefront::start().await;
    refresh_sample_data(&store.accounts, &store.orders, &store.fulfillment).await;
    store.wait_for_fifth_orders(3, "RECEIVED").await;
}

/// `accounts.customer.change` is a compacted changelog: an orders instance with a database and
/// a consumer group of its own, started after every change was made, rebuilds each customer's
/// copy from the topic, with the latest change, and without the removed customer.
#[tokio::test]
async fn an_orders_instance_with_a_new_group_rebuilds_every_customer_from_the_changelog() {
    let mut store = Storefront::start().await;
    assert_eq!(
        test_support::topic_config(
            &store.kafka,
            &store.topics.customer_change,
            "cleanup.policy"
        )
        .await
        .as_deref(),
        Some("compact")
    );
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        let email = format!("{name}@example.com");
        ids.push(create_customer(&store.client, &store.accounts, &email).await);
    }
    let changed = store
        .client
        .patch(format!("{}/customers/{}", store.accounts, ids[0]))
        .json(&json!({"contact": {"primaryPhone": "555-000-1111", "email": "changed@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let removed = store
        .client
        .delete(format!("{}/customers/{}", store.accounts, ids[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);

    let expected = |summary: &Value| -> bool {
        let Some(copies) = summary["customers"].as_array() else {
            return false;
        };
        let mut seen: Vec<(&str, &str)> = copies
            .iter()
            .filter_map(|copy| Some((copy["id"].as_str()?, copy["contact"]["email"].as_str()?)))
            .collect();
        seen.sort_unstable();
        let mut wanted = vec![
            (ids[0].as_str(), "changed@example.com"),
            (ids[1].as_str(), "second@example.com"),
        ];
        wanted.sort_unstable();
        seen == wanted
    };
    store
        .wait_for(&format!("{}/customers/summary", store.orders), expected)
        .await;
    let late = store.start_another_orders().await;
    store
        .wait_for(&format!("{late}/customers/summary"), expected)
        .await;
}
