//! The settings of the accounts service.

use platform::settings::{
    DatabaseSettings, DocumentLimits, EmbeddedFiles, HttpSettings, KafkaSettings, OutboxSettings,
    TelemetrySettings,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub outbox: OutboxSettings,
    pub documents: DocumentLimits,
    pub telemetry: TelemetrySettings,
    pub topics: Topics,
    pub events: Events,
}

/// Topic names, configurable so that tests can give each app its own.
#[derive(Debug, Clone, Deserialize)]
pub struct Topics {
    pub customer_change: String,
}

/// What accounts publishes.
#[derive(Debug, Clone, Deserialize)]
pub struct Events {
    /// Whether a removed customer is announced with a tombstone. Off while an upstream orders
    /// service still consumes the changelog: it cannot read a tombstone, and upstream's accounts
    /// never removes a customer, so nothing is published and every consumer keeps its copy.
    pub publish_removals: bool,
}

const FILES: EmbeddedFiles = EmbeddedFiles {
    base: include_str!("../configuration/base.toml"),
    local: include_str!("../configuration/local.toml"),
    production: include_str!("../configuration/production.toml"),
};

/// Loads the settings: base file, environment file, then `APP_` environment variables.
pub fn load() -> anyhow::Result<Settings> {
    Ok(platform::settings::load(&FILES)?)
}
