//! The HTTP routes of fulfillment, all under the base path.

mod fulfillments;
mod sample;

use platform::documents::Decision;
use platform::http::errors::ApiResult;
use platform::http::routes::RouteConfig;
use shared_events::OrderStatusType;

use crate::domain::Fulfillment;
use crate::error::transition_refused;
use crate::state::AppState;
use crate::{events, storage};

/// The route table. Fixed paths come before `fulfillments/{id}` so they are not taken for ids.
pub(crate) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    sample::configure(cfg);
    fulfillments::configure(cfg);
}

/// Milliseconds since the Unix epoch, the timestamps of order statuses.
pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Moves `fulfillment` to `to`, if the state machine allows it, as the change stored at
/// `version`, with the event that announces the move; the change gives back the fulfillment.
fn moved(
    mut fulfillment: Fulfillment,
    to: OrderStatusType,
    note: Option<String>,
    version: i64,
    state: &AppState,
) -> ApiResult<Decision<Fulfillment>> {
    let event = fulfillment
        .advance(to, note, now_millis())
        .map_err(transition_refused)?;
    let message = events::order_status_changed(
        &event,
        &fulfillment,
        version,
        &state.topics.order_status_change,
    )?;
    Ok(storage::replacement(
        &fulfillment,
        vec![message],
        fulfillment.clone(),
    )?)
}
