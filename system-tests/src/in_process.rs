//! The three services as apps inside the test process.

use std::time::Duration;

use platform::settings::KafkaSettings;
use serde_json::Value;
use test_support::{EVENT_DEADLINE, create_topics_compacting, eventually, unique_name};
use tokio_util::sync::CancellationToken;

/// The topics one storefront uses.
#[derive(Debug, Clone)]
pub struct Topics {
    pub customer_change: String,
    pub order_fulfill: String,
    pub order_status_change: String,
}

impl Topics {
    /// Names no other test uses.
    pub fn unique() -> Self {
        Topics {
            customer_change: unique_name("customer-change"),
            order_fulfill: unique_name("order-fulfill"),
            order_status_change: unique_name("order-status"),
        }
    }

    /// The three, in the order events flow: customer changes, fulfillment requests, status
    /// changes.
    pub fn all(&self) -> [&str; 3] {
        [
            &self.customer_change,
            &self.order_fulfill,
            &self.order_status_change,
        ]
    }
}

/// The three running services.
pub struct Storefront {
    pub accounts: String,
    pub orders: String,
    pub fulfillment: String,
    pub topics: Topics,
    pub kafka: KafkaSettings,
    pub fulfillment_group: String,
    pub client: reqwest::Client,
    shutdown: Vec<CancellationToken>,
}

impl Drop for Storefront {
    fn drop(&mut self) {
        for token in &self.shutdown {
            token.cancel();
        }
    }
}

const OUTBOX_POLL: Duration = Duration::from_millis(200);

impl Storefront {
    pub async fn start() -> Self {
        let topics = Topics::unique();

        let mut accounts = accounts::configuration::load().expect("accounts settings");
        accounts.http.port = 0;
        accounts.http.workers = 1;
        accounts.database.name = unique_name("accounts");
        accounts.topics.customer_change = topics.customer_change.clone();
        accounts.outbox.poll_interval = OUTBOX_POLL;
        let kafka = accounts.kafka.clone();
        // The customer changelog is compacted, as in every deployment.
        create_topics_compacting(&kafka, &topics.all(), &[&topics.customer_change]).await;
        let orders = orders_settings(&topics);

        let mut fulfillment = fulfillment::configuration::load().expect("fulfillment settings");
        fulfillment.http.port = 0;
        fulfillment.http.workers = 1;
        fulfillment.database.name = unique_name("fulfillment");
        fulfillment.consumer.group_id = unique_name("fulfillment");
        fulfillment.topics.order_fulfill = topics.order_fulfill.clone();
        fulfillment.topics.order_status_change = topics.order_status_change.clone();
        fulfillment.outbox.poll_interval = OUTBOX_POLL;
        let fulfillment_group = fulfillment.consumer.group_id.clone();

        let mut shutdown = Vec::new();
        let accounts_app = accounts::startup::build(accounts)
            .await
            .expect("building accounts");
        let accounts_url = format!("http://127.0.0.1:{}/accounts", accounts_app.port());
        shutdown.push(accounts_app.shutdown_token());
        tokio::spawn(accounts_app.run_until_stopped());

        let orders_url = start_orders(orders, &mut shutdown).await;

        let fulfillment_app = fulfillment::startup::build(fulfillment)
            .await
            .expect("building fulfillment");
        let fulfillment_url = format!("http://127.0.0.1:{}/fulfillment", fulfillment_app.port());
        shutdown.push(fulfillment_app.shutdown_token());
        tokio::spawn(fulfillment_app.run_until_stopped());

        Storefront {
            accounts: accounts_url,
            orders: orders_url,
            fulfillment: fulfillment_url,
            topics,
            kafka,
            fulfillment_group,
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    /// Starts another orders instance on these topics, with a database and a consumer group of
    /// its own, as a new deployment would; returns its base URL.
    pub async fn start_another_orders(&mut self) -> String {
        start_orders(orders_settings(&self.topics), &mut self.shutdown).await
    }

    /// GETs a URL and returns its status and body (JSON when it is JSON, else a string).
    pub async fn get(&self, url: &str) -> (u16, Value) {
        let response = self.client.get(url).send().await.expect("GET");
        let status = response.status().as_u16();
        let text = response.text().await.expect("reading a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// GETs a URL until `accept` takes its JSON body.
    pub async fn wait_for(&self, url: &str, accept: impl Fn(&Value) -> bool) -> Value {
        eventually(&format!("GET {url}"), EVENT_DEADLINE, || async {
            let (status, body) = self.get(url).await;
            (status == 200 && accept(&body)).then_some(body)
        })
        .await
    }

    /// Waits until orders shows every customer's fifth order in `status`.
    pub async fn wait_for_fifth_orders(&self, customers: usize, status: &str) -> Value {
        let url = format!("{}/customers/summary", self.orders);
        self.wait_for(&url, |summary| {
            crate::sample::fifth_orders_in(summary, customers, status)
        })
        .await
    }
}

/// Settings of an orders instance on `topics` with a database and a consumer group of its own.
fn orders_settings(topics: &Topics) -> orders::configuration::Settings {
    let mut orders = orders::configuration::load().expect("orders settings");
    orders.http.port = 0;
    orders.http.workers = 1;
    orders.database.name = unique_name("orders");
    orders.consumer.group_id = unique_name("orders");
    orders.topics.customer_change = topics.customer_change.clone();
    orders.topics.order_fulfill = topics.order_fulfill.clone();
    orders.topics.order_status_change = topics.order_status_change.clone();
    orders.outbox.poll_interval = OUTBOX_POLL;
    orders
}

/// Starts an orders app; its stop token joins `shutdown`. Returns its base URL.
async fn start_orders(
    settings: orders::configuration::Settings,
    shutdown: &mut Vec<CancellationToken>,
) -> String {
    let app = orders::startup::build(settings)
        .await
        .expect("building orders");
    let url = format!("http://127.0.0.1:{}/orders", app.port());
    shutdown.push(app.shutdown_token());
    tokio::spawn(app.run_until_stopped());
    url
}
