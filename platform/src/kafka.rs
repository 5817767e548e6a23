//! Kafka clients built from settings: producers, consumers and topic administration.

use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
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
    let admin = admin_client(settings)?;
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

/// The value of `name` in a topic's configuration, as the broker reports it (`None` when the
/// broker reports no value); an error when it cannot describe the topic (yet). Needs
/// `DescribeConfigs` on the topic.
pub async fn topic_config(
    settings: &KafkaSettings,
    topic: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    described_config(&admin_client(settings)?, topic, name).await
}

fn admin_client(settings: &KafkaSettings) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    client_config(settings)
        .create()
        .context("creating the Kafka admin client")
}

/// [`topic_config`] through a client of the caller's.
async fn described_config(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let options = AdminOptions::new().request_timeout(Some(CONFIG_REQUEST_TIMEOUT));
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &options)
        .await
        .with_context(|| format!("describing the configuration of {topic}"))?;
    let resource = described
        .into_iter()
        .next()
        .with_context(|| format!("the broker described no configuration of {topic}"))?
        .map_err(|code| {
            anyhow::Error::new(code).context(format!("describing the configuration of {topic}"))
        })?;
    // Kafka answers with no entries at all, and no error, for a topic created moments ago
    // (until its metadata has caught up, a second or two) and for a client without
    // DescribeConfigs on the topic.
    anyhow::ensure!(
        !resource.entries.is_empty(),
        "the broker describes no configuration of {topic}: it was created moments ago, or this \
         client may not DescribeConfigs it"
    );
    Ok(resource.get(name).and_then(|entry| entry.value.clone()))
}

/// How long the broker may take to describe a topic's configuration.
const CONFIG_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a changelog's `cleanup.policy` means for a producer that writes records without a key
/// (upstream's accounts): the broker refuses them on a compacted topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// `compact`, alone or with `delete`: every record needs a key.
    Compact(String),
    /// `delete`: keyless records are taken; retention alone decides what is kept.
    Delete,
    /// The configuration could not be read (no `DescribeConfigs` on the topic, no broker).
    Unknown(String),
}

impl CleanupPolicy {
    /// The policy as the `cleanup_policy` label shows it: the broker's value, or `unknown`.
    pub fn label(&self) -> &str {
        match self {
            CleanupPolicy::Compact(value) => value,
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Unknown(_) => "unknown",
        }
    }

    fn of(value: Option<&str>) -> Self {
        match value {
            None => CleanupPolicy::Unknown("the broker reported no cleanup.policy".to_owned()),
            Some(value) if value.split(',').any(|part| part.trim() == "compact") => {
                CleanupPolicy::Compact(value.to_owned())
            }
            Some(_) => CleanupPolicy::Delete,
        }
    }
}

/// Reads the `cleanup.policy` of `topic`, a changelog that an upstream producer may also write,
/// and reports it: one log line saying what it means for keyless records, and the
/// `kafka_topic_cleanup_policy` gauge. A configuration that cannot be read is reported as
/// `unknown` with the reason, at warning level; the service runs on either way.
pub async fn report_changelog_policy(settings: &KafkaSettings, topic: &str) -> CleanupPolicy {
    let policy = read_cleanup_policy(settings, topic).await;
    match &policy {
        CleanupPolicy::Compact(value) => tracing::info!(
            topic,
            cleanup_policy = %value,
            "changelog is compacted: keyless records from an upstream producer are refused by \
             the broker"
        ),
        CleanupPolicy::Delete => tracing::info!(
            topic,
            cleanup_policy = "delete",
            "changelog is not compacted: keyless records from an upstream producer are taken, \
             and retention alone decides how long each change is kept"
        ),
        CleanupPolicy::Unknown(reason) => tracing::warn!(
            topic,
            cleanup_policy = "unknown",
            reason = %reason,
            "changelog cleanup policy unreadable (DescribeConfigs on the topic is needed): \
             whether the broker takes keyless records from an upstream producer is unknown"
        ),
    }
    crate::metrics::set_cleanup_policy(topic, policy.label());
    policy
}

/// How often the policy is asked for before it is reported unknown: over about 6 to 12 s.
const POLICY_ATTEMPTS: usize = 7;

/// The topic's policy: asked again a few times while the broker cannot tell (a topic just
/// created, a broker still starting, or a client without the grant, which Kafka does not tell
/// apart), at once unknown when the broker says the client is not allowed.
async fn read_cleanup_policy(settings: &KafkaSettings, topic: &str) -> CleanupPolicy {
    let admin = match admin_client(settings) {
        Ok(admin) => admin,
        Err(error) => return CleanupPolicy::Unknown(format!("{error:#}")),
    };
    let mut delays = crate::retry::delays();
    let mut attempt = 1;
    loop {
        let policy = match described_config(&admin, topic, "cleanup.policy").await {
            Ok(value) => CleanupPolicy::of(value.as_deref()),
            Err(error) if not_allowed(&error) => {
                return CleanupPolicy::Unknown(format!("{error:#}"));
            }
            Err(error) => CleanupPolicy::Unknown(format!("{error:#}")),
        };
        if !matches!(policy, CleanupPolicy::Unknown(_)) || attempt == POLICY_ATTEMPTS {
            return policy;
        }
        attempt += 1;
        tokio::time::sleep(delays.next().unwrap_or(crate::retry::LONGEST_DELAY)).await;
    }
}

/// Whether the broker refused the request for lack of a grant.
fn not_allowed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<RDKafkaErrorCode>(),
            Some(
                RDKafkaErrorCode::TopicAuthorizationFailed
                    | RDKafkaErrorCode::ClusterAuthorizationFailed
            )
        )
    })
}

/// [`report_changelog_policy`] in the background, so that a broker slow to answer does not hold
/// up the start-up.
pub fn spawn_changelog_policy_report(settings: &KafkaSettings, topic: &str) {
    let (settings, topic) = (settings.clone(), topic.to_owned());
    tokio::spawn(async move { report_changelog_policy(&settings, &topic).await });
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
    fn a_policy_with_compact_refuses_keyless_records() {
        assert_eq!(
            CleanupPolicy::of(Some("compact")),
            CleanupPolicy::Compact("compact".into())
        );
        assert_eq!(
            CleanupPolicy::of(Some("compact,delete")).label(),
            "compact,delete"
        );
        assert_eq!(CleanupPolicy::of(Some("delete")), CleanupPolicy::Delete);
        assert_eq!(CleanupPolicy::of(None).label(), "unknown");
    }

    #[test]
    fn settings_never_show_the_password() {
        let shown = format!("{:?}", sasl_ssl("PLAIN"));
        assert!(!shown.contains("kafka-secret-7f3a"), "{shown}");
    }
}
