use reqwest::Method;
use serde_json::{Value, json};
use shared_events::{FulfillmentRequestEvent, headers};
use test_support::EVENT_DEADLINE;

use crate::helpers::{
    GREEN_WIDGET, OrdersApp, TestApp, app_with_customer_in, customer_change, new_customer_id,
    order_of, spawn_app, test_settings,
};

async fn app_with_customer() -> (TestApp, String) {
    app_with_customer_in(test_settings().await).await
}

#[tokio::test]
async fn an_order_is_placed_created_and_approved_into_a_fulfillment_request() {
    let (app, id) = app_with_customer().await;
    let response = app
        .post(
            &format!("/customers/{id}/orders"),
            &order_of(GREEN_WIDGET, 2),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    let guid = order["guid"].as_str().unwrap().to_owned();
    assert!(location.ends_with(&format!("/orders/orders/{guid}")));
    assert_eq!(order["orderStatusEvents"][0]["orderStatusType"], "CREATED");
    assert_eq!(order["orderItems"][0]["product"]["price"], 11.99);

    let approved = app
        .post(&format!("/orders/{guid}/approve"), &json!({}))
        .await;
    assert_eq!(approved.status(), 200);
    let again = app
        .post(&format!("/orders/{guid}/approve"), &json!({}))
        .await;
    assert_eq!(again.status(), 409);

    let shown: Value = app
        .get(&format!("/orders/{guid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["orderStatusEvents"][1]["orderStatusType"], "APPROVED");

    let mut reader = app.reader(&app.settings.topics.order_fulfill);
    let record = reader.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert_eq!(record.key.as_deref(), Some(guid.as_str()));
    assert_eq!(
        record.headers[headers::EVENT_TYPE],
        "FulfillmentRequestEvent"
    );
    assert_eq!(record.headers[headers::EVENT_SOURCE], "orders");
    let request: FulfillmentRequestEvent = serde_json::from_str(record.text()).unwrap();
    assert_eq!(request.order.guid.to_string(), guid);
    assert_eq!(request.address.description, "My home address");
    assert_eq!(request.name.last_name, "Doe");
}

/// Orders placed at once for one customer all land in the one document that holds its orders:
/// a write from a stale read would store the orders it read, dropping one placed meanwhile.
/// A 409 after the retries is an honest refusal; every 201 must be kept, once.
#[tokio::test]
async fn orders_placed_at_once_for_one_customer_are_each_kept_exactly_once() {
    let (app, id) = app_with_customer().await;
    let bodies = vec![order_of(GREEN_WIDGET, 1); 16];
    let path = format!("/customers/{id}");
    let answers = app
        .send_at_once(&path, Method::POST, &format!("{path}/orders"), &bodies)
        .await;

    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert!(
        statuses.iter().all(|status| [201, 409].contains(status)),
        "{statuses:?}"
    );
    let mut placed: Vec<&str> = answers
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, order)| order["guid"].as_str().unwrap())
        .collect();
    assert!(!placed.is_empty(), "{statuses:?}");
    let copy = app.get_json(&path).await;
    let mut kept: Vec<&str> = copy["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["guid"].as_str().unwrap())
        .collect();
    placed.sort_unstable();
    kept.sort_unstable();
    assert_eq!(kept, placed, "the orders kept are the orders acknowledged");
}

#[tokio::test]
async fn invalid_orders_are_refused_with_a_reason() {
    let (app, id) = app_with_customer().await;
    let cases = [
        (
            format!("/customers/{id}/orders"),
            order_of(GREEN_WIDGET, 0),
            422,
            "invalid_order",
        ),
        (
            format!("/customers/{id}/orders"),
            order_of("00000000-0000-0000-0000-000000000000", 1),
            422,
            "invalid_order",
        ),
        (
            format!("/customers/{id}/orders"),
            json!({"orderItems": []}),
            422,
            "invalid_order",
        ),
        (
            format!("/customers/{id}/orders"),
            json!({"items": 1}),
            400,
            "malformed_body",
        ),
        (
            format!("/customers/{}/orders", new_customer_id()),
            order_of(GREEN_WIDGET, 1),
            404,
            "not_found",
        ),
        (
            "/orders/00000000-0000-0000-0000-000000000000/approve".to_owned(),
            json!({}),
            404,
            "not_found",
        ),
    ];
    for (path, body, status, code) in cases {
        let response = app.post(&path, &body).await;
        assert_eq!(response.status().as_u16(), status, "{path} {body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{path}: {error}");
    }
}

#[tokio::test]
async fn sample_orders_give_each_customer_five_and_fulfill_sends_the_approved_ones() {
    let app = spawn_app().await;
    let nothing = app.get("/customers/sample/fulfill").await;
    assert_eq!(nothing.status(), 404);

    let ids = [new_customer_id(), new_customer_id()];
    for (index, id) in ids.iter().enumerate() {
        app.publish_customer_change(&customer_change(id), &format!("e-{index}"))
            .await;
    }
    app.wait_for("/customers/summary", |body| {
        body["customers"].as_array().is_some_and(|c| c.len() == 2)
    })
    .await;

    let response = app.get("/customers/sample/orders").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "Sample orders added to customer orders"
    );
    let summary: Value = app.get("/customers/summary").await.json().await.unwrap();
    for customer in summary["customers"].as_array().unwrap() {
        assert_eq!(customer["orders"].as_array().unwrap().len(), 5);
    }

    let response = app.post("/customers/sample/fulfill", &json!({})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "All 'Approved' orders sent for fulfillment"
    );
    let mut reader = app.reader(&app.settings.topics.order_fulfill);
    let records = reader.read_at_least(2, EVENT_DEADLINE).await.to_vec();
    let mut keys: Vec<String> = records.iter().filter_map(|r| r.key.clone()).collect();
    keys.sort();
    let mut fifth: Vec<String> = summary["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|customer| customer["orders"][4]["guid"].as_str().unwrap().to_owned())
        .collect();
    fifth.sort();
    assert_eq!(keys, fifth);
}

#[tokio::test]
async fn the_customer_collection_is_hal() {
    let (app, id) = app_with_customer().await;
    let page: Value = app.get("/customers?size=5").await.json().await.unwrap();
    assert_eq!(page["page"]["totalElements"], 1);
    assert_eq!(page["_embedded"]["customerOrders"][0]["id"], id.as_str());
    assert!(
        page["_embedded"]["customerOrders"][0]["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/orders/customers/{id}"))
    );
}

/// The upstream demo's clients call the collection by Spring Data REST's name for it, and find
/// its items under the collection rel, as Spring Data REST embeds them.
#[tokio::test]
async fn the_customer_collection_answers_under_spring_data_rests_name_too() {
    let (app, id) = app_with_customer().await;
    let page: Value = app
        .get("/customerOrderses?size=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["page"]["totalElements"], 1);
    assert!(page["_embedded"].get("customerOrders").is_none(), "{page}");
    let item = &page["_embedded"]["customerOrderses"][0];
    assert_eq!(item["id"], id.as_str());
    let link = item["_links"]["self"]["href"].as_str().unwrap();
    assert!(
        link.ends_with(&format!("/orders/customerOrderses/{id}")),
        "{link}"
    );
    assert!(
        page["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .contains("/orders/customerOrderses?"),
        "{page}"
    );
    let one: Value = app
        .get(&format!("/customerOrderses/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], id.as_str());
    assert_eq!(one["_links"]["self"]["href"], link);
    let missing = app.get("/customerOrderses/5b189af9a8d05613315b0299").await;
    assert_eq!(missing.status(), 404);
}

/// As Spring Data REST: HAL's media type unless the client asks for plain JSON.
#[tokio::test]
async fn hal_resources_answer_the_media_type_the_request_accepts() {
    let (app, id) = app_with_customer().await;
    let one = format!("/customerOrderses/{id}");
    for path in ["/customerOrderses", "/customers", one.as_str()] {
        app.assert_answers_hal(path).await;
    }
}
