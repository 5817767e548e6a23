//! The three services as child processes of the test, started from the built binaries.

use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;

use platform::settings::KafkaSettings;
use test_support::{
    EVENT_DEADLINE, create_topics_with_dead_letters, eventually, free_port, unique_name,
};
use tokio::process::{Child, Command};

use crate::Topics;

/// One running service binary.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    /// The base URL, base path included, e.g. `http://127.0.0.1:40123/orders`.
    pub url: String,
    /// Where the process writes its log (JSON lines).
    pub log: PathBuf,
    _process: Child,
}

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
        let kafka = accounts::configuration::load()
            .expect("accounts settings")
            .kafka;
        create_topics_with_dead_letters(
            &kafka,
            &[
                &topics.customer_change,
                &topics.order_fulfill,
                &topics.order_status_change,
            ],
        )
        .await;
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
}

async fn start(name: &'static str, topics: &[(&str, &str)], settings: &[(&str, &str)]) -> Service {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("{}.log", unique_name(name)));
    let process = Command::new(binary(name))
        .env("APP_HTTP__PORT", port.to_string())
        .env("APP_HTTP__WORKERS", "1")
        .env("APP_DATABASE__NAME", unique_name(name))
        .env("APP_CONSUMER__GROUP_ID", unique_name(name))
        .env("APP_OUTBOX__POLL_INTERVAL", "200")
        .env("APP_TELEMETRY__LOG_FORMAT", "json")
        .envs(topics.iter().copied())
        .envs(settings.iter().copied())
        .stdout(File::create(&log).expect("creating the log file"))
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("starting {name}: {error}"));
    let url = format!("http://127.0.0.1:{port}/{name}");
    let client = reqwest::Client::new();
    let readiness = format!("{url}/actuator/health/readiness");
    eventually(&format!("{name} to be ready"), EVENT_DEADLINE, || async {
        let response = client.get(&readiness).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    Service {
        name,
        port,
        url,
        log,
        _process: process,
    }
}
