//! Typed settings pieces, and the layered loader every service uses.
//!
//! Layers, later ones winning: the service's base file (compiled into the binary, so a container
//! needs no configuration directory), the file for `APP_ENVIRONMENT` (`local` by default, or
//! `production`), then `APP_`-prefixed environment variables with `__` between levels, e.g.
//! `APP_DATABASE__URI` or `APP_KAFKA__BOOTSTRAP_SERVERS`.

use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::logging::LogFormat;

/// The largest event payload a service publishes or accepts, in bytes. Events are a few
/// kilobytes; the bound keeps a document's outbox, and a consumer's memory, within known limits.
pub const MAX_EVENT_BYTES: usize = 128 * 1024;

/// The configuration files of one service, as compiled into its binary.
pub struct EmbeddedFiles {
    pub base: &'static str,
    pub local: &'static str,
    pub production: &'static str,
}

/// Loads a service's settings from its embedded files and the process environment.
pub fn load<T: DeserializeOwned>(files: &EmbeddedFiles) -> Result<T, config::ConfigError> {
    let environment = std::env::var("APP_ENVIRONMENT").unwrap_or_else(|_| "local".into());
    let overlay = match environment.as_str() {
        "local" => files.local,
        "production" => files.production,
        other => {
            return Err(config::ConfigError::Message(format!(
                "APP_ENVIRONMENT is `{other}`; use `local` or `production`"
            )));
        }
    };
    Config::builder()
        .add_source(File::from_str(files.base, FileFormat::Toml))
        .add_source(File::from_str(overlay, FileFormat::Toml))
        .add_source(
            Environment::with_prefix("APP")
                .prefix_separator("_")
                .separator("__"),
        )
        .build()?
        .try_deserialize()
}

/// Where the HTTP server listens and under which path it serves.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Every route lives under this path (`/accounts`), so a gateway routes by prefix.
    pub base_path: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Deadline for answering one request; past it the client gets 503 and the work is
    /// abandoned (a database that stopped answering cannot hold requests forever).
    #[serde(with = "millis")]
    pub request_timeout: Duration,
    /// The actuator endpoints served, comma-separated, out of `health`, `info` and
    /// `prometheus`; the index is always served and lists them.
    pub actuator_exposure: String,
}

/// The service's MongoDB database.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// A `mongodb://` or `mongodb+srv://` URI; secret because it may carry credentials.
    pub uri: SecretString,
    pub name: String,
    /// Connections opened at start-up, so the first burst of requests does not wait for them.
    pub min_pool_size: u32,
    pub max_pool_size: u32,
    /// Deadline for each database call.
    #[serde(with = "millis")]
    pub timeout: Duration,
}

/// The Kafka cluster and how to authenticate to it.
#[derive(Debug, Clone, Deserialize)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub security_protocol: String,
    /// `PLAIN` (Confluent Cloud) or `SCRAM-SHA-512` (Amazon MSK), when SASL is used.
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<SecretString>,
    /// A PEM file of the certificate authorities that sign the brokers' certificates, for
    /// `SSL` and `SASL_SSL`; unset, librdkafka trusts the system's (what a managed Kafka with a
    /// public CA needs).
    pub ssl_ca_location: Option<String>,
    /// Deadline for one produce, including retries inside the client.
    #[serde(with = "millis")]
    pub delivery_timeout: Duration,
    /// librdkafka's debug contexts (`cgrp,fetch`, `all`, ...) for every client; their lines are
    /// logged under the `librdkafka` target at debug level. None by default.
    pub debug: Option<String>,
}

/// The consumer group a consuming service joins.
#[derive(Debug, Clone, Deserialize)]
pub struct ConsumerSettings {
    pub group_id: String,
    /// A stable name for this instance (the pod's name), making it a static member of the
    /// group: restarted after a crash, it takes its partitions back at once instead of waiting
    /// for the group to notice the crash. Unique per running instance; none by default.
    pub instance_id: Option<String>,
    /// Records the client fetches ahead of the handler, in KiB (librdkafka's
    /// `queued.max.messages.kbytes`, whose default of 64 MiB would fill a small container
    /// working through a backlog); each fetch asks for at most as much (at least 1 MiB).
    pub prefetch_kbytes: u32,
}

/// The transactional outbox relay of a producing service.
#[derive(Debug, Clone, Deserialize)]
pub struct OutboxSettings {
    /// Off only to simulate a relay that died before publishing (tests).
    pub relay_enabled: bool,
    /// How often the relay looks for unpublished events when nothing woke it.
    #[serde(with = "millis")]
    pub poll_interval: Duration,
    /// Documents with pending events taken per pass: what the relay has in flight at most.
    pub batch_size: u32,
    /// How long a relay instance's claim on a document lasts: while it holds, no other
    /// instance publishes that document's events. A pass renews its claims every third of this,
    /// so it needs to outlast one database call, not a pass; an instance killed mid-pass holds up
    /// the documents it claimed this long.
    #[serde(with = "millis")]
    pub claim_ttl: Duration,
    /// Events allowed to wait in the outbox; past this, requests that would add more are
    /// refused with 503 until the relay catches up (backpressure when the broker is away).
    pub max_pending: u64,
}

/// How large one document may grow: bounds that keep every document under MongoDB's 16 MiB, so
/// that a change past them is refused with a clear answer before the database refuses it.
///
/// A document holds the state its writes set, at most `max_bytes`; at most `max_outbox_events`
/// events waiting for the relay, each at most [`MAX_EVENT_BYTES`]; and a little bookkeeping.
/// Settings whose sum could pass 16 MiB are refused at start-up.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "DocumentLimitsFile")]
pub struct DocumentLimits {
    /// The largest state a write may set (a customer; a customer with every order), in bytes;
    /// a change past it is refused (413).
    pub max_bytes: usize,
    /// Events one document may hold waiting for the broker; a change that would add more is
    /// refused (503) until the relay has published them.
    pub max_outbox_events: usize,
}

#[derive(Deserialize)]
struct DocumentLimitsFile {
    max_bytes: usize,
    max_outbox_events: usize,
}

/// MongoDB's limit on one document.
const MONGODB_MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// What an outbox entry holds beside its payload (id, topic, key, headers, time), at most.
const OUTBOX_ENTRY_OVERHEAD_BYTES: usize = 4 * 1024;
/// What a document holds beside its state and outbox: `_id`, version, the ids of the events
/// it applied, the removal mark.
const BOOKKEEPING_BYTES: usize = 64 * 1024;

impl TryFrom<DocumentLimitsFile> for DocumentLimits {
    type Error = String;

    fn try_from(file: DocumentLimitsFile) -> Result<Self, String> {
        let outbox = file
            .max_outbox_events
            .saturating_mul(MAX_EVENT_BYTES + OUTBOX_ENTRY_OVERHEAD_BYTES);
        let total = file
            .max_bytes
            .saturating_add(outbox)
            .saturating_add(BOOKKEEPING_BYTES);
        if file.max_outbox_events == 0 {
            return Err("documents.max_outbox_events must be at least 1".to_owned());
        }
        if total > MONGODB_MAX_DOCUMENT_BYTES {
            return Err(format!(
                "documents.max_bytes ({}) and documents.max_outbox_events ({} events of up to \
                 {MAX_EVENT_BYTES} bytes) let a document reach {total} bytes, over MongoDB's \
                 {MONGODB_MAX_DOCUMENT_BYTES}",
                file.max_bytes, file.max_outbox_events
            ));
        }
        Ok(DocumentLimits {
            max_bytes: file.max_bytes,
            max_outbox_events: file.max_outbox_events,
        })
    }
}

/// Durations in settings are whole milliseconds, e.g. `timeout = 5000`.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// Logs and traces.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// The OTLP/HTTP base URL of a collector (e.g. `http://otel-collector:4318`); spans are
    /// exported only when it is set.
    pub otlp_endpoint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_bytes: usize, max_outbox_events: usize) -> Result<DocumentLimits, String> {
        DocumentLimits::try_from(DocumentLimitsFile {
            max_bytes,
            max_outbox_events,
        })
    }

    #[test]
    fn document_limits_that_fit_in_mongodbs_16_mib_are_taken() {
        let taken = limits(8 * 1024 * 1024, 32).unwrap();
        assert_eq!(taken.max_bytes, 8 * 1024 * 1024);
        assert_eq!(taken.max_outbox_events, 32);
    }

    #[test]
    fn document_limits_that_could_pass_16_mib_are_refused() {
        let error = limits(12 * 1024 * 1024, 32).unwrap_err();
        assert!(error.contains("over MongoDB's 16777216"), "{error}");
        assert!(limits(16 * 1024 * 1024, 1).is_err());
        assert!(limits(usize::MAX, usize::MAX).is_err());
        assert!(limits(1024, 0).is_err());
    }
}
