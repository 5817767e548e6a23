//! The HTTP routes of orders, all under the base path.

mod customers;
mod orders;
mod sample;

use actix_web::web;
use platform::actuator::Actuator;

/// The route table. Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, actuator: Actuator) {
    sample::configure(cfg);
    customers::configure(cfg);
    orders::configure(cfg);
    platform::actuator::configure(cfg, actuator);
}

/// Milliseconds since the Unix epoch, the timestamps of order statuses.
pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
