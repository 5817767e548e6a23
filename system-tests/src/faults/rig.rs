//! The storefront on a broker and a database of its own, which a scenario may stop or freeze.

use std::time::Duration;

use test_support::{PrivateDatabase, PrivateKafka, TopicReader};

use crate::processes::Storefront;

/// How long the storefront may take to converge after a fault before what is missing counts
/// as lost.
pub const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(180);

/// The storefront on infrastructure of its own.
pub struct Rig {
    pub broker: PrivateKafka,
    pub database: PrivateDatabase,
    pub store: Storefront,
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
        all.extend_from_slice(settings);
        let store = Storefront::start_with(&all).await;
        Rig {
            broker,
            database,
            store,
            // A fresh connection per request: a request cut off by a stopping server is then
            // told apart from a pooled connection the server had already closed.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Records on the three dead-letter topics.
    pub async fn dead_lettered(&self) -> usize {
        let topics = &self.store.topics;
        let mut count = 0;
        for topic in [
            &topics.customer_change,
            &topics.order_fulfill,
            &topics.order_status_change,
        ] {
            let mut reader = TopicReader::new(&self.store.kafka, &format!("{topic}.DLT"));
            count += reader.read_for(Duration::from_secs(1)).await.len();
        }
        count
    }

    /// Every record of a topic, read from the beginning.
    pub async fn read_topic(
        &self,
        topic: &str,
        at_least: usize,
    ) -> Vec<test_support::ConsumedRecord> {
        let mut reader = TopicReader::new(&self.store.kafka, topic);
        reader
            .read_at_least(at_least, test_support::EVENT_DEADLINE)
            .await;
        reader.read_for(Duration::from_secs(1)).await.to_vec()
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
