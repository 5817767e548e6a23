//! The HTTP routes of accounts, all under the base path.

mod customers;
mod sample;

use utoipa_actix_web::service_config::ServiceConfig;

/// The route table. Sample paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut ServiceConfig<'_>) {
    sample::configure(cfg);
    customers::configure(cfg);
}
