//! `customers`: the customer copies with their orders, read only, as HAL; also under
//! `customerOrderses`, the name Spring Data REST gave the collection, which the upstream
//! demo's own clients call.

use actix_web::{HttpRequest, HttpResponse, get, web};
use mongodb::bson::oid::ObjectId;
use platform::http::errors::{ApiError, ApiResult, DatabaseUnavailable, ErrorBody};
use platform::http::hal::{Hal, HalPage, base_url};
use platform::http::routes::RouteConfig;
use platform::paging::{PageQuery, PageRequest};

use super::resources::{CustomerOrdersResource, CustomerOrdersSummary};
use crate::state::AppState;
use crate::storage::SORTABLE;

/// The collection's path, and the one Spring Data REST derived from `CustomerOrders`.
const COLLECTION: &str = "customers";
const SPRING_COLLECTION: &str = "customerOrderses";
/// The relation the `customers` page embeds its items under: the item rel, which its clients
/// have read since it was first served. Spring Data REST's own page embeds under its collection
/// rel, `SPRING_COLLECTION`, which is where upstream's clients look.
const ITEM_RELATION: &str = "customerOrders";

/// Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(list_customers)
        .service(get_customer_summary)
        .service(get_customer)
        .service(list_customer_orderses)
        .service(get_customer_orders);
}

/// A page of customer copies with their orders.
#[utoipa::path(
    tag = "customers",
    params(PageQuery),
    responses(
        (status = 200, description = "A HAL page of customers", content(
            (HalPage<CustomerOrdersResource> = "application/hal+json"),
            (HalPage<CustomerOrdersResource> = "application/json")
        )),
        (status = 400, description = "Bad paging or sorting", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customers")]
async fn list_customers(
    request: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<HalPage<CustomerOrdersResource>>> {
    page_of(&request, &query, &state, COLLECTION, ITEM_RELATION).await
}

/// The same page under Spring Data REST's name for the collection, linking to its items there.
#[utoipa::path(
    tag = "customers",
    params(PageQuery),
    responses(
        (status = 200, description = "A HAL page of customers", content(
            (HalPage<CustomerOrdersResource> = "application/hal+json"),
            (HalPage<CustomerOrdersResource> = "application/json")
        )),
        (status = 400, description = "Bad paging or sorting", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customerOrderses")]
async fn list_customer_orderses(
    request: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<HalPage<CustomerOrdersResource>>> {
    page_of(
        &request,
        &query,
        &state,
        SPRING_COLLECTION,
        SPRING_COLLECTION,
    )
    .await
}

/// One page of the copies, as items of the collection at `path`, embedded under `relation`.
async fn page_of(
    request: &HttpRequest,
    query: &PageQuery,
    state: &AppState,
    path: &str,
    relation: &str,
) -> ApiResult<Hal<HalPage<CustomerOrdersResource>>> {
    let page = PageRequest::parse(query, &SORTABLE)?;
    let (customers, total) = state.customers.page(&page).await?;
    let collection = format!("{}/{path}", base_url(request, &state.base_path));
    let items = customers
        .iter()
        .map(|customer| CustomerOrdersResource::new(customer, &collection))
        .collect();
    Ok(Hal(HalPage::new(
        relation,
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
        .map(|stored| {
            CustomerOrdersResource::new(&stored.customer, &format!("{base}/{COLLECTION}"))
        })
        .collect();
    Ok(HttpResponse::Ok().json(CustomerOrdersSummary { customers }))
}

/// One customer copy with its orders.
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The accounts customer id, 24 hex digits")),
    responses(
        (status = 200, description = "The customer", content(
            (CustomerOrdersResource = "application/hal+json"),
            (CustomerOrdersResource = "application/json")
        )),
        (status = 404, description = "No such customer", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customers/{id}")]
async fn get_customer(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<CustomerOrdersResource>> {
    one_of(&request, &id, &state, COLLECTION).await
}

/// The same copy under Spring Data REST's name for the collection.
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The accounts customer id, 24 hex digits")),
    responses(
        (status = 200, description = "The customer", content(
            (CustomerOrdersResource = "application/hal+json"),
            (CustomerOrdersResource = "application/json")
        )),
        (status = 404, description = "No such customer", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[get("/customerOrderses/{id}")]
async fn get_customer_orders(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<CustomerOrdersResource>> {
    one_of(&request, &id, &state, SPRING_COLLECTION).await
}

/// One copy, as an item of the collection at `path`.
async fn one_of(
    request: &HttpRequest,
    id: &str,
    state: &AppState,
    path: &str,
) -> ApiResult<Hal<CustomerOrdersResource>> {
    let not_found = || ApiError::not_found("customer", id);
    let object_id = ObjectId::parse_str(id).map_err(|_| not_found())?;
    let stored = state
        .customers
        .find(object_id)
        .await?
        .ok_or_else(not_found)?;
    let collection = format!("{}/{path}", base_url(request, &state.base_path));
    Ok(Hal(CustomerOrdersResource::new(
        &stored.customer,
        &collection,
    )))
}
