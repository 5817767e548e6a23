use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use shared_events::{CustomerChangeEvent, headers};
use test_support::EVENT_DEADLINE;

use crate::helpers::{AccountsApp, customer_body, spawn_app, spawn_app_with, test_settings};

#[tokio::test]
async fn a_created_customer_is_published_keyed_with_headers_and_without_cards() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("ada@example.com").await;
    let id = created["id"].as_str().unwrap();

    let mut reader = app.customer_events();
    let record = reader.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert_eq!(record.key.as_deref(), Some(id));
    assert!(!record.text().contains("creditCards"));
    let event: CustomerChangeEvent = serde_json::from_str(record.text()).unwrap();
    assert_eq!(event.id, id);
    assert_eq!(event.contact.email, "ada@example.com");
    assert_eq!(record.headers[headers::EVENT_TYPE], "CustomerChangeEvent");
    assert_eq!(record.headers[headers::EVENT_SOURCE], "accounts");
    assert_eq!(
        record.headers[headers::TYPE_ID],
        "com.storefront.model.CustomerChangeEvent"
    );
    assert_eq!(record.headers[headers::EVENT_ID].len(), 36);
    assert!(record.headers.contains_key(headers::EVENT_TIME));
    assert!(record.headers.contains_key(headers::TRACEPARENT));
}

#[tokio::test]
async fn every_change_is_published_in_order_and_a_delete_publishes_a_tombstone() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("ada@example.com").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/customers/{id}");
    let patched = app
        .client
        .patch(app.url(&path))
        .json(
            &serde_json::json!({"name": {"title": "Ms.", "firstName": "Ada", "lastName": "King"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let deleted = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);

    let mut reader = app.customer_events();
    let records = reader.read_at_least(3, EVENT_DEADLINE).await.to_vec();
    assert!(
        records
            .iter()
            .all(|record| record.key.as_deref() == Some(id))
    );
    let partitions: std::collections::HashSet<i32> =
        records.iter().map(|record| record.partition).collect();
    assert_eq!(partitions.len(), 1, "one key, one partition");
    let first: CustomerChangeEvent = serde_json::from_str(records[0].text()).unwrap();
    let second: CustomerChangeEvent = serde_json::from_str(records[1].text()).unwrap();
    assert_eq!(first.name.last_name, "Lovelace");
    assert_eq!(second.name.last_name, "King");
    assert_eq!(records[2].payload, None);
    let versions: Vec<&str> = records
        .iter()
        .map(|record| record.headers[headers::AGGREGATE_VERSION].as_str())
        .collect();
    assert_eq!(versions, ["0", "1", "2"], "each change is the next version");
}

#[tokio::test]
async fn sample_customers_publish_three_changes_and_tombstone_the_replaced() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/customers/sample"))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        app.client
            .post(app.url("/customers/sample"))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let records = app.published_customer_events().await;
    assert_eq!(records.len(), 9, "everything the topic holds");
    let event_ids: HashSet<&str> = records
        .iter()
        .map(|record| record.headers[headers::EVENT_ID].as_str())
        .collect();
    assert_eq!(event_ids.len(), 9, "each record has an event id of its own");

    // Each key's records in order (one key, one partition): the first three customers were
    // published and then tombstoned at their next version, the three that replaced them only
    // published.
    let mut histories: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for record in &records {
        let kind = if record.payload.is_some() {
            "change"
        } else {
            "tombstone"
        };
        let version = &record.headers[headers::AGGREGATE_VERSION];
        histories
            .entry(record.key.as_deref().expect("a keyed record"))
            .or_default()
            .push(format!("{kind} {version}"));
    }
    let summary = app.get_json("/customers/summary").await;
    let current: Vec<&str> = summary["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|customer| customer["id"].as_str().unwrap())
        .collect();
    let (kept, replaced): (Vec<_>, Vec<_>) = histories
        .into_iter()
        .partition(|(key, _)| current.contains(key));
    assert_eq!((kept.len(), replaced.len()), (3, 3), "{current:?}");
    for (_, history) in kept {
        assert_eq!(history, ["change 0"]);
    }
    for (_, history) in replaced {
        assert_eq!(history, ["change 0", "tombstone 1"]);
    }
}

#[tokio::test]
async fn with_removals_unpublished_a_delete_publishes_nothing() {
    let mut settings = test_settings().await;
    settings.events.publish_removals = false;
    let app = spawn_app_with(settings).await;
    let created: Value = app.create_customer("ada@example.com").await;
    let path = format!("/customers/{}", created["id"].as_str().unwrap());
    let deleted = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get(&path).await.status(), 404);

    let records = app.published_customer_events().await;
    let kinds: Vec<bool> = records
        .iter()
        .map(|record| record.payload.is_some())
        .collect();
    assert_eq!(kinds, [true], "the change, and no tombstone");
}

/// Upstream's Sleuth sends B3 (`b3: {trace}-{span}-{sampled}`) and no `traceparent`: the request
/// continues that trace, and the record it causes carries it. (That records carry `b3` as well is
/// checked on the service processes, system-tests/tests/upstream_fleet.rs.)
#[tokio::test]
async fn a_request_with_only_a_b3_header_continues_its_trace_into_the_record() {
    let app = spawn_app().await;
    let trace_id = "80f198ee56343ba864fe8b2a57d3eff7";
    let response = app
        .client
        .post(app.url("/customers"))
        .header("b3", format!("{trace_id}-e457b5a2e4d86bd1-1"))
        .json(&customer_body("ada@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answered = response.headers()["traceparent"].to_str().unwrap();
    assert!(
        answered.starts_with(&format!("00-{trace_id}-")),
        "{answered}"
    );
    assert!(
        !answered.contains("e457b5a2e4d86bd1"),
        "the service's own span"
    );

    let mut reader = app.customer_events();
    let record = reader.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    let traceparent = &record.headers[headers::TRACEPARENT];
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent}"
    );
}
