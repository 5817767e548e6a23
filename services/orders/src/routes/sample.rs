//! The sample-data endpoints: sample orders for every customer, and fulfillment of every
//! approved order. Upstream changes data on GET here; GET keeps working and POST is accepted.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use platform::http::errors::{ApiError, ApiResult, Code, DatabaseUnavailable, ErrorBody};
use platform::http::routes::RouteConfig;
use platform::trace::TraceContext;

use super::now_millis;
use crate::domain::sample;
use crate::events;
use crate::state::AppState;
use crate::storage::{Changed, Decision, Target};

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
        let target = Target::Customer(listed.customer.id);
        let changed = state
            .customers
            .change(target, None, None, |stored| {
                let mut customer = stored.customer.clone();
                customer.orders = sample::orders(now_millis(), &mut rand::rng());
                Ok::<_, ApiError>(Decision::Write {
                    customer: Box::new(customer),
                    events: Vec::new(),
                    value: (),
                })
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
        let target = Target::Customer(listed.customer.id);
        let changed = state
            .customers
            .change(target, None, None, |stored| {
                let requests = stored
                    .customer
                    .approved_fulfillment_requests(now_millis())?;
                let events = requests
                    .iter()
                    .map(|request| {
                        events::fulfillment_requested(
                            request,
                            stored.version + 1,
                            &state.topics.order_fulfill,
                            &trace,
                        )
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let count = events.len();
                Ok::<_, ApiError>(if events.is_empty() {
                    Decision::Keep(0)
                } else {
                    Decision::Write {
                        customer: Box::new(stored.customer.clone()),
                        events,
                        value: count,
                    }
                })
            })
            .await?;
        match changed {
            Changed::Done(count) => requested += count,
            Changed::Conflict => return Err(ApiError::changed_meanwhile("customer")),
            Changed::NotFound | Changed::AlreadyApplied => {}
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
