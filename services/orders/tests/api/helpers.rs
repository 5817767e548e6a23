use std::time::Duration;

use orders::configuration::{self, Settings};
use serde_json::{Value, json};
use shared_events::headers;
use test_support::{
    EVENT_DEADLINE, TopicReader, committed_count, create_topics_with_dead_letters, eventually,
    publish_raw, unique_name,
};

/// A running orders app with its own database, topics and consumer group.
pub(crate) type TestApp = test_support::TestApp<Settings>;

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings().await).await
}

/// Settings with a database, topics and a consumer group of the test's own, the topics created.
pub(crate) async fn test_settings() -> Settings {
    let mut settings = configuration::load().expect("loading settings");
    settings.http.host = "127.0.0.1".into();
    settings.http.port = 0;
    settings.http.workers = 1;
    settings.database.name = unique_name("orders");
    settings.consumer.group_id = unique_name("orders");
    settings.topics.customer_change = unique_name("customer-change");
    settings.topics.order_fulfill = unique_name("order-fulfill");
    settings.topics.order_status_change = unique_name("order-status");
    settings.outbox.poll_interval = Duration::from_millis(200);
    create_topics_with_dead_letters(
        &settings.kafka,
        &[
            &settings.topics.customer_change,
            &settings.topics.order_fulfill,
            &settings.topics.order_status_change,
        ],
    )
    .await;
    settings
}

pub(crate) async fn spawn_app_with(settings: Settings) -> TestApp {
    let application = orders::startup::build(settings.clone())
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

/// An app with these settings, and a customer copy in it made from a change event.
pub(crate) async fn app_with_customer_in(settings: Settings) -> (TestApp, String) {
    let app = spawn_app_with(settings).await;
    let id = new_customer_id();
    app.publish_customer_change(&customer_change(&id), "e-1")
        .await;
    app.wait_for_customer(&id).await;
    (app, id)
}

/// John Doe as upstream's accounts service published him: no key, no headers.
pub(crate) fn customer_change(id: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../../shared-events/fixtures/customer-change-event.json"
    ))
    .unwrap();
    event["id"] = json!(id);
    event
}

/// A product of the catalog.
pub(crate) const GREEN_WIDGET: &str = "7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37";

/// A new order of `quantity` of the product `guid`, as a client posts it.
pub(crate) fn order_of(guid: &str, quantity: u32) -> Value {
    json!({"orderItems": [{"product": {"guid": guid}, "quantity": quantity}]})
}

pub(crate) fn new_customer_id() -> String {
    mongodb::bson::oid::ObjectId::new().to_hex()
}

/// What orders tests ask of their app besides HTTP.
pub(crate) trait OrdersApp {
    /// Publishes a customer change as accounts does: keyed, with an event id.
    async fn publish_customer_change(&self, event: &Value, event_id: &str);

    /// Publishes a customer change keyed by its id, with these headers.
    async fn publish_customer_change_with(&self, event: &Value, headers: &[(&str, &str)]);

    /// Waits until the customer copy exists.
    async fn wait_for_customer(&self, id: &str) -> Value;

    /// Waits until the app's consumer group has committed `count` records of the customer
    /// change topic: every one of them handled.
    async fn wait_for_customer_changes_handled(&self, count: i64);

    /// Reads `topic` from its beginning.
    fn reader(&self, topic: &str) -> TopicReader;
}

impl OrdersApp for TestApp {
    async fn publish_customer_change(&self, event: &Value, event_id: &str) {
        self.publish_customer_change_with(event, &[(headers::EVENT_ID, event_id)])
            .await;
    }

    async fn publish_customer_change_with(&self, event: &Value, headers: &[(&str, &str)]) {
        let id = event["id"].as_str().unwrap();
        let payload = event.to_string();
        publish_raw(
            &self.settings.kafka,
            &self.settings.topics.customer_change,
            Some(id),
            Some(payload.as_bytes()),
            headers,
        )
        .await;
    }

    async fn wait_for_customer(&self, id: &str) -> Value {
        self.wait_for(&format!("/customers/{id}"), |_| true).await
    }

    async fn wait_for_customer_changes_handled(&self, count: i64) {
        let (kafka, group) = (&self.settings.kafka, &self.settings.consumer.group_id);
        let topic = &self.settings.topics.customer_change;
        eventually(
            &format!("{count} customer changes to be handled"),
            EVENT_DEADLINE,
            || async { (committed_count(kafka, group, topic) == count).then_some(()) },
        )
        .await;
    }

    fn reader(&self, topic: &str) -> TopicReader {
        TopicReader::new(&self.settings.kafka, topic)
    }
}
