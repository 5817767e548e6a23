//! The HTTP routes of accounts, all under the base path.

mod customers;
mod sample;

use actix_web::web;
use platform::actuator::Actuator;

/// The route table. Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, actuator: Actuator) {
    sample::configure(cfg);
    customers::configure(cfg);
    platform::actuator::configure(cfg, actuator);
}
