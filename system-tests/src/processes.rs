//! The three services as child processes of the test, started from the built binaries.

use std::path::PathBuf;
use std::process::Stdio;

use platform::settings::KafkaSettings;
use test_support::{
    EVENT_DEADLINE, create_topics_with_dead_letters, eventually, free_port, send_signal,
    unique_name,
};
use tokio::process::{Child, Command};

use crate::Topics;

/// One running service binary.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    /// The base URL, base path included, e.g. `http://127.0.0.1:40123/orders`.
    pub url: String,
    /// Where the process writes its log (JSON lines), appended to across restarts.
    pub log: PathBuf,
    /// Its settings, kept to restart it as it was.
    environment: Vec<(String, String)>,
    process: Option<Child>,
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
    let port = free_port();
    let mut environment: Vec<(String, String)> = [
        ("APP_HTTP__PORT", port.to_string()),
        ("APP_HTTP__WORKERS", "1".to_owned()),
        ("APP_DATABASE__NAME", unique_name(name)),
        // Dynamic group membership, the default; a test adds APP_CONSUMER__INSTANCE_ID for
        // static membership.
        ("APP_CONSUMER__GROUP_ID", unique_name(name)),
        ("APP_OUTBOX__POLL_INTERVAL", "200".to_owned()),
        ("APP_TELEMETRY__LOG_FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    environment.extend(entries(topics).chain(entries(settings)));
    let mut service = Service {
        name,
        port,
        url: format!("http://127.0.0.1:{port}/{name}"),
        log: std::env::temp_dir().join(format!("{}.log", unique_name(name))),
        environment,
        process: None,
    };
    service.restart().await;
    service
}

/// Settings as environment entries.
fn entries<'a>(settings: &'a [(&str, &str)]) -> impl Iterator<Item = (String, String)> + 'a {
    settings
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
}

impl Service {
    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Child::id)
    }

    /// A setting it was started with, e.g. `APP_DATABASE__NAME`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.environment
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Starts another instance of this service, as a scaled deployment would: the same
    /// settings (database, consumer group, instance id if any) with `settings` added, but its
    /// own port and log.
    pub async fn another_instance(&self, settings: &[(&str, &str)]) -> Service {
        let port = free_port();
        let mut environment = self.environment.clone();
        environment.push(("APP_HTTP__PORT".to_owned(), port.to_string()));
        environment.extend(entries(settings));
        let mut service = Service {
            name: self.name,
            port,
            url: format!("http://127.0.0.1:{port}/{}", self.name),
            log: std::env::temp_dir().join(format!("{}.log", unique_name(self.name))),
            environment,
            process: None,
        };
        service.restart().await;
        service
    }

    /// Waits for the process to exit by itself, up to `deadline`, and returns how it exited.
    pub async fn exited(&mut self, deadline: std::time::Duration) -> std::process::ExitStatus {
        let process = self.process.as_mut().expect("the service is running");
        let status = tokio::time::timeout(deadline, process.wait())
            .await
            .unwrap_or_else(|_| panic!("{} still runs after {deadline:?}", self.name))
            .expect("waiting for a service to exit");
        self.process = None;
        status
    }

    /// Kills the process at once (SIGKILL), as a crash or an OOM kill would.
    pub async fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().await.expect("killing a service");
        }
    }

    /// Kills the process (SIGKILL) and starts another in its place with `settings` added, as an
    /// orchestrator replaces a crashed pod with a new one: a new identity (its consumer's
    /// instance id, say) behind the same address.
    pub async fn replace(&mut self, settings: &[(&str, &str)]) {
        self.kill().await;
        self.environment.extend(entries(settings));
        self.restart().await;
    }

    /// Asks the process to stop (SIGTERM) and waits for it to exit, returning how it exited.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut process = self.process.take().expect("the service is running");
        send_signal(process.id().expect("a running process"), "TERM");
        process.wait().await.expect("waiting for a service to exit")
    }

    /// Starts the process (again) with the same port, database, group and settings, and waits
    /// until it is ready.
    pub async fn restart(&mut self) {
        self.kill().await;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the log file");
        let process = Command::new(binary(self.name))
            .envs(self.environment.iter().map(|(key, value)| (key, value)))
            .stdout(log)
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", self.name));
        self.process = Some(process);
        let client = reqwest::Client::new();
        let readiness = format!("{}/actuator/health/readiness", self.url);
        eventually(
            &format!("{} to be ready", self.name),
            EVENT_DEADLINE,
            || async {
                let response = client.get(&readiness).send().await.ok()?;
                (response.status() == 200).then_some(())
            },
        )
        .await;
    }
}
