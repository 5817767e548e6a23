//! The three services as child processes of the test, started from the built binaries.

use std::path::PathBuf;

use platform::settings::KafkaSettings;
use test_support::{ServiceProcess, create_topics_with_dead_letters, unique_name};

use crate::Topics;

/// One running service binary: the harness the benchmark uses too.
pub type Service = ServiceProcess;

/// The three services running as processes.
pub struct Storefront {
    pub accounts: Service,
    pub orders: Service,
    pub fulfillment: Service,
    pub topics: Topics,
    pub kafka: KafkaSettings,
}

/// A service binary next to the test binary (`cargo test --workspace` builds them).
fn binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let binary = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join(name);
    assert!(
        binary.exists(),
        "{} is not built: run the tests with --workspace",
        binary.display()
    );
    binary
}

impl Storefront {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts the three with these settings added to each one's environment.
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        let topics = Topics {
            customer_change: unique_name("customer-change"),
            order_fulfill: unique_name("order-fulfill"),
            order_status_change: unique_name("order-status"),
        };
        let mut kafka = accounts::configuration::load()
            .expect("accounts settings")
            .kafka;
        // A test with a broker of its own says so in the settings.
        if let Some((_, servers)) = settings
            .iter()
            .find(|(key, _)| *key == "APP_KAFKA__BOOTSTRAP_SERVERS")
        {
            (*servers).clone_into(&mut kafka.bootstrap_servers);
        }
        create_topics_with_dead_letters(&kafka, &topics.all()).await;
        let topic_settings = [
            (
                "APP_TOPICS__CUSTOMER_CHANGE",
                topics.customer_change.as_str(),
            ),
            ("APP_TOPICS__ORDER_FULFILL", topics.order_fulfill.as_str()),
            (
                "APP_TOPICS__ORDER_STATUS_CHANGE",
                topics.order_status_change.as_str(),
            ),
        ];
        let accounts = start("accounts", &topic_settings[..1], settings).await;
        let orders = start("orders", &topic_settings, settings).await;
        let fulfillment = start("fulfillment", &topic_settings[1..], settings).await;
        Storefront {
            accounts,
            orders,
            fulfillment,
            topics,
            kafka,
        }
    }

    pub fn services(&self) -> [&Service; 3] {
        [&self.accounts, &self.orders, &self.fulfillment]
    }

    /// The first instance of the service `name`.
    pub fn service(&self, name: &str) -> &Service {
        self.services()
            .into_iter()
            .find(|service| service.name == name)
            .expect("accounts, orders or fulfillment")
    }
}

async fn start(name: &'static str, topics: &[(&str, &str)], settings: &[(&str, &str)]) -> Service {
    let (database, group) = (unique_name(name), unique_name(name));
    let mut environment = vec![
        ("APP_HTTP__WORKERS", "1"),
        ("APP_DATABASE__NAME", database.as_str()),
        // Dynamic group membership, the default; a test adds APP_CONSUMER__INSTANCE_ID for
        // static membership.
        ("APP_CONSUMER__GROUP_ID", group.as_str()),
        ("APP_OUTBOX__POLL_INTERVAL", "200"),
        ("APP_TELEMETRY__LOG_FORMAT", "json"),
    ];
    environment.extend_from_slice(topics);
    environment.extend_from_slice(settings);
    let log = std::env::temp_dir().join(format!("{}.log", unique_name(name)));
    let (service, _) = ServiceProcess::start(&binary(name), name, &environment, log)
        .await
        .unwrap_or_else(|error| panic!("starting {name}: {error:#}"));
    service
}
