//! The HTTP routes of accounts, all under the base path.

mod customers;
mod sample;

use platform::actuator::Actuator;
use utoipa_actix_web::service_config::ServiceConfig;

/// The route table. Sample paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut ServiceConfig<'_>, actuator: Actuator) {
    sample::configure(cfg);
    customers::configure(cfg);
    platform::actuator::configure(cfg, actuator);
}
