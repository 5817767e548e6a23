use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use shared_events::{OrderStatusChangeEvent, OrderStatusType, headers};
use test_support::{EVENT_DEADLINE, publish_raw};

use crate::helpers::{FulfillmentApp, fulfillment_request, spawn_app};

#[tokio::test]
async fn one_fulfillment_per_order_however_often_it_is_requested() {
    let app = spawn_app().await;
    let (request, guid) = fulfillment_request();
    app.publish_request(&request, "e-1").await;
    app.publish_request(&request, "e-2").await;
    let (other, _) = fulfillment_request();
    app.publish_request(&other, "e-3").await;

    let fulfillments = app.wait_for_fulfillments(2).await;
    let ours: Vec<&Value> = fulfillments
        .iter()
        .filter(|f| f["order"]["guid"] == guid.as_str())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["address"]["type"], "SHIPPING");
    assert_eq!(ours[0]["shippingMethod"], Value::Null);
    let id = ours[0]["id"].as_str().unwrap();
    let fetched: Value = app
        .get(&format!("/fulfillments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["order"]["guid"], guid.as_str());
    let by_order: Value = app
        .get(&format!("/fulfillments/search/findByOrderGuid?guid={guid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_order["id"], id);
}

#[tokio::test]
async fn the_sample_steps_move_approved_orders_to_received_and_publish_each_step() {
    let app = spawn_app().await;
    let (request, guid) = fulfillment_request();
    app.publish_request(&request, "e-1").await;
    app.wait_for_fulfillments(1).await;

    let steps = [
        (
            "/fulfillment/sample/process",
            "Order status changed to 'Processing'",
        ),
        (
            "/fulfillments/sample/ship",
            "Order status changed to 'Shipped'",
        ),
        (
            "/fulfillment/sample/in-transit",
            "Order status changed to 'In Transit'",
        ),
        (
            "/fulfillments/sample/receive",
            "Order status changed to 'Received'",
        ),
    ];
    for (index, (path, reply)) in steps.into_iter().enumerate() {
        let response = if index % 2 == 0 {
            app.get(path).await
        } else {
            app.post(path, &json!({})).await
        };
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), reply);
    }

    let mut reader = app.reader(&app.settings.topics.order_status_change);
    let records = reader.read_at_least(4, EVENT_DEADLINE).await.to_vec();
    let (statuses, methods): (Vec<OrderStatusType>, Vec<Option<Value>>) = records
        .iter()
        .map(|record| {
            assert_eq!(record.key.as_deref(), Some(guid.as_str()));
            assert_eq!(
                record.headers[headers::EVENT_TYPE],
                "OrderStatusChangeEvent"
            );
            let event: Value = serde_json::from_str(record.text()).unwrap();
            let method = event.get("shippingMethod").cloned();
            let event: OrderStatusChangeEvent = serde_json::from_value(event).unwrap();
            (event.order_status_event.order_status_type, method)
        })
        .unzip();
    use OrderStatusType::*;
    assert_eq!(statuses, [Processing, Shipped, InTransit, Received]);

    let fulfillment = &app.wait_for_fulfillments(1).await[0];
    let method = &fulfillment["shippingMethod"];
    assert!(["USPS", "FedEx", "UPS", "Uber", "Drone"].contains(&method.as_str().unwrap()));
    // Chosen at SHIPPED, carried from then on, and absent (not null) before.
    let carried = Some(method.clone());
    assert_eq!(methods, [None, carried.clone(), carried.clone(), carried]);
    let last = fulfillment["order"]["orderStatusEvents"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["orderStatusType"], "RECEIVED");
}

#[tokio::test]
async fn a_status_change_follows_the_state_machine() {
    let app = spawn_app().await;
    let id = app.first_fulfillment().await;
    let path = format!("/fulfillments/{id}/status");

    let illegal = app
        .post(&path, &json!({"orderStatusType": "RECEIVED"}))
        .await;
    assert_eq!(illegal.status(), 422);
    assert_eq!(
        illegal.json::<Value>().await.unwrap()["code"],
        "illegal_transition"
    );
    let same = app
        .post(&path, &json!({"orderStatusType": "APPROVED"}))
        .await;
    assert_eq!(same.status(), 409);
    let unknown = app.post(&path, &json!({"orderStatusType": "LOST"})).await;
    assert_eq!(unknown.status(), 400);

    let held = app
        .post(&path, &json!({"orderStatusType": "PROCESSING"}))
        .await;
    assert_eq!(held.status(), 200);
    let held = app
        .post(
            &path,
            &json!({"orderStatusType": "ON_HOLD", "note": "Items out of stock"}),
        )
        .await;
    assert_eq!(held.status(), 200);
    let body: Value = held.json().await.unwrap();
    assert_eq!(
        body["order"]["orderStatusEvents"][3]["note"],
        "Items out of stock"
    );

    let mut reader = app.reader(&app.settings.topics.order_status_change);
    let records = reader.read_at_least(2, EVENT_DEADLINE).await.to_vec();
    let event: OrderStatusChangeEvent = serde_json::from_str(records[1].text()).unwrap();
    assert_eq!(
        event.order_status_event.note.as_deref(),
        Some("Items out of stock")
    );
    assert_eq!(reader.read_for(Duration::from_millis(500)).await.len(), 2);
}

/// Requests that all move one fulfillment to the same next status, at once: one of them does,
/// the others find it there already (409). Without the version check, every request that read
/// the fulfillment before the first write would move it again, be acknowledged and publish the
/// move again. The first request of a race can be done before another reads, so the race is
/// run for each step of the happy path (and the return), each a chance for stale reads to show.
#[tokio::test]
async fn a_status_requested_at_once_by_many_is_recorded_once_for_the_one_acknowledged() {
    let app = spawn_app().await;
    let path = format!("/fulfillments/{}", app.first_fulfillment().await);
    let steps = [
        "PROCESSING",
        "SHIPPED",
        "IN_TRANSIT",
        "RECEIVED",
        "RETURNED",
    ];
    for step in steps {
        let bodies = vec![json!({"orderStatusType": step}); 16];
        let answers = app
            .send_at_once(&path, Method::POST, &format!("{path}/status"), &bodies)
            .await;
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        let acknowledged = statuses.iter().filter(|status| **status == 200).count();
        let refused = statuses.iter().filter(|status| **status == 409).count();
        assert_eq!((acknowledged, refused), (1, 15), "{step}: {statuses:?}");
    }

    let fulfillment = app.get_json(&path).await;
    let history: Vec<&str> = fulfillment["order"]["orderStatusEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["orderStatusType"].as_str().unwrap())
        .collect();
    assert_eq!(history[..2], ["CREATED", "APPROVED"]);
    assert_eq!(
        history[2..],
        steps,
        "each acknowledged status recorded once"
    );
}

#[tokio::test]
async fn a_poison_request_is_dead_lettered_and_the_next_one_still_applied() {
    let app = spawn_app().await;
    let topic = app.settings.topics.order_fulfill.clone();
    publish_raw(
        &app.settings.kafka,
        &topic,
        Some("k"),
        Some(b"[1,2,3]"),
        &[],
    )
    .await;
    let (request, _) = fulfillment_request();
    app.publish_request(&request, "e-1").await;
    app.wait_for_fulfillments(1).await;

    let mut dead_letters = app.reader(&format!("{topic}.DLT"));
    let record = dead_letters.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert_eq!(record.payload.as_deref(), Some(&b"[1,2,3]"[..]));
    assert!(record.headers["kafka_dlt-exception-message"].contains("FulfillmentRequestEvent"));
}

#[tokio::test]
async fn unknown_ids_and_pages_get_json_errors() {
    let app = spawn_app().await;
    for (path, status) in [
        ("/fulfillments/5b1bf1b8a8d0562de5133d64", 404),
        ("/fulfillments/nope", 404),
        ("/fulfillments?size=0", 400),
        ("/fulfillments/search/findByOrderGuid?guid=nope", 400),
        ("/fulfillments/search/findByOrderGuid", 400),
        (
            "/fulfillments/search/findByOrderGuid?guid=a9d5a5c7-4245-4b4e-b1c3-1d3968f36b2d",
            404,
        ),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["code"].is_string() && body["message"].is_string());
    }
    let page: Value = app.get("/fulfillments").await.json().await.unwrap();
    assert_eq!(page["page"]["totalElements"], 0);
}

/// As Spring Data REST: HAL's media type unless the client asks for plain JSON.
#[tokio::test]
async fn hal_resources_answer_the_media_type_the_request_accepts() {
    let app = spawn_app().await;
    app.assert_answers_hal("/fulfillments").await;
}
