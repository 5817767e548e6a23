//! The three services as child processes of the test, started from the built binaries.

use std::path::PathBuf;
use std::time::Duration;

use platform::kafka::Producer;
use platform::settings::KafkaSettings;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureRecord;
use serde_json::Value;
use shared_events::acls::grants;
use shared_events::asyncapi::EventFlow;
use test_support::{PrivateKafka, ServiceProcess, create_topics_compacting, unique_name};

use crate::Topics;

/// The three services' names, which are their Kafka users on a secured broker.
const SERVICES: [&str; 3] = ["accounts", "orders", "fulfillment"];

/// A secured broker ([`PrivateKafka::start_secured`]) with a user per service, named as the
/// service; with each one's password, for [`Storefront::start_secured`].
pub fn secured_broker() -> (PrivateKafka, Vec<(&'static str, String)>) {
    let passwords: Vec<(&'static str, String)> = SERVICES
        .iter()
        .map(|service| (*service, unique_name("password")))
        .collect();
    let users: Vec<(&str, &str)> = passwords
        .iter()
        .map(|(name, password)| (*name, password.as_str()))
        .collect();
    (PrivateKafka::start_secured(&users), passwords)
}

/// Writes one small record to `topic` as `producer`'s principal, with the broker's answer
/// (an authorization error when its grants do not reach the topic).
pub async fn write_probe(producer: &Producer, topic: &str) -> Result<(), KafkaError> {
    producer
        .client()
        .send(
            FutureRecord::to(topic).key("k").payload("{}"),
            Duration::from_secs(10),
        )
        .await
        .map(|_| ())
        .map_err(|(error, _)| error)
}

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

    /// Starts the three with these settings added to each one's environment. Every topic has
    /// the broker's default cleanup policy, `delete`.
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        Self::start_on(false, settings).await
    }

    /// [`Storefront::start_with`], with the customer changelog compacted, as every deployment
    /// creates it unless an upstream producer still writes to it.
    pub async fn start_with_compacted_changelog(settings: &[(&str, &str)]) -> Self {
        Self::start_on(true, settings).await
    }

    async fn start_on(compacted_changelog: bool, settings: &[(&str, &str)]) -> Self {
        let topics = Topics::unique();
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
        let compacted: &[&str] = if compacted_changelog {
            &[&topics.customer_change]
        } else {
            &[]
        };
        create_topics_compacting(&kafka, &topics.all(), compacted).await;
        let groups = [unique_name("orders"), unique_name("fulfillment")];
        Self::start_each(topics, groups, kafka, Default::default(), settings).await
    }

    /// Starts the three on a secured broker ([`secured_broker`]), each as its own user, allowed only what
    /// `shared_events::acls::grants` derives from its topics and group; with `settings` added to
    /// each one's environment. The topics are created as `admin`.
    pub async fn start_secured(
        broker: &PrivateKafka,
        passwords: &[(&'static str, String)],
        settings: &[(&str, &str)],
    ) -> Self {
        let topics = Topics::unique();
        let groups = [unique_name("orders"), unique_name("fulfillment")];
        let flows = [
            ("accounts", None),
            ("orders", Some(&groups[0])),
            ("fulfillment", Some(&groups[1])),
        ]
        .map(|(service, group)| EventFlow {
            service,
            group: group.cloned(),
            topics: vec![
                (
                    shared_events::topics::CUSTOMER_CHANGE,
                    topics.customer_change.clone(),
                ),
                (
                    shared_events::topics::ORDER_FULFILL,
                    topics.order_fulfill.clone(),
                ),
                (
                    shared_events::topics::ORDER_STATUS_CHANGE,
                    topics.order_status_change.clone(),
                ),
            ],
            dead_letter_headers: &[],
        });
        // The changelog compacted, as the deployments create it.
        let admin = broker.admin_settings();
        create_topics_compacting(&admin, &topics.all(), &[&topics.customer_change]).await;
        let grants: Vec<String> = grants(&flows).iter().map(ToString::to_string).collect();
        broker.allow(&grants);
        let user = |name: &str| {
            let password = passwords
                .iter()
                .find(|(user, _)| *user == name)
                .map(|(_, password)| password.as_str())
                .unwrap_or_else(|| panic!("no password for {name}"));
            let user = broker.user_settings(name, password);
            vec![
                (
                    "APP_KAFKA__BOOTSTRAP_SERVERS".to_owned(),
                    user.bootstrap_servers,
                ),
                (
                    "APP_KAFKA__SECURITY_PROTOCOL".to_owned(),
                    user.security_protocol,
                ),
                (
                    "APP_KAFKA__SASL_MECHANISM".to_owned(),
                    "SCRAM-SHA-512".to_owned(),
                ),
                ("APP_KAFKA__SASL_USERNAME".to_owned(), name.to_owned()),
                ("APP_KAFKA__SASL_PASSWORD".to_owned(), password.to_owned()),
                (
                    "APP_KAFKA__SSL_CA_LOCATION".to_owned(),
                    broker.ca_location().display().to_string(),
                ),
            ]
        };
        let own = SERVICES.map(user);
        Self::start_each(topics, groups, admin, own, settings).await
    }

    /// Starts the three on `topics`, orders and fulfillment in `groups`, each with its own
    /// settings (accounts', orders', fulfillment's), then `settings`.
    async fn start_each(
        topics: Topics,
        groups: [String; 2],
        kafka: KafkaSettings,
        own: [Vec<(String, String)>; 3],
        settings: &[(&str, &str)],
    ) -> Self {
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
        let [accounts_own, orders_own, fulfillment_own] = own;
        let with_own = |mut own: Vec<(String, String)>| {
            own.extend(
                settings
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
            );
            own
        };
        let [orders_group, fulfillment_group] = &groups;
        let accounts = start(
            "accounts",
            &topic_settings[..1],
            "",
            &with_own(accounts_own),
        )
        .await;
        let orders = start(
            "orders",
            &topic_settings,
            orders_group,
            &with_own(orders_own),
        )
        .await;
        let fulfillment = start(
            "fulfillment",
            &topic_settings[1..],
            fulfillment_group,
            &with_own(fulfillment_own),
        )
        .await;
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

/// The JSON lines a service has logged so far (its log format is `json`).
pub fn log_lines(service: &Service) -> Vec<Value> {
    std::fs::read_to_string(&service.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

/// The log lines of a service that ran in the trace `trace_id`, by message.
pub fn logged_in_trace(service: &Service, trace_id: &str) -> Vec<String> {
    log_lines(service)
        .into_iter()
        .filter(|line| line["span"]["trace_id"] == trace_id)
        .filter_map(|line| line["fields"]["message"].as_str().map(str::to_owned))
        .collect()
}

async fn start(
    name: &'static str,
    topics: &[(&str, &str)],
    group: &str,
    settings: &[(String, String)],
) -> Service {
    let database = unique_name(name);
    let mut environment = vec![
        ("APP_HTTP__WORKERS", "1"),
        ("APP_DATABASE__NAME", database.as_str()),
        // Dynamic group membership, the default; a test adds APP_CONSUMER__INSTANCE_ID for
        // static membership.
        ("APP_CONSUMER__GROUP_ID", group),
        ("APP_OUTBOX__POLL_INTERVAL", "200"),
        ("APP_TELEMETRY__LOG_FORMAT", "json"),
    ];
    environment.extend_from_slice(topics);
    environment.extend(
        settings
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    );
    let log = std::env::temp_dir().join(format!("{}.log", unique_name(name)));
    let (service, _) = ServiceProcess::start(&binary(name), name, &environment, log)
        .await
        .unwrap_or_else(|error| panic!("starting {name}: {error:#}"));
    service
}
