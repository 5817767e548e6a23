//! The HTTP routes of fulfillment, all under the base path.

mod fulfillments;
mod sample;

use platform::http::routes::RouteConfig;

/// The route table. Fixed paths come before `fulfillments/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    sample::configure(cfg);
    fulfillments::configure(cfg);
}

/// Milliseconds since the Unix epoch, the timestamps of order statuses.
pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
