//! Kafka clients built from settings: producers, consumers and topic administration.

use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, ClientContext};
use secrecy::ExposeSecret;

use crate::kafka_access::KafkaAccess;
use crate::settings::KafkaSettings;

/// Client configuration common to producers, consumers and admin clients, security included.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap_servers)
        .set("security.protocol", &settings.security_protocol);
    if let Some(mechanism) = &settings.sasl_mechanism {
        config.set("sasl.mechanism", mechanism);
    }
    if let Some(username) = &settings.sasl_username {
        config.set("sasl.username", username);
    }
    if let Some(password) = &settings.sasl_password {
        config.set("sasl.password", password.expose_secret());
    }
    if let Some(location) = &settings.ssl_ca_location {
        config.set("ssl.ca.location", location);
    }
    if let Some(debug) = &settings.debug {
        config.set("debug", debug);
    }
    config
}

/// A service's producer, and what the broker refuses its clients.
#[derive(Clone)]
pub struct Producer {
    client: FutureProducer<Observer>,
    access: KafkaAccess,
}

/// Takes the errors librdkafka reports outside any request into a [`KafkaAccess`].
pub struct Observer {
    access: KafkaAccess,
}

impl ClientContext for Observer {
    fn error(&self, error: KafkaError, reason: &str) {
        self.access.client_error(&error, reason);
    }
}

impl Producer {
    /// The rdkafka producer.
    pub fn client(&self) -> &FutureProducer<Observer> {
        &self.client
    }

    /// What the broker refuses this producer and the service's other clients.
    pub fn access(&self) -> &KafkaAccess {
        &self.access
    }
}

/// An idempotent producer that waits for every in-sync replica (`acks=all`).
pub fn producer(settings: &KafkaSettings) -> anyhow::Result<Producer> {
    let access = KafkaAccess::default();
    let client = client_config(settings)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set(
            "delivery.timeout.ms",
            settings.delivery_timeout.as_millis().to_string(),
        )
        // Events are small and latency matters more than batching here.
        .set("linger.ms", "5")
        .create_with_context(Observer {
            access: access.clone(),
        })
        .context("creating the Kafka producer")?;
    Ok(Producer { client, access })
}

/// One record to publish: bytes and names only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    /// `None` is a tombstone.
    pub payload: Option<&'a [u8]>,
    pub headers: &'a [(String, Vec<u8>)],
}

/// The producer refused a record before sending it, because it is over `message.max.bytes`:
/// no retry can publish it. (A broker's refusals are not this: the broker answers for a whole
/// batch, which may hold records that are fine on their own.)
#[derive(Debug, thiserror::Error)]
#[error("the producer refused the record")]
pub struct Refused(#[source] KafkaError);

/// Publishes one record and waits until the broker acknowledged it; a write the broker refuses
/// for want of a grant, and the next one it takes, are noted in the producer's access.
pub async fn publish(producer: &Producer, record: &Record<'_>) -> anyhow::Result<()> {
    let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
    for (name, value) in record.headers {
        headers = headers.insert(Header {
            key: name,
            value: Some(value),
        });
    }
    let mut future_record: FutureRecord<'_, [u8], [u8]> =
        FutureRecord::to(record.topic).headers(headers);
    if let Some(key) = record.key {
        future_record = future_record.key(key);
    }
    if let Some(payload) = record.payload {
        future_record = future_record.payload(payload);
    }
    let context = || format!("publishing to {}", record.topic);
    let delivery = match producer.client.send_result(future_record) {
        Ok(delivery) => delivery,
        Err((error @ KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge), _)) => {
            return Err(Refused(error)).with_context(context);
        }
        Err((error, _)) => return Err(error).with_context(context),
    };
    let delivered = delivery
        .await
        .context("the producer stopped before the broker answered")?;
    if let Err((error, _)) = delivered {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAuthorizationFailed) {
            producer.access.write_refused(record.topic);
        }
        return Err(error).with_context(context);
    }
    producer.access.written(record.topic);
    crate::metrics::record_produced(record.topic);
    Ok(())
}

/// Creates topics that do not exist yet; ones that already exist are left as they are. Those
/// also in `compacted` are changelogs: `cleanup.policy=compact`, the latest record of each key
/// kept for good.
pub async fn create_topics(
    settings: &KafkaSettings,
    topics: &[&str],
    partitions: i32,
    compacted: &[&str],
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings)
        .create()
        .context("creating the Kafka admin client")?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        // -1: the cluster's `default.replication.factor`.
        .map(|name| {
            let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
            if compacted.contains(name) {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .context("creating Kafka topics")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rdkafka::consumer::BaseConsumer;

    use super::*;

    fn sasl_ssl(mechanism: &str) -> KafkaSettings {
        KafkaSettings {
            // Loopback, and nothing listens there: the clients are built, never connected.
            bootstrap_servers: "127.0.0.1:1".into(),
            security_protocol: "SASL_SSL".into(),
            sasl_mechanism: Some(mechanism.into()),
            sasl_username: Some("storefront".into()),
            sasl_password: Some("kafka-secret-7f3a".to_owned().into()),
            ssl_ca_location: None,
            delivery_timeout: Duration::from_secs(1),
            debug: None,
        }
    }

    #[test]
    fn sasl_ssl_clients_are_built_for_plain_and_scram() {
        for mechanism in ["PLAIN", "SCRAM-SHA-512"] {
            let settings = sasl_ssl(mechanism);
            let _producer = producer(&settings)
                .unwrap_or_else(|error| panic!("{mechanism} producer: {error:#}"));
            let consumer: Result<BaseConsumer, _> =
                client_config(&settings).set("group.id", "g").create();
            consumer.unwrap_or_else(|error| panic!("{mechanism} consumer: {error}"));
            let config = client_config(&settings);
            assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
            assert_eq!(config.get("sasl.mechanism"), Some(mechanism));
            assert_eq!(config.get("sasl.password"), Some("kafka-secret-7f3a"));
        }
    }

    #[test]
    fn the_ca_location_is_passed_only_when_set() {
        let mut settings = sasl_ssl("SCRAM-SHA-512");
        assert_eq!(client_config(&settings).get("ssl.ca.location"), None);
        settings.ssl_ca_location = Some("/etc/kafka/ca.pem".into());
        assert_eq!(
            client_config(&settings).get("ssl.ca.location"),
            Some("/etc/kafka/ca.pem")
        );
    }

    #[test]
    fn settings_never_show_the_password() {
        let shown = format!("{:?}", sasl_ssl("PLAIN"));
        assert!(!shown.contains("kafka-secret-7f3a"), "{shown}");
    }
}
