//! The HTTP routes of accounts, all under the base path.

mod customers;
mod sample;

use platform::http::routes::RouteConfig;

/// The route table. Sample paths come before `customers/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    sample::configure(cfg);
    customers::configure(cfg);
}
