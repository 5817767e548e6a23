//! Fulfillment over real HTTP and real Kafka topics, against the local broker and database.

mod fulfillments;
mod helpers;
