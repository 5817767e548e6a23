//! Fulfillment over real HTTP and real Kafka topics, against the local Kafka and database.

mod fulfillments;
mod helpers;
