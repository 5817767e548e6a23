//! Accounts over real HTTP, against the local Kafka and database.

mod actuator;
mod customers;
mod events;
mod helpers;
mod limits;
mod outbox;
