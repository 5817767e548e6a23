//! The HTTP routes of orders, all under the base path.

mod customers;
mod orders;
mod resources;
mod sample;

use platform::http::routes::RouteConfig;

/// The route table. Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    sample::configure(cfg);
    customers::configure(cfg);
    orders::configure(cfg);
}

/// Milliseconds since the Unix epoch, the timestamps of order statuses.
pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
