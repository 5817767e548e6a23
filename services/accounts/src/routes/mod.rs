//! The HTTP routes of accounts, all under the base path.

mod customers;
mod health;
mod sample;

use actix_web::web;

/// The route table. Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    sample::configure(cfg);
    customers::configure(cfg);
    health::configure(cfg);
}
