//! `customers`: the customer copies with their orders, read only, as HAL.

use actix_web::{HttpRequest, HttpResponse, web};
use mongodb::bson::oid::ObjectId;
use platform::http::{PageQuery, PageRequest, hal_page, request_url, with_self_link};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;
use crate::storage::SORTABLE;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::get().to(list_customers))
        .route("/customers/summary", web::get().to(get_customer_summary))
        .route("/customers/{id}", web::get().to(get_customer));
}

async fn list_customers(
    request: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(&query, &SORTABLE)?;
    let (customers, total) = state.customers.page(&page).await?;
    let items = customers
        .iter()
        .map(|customer| (customer.id.to_hex(), customer.to_resource()))
        .collect();
    Ok(HttpResponse::Ok().json(hal_page(
        "customerOrders",
        &request_url(&request),
        items,
        &page,
        total,
    )))
}

async fn get_customer_summary(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let customers: Vec<_> = state
        .customers
        .all()
        .await?
        .iter()
        .map(|stored| stored.customer.to_resource())
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "customers": customers })))
}

async fn get_customer(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let not_found = || ApiError::CustomerNotFound(id.to_string());
    let object_id = ObjectId::parse_str(id.as_str()).map_err(|_| not_found())?;
    let stored = state
        .customers
        .find(object_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(with_self_link(
        stored.customer.to_resource(),
        &request_url(&request),
    )))
}
