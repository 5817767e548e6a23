//! Infrastructure the storefront services share, and nothing else.
//!
//! This crate deals in bytes, topics and collections: it never knows an event's schema, a
//! customer or an order, and depends on neither `shared-events` nor any service. The one thing
//! it names for the services is the API's table of error codes, so that the table is kept in
//! one place. It offers functions and the libraries' own types (`mongodb::Database`, rdkafka's
//! producer), not a framework: each service keeps its own start-up and route table.

#![forbid(unsafe_code)]

pub mod consumer;
pub mod documents;
pub mod http;
pub mod kafka;
pub mod kafka_access;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod mongo;
pub mod outbox;
pub mod paging;
pub mod relay;
mod retry;
pub mod settings;
pub mod shutdown;
pub mod trace;
