//! The platform's MongoDB, outbox and consumer pieces against the local database and broker,
//! through the real client crates. Every kind of command the services send is exercised here,
//! so these also pin down what the local database server (mongo-java-server) must serve.

mod consumer;
mod documents;
mod managed;
mod mongo;
mod outbox;

use std::time::Duration;

use platform::settings::{DatabaseSettings, DocumentLimits, OutboxSettings};
use test_support::{shared_database_uri, unique_name};

fn database_settings() -> DatabaseSettings {
    DatabaseSettings {
        uri: shared_database_uri().into(),
        name: unique_name("platform"),
        min_pool_size: 1,
        max_pool_size: 4,
        timeout: Duration::from_secs(5),
    }
}

fn outbox_settings() -> OutboxSettings {
    OutboxSettings {
        relay_enabled: true,
        poll_interval: Duration::from_millis(100),
        batch_size: 10,
        claim_ttl: Duration::from_secs(30),
        max_pending: 1000,
    }
}

/// Bounds small enough for a test to reach.
fn document_limits() -> DocumentLimits {
    DocumentLimits {
        max_bytes: 1024,
        max_outbox_events: 3,
    }
}
