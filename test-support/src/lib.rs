//! Helpers for tests that run against the local Kafka and database, one job per module, and the
//! service processes the whole-system tests and the benchmark share ([`ServiceProcess`]).
//!
//! Every test gets its own database and topic names from [`unique_name`], so tests run in
//! parallel and never see each other's data. Waiting is always for a condition with a deadline
//! ([`eventually`]), never a fixed pause.

#![forbid(unsafe_code)]

mod app;
mod database;
mod exposition;
mod kafka;
mod names;
mod processes;
mod service;
mod topics;
mod waiting;

pub use app::TestApp;
pub use database::PrivateDatabase;
pub use exposition::summed;
pub use kafka::PrivateKafka;
pub use names::{
    free_port, shared_bootstrap_servers, shared_database_uri, shared_kafka, unique_name,
};
pub use processes::{lake_python, npm_tools, python_tool, send_signal};
pub use service::ServiceProcess;
pub use topics::{
    ConsumedRecord, TopicReader, committed_count, create_topics_compacting,
    create_topics_with_dead_letters, publish_raw, topic_config, try_committed_count, try_group_lag,
};
pub use waiting::{EVENT_DEADLINE, eventually, within};
