use std::time::Duration;

use serde_json::{Value, json};
use shared_events::headers;
use test_support::{EVENT_DEADLINE, publish_raw, summed};

use crate::helpers::{OrdersApp, customer_change, new_customer_id, spawn_app};

#[tokio::test]
async fn a_customer_change_updates_the_copy_without_touching_its_orders() {
    let app = spawn_app().await;
    let id = new_customer_id();
    app.publish_customer_change(&customer_change(&id), "e-1")
        .await;
    let copy = app.wait_for_customer(&id).await;
    assert_eq!(copy["orders"], json!([]));
    assert_eq!(app.get("/customers/sample/orders").await.status(), 200);

    let mut changed = customer_change(&id);
    changed["contact"]["email"] = json!("john@new.example.com");
    app.publish_customer_change(&changed, "e-2").await;
    let copy = app
        .wait_for(&format!("/customers/{id}"), |copy| {
            copy["contact"]["email"] == "john@new.example.com"
        })
        .await;
    assert_eq!(copy["orders"].as_array().unwrap().len(), 5);
}

/// The records a relay retry leaves when version 1's first send timed out after version 2 was
/// delivered: 2, then 1 and 2 again.
#[tokio::test]
async fn changes_that_arrive_out_of_order_leave_the_newest_version() {
    let app = spawn_app().await;
    let id = new_customer_id();
    let mut first = customer_change(&id);
    first["contact"]["email"] = json!("first@example.com");
    let mut second = customer_change(&id);
    second["contact"]["email"] = json!("second@example.com");
    let version = |event_id, version| {
        [
            (headers::EVENT_ID, event_id),
            (headers::AGGREGATE_VERSION, version),
        ]
    };
    app.publish_customer_change_with(&second, &version("e-2", "2"))
        .await;
    app.publish_customer_change_with(&first, &version("e-1", "1"))
        .await;
    app.publish_customer_change_with(&second, &version("e-2", "2"))
        .await;
    app.wait_for_customer_changes_handled(3).await;
    let copy = app.get_json(&format!("/customers/{id}")).await;
    assert_eq!(copy["contact"]["email"], "second@example.com");

    let topic = &app.settings.topics.customer_change;
    publish_raw(
        &app.settings.kafka,
        topic,
        Some(&id),
        Some(first.to_string().as_bytes()),
        &[(headers::AGGREGATE_VERSION, "not-a-number")],
    )
    .await;
    let mut dead_letters = app.reader(&format!("{topic}.DLT"));
    let record = dead_letters.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert!(
        record.headers["kafka_dlt-exception-message"].contains(headers::AGGREGATE_VERSION),
        "{:?}",
        record.headers
    );
}

/// Upstream's producers send no version, and a change can repeat an earlier content: only its
/// event id tells a redelivered change from a new one. Applied again, the redelivery would undo
/// the change that came after it.
#[tokio::test]
async fn a_redelivered_change_without_a_version_does_not_undo_the_change_after_it() {
    let app = spawn_app().await;
    let id = new_customer_id();
    let with_email = |email: &str| {
        let mut event = customer_change(&id);
        event["contact"]["email"] = json!(email);
        event
    };
    let first = with_email("first@example.com");
    let second = with_email("second@example.com");
    for (event, event_id) in [(&first, "e-1"), (&second, "e-2"), (&first, "e-1")] {
        app.publish_customer_change(event, event_id).await;
    }
    app.wait_for_customer_changes_handled(3).await;

    let copy = app.get_json(&format!("/customers/{id}")).await;
    assert_eq!(
        copy["contact"]["email"], "second@example.com",
        "the redelivered first change was applied again"
    );
    let exposition = app.get("/actuator/prometheus").await.text().await.unwrap();
    let topic_label = format!("topic=\"{}\"", app.settings.topics.customer_change);
    let ours = exposition
        .lines()
        .filter(|line| line.contains(&topic_label))
        .collect::<Vec<_>>()
        .join("\n");
    let outcome = |name| summed(&ours, "kafka_records_consumed_total", ("outcome", name));
    assert_eq!(
        [outcome("applied"), outcome("duplicate")],
        [2.0, 1.0],
        "outcomes of the three records"
    );
}

#[tokio::test]
async fn a_tombstone_removes_the_copy() {
    let app = spawn_app().await;
    let id = new_customer_id();
    app.publish_customer_change(&customer_change(&id), "e-1")
        .await;
    app.wait_for_customer(&id).await;
    publish_raw(
        &app.settings.kafka,
        &app.settings.topics.customer_change,
        Some(&id),
        None,
        &[],
    )
    .await;
    test_support::eventually("the copy to be removed", EVENT_DEADLINE, || async {
        (app.get(&format!("/customers/{id}")).await.status() == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_keyless_headerless_upstream_message_is_consumed() {
    let app = spawn_app().await;
    let id = new_customer_id();
    let payload = customer_change(&id).to_string();
    publish_raw(
        &app.settings.kafka,
        &app.settings.topics.customer_change,
        None,
        Some(payload.as_bytes()),
        &[],
    )
    .await;
    let copy = app.wait_for_customer(&id).await;
    assert_eq!(copy["name"]["firstName"], "John");
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_the_next_message_still_applied() {
    let app = spawn_app().await;
    let topic = app.settings.topics.customer_change.clone();
    let id = new_customer_id();
    publish_raw(
        &app.settings.kafka,
        &topic,
        Some(&id),
        Some(b"{not json"),
        &[],
    )
    .await;
    app.publish_customer_change(&customer_change(&id), "e-1")
        .await;
    app.wait_for_customer(&id).await;

    let mut dead_letters = app.reader(&format!("{topic}.DLT"));
    let record = dead_letters.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert_eq!(record.payload.as_deref(), Some(&b"{not json"[..]));
    assert_eq!(record.key.as_deref(), Some(id.as_str()));
    assert_eq!(record.headers["kafka_dlt-original-topic"], topic);
    assert!(
        record.headers["kafka_dlt-exception-message"].contains("not a valid CustomerChangeEvent"),
        "{:?}",
        record.headers
    );
}

/// A status change for an order guid, as fulfillment publishes it.
fn status_change(guid: &str, status: &str, timestamp: i64) -> Vec<u8> {
    json!({"guid": guid, "orderStatusEvent": {
        "timestamp": timestamp, "orderStatusType": status, "note": null}})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn status_changes_are_recorded_once_in_timestamp_order_and_unknown_ones_dead_lettered() {
    let app = spawn_app().await;
    let id = new_customer_id();
    app.publish_customer_change(&customer_change(&id), "e-1")
        .await;
    app.wait_for_customer(&id).await;
    app.get("/customers/sample/orders").await;
    let copy: Value = app
        .get(&format!("/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let guid = copy["orders"][4]["guid"].as_str().unwrap().to_owned();
    let created_at = copy["orders"][4]["orderStatusEvents"][0]["timestamp"]
        .as_i64()
        .unwrap();

    let topic = app.settings.topics.order_status_change.clone();
    let kafka = app.settings.kafka.clone();
    let shipped = status_change(&guid, "SHIPPED", created_at + 20);
    let processing = status_change(&guid, "PROCESSING", created_at + 10);
    // Out of order, the shipped one twice under two event ids, and the processing one twice
    // under the same event id.
    for (payload, event_id) in [
        (&shipped, "s-1"),
        (&processing, "p-1"),
        (&shipped, "s-2"),
        (&processing, "p-1"),
    ] {
        publish_raw(
            &kafka,
            &topic,
            Some(&guid),
            Some(payload),
            &[(headers::EVENT_ID, event_id)],
        )
        .await;
    }
    let unknown = status_change("00000000-0000-0000-0000-000000000000", "SHIPPED", 1);
    publish_raw(&kafka, &topic, None, Some(&unknown), &[]).await;
    let bad_status = status_change(&guid, "LOST_IN_SPACE", 1);
    publish_raw(&kafka, &topic, Some(&guid), Some(&bad_status), &[]).await;

    let mut dead_letters = app.reader(&format!("{topic}.DLT"));
    let records = dead_letters.read_at_least(2, EVENT_DEADLINE).await.to_vec();
    let reasons: Vec<&str> = records
        .iter()
        .map(|record| record.headers["kafka_dlt-exception-message"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("no order has the guid")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("LOST_IN_SPACE")),
        "{reasons:?}"
    );

    // The unknown status came after the others on the order's partition, so once it is
    // dead-lettered they have all been handled and the history is final.
    let order: Value = app
        .get(&format!("/orders/{guid}"))
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<&str> = order["orderStatusEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["orderStatusType"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["CREATED", "APPROVED", "PROCESSING", "SHIPPED"]);
    assert!(
        dead_letters
            .read_for(Duration::from_millis(500))
            .await
            .len()
            == 2
    );
}

#[tokio::test]
async fn liveness_watches_the_consumer_loop() {
    let app = spawn_app().await;
    let liveness = app
        .wait_for("/actuator/health/liveness", |body| body["status"] == "UP")
        .await;
    assert_eq!(liveness["components"]["consumer"]["status"], "UP");
    let health: Value = app.get("/actuator/health").await.json().await.unwrap();
    let components: Vec<&String> = health["components"].as_object().unwrap().keys().collect();
    assert_eq!(components, ["consumer", "kafka", "mongo"]);
}
