//! Names and addresses: names no other test uses, free ports, and where the shared servers
//! are.

use std::time::Duration;

use platform::settings::KafkaSettings;

/// A name no other test uses, e.g. `accounts-3f2a9c01`.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("finding a free port")
}

/// `host:port` of the shared test broker: `APP_KAFKA__BOOTSTRAP_SERVERS`, as the services read
/// it (`scripts/test.sh` sets it), else the local run's `127.0.0.1:9092`.
pub fn shared_bootstrap_servers() -> String {
    std::env::var("APP_KAFKA__BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Client settings for the shared test broker, which speaks plain text as the local servers do.
pub fn shared_kafka() -> KafkaSettings {
    KafkaSettings {
        bootstrap_servers: shared_bootstrap_servers(),
        security_protocol: "PLAINTEXT".into(),
        sasl_mechanism: None,
        sasl_username: None,
        sasl_password: None,
        ssl_ca_location: None,
        delivery_timeout: Duration::from_secs(10),
        debug: None,
    }
}

/// The URI of the shared test database: `APP_DATABASE__URI`, as the services read it, else the
/// local run's `mongodb://127.0.0.1:27017`.
pub fn shared_database_uri() -> String {
    std::env::var("APP_DATABASE__URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}
