//! Fulfillments: shipping one approved order through its statuses.

mod fulfillment;

pub use fulfillment::Fulfillment;
