//! The sample-data endpoints: move every fulfillment in one status to the next, publishing
//! each move. Served under both `fulfillment/sample/...` (upstream) and
//! `fulfillments/sample/...`; upstream changes data on GET, so GET keeps working and POST does
//! the same.

use actix_web::{HttpResponse, get, post, web};
use platform::documents::Decision;
use platform::http::errors::{ApiResult, DatabaseUnavailable, ErrorBody};
use platform::http::routes::RouteConfig;
use rand::seq::IndexedRandom;
use serde::Deserialize;
use shared_events::{OrderStatusType, ShippingMethod};
use utoipa::ToSchema;

use super::moved;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(advance_all)
        .service(advance_all_by_get)
        .service(advance_all_fulfillments)
        .service(advance_all_fulfillments_by_get);
}

/// One sample step.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Step {
    /// APPROVED to PROCESSING.
    Process,
    /// PROCESSING to SHIPPED, with a random shipping method.
    Ship,
    /// SHIPPED to IN_TRANSIT.
    InTransit,
    /// IN_TRANSIT to RECEIVED.
    Receive,
}

impl Step {
    fn moves(self) -> (OrderStatusType, OrderStatusType, &'static str) {
        use OrderStatusType::*;
        match self {
            Step::Process => (Approved, Processing, "Order status changed to 'Processing'"),
            Step::Ship => (Processing, Shipped, "Order status changed to 'Shipped'"),
            Step::InTransit => (Shipped, InTransit, "Order status changed to 'In Transit'"),
            Step::Receive => (InTransit, Received, "Order status changed to 'Received'"),
        }
    }
}

/// Moves every fulfillment in the step's status to the next and publishes each move.
#[utoipa::path(
    tag = "sample data",
    params(("step" = inline(Step), Path, description = "process, ship, in-transit or receive")),
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain",
         example = "Order status changed to 'Processing'"),
        (status = 404, description = "No such step", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[post("/fulfillment/sample/{step}")]
async fn advance_all(step: web::Path<Step>, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    advance(*step, &state).await
}

/// The same as POST: upstream changes data on GET here, and its users' scripts still do.
#[utoipa::path(
    tag = "sample data",
    params(("step" = inline(Step), Path, description = "process, ship, in-transit or receive")),
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain",
         example = "Order status changed to 'Processing'"),
        (status = 404, description = "No such step", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/fulfillment/sample/{step}")]
async fn advance_all_by_get(
    step: web::Path<Step>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    advance(*step, &state).await
}

/// The same steps under the collection's own name.
#[utoipa::path(
    tag = "sample data",
    params(("step" = inline(Step), Path, description = "process, ship, in-transit or receive")),
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain",
         example = "Order status changed to 'Shipped'"),
        (status = 404, description = "No such step", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[post("/fulfillments/sample/{step}")]
async fn advance_all_fulfillments(
    step: web::Path<Step>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    advance(*step, &state).await
}

/// The same steps under the collection's own name, by GET as upstream.
#[utoipa::path(
    tag = "sample data",
    params(("step" = inline(Step), Path, description = "process, ship, in-transit or receive")),
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain",
         example = "Order status changed to 'Shipped'"),
        (status = 404, description = "No such step", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/fulfillments/sample/{step}")]
async fn advance_all_fulfillments_by_get(
    step: web::Path<Step>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    advance(*step, &state).await
}

async fn advance(step: Step, state: &AppState) -> ApiResult<HttpResponse> {
    let (from, to, reply) = step.moves();
    for listed in state.fulfillments.with_status(from).await? {
        // A fulfillment another request moved since it was listed is no longer in `from`: the
        // decision skips it, as it skips one gone or still being moved once the attempts end.
        state
            .fulfillments
            .change(listed.id, |mut fulfillment, next| {
                if fulfillment.status() != Some(from) {
                    return Ok(Decision::Keep(fulfillment));
                }
                if to == OrderStatusType::Shipped {
                    fulfillment.shipping_method =
                        ShippingMethod::ALL.choose(&mut rand::rng()).copied();
                }
                moved(fulfillment, to, None, next, state)
            })
            .await?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(reply))
}
