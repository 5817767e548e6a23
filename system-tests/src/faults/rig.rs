//! The storefront on a broker and a database of its own, which a scenario may stop or freeze.

use std::collections::HashSet;
use std::time::Duration;

use test_support::{PrivateDatabase, PrivateKafka, TopicReader};

use super::probes::pending_outbox_events;
use crate::processes::{Service, Storefront};

/// How long the storefront may take to converge after a fault before what is missing counts
/// as lost.
pub const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(180);

/// The storefront on infrastructure of its own.
pub struct Rig {
    pub broker: PrivateKafka,
    pub database: PrivateDatabase,
    /// One client of that database for every probe of the scenario (outboxes, dead letters).
    pub mongo: mongodb::Client,
    /// The first instance of each service.
    pub store: Storefront,
    /// The other instances of the services, when there are several of each.
    pub replicas: Vec<Service>,
    pub client: reqwest::Client,
}

impl Rig {
    /// Starts a broker, a database and the three services on them, with these settings added.
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        Self::start_with_brokers(1, settings).await
    }

    /// The same on a Kafka cluster of `brokers` nodes, with topics replicated to all of them and
    /// `min.insync.replicas` one less.
    pub async fn start_with_brokers(brokers: usize, settings: &[(&str, &str)]) -> Self {
        Self::start_scaled(brokers, 1, settings).await
    }

    /// The same with `instances` of each service, as a deployment scaled out runs them: one
    /// database and consumer group per service, and a static group member each, as the pods'
    /// names make them in Kubernetes (`storefront-<n>`; each service's group is its own).
    pub async fn start_scaled(brokers: usize, instances: usize, settings: &[(&str, &str)]) -> Self {
        let broker = PrivateKafka::start_cluster(brokers);
        let database = PrivateDatabase::start();
        let servers = broker.bootstrap_servers();
        let uri = database.uri();
        let mut all = vec![
            ("APP_KAFKA__BOOTSTRAP_SERVERS", servers.as_str()),
            ("APP_DATABASE__URI", uri.as_str()),
            // A small pool keeps start-up quick.
            ("APP_DATABASE__MIN_POOL_SIZE", "1"),
        ];
        if instances > 1 {
            all.push(("APP_CONSUMER__INSTANCE_ID", "storefront-0"));
        }
        all.extend_from_slice(settings);
        let store = Storefront::start_with(&all).await;
        Self::around(broker, database, store, instances).await
    }

    /// The same on a secured broker ([`crate::processes::secured_broker`]), each service as its
    /// own user with only the grants the contract derives for it.
    pub async fn start_secured(settings: &[(&str, &str)]) -> Self {
        let (broker, passwords) = crate::processes::secured_broker();
        let database = PrivateDatabase::start();
        let uri = database.uri();
        let mut all = vec![
            ("APP_DATABASE__URI", uri.as_str()),
            ("APP_DATABASE__MIN_POOL_SIZE", "1"),
        ];
        all.extend_from_slice(settings);
        let store = Storefront::start_secured(&broker, &passwords, &all).await;
        Self::around(broker, database, store, 1).await
    }

    /// The rig around a running `store`: `instances` of each service in all.
    async fn around(
        broker: PrivateKafka,
        database: PrivateDatabase,
        store: Storefront,
        instances: usize,
    ) -> Self {
        let uri = database.uri();
        let mut replicas = Vec::new();
        for service in store.services() {
            for instance in 1..instances {
                let id = format!("storefront-{instance}");
                replicas.push(
                    service
                        .another_instance(&[("APP_CONSUMER__INSTANCE_ID", &id)])
                        .await
                        .expect("starting a replica"),
                );
            }
        }
        let mongo = mongodb::Client::with_uri_str(&uri)
            .await
            .expect("a MongoDB client");
        Rig {
            broker,
            database,
            mongo,
            store,
            replicas,
            // A fresh connection per request: a request cut off by a stopping server is then
            // told apart from a pooled connection the server had already closed.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// The base URLs of every instance of the service `name`.
    pub fn urls(&self, name: &str) -> Vec<String> {
        self.store
            .services()
            .into_iter()
            .chain(&self.replicas)
            .filter(|service| service.name == name)
            .map(|service| service.url.clone())
            .collect()
    }

    /// Records on the stream's three topics per event published (told apart by `eventId`):
    /// 1.0 when the relays published every event once.
    pub async fn records_per_event(&self) -> f64 {
        let mut records = 0;
        let mut events = HashSet::new();
        for topic in self.store.topics.all() {
            let mut reader = TopicReader::new(&self.store.kafka, topic);
            let read = reader.read_all(test_support::EVENT_DEADLINE).await;
            records += read.len();
            events.extend(
                read.iter()
                    .filter_map(|record| record.headers.get(shared_events::headers::EVENT_ID))
                    .cloned(),
            );
        }
        records as f64 / events.len().max(1) as f64
    }

    /// Records on the three dead-letter topics, counted to their end offsets.
    pub async fn dead_lettered(&self) -> usize {
        let mut count = 0;
        for topic in self.store.topics.all() {
            let mut reader = TopicReader::new(
                &self.store.kafka,
                &shared_events::topics::dead_letter(topic),
            );
            count += reader.read_all(test_support::EVENT_DEADLINE).await.len();
        }
        count
    }

    /// Every record of a topic, read from the beginning to its end offsets once `at_least`
    /// have arrived.
    pub async fn read_topic(
        &self,
        topic: &str,
        at_least: usize,
    ) -> Vec<test_support::ConsumedRecord> {
        let mut reader = TopicReader::new(&self.store.kafka, topic);
        reader
            .read_at_least(at_least, test_support::EVENT_DEADLINE)
            .await;
        reader.read_all(test_support::EVENT_DEADLINE).await.to_vec()
    }

    /// The consumer groups and the topics each reads: orders' and fulfillment's.
    pub fn consumed(&self) -> Vec<(&'static str, &str)> {
        let topics = &self.store.topics;
        vec![
            ("orders", topics.customer_change.as_str()),
            ("orders", topics.order_status_change.as_str()),
            ("fulfillment", topics.order_fulfill.as_str()),
        ]
    }

    /// Whether the system has nothing left to do: every outbox empty, and every consumer group
    /// committed up to its topics' end offsets (and the outboxes still empty after that, so no
    /// record handled meanwhile added an event).
    pub async fn settled(&self) -> bool {
        for service in self.store.services() {
            if pending_outbox_events(&self.mongo, service).await > 0 {
                return false;
            }
        }
        for (name, topic) in self.consumed() {
            let service = self.store.service(name);
            let group = service
                .setting("APP_CONSUMER__GROUP_ID")
                .expect("a consumer group");
            let lag = test_support::try_group_lag(&self.store.kafka, group, topic);
            if !matches!(lag, Ok(0)) {
                return false;
            }
        }
        for service in self.store.services() {
            if pending_outbox_events(&self.mongo, service).await > 0 {
                return false;
            }
        }
        true
    }
}

/// A golden payload from `shared-events/fixtures`.
pub fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/../shared-events/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("reading a fixture")
}
