use std::time::Duration;

use fulfillment::configuration::{self, Settings};
use serde_json::Value;
use test_support::{
    EVENT_DEADLINE, TopicReader, create_topics_with_dead_letters, eventually, publish_raw,
    unique_name,
};

/// A running fulfillment app with its own database, topics and consumer group.
pub(crate) type TestApp = test_support::TestApp<Settings>;

pub(crate) async fn spawn_app() -> TestApp {
    let mut settings = configuration::load().expect("loading settings");
    settings.http.host = "127.0.0.1".into();
    settings.http.port = 0;
    settings.http.workers = 1;
    settings.database.name = unique_name("fulfillment");
    settings.consumer.group_id = unique_name("fulfillment");
    settings.topics.order_fulfill = unique_name("order-fulfill");
    settings.topics.order_status_change = unique_name("order-status");
    settings.outbox.poll_interval = Duration::from_millis(200);
    create_topics_with_dead_letters(
        &settings.kafka,
        &[
            &settings.topics.order_fulfill,
            &settings.topics.order_status_change,
        ],
    )
    .await;
    let application = fulfillment::startup::build(settings.clone())
        .await
        .expect("building the app");
    let (port, shutdown) = (application.port(), application.shutdown_token());
    let base_path = settings.http.base_path.clone();
    TestApp::spawn(
        settings,
        port,
        &base_path,
        shutdown,
        application.run_until_stopped(),
    )
}

/// The golden fulfillment request with a fresh order guid.
pub(crate) fn fulfillment_request() -> (Value, String) {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../../shared-events/fixtures/fulfillment-request-event.json"
    ))
    .unwrap();
    let guid = uuid::Uuid::new_v4().to_string();
    event["order"]["guid"] = Value::String(guid.clone());
    (event, guid)
}

/// What fulfillment tests ask of their app besides HTTP.
pub(crate) trait FulfillmentApp {
    /// Publishes a fulfillment request as orders does: keyed by the order, with an event id.
    async fn publish_request(&self, event: &Value, event_id: &str);

    /// Waits until the summary lists `count` fulfillments, and returns them.
    async fn wait_for_fulfillments(&self, count: usize) -> Vec<Value>;

    /// Publishes a request for a new order and waits for its fulfillment, the app's first;
    /// returns the fulfillment's id.
    async fn first_fulfillment(&self) -> String;

    /// Reads `topic` from its beginning.
    fn reader(&self, topic: &str) -> TopicReader;
}

impl FulfillmentApp for TestApp {
    async fn publish_request(&self, event: &Value, event_id: &str) {
        let payload = event.to_string();
        publish_raw(
            &self.settings.kafka,
            &self.settings.topics.order_fulfill,
            event["order"]["guid"].as_str(),
            Some(payload.as_bytes()),
            &[("eventId", event_id)],
        )
        .await;
    }

    async fn wait_for_fulfillments(&self, count: usize) -> Vec<Value> {
        eventually(&format!("{count} fulfillments"), EVENT_DEADLINE, || async {
            let summary: Value = self.get("/fulfillments/summary").await.json().await.ok()?;
            let fulfillments = summary["fulfillments"].as_array()?.clone();
            (fulfillments.len() == count).then_some(fulfillments)
        })
        .await
    }

    async fn first_fulfillment(&self) -> String {
        let (request, _) = fulfillment_request();
        self.publish_request(&request, "e-1").await;
        let fulfillments = self.wait_for_fulfillments(1).await;
        fulfillments[0]["id"].as_str().unwrap().to_owned()
    }

    fn reader(&self, topic: &str) -> TopicReader {
        TopicReader::new(&self.settings.kafka, topic)
    }
}
