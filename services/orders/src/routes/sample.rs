//! The sample-data endpoints: sample orders for every customer, and fulfillment of every
//! approved order. Upstream changes data on GET here; GET keeps working and POST is accepted.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use platform::documents::{Changed, Decision};
use platform::http::errors::{ApiError, ApiResult, Code, DatabaseUnavailable, ErrorBody};
use platform::http::routes::RouteConfig;
use platform::trace::TraceContext;

use super::now_millis;
use crate::domain::sample;
use crate::events;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(add_sample_orders)
        .service(add_sample_orders_by_get)
        .service(fulfill_approved_orders)
        .service(fulfill_approved_orders_by_get);
}

fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// Gives every customer copy the five sample orders, replacing its orders.
#[utoipa::path(
    tag = "sample data",
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain",
         example = "Sample orders added to customer orders"),
        (status = 409, description = "A customer kept changing meanwhile", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[post("/customers/sample/orders")]
async fn add_sample_orders(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    give_sample_orders(state).await
}

/// The same as POST: upstream changes data on GET here, and its users' scripts still do.
#[utoipa::path(
    tag = "sample data",
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain",
         example = "Sample orders added to customer orders"),
        (status = 409, description = "A customer kept changing meanwhile", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customers/sample/orders")]
async fn add_sample_orders_by_get(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    give_sample_orders(state).await
}

async fn give_sample_orders(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    for listed in state.customers.all().await? {
        let changed = state
            .customers
            .change_customer(listed.customer.id, |stored, _| {
                let mut customer = stored.customer.clone();
                customer.orders = sample::orders(now_millis(), &mut rand::rng());
                Ok::<_, ApiError>(stored.write(&customer, None, Vec::new(), ())?)
            })
            .await?;
        if changed == Changed::Conflict {
            return Err(ApiError::changed_meanwhile("customer"));
        }
    }
    Ok(text(
        StatusCode::OK,
        "Sample orders added to customer orders",
    ))
}

/// Publishes a `FulfillmentRequestEvent` for every order whose latest status is APPROVED.
#[utoipa::path(
    tag = "sample data",
    responses(
        (status = 200, description = "Sent", body = String, content_type = "text/plain",
         example = "All 'Approved' orders sent for fulfillment"),
        (status = 404, description = "No 'Approved' orders found", body = ErrorBody),
        (status = 409, description = "A customer kept changing meanwhile", body = ErrorBody),
        (status = 422, description = "A customer with an APPROVED order has no SHIPPING address",
         body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[post("/customers/sample/fulfill")]
async fn fulfill_approved_orders(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    request_fulfillment(trace, state).await
}

/// The same as POST: upstream changes data on GET here, and its users' scripts still do.
#[utoipa::path(
    tag = "sample data",
    responses(
        (status = 200, description = "Sent", body = String, content_type = "text/plain",
         example = "All 'Approved' orders sent for fulfillment"),
        (status = 404, description = "No 'Approved' orders found", body = ErrorBody),
        (status = 409, description = "A customer kept changing meanwhile", body = ErrorBody),
        (status = 422, description = "A customer with an APPROVED order has no SHIPPING address",
         body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customers/sample/fulfill")]
async fn fulfill_approved_orders_by_get(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    request_fulfillment(trace, state).await
}

async fn request_fulfillment(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut requested = 0;
    for listed in state.customers.all().await? {
        let changed = state
            .customers
            .change_customer(listed.customer.id, |stored, next| {
                let requests = stored
                    .customer
                    .approved_fulfillment_requests(now_millis())?;
                let events = requests
                    .iter()
                    .map(|request| {
                        events::fulfillment_requested(
                            request,
                            next,
                            &state.topics.order_fulfill,
                            &trace,
                        )
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let count = events.len();
                if events.is_empty() {
                    return Ok::<_, ApiError>(Decision::Keep(0));
                }
                Ok(stored.write(&stored.customer, None, events, count)?)
            })
            .await?;
        match changed {
            Changed::Done(count) => requested += count,
            Changed::Conflict => return Err(ApiError::changed_meanwhile("customer")),
            Changed::NotFound => {}
        }
    }
    if requested == 0 {
        return Err(ApiError::new(Code::NotFound, "No 'Approved' orders found"));
    }
    Ok(text(
        StatusCode::OK,
        "All 'Approved' orders sent for fulfillment",
    ))
}
