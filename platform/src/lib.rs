//! Infrastructure the storefront services share, and nothing else.
//!
//! This crate deals in bytes, topics and collections: it never knows an event, a customer or an
//! order, and depends on neither `shared-events` nor any service. It offers functions and the
//! libraries' own types (`mongodb::Database`, rdkafka's producer), not a framework: each service
//! keeps its own start-up and route table.

#![forbid(unsafe_code)]

pub mod actuator;
pub mod consumer;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod mongo;
pub mod openapi;
pub mod outbox;
mod retry;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod trace;
