//! What the broker refuses a service's clients: the login (authentication), the broker's
//! certificate (TLS verification), or a topic or group (authorization). The clients note each
//! refusal where they meet it (librdkafka's error callback, a refused produce, a refused
//! consume) and each success that ends one; readiness answers DOWN with the reasons while any
//! lasts, and the log says which setting or grant to look at once when a refusal starts and
//! once when it ends, not at every retry.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// The refusals a service's Kafka clients meet, shared by its producer, its consumer and its
/// readiness probe.
#[derive(Debug, Clone, Default)]
pub struct KafkaAccess(Arc<Mutex<Refusals>>);

#[derive(Debug, Default)]
struct Refusals {
    /// The broker refuses every connection: nothing is published or consumed.
    connection: Option<Connection>,
    /// Topics the broker refuses this service's writes to.
    writes: BTreeSet<String>,
    /// Why the broker refuses this service's consumer, if it does.
    reads: Option<String>,
}

/// Why every connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    Authentication,
    Tls,
}

impl Connection {
    fn of(code: RDKafkaErrorCode) -> Option<Self> {
        match code {
            RDKafkaErrorCode::Authentication
            | RDKafkaErrorCode::SaslAuthenticationFailed
            | RDKafkaErrorCode::UnsupportedSASLMechanism => Some(Connection::Authentication),
            RDKafkaErrorCode::SSL => Some(Connection::Tls),
            _ => None,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Connection::Authentication => {
                "Kafka authentication failed: check APP_KAFKA__SASL_USERNAME, \
                 APP_KAFKA__SASL_PASSWORD and APP_KAFKA__SASL_MECHANISM"
            }
            Connection::Tls => "Kafka TLS verification failed: check APP_KAFKA__SSL_CA_LOCATION",
        }
    }
}

/// The reason given while the broker refuses writes to `topic`.
fn write_reason(topic: &str) -> String {
    format!(
        "Kafka authorization failed: not authorized to write {topic}; \
         grant this service's user Write on it"
    )
}

impl KafkaAccess {
    /// Takes an error a client reported outside any request (librdkafka's error callback): a
    /// refused login or certificate is noted, anything else is logged.
    pub fn client_error(&self, error: &KafkaError, reason: &str) {
        if !self.connection_error(error) {
            tracing::error!(%error, reason, "Kafka client error");
        }
    }

    /// Notes `error` if it is a refused login or certificate. True if it is, and also if it is
    /// what a refusal that lasts brings at every retry (every broker down, a transport
    /// failure): that is no news, and is not logged again.
    pub fn connection_error(&self, error: &KafkaError) -> bool {
        let code = error.rdkafka_error_code();
        if let Some(connection) = code.and_then(Connection::of) {
            self.refused(connection);
            return true;
        }
        let consequence = matches!(
            code,
            Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
        );
        if consequence && self.lock().connection.is_some() {
            tracing::debug!(%error, "Kafka still refuses the connection");
            return true;
        }
        false
    }

    fn refused(&self, connection: Connection) {
        let mut refusals = self.lock();
        if refusals.connection != Some(connection) {
            refusals.connection = Some(connection);
            tracing::error!(
                reason = connection.reason(),
                "Kafka refuses the connection; retrying"
            );
        }
    }

    /// The broker answered a client: the login and the certificate were accepted.
    pub fn connected(&self) {
        if let Some(connection) = self.lock().connection.take() {
            tracing::info!(
                was = connection.reason(),
                "Kafka accepts the connection again"
            );
        }
    }

    /// The broker refused a write to `topic` for want of a grant.
    pub fn write_refused(&self, topic: &str) {
        if self.lock().writes.insert(topic.to_owned()) {
            tracing::error!(
                reason = write_reason(topic),
                "Kafka refuses the writes; the events wait in the outbox"
            );
        }
    }

    /// The broker took a write to `topic`.
    pub fn written(&self, topic: &str) {
        self.connected();
        if self.lock().writes.remove(topic) {
            tracing::info!(%topic, "Kafka takes the writes again");
        }
    }

    /// Notes `error` if the broker refuses a consumer of `group` on `topics` (the group or the
    /// topics not granted) or its connection; true if it does, or if the error is what a
    /// connection refusal brings (see [`KafkaAccess::connection_error`]).
    pub fn consumer_error(&self, error: &KafkaError, group: &str, topics: &[String]) -> bool {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::GroupAuthorizationFailed) => {
                self.read_refused(format!(
                    "Kafka authorization failed: not authorized to read as group {group}; \
                     grant this service's user Read on the group"
                ));
                true
            }
            Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
                self.read_refused(format!(
                    "Kafka authorization failed: not authorized to read {}; grant this \
                     service's user Read and Describe on them",
                    topics.join(", ")
                ));
                true
            }
            _ => self.connection_error(error),
        }
    }

    /// Whether `error` (a failed publish) comes of a refusal already noted and logged: a write
    /// the broker refused for want of a grant, or one that timed out while the connection is
    /// refused. Its retries need no line of their own.
    pub fn explains(&self, error: &anyhow::Error) -> bool {
        let code = error
            .chain()
            .find_map(|cause| cause.downcast_ref::<KafkaError>())
            .and_then(KafkaError::rdkafka_error_code);
        match code {
            Some(RDKafkaErrorCode::TopicAuthorizationFailed) => true,
            Some(RDKafkaErrorCode::MessageTimedOut) => self.lock().connection.is_some(),
            _ => false,
        }
    }

    fn read_refused(&self, reason: String) {
        let mut refusals = self.lock();
        if refusals.reads.as_ref() != Some(&reason) {
            tracing::error!(%reason, "Kafka refuses the consumer; retrying");
            refusals.reads = Some(reason);
        }
    }

    /// The consumer was given partitions or records.
    pub fn reading(&self) {
        self.connected();
        if let Some(reason) = self.lock().reads.take() {
            tracing::info!(was = %reason, "Kafka serves the consumer again");
        }
    }

    /// The reasons of the refusals that last, one line each; none when all is well.
    pub fn reasons(&self) -> Vec<String> {
        let refusals = self.lock();
        refusals
            .connection
            .map(|connection| connection.reason().to_owned())
            .into_iter()
            .chain(refusals.writes.iter().map(|topic| write_reason(topic)))
            .chain(refusals.reads.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Refusals> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_give_their_reason_until_a_success_ends_them() {
        let access = KafkaAccess::default();
        access.client_error(
            &KafkaError::Global(RDKafkaErrorCode::Authentication),
            "SASL authentication error",
        );
        access.write_refused("accounts.customer.change");
        let refused = KafkaError::MessageConsumption(RDKafkaErrorCode::GroupAuthorizationFailed);
        assert!(access.consumer_error(&refused, "orders", &[]));
        let reasons = access.reasons();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons[0].contains("APP_KAFKA__SASL_PASSWORD"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].contains("not authorized to write accounts.customer.change"),
            "{reasons:?}"
        );
        assert!(
            reasons[2].contains("not authorized to read as group orders"),
            "{reasons:?}"
        );
        let timed_out = anyhow::Error::new(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageTimedOut,
        ))
        .context("publishing");
        assert!(
            access.explains(&timed_out),
            "a timeout while the login is refused"
        );
        access.written("accounts.customer.change");
        access.reading();
        assert!(access.reasons().is_empty(), "{:?}", access.reasons());
        assert!(!access.explains(&timed_out), "a timeout of its own");
    }

    #[test]
    fn a_refused_certificate_names_the_ca_setting_and_other_errors_are_not_refusals() {
        let access = KafkaAccess::default();
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        assert!(!access.connection_error(&down));
        assert!(access.reasons().is_empty());
        access.client_error(&KafkaError::Global(RDKafkaErrorCode::SSL), "verify failed");
        assert!(
            access.connection_error(&down),
            "all brokers down is what the refusal brings"
        );
        assert_eq!(
            access.reasons(),
            ["Kafka TLS verification failed: check APP_KAFKA__SSL_CA_LOCATION"]
        );
        access.connected();
        assert!(access.reasons().is_empty());
    }
}
