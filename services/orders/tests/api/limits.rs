//! What keeps a customer's document under MongoDB's 16 MiB: an order past the limit is
//! refused, and a change the copy cannot hold is dead-lettered while the next ones apply.

use serde_json::{Value, json};
use test_support::EVENT_DEADLINE;

use crate::helpers::{
    GREEN_WIDGET, OrdersApp, TestApp, app_with_customer_in, customer_change, order_of,
    test_settings,
};

/// An app whose customer documents hold at most 4 KiB, and a customer copy in it.
async fn app_with_small_documents() -> (TestApp, String) {
    let mut settings = test_settings().await;
    settings.documents.max_bytes = 4096;
    app_with_customer_in(settings).await
}

#[tokio::test]
async fn an_order_that_would_outgrow_the_customers_document_is_refused_with_413() {
    let (app, id) = app_with_small_documents().await;
    let path = format!("/customers/{id}/orders");
    let mut placed = 0;
    let refused = loop {
        let response = app.post(&path, &order_of(GREEN_WIDGET, 1)).await;
        if response.status() != 201 {
            break response;
        }
        placed += 1;
        assert!(placed < 100, "4 KiB cannot hold 100 orders");
    };
    assert_eq!(refused.status(), 413);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "document_too_large");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("over its limit of 4096 bytes"),
        "{error}"
    );
    assert!(placed > 0, "the first order fits");
    let copy = app.get_json(&format!("/customers/{id}")).await;
    assert_eq!(copy["orders"].as_array().unwrap().len(), placed);
}

#[tokio::test]
async fn a_change_the_copy_cannot_hold_is_dead_lettered_and_the_next_one_applied() {
    let (app, id) = app_with_small_documents().await;
    let mut huge = customer_change(&id);
    let address = huge["addresses"][0].clone();
    huge["addresses"] = Value::Array(vec![address; 40]);
    app.publish_customer_change(&huge, "e-2").await;
    let mut next = customer_change(&id);
    next["contact"]["email"] = json!("next@example.com");
    app.publish_customer_change(&next, "e-3").await;

    let copy = app
        .wait_for(&format!("/customers/{id}"), |copy| {
            copy["contact"]["email"] == "next@example.com"
        })
        .await;
    assert_eq!(copy["addresses"].as_array().unwrap().len(), 2);
    let topic = format!("{}.DLT", app.settings.topics.customer_change);
    let mut dead_letters = app.reader(&topic);
    let record = dead_letters.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert_eq!(record.key.as_deref(), Some(id.as_str()));
    assert!(
        record.headers["kafka_dlt-exception-message"].contains("over its limit"),
        "{:?}",
        record.headers
    );
}
