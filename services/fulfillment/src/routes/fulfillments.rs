//! `fulfillments`: read them as HAL, and move one through the state machine.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use mongodb::bson::oid::ObjectId;
use platform::documents::Changed;
use platform::http::errors::{
    ApiError, ApiResult, BodyRejected, Code, DatabaseUnavailable, ErrorBody,
};
use platform::http::extract::Body;
use platform::http::hal::{Hal, HalPage, SelfLinks, base_url};
use platform::http::routes::RouteConfig;
use platform::paging::{PageQuery, PageRequest};
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, Name, Order, OrderStatusType, ShippingMethod};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::moved;
use crate::domain::Fulfillment;
use crate::state::AppState;
use crate::storage::SORTABLE;

/// Fixed paths come before `fulfillments/{id}` so they are not taken for ids.
pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(list_fulfillments)
        .service(get_fulfillment_summary)
        .service(find_by_order)
        .service(get_fulfillment)
        .service(change_status);
}

/// A fulfillment as the API shows it, in the shape of upstream's documents.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FulfillmentResource {
    #[schema(example = "5b1bf1b8a8d0562de5133d64")]
    id: String,
    /// When fulfillment was requested, epoch millis.
    timestamp: i64,
    name: Name,
    contact: Contact,
    /// The SHIPPING address.
    address: Address,
    order: Order,
    shipping_method: Option<ShippingMethod>,
    #[serde(rename = "_links")]
    links: SelfLinks,
}

impl FulfillmentResource {
    fn new(fulfillment: &Fulfillment, base: &str) -> Self {
        let id = fulfillment.id.to_hex();
        FulfillmentResource {
            links: SelfLinks::to(format!("{base}/fulfillments/{id}")),
            id,
            timestamp: fulfillment.timestamp,
            name: fulfillment.name.clone(),
            contact: fulfillment.contact.clone(),
            address: fulfillment.address.clone(),
            order: fulfillment.order.clone(),
            shipping_method: fulfillment.shipping_method,
        }
    }
}

/// Every fulfillment at once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FulfillmentSummary {
    fulfillments: Vec<FulfillmentResource>,
}

/// A requested status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusChange {
    order_status_type: OrderStatusType,
    #[schema(example = "Items out of stock")]
    note: Option<String>,
    /// Recorded with the change, typically when it is SHIPPED.
    shipping_method: Option<ShippingMethod>,
}

fn parse_id(id: &str) -> ApiResult<ObjectId> {
    ObjectId::parse_str(id).map_err(|_| ApiError::not_found("fulfillment", id))
}

/// A page of fulfillments.
#[utoipa::path(
    tag = "fulfillments",
    params(PageQuery),
    responses(
        (status = 200, description = "A HAL page of fulfillments", content(
            (HalPage<FulfillmentResource> = "application/hal+json"),
            (HalPage<FulfillmentResource> = "application/json")
        )),
        (status = 400, description = "Bad paging or sorting", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/fulfillments")]
async fn list_fulfillments(
    request: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<HalPage<FulfillmentResource>>> {
    let page = PageRequest::parse(&query, &SORTABLE)?;
    let (fulfillments, total) = state.fulfillments.page(&page).await?;
    let base = base_url(&request, &state.base_path);
    let items = fulfillments
        .iter()
        .map(|fulfillment| FulfillmentResource::new(fulfillment, &base))
        .collect();
    let collection = format!("{base}/fulfillments");
    Ok(Hal(HalPage::new(
        "fulfillments",
        &collection,
        items,
        &page,
        total,
    )))
}

/// Every fulfillment, without paging.
#[utoipa::path(
    tag = "fulfillments",
    responses(
        (status = 200, description = "All fulfillments", body = FulfillmentSummary),
        DatabaseUnavailable,
    ),
)]
#[get("/fulfillments/summary")]
async fn get_fulfillment_summary(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let base = base_url(&request, &state.base_path);
    let fulfillments = state
        .fulfillments
        .all()
        .await?
        .iter()
        .map(|fulfillment| FulfillmentResource::new(fulfillment, &base))
        .collect();
    Ok(HttpResponse::Ok().json(FulfillmentSummary { fulfillments }))
}

/// Which order's fulfillment to find.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ByOrder {
    /// The order's guid.
    #[param(example = "a9d5a5c7-4245-4b4e-b1c3-1d3968f36b2d")]
    guid: Uuid,
}

/// The fulfillment of one order (Spring Data REST's name for a search by the order's guid).
#[utoipa::path(
    tag = "fulfillments",
    params(ByOrder),
    responses(
        (status = 200, description = "The order's fulfillment", content(
            (FulfillmentResource = "application/hal+json"),
            (FulfillmentResource = "application/json")
        )),
        (status = 400, description = "The guid is not a UUID", body = ErrorBody),
        (status = 404, description = "No fulfillment for this order (yet)", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/fulfillments/search/findByOrderGuid")]
async fn find_by_order(
    request: HttpRequest,
    query: web::Query<ByOrder>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<FulfillmentResource>> {
    let fulfillment = state
        .fulfillments
        .find_by_order(query.guid)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                Code::NotFound,
                format!("no fulfillment for the order {}", query.guid),
            )
        })?;
    let base = base_url(&request, &state.base_path);
    Ok(Hal(FulfillmentResource::new(&fulfillment, &base)))
}

/// One fulfillment.
#[utoipa::path(
    tag = "fulfillments",
    params(("id" = String, Path, description = "The fulfillment id, 24 hex digits")),
    responses(
        (status = 200, description = "The fulfillment", content(
            (FulfillmentResource = "application/hal+json"),
            (FulfillmentResource = "application/json")
        )),
        (status = 404, description = "No such fulfillment", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/fulfillments/{id}")]
async fn get_fulfillment(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<FulfillmentResource>> {
    let id = parse_id(&id)?;
    let fulfillment = state
        .fulfillments
        .find(id)
        .await?
        .ok_or_else(|| ApiError::not_found("fulfillment", &id.to_hex()))?;
    let base = base_url(&request, &state.base_path);
    Ok(Hal(FulfillmentResource::new(&fulfillment, &base)))
}

/// Moves a fulfillment to a new status, if the state machine allows it, and publishes it.
#[utoipa::path(
    tag = "fulfillments",
    params(("id" = String, Path, description = "The fulfillment id, 24 hex digits")),
    request_body = StatusChange,
    responses(
        (status = 200, description = "Changed", content(
            (FulfillmentResource = "application/hal+json"),
            (FulfillmentResource = "application/json")
        )),
        (status = 404, description = "No such fulfillment", body = ErrorBody),
        (status = 409, description = "Already in that status, or changed meanwhile", body = ErrorBody),
        (status = 422, description = "The state machine does not allow it", body = ErrorBody),
        DatabaseUnavailable,
        BodyRejected,
    ),
)]
#[post("/fulfillments/{id}/status")]
async fn change_status(
    request: HttpRequest,
    id: web::Path<String>,
    Body(change): Body<StatusChange>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<FulfillmentResource>> {
    let id = parse_id(&id)?;
    let changed = state
        .fulfillments
        .change(id, |mut fulfillment, next| {
            if change.shipping_method.is_some() {
                fulfillment.shipping_method = change.shipping_method;
            }
            let note = change.note.clone();
            moved(fulfillment, change.order_status_type, note, next, &state)
        })
        .await?;
    match changed {
        Changed::Done(fulfillment) => {
            let base = base_url(&request, &state.base_path);
            Ok(Hal(FulfillmentResource::new(&fulfillment, &base)))
        }
        Changed::NotFound => Err(ApiError::not_found("fulfillment", &id.to_hex())),
        Changed::Conflict => Err(ApiError::changed_meanwhile("fulfillment")),
    }
}
