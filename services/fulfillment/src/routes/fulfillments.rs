//! `fulfillments`: read them as HAL, and move one through the state machine.

use actix_web::{HttpRequest, HttpResponse, web};
use mongodb::bson::oid::ObjectId;
use platform::http::{PageQuery, PageRequest, hal_page, request_url, with_self_link};
use serde::Deserialize;
use serde_json::json;
use shared_events::OrderStatusType;

use super::now_millis;
use crate::domain::ShippingMethod;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::startup::AppState;
use crate::storage::SORTABLE;

/// How often a read-modify-write is retried when another request changed the fulfillment.
const CONFLICT_RETRIES: usize = 3;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/fulfillments", web::get().to(list_fulfillments))
        .route(
            "/fulfillments/summary",
            web::get().to(get_fulfillment_summary),
        )
        .route("/fulfillments/{id}", web::get().to(get_fulfillment))
        .route("/fulfillments/{id}/status", web::post().to(change_status));
}

/// A requested status change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusChange {
    order_status_type: OrderStatusType,
    note: Option<String>,
    /// Recorded with the change, typically when it is SHIPPED.
    shipping_method: Option<ShippingMethod>,
}

fn parse_id(id: &str) -> ApiResult<ObjectId> {
    ObjectId::parse_str(id).map_err(|_| ApiError::NotFound(id.to_owned()))
}

async fn list_fulfillments(
    request: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(&query, &SORTABLE)?;
    let (fulfillments, total) = state.fulfillments.page(&page).await?;
    let items = fulfillments
        .iter()
        .map(|fulfillment| (fulfillment.id.to_hex(), fulfillment.to_resource()))
        .collect();
    Ok(HttpResponse::Ok().json(hal_page(
        "fulfillments",
        &request_url(&request),
        items,
        &page,
        total,
    )))
}

async fn get_fulfillment_summary(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let fulfillments: Vec<_> = state
        .fulfillments
        .all()
        .await?
        .iter()
        .map(|fulfillment| fulfillment.to_resource())
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "fulfillments": fulfillments })))
}

async fn get_fulfillment(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&id)?;
    let (fulfillment, _) = state
        .fulfillments
        .find(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.to_hex()))?;
    Ok(HttpResponse::Ok().json(with_self_link(
        fulfillment.to_resource(),
        &request_url(&request),
    )))
}

async fn change_status(
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Json<StatusChange>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&id)?;
    for _ in 0..CONFLICT_RETRIES {
        let (mut fulfillment, version) = state
            .fulfillments
            .find(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(id.to_hex()))?;
        let event = fulfillment.advance(body.order_status_type, body.note.clone(), now_millis())?;
        if body.shipping_method.is_some() {
            fulfillment.shipping_method = body.shipping_method;
        }
        let message =
            events::order_status_changed(&event, &fulfillment, &state.topics.order_status_change)?;
        if state
            .fulfillments
            .update(&fulfillment, version, &[message])
            .await?
        {
            state.outbox.wake();
            let url = request_url(&request);
            let item_url = url.trim_end_matches("/status");
            return Ok(HttpResponse::Ok().json(with_self_link(fulfillment.to_resource(), item_url)));
        }
    }
    Err(ApiError::Conflict)
}
