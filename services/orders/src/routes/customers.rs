//! `customers`: the customer copies with their orders, read only, as HAL.

use actix_web::{HttpRequest, HttpResponse, get, web};
use mongodb::bson::oid::ObjectId;
use platform::http::errors::{ApiError, ApiResult, DatabaseUnavailable, ErrorBody};
use platform::http::hal::{HalPage, base_url};
use platform::paging::{PageQuery, PageRequest};
use utoipa_actix_web::service_config::ServiceConfig;

use super::resources::{CustomerOrdersResource, CustomerOrdersSummary};
use crate::state::AppState;
use crate::storage::SORTABLE;

/// Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_customers)
        .service(get_customer_summary)
        .service(get_customer);
}

/// A page of customer copies with their orders.
#[utoipa::path(
    tag = "customers",
    params(PageQuery),
    responses(
        (status = 200, description = "A HAL page of customers", body = HalPage<CustomerOrdersResource>),
        (status = 400, description = "Bad paging or sorting", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customers")]
async fn list_customers(
    request: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(&query, &SORTABLE)?;
    let (customers, total) = state.customers.page(&page).await?;
    let base = base_url(&request, &state.base_path);
    let items = customers
        .iter()
        .map(|customer| CustomerOrdersResource::new(customer, &base))
        .collect();
    let collection = format!("{base}/customers");
    Ok(HttpResponse::Ok().json(HalPage::new(
        "customerOrders",
        &collection,
        items,
        &page,
        total,
    )))
}

/// Every customer copy with its orders, without paging.
#[utoipa::path(
    tag = "customers",
    responses(
        (status = 200, description = "All customers", body = CustomerOrdersSummary),
        DatabaseUnavailable,
    ),
)]
#[get("/customers/summary")]
async fn get_customer_summary(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let base = base_url(&request, &state.base_path);
    let customers = state
        .customers
        .all()
        .await?
        .iter()
        .map(|stored| CustomerOrdersResource::new(&stored.customer, &base))
        .collect();
    Ok(HttpResponse::Ok().json(CustomerOrdersSummary { customers }))
}

/// One customer copy with its orders.
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The accounts customer id, 24 hex digits")),
    responses(
        (status = 200, description = "The customer", body = CustomerOrdersResource),
        (status = 404, description = "No such customer", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customers/{id}")]
async fn get_customer(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let not_found = || ApiError::not_found("customer", &id);
    let object_id = ObjectId::parse_str(id.as_str()).map_err(|_| not_found())?;
    let stored = state
        .customers
        .find(object_id)
        .await?
        .ok_or_else(not_found)?;
    let base = base_url(&request, &state.base_path);
    Ok(HttpResponse::Ok().json(CustomerOrdersResource::new(&stored.customer, &base)))
}
