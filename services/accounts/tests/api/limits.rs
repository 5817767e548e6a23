//! What holds a request back: a deadline when the database stops answering, and backpressure
//! when the outbox cannot be emptied.

use std::time::Duration;

use serde_json::Value;
use test_support::{EVENT_DEADLINE, PrivateDatabase, eventually, free_port};

use crate::helpers::{AccountsApp, customer_body, spawn_app_with, test_settings};

#[tokio::test]
async fn a_database_that_stops_answering_gets_503_within_the_deadline_then_recovers() {
    let database = PrivateDatabase::start();
    database.wait_answering().await;
    let mut settings = test_settings().await;
    settings.database.uri = database.uri().into();
    settings.database.timeout = Duration::from_millis(500);
    settings.http.request_timeout = Duration::from_secs(1);
    let app = spawn_app_with(settings).await;
    let created: Value = app.create_customer("ada@example.com").await;
    let path = format!("/customers/{}", created["id"].as_str().unwrap());

    database.pause().await;
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let error: Value = response.json().await.unwrap();
    assert!(
        ["timeout", "database_unavailable"].contains(&error["code"].as_str().unwrap()),
        "{error}"
    );
    let readiness = app
        .client
        .get(app.url("/actuator/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_eq!(readiness.status(), 503);

    database.resume();
    let customer = eventually("the customer to be served again", EVENT_DEADLINE, || {
        let request = app.client.get(app.url(&path)).send();
        async move {
            let response = request.await.ok()?;
            (response.status() == 200).then_some(())?;
            response.json::<Value>().await.ok()
        }
    })
    .await;
    assert_eq!(customer["contact"]["email"], "ada@example.com");
}

#[tokio::test]
async fn writes_are_refused_while_the_outbox_holds_more_than_its_limit() {
    let mut settings = test_settings().await;
    // No broker listens there: every event stays in the outbox.
    settings.kafka.bootstrap_servers = format!("127.0.0.1:{}", free_port());
    settings.kafka.delivery_timeout = Duration::from_millis(300);
    settings.outbox.max_pending = 1;
    let app = spawn_app_with(settings).await;
    for email in ["ada@example.com", "grace@example.com"] {
        let response = app.post("/customers", &customer_body(email)).await;
        assert_eq!(response.status(), 201);
    }

    let refused = eventually("a write to be refused", EVENT_DEADLINE, || {
        let request = app
            .client
            .post(app.url("/customers"))
            .json(&customer_body("alan@example.com"))
            .send();
        async move {
            let response = request.await.ok()?;
            (response.status() == 503).then_some(response)
        }
    })
    .await;
    assert_eq!(refused.headers()["retry-after"], "1");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "overloaded");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("waiting to be published"),
        "{error}"
    );
    let listed = app.get_json("/customers").await;
    assert!(
        listed["page"]["totalElements"].as_u64().unwrap() >= 2,
        "reads are still served: {listed}"
    );
}

#[tokio::test]
async fn a_customer_whose_outbox_is_full_is_refused_while_others_are_still_served() {
    let mut settings = test_settings().await;
    // Nothing publishes: every event stays in its customer's outbox.
    settings.outbox.relay_enabled = false;
    settings.documents.max_outbox_events = 2;
    let app = spawn_app_with(settings).await;
    let created: Value = app.create_customer("ada@example.com").await;
    let path = format!("/customers/{}", created["id"].as_str().unwrap());
    let rename = |last_name: &str| {
        app.client
            .patch(app.url(&path))
            .json(&serde_json::json!({"name": {
                "title": "Ms.", "firstName": "Ada", "lastName": last_name
            }}))
            .send()
    };
    assert_eq!(rename("King").await.unwrap().status(), 200);

    let refused = rename("Byron").await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "overloaded");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("holds 2 events waiting for the broker"),
        "{error}"
    );
    let customer = app.get_json(&path).await;
    assert_eq!(
        customer["name"]["lastName"], "King",
        "the refused change left no trace"
    );
    let other = app
        .post("/customers", &customer_body("grace@example.com"))
        .await;
    assert_eq!(other.status(), 201, "the limit is per document");
}
