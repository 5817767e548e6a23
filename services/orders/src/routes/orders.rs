//! Placing, approving and reading orders.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use mongodb::bson::oid::ObjectId;
use platform::http::{request_url, with_self_link};
use platform::trace::TraceContext;
use uuid::Uuid;

use super::now_millis;
use crate::domain::{NewOrder, OrderError};
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::startup::AppState;
use crate::storage::{Changed, Decision, Target};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers/{id}/orders", web::post().to(place_order))
        .route("/orders/{guid}", web::get().to(get_order))
        .route("/orders/{guid}/approve", web::post().to(approve_order));
}

/// The URL of an order, built from the service's base URL.
fn order_url(request: &HttpRequest, state: &AppState, guid: Uuid) -> String {
    let url = request_url(request);
    let base = match url.find(&state.base_path) {
        Some(start) => &url[..start + state.base_path.len()],
        None => url.as_str(),
    };
    format!("{base}/orders/{guid}")
}

async fn place_order(
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Json<NewOrder>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let not_found = || ApiError::CustomerNotFound(id.to_string());
    let object_id = ObjectId::parse_str(id.as_str()).map_err(|_| not_found())?;
    let new_order = body.into_inner();
    let changed = state
        .customers
        .change(Target::Customer(object_id), None, |stored| {
            let mut customer = stored.customer.clone();
            let order = customer.place_order(new_order.clone(), now_millis())?;
            Ok::<_, ApiError>(Decision::Write {
                customer: Box::new(customer),
                events: Vec::new(),
                value: order,
            })
        })
        .await?;
    let order = settled(changed, not_found)?;
    let url = order_url(&request, &state, order.guid);
    let body = serde_json::to_value(&order).map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url.clone()))
        .json(with_self_link(body, &url)))
}

/// The value of a finished change, or the error for one that did not happen.
fn settled<T>(changed: Changed<T>, not_found: impl FnOnce() -> ApiError) -> ApiResult<T> {
    match changed {
        Changed::Done(value) => Ok(value),
        Changed::NotFound => Err(not_found()),
        Changed::AlreadyApplied | Changed::Conflict => Err(ApiError::Conflict),
    }
}

fn parse_guid(guid: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(guid).map_err(|_| ApiError::Order(OrderError::UnknownOrder(Uuid::nil())))
}

async fn get_order(
    request: HttpRequest,
    guid: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let guid = parse_guid(&guid)?;
    let stored = state
        .customers
        .find_by_order(guid)
        .await?
        .ok_or(OrderError::UnknownOrder(guid))?;
    let order = stored
        .customer
        .order(guid)
        .ok_or(OrderError::UnknownOrder(guid))?;
    let body = serde_json::to_value(order).map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok().json(with_self_link(body, &request_url(&request))))
}

async fn approve_order(
    request: HttpRequest,
    trace: TraceContext,
    guid: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let guid = parse_guid(&guid)?;
    let changed = state
        .customers
        .change(Target::Order(guid), None, |stored| {
            let mut customer = stored.customer.clone();
            let request_event = customer.approve(guid, now_millis())?;
            let message =
                events::fulfillment_requested(&request_event, &state.topics.order_fulfill, &trace)?;
            Ok::<_, ApiError>(Decision::Write {
                customer: Box::new(customer),
                events: vec![message],
                value: request_event.order,
            })
        })
        .await?;
    let order = settled(changed, || ApiError::Order(OrderError::UnknownOrder(guid)))?;
    state.outbox.wake();
    let body = serde_json::to_value(&order).map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok().json(with_self_link(body, &order_url(&request, &state, guid))))
}
