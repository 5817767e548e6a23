use std::time::Duration;

use orders::configuration::{self, Settings};
use orders::startup::Application;
use serde_json::{Value, json};
use test_support::{
    EVENT_DEADLINE, TopicReader, create_topics_with_dead_letters, eventually, publish_raw,
    unique_name,
};
use tokio_util::sync::CancellationToken;

/// A running orders app with its own database, topics and consumer group.
pub(crate) struct TestApp {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
    pub(crate) settings: Settings,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub(crate) async fn spawn_app() -> TestApp {
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
    let application = Application::build(settings.clone())
        .await
        .expect("building the app");
    let address = format!(
        "http://127.0.0.1:{}{}",
        application.port(),
        settings.http.base_path
    );
    let shutdown = application.shutdown_token();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        settings,
        shutdown,
    }
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

pub(crate) fn new_customer_id() -> String {
    mongodb::bson::oid::ObjectId::new().to_hex()
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Publishes a customer change as accounts does: keyed, with an event id.
    pub(crate) async fn publish_customer_change(&self, event: &Value, event_id: &str) {
        let id = event["id"].as_str().unwrap();
        let payload = event.to_string();
        publish_raw(
            &self.settings.kafka,
            &self.settings.topics.customer_change,
            Some(id),
            Some(payload.as_bytes()),
            &[("eventId", event_id)],
        )
        .await;
    }

    /// Waits until GET `path` answers 200 with a body that `accept` takes.
    pub(crate) async fn wait_for(&self, path: &str, accept: impl Fn(&Value) -> bool) -> Value {
        eventually(
            &format!("GET {path} to show the change"),
            EVENT_DEADLINE,
            || async {
                let response = self.get(path).await;
                if response.status() != 200 {
                    return None;
                }
                let body: Value = response.json().await.ok()?;
                accept(&body).then_some(body)
            },
        )
        .await
    }

    /// Waits until the customer copy exists.
    pub(crate) async fn wait_for_customer(&self, id: &str) -> Value {
        self.wait_for(&format!("/customers/{id}"), |_| true).await
    }

    pub(crate) fn reader(&self, topic: &str) -> TopicReader {
        TopicReader::new(&self.settings.kafka, topic)
    }
}
