//! Orders over real HTTP and real Kafka topics, against the local Kafka and database.

mod consumers;
mod helpers;
mod limits;
mod orders;
