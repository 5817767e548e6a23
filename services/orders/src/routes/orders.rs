//! Placing, approving and reading orders.

use actix_web::http::{StatusCode, header};
use actix_web::{CustomizeResponder, HttpRequest, Responder, get, post, web};
use mongodb::bson::oid::ObjectId;
use platform::documents::Changed;
use platform::http::errors::{ApiError, ApiResult, BodyRejected, DatabaseUnavailable, ErrorBody};
use platform::http::extract::Body;
use platform::http::hal::{Hal, base_url};
use platform::http::routes::RouteConfig;
use platform::trace::TraceContext;
use uuid::Uuid;

use super::now_millis;
use super::resources::OrderResource;
use crate::domain::{NewOrder, OrderError};
use crate::events;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(place_order)
        .service(get_order)
        .service(approve_order);
}

/// The value of a change that happened, or the answer for one that did not.
fn answer<T>(changed: Changed<T>, not_found: impl FnOnce() -> ApiError) -> ApiResult<T> {
    match changed {
        Changed::Done(value) => Ok(value),
        Changed::NotFound => Err(not_found()),
        Changed::Conflict => Err(ApiError::changed_meanwhile("customer")),
    }
}

fn parse_guid(guid: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(guid).map_err(|_| ApiError::from(OrderError::UnknownOrder(Uuid::nil())))
}

/// Places an order for a customer, CREATED; products and prices come from the catalog.
#[utoipa::path(
    tag = "orders",
    params(("id" = String, Path, description = "The accounts customer id, 24 hex digits")),
    request_body = NewOrder,
    responses(
        (status = 201, description = "Placed; `Location` names it", content(
            (OrderResource = "application/hal+json"),
            (OrderResource = "application/json")
        )),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Changed meanwhile by another request", body = ErrorBody),
        (status = 422, description = "No items, a zero quantity or an unknown product", body = ErrorBody),
        DatabaseUnavailable,
        BodyRejected,
    ),
)]
#[post("/customers/{id}/orders")]
async fn place_order(
    request: HttpRequest,
    id: web::Path<String>,
    body: Body<NewOrder>,
    state: web::Data<AppState>,
) -> ApiResult<CustomizeResponder<Hal<OrderResource>>> {
    let not_found = || ApiError::not_found("customer", &id);
    let object_id = ObjectId::parse_str(id.as_str()).map_err(|_| not_found())?;
    let new_order = body.0;
    let changed = state
        .customers
        .change_customer(object_id, |stored, _| {
            let mut customer = stored.customer.clone();
            let order = customer.place_order(new_order.clone(), now_millis())?;
            Ok::<_, ApiError>(stored.write(&customer, None, Vec::new(), order)?)
        })
        .await?;
    let order = answer(changed, not_found)?;
    let resource = OrderResource::new(order, &base_url(&request, &state.base_path));
    let location = resource.href().to_owned();
    Ok(Hal(resource)
        .customize()
        .with_status(StatusCode::CREATED)
        .insert_header((header::LOCATION, location)))
}

/// One order.
#[utoipa::path(
    tag = "orders",
    params(("guid" = String, Path, description = "The order guid")),
    responses(
        (status = 200, description = "The order", content(
            (OrderResource = "application/hal+json"),
            (OrderResource = "application/json")
        )),
        (status = 404, description = "No such order", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/orders/{guid}")]
async fn get_order(
    request: HttpRequest,
    guid: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<OrderResource>> {
    let guid = parse_guid(&guid)?;
    let stored = state
        .customers
        .find_by_order(guid)
        .await?
        .ok_or(OrderError::UnknownOrder(guid))?;
    let order = stored
        .customer
        .order(guid)
        .ok_or(OrderError::UnknownOrder(guid))?
        .clone();
    Ok(Hal(OrderResource::new(
        order,
        &base_url(&request, &state.base_path),
    )))
}

/// Approves a CREATED order and publishes its `FulfillmentRequestEvent`.
#[utoipa::path(
    tag = "orders",
    params(("guid" = String, Path, description = "The order guid")),
    responses(
        (status = 200, description = "Approved", content(
            (OrderResource = "application/hal+json"),
            (OrderResource = "application/json")
        )),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "Already approved", body = ErrorBody),
        (status = 422, description = "Not CREATED, or no SHIPPING address", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[post("/orders/{guid}/approve")]
async fn approve_order(
    request: HttpRequest,
    trace: TraceContext,
    guid: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<OrderResource>> {
    let guid = parse_guid(&guid)?;
    let changed = state
        .customers
        .change_order(guid, |stored, next| {
            let mut customer = stored.customer.clone();
            let request_event = customer.approve(guid, now_millis())?;
            let message = events::fulfillment_requested(
                &request_event,
                next,
                &state.topics.order_fulfill,
                &trace,
            )?;
            Ok::<_, ApiError>(stored.write(&customer, None, vec![message], request_event.order)?)
        })
        .await?;
    let order = answer(changed, || OrderError::UnknownOrder(guid).into())?;
    Ok(Hal(OrderResource::new(
        order,
        &base_url(&request, &state.base_path),
    )))
}
