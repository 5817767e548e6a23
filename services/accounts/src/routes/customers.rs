//! `customers`: the customer accounts resource, as HAL.

use actix_web::http::{StatusCode, header};
use actix_web::{
    CustomizeResponder, HttpRequest, HttpResponse, Responder, delete, get, patch, post, put, web,
};
use mongodb::bson::oid::ObjectId;
use platform::documents::{Changed, Decision};
use platform::http::errors::{ApiError, ApiResult, BodyRejected, DatabaseUnavailable, ErrorBody};
use platform::http::extract::Body;
use platform::http::hal::{Hal, HalPage, SelfLinks, base_url};
use platform::http::routes::RouteConfig;
use platform::paging::{PageQuery, PageRequest};
use platform::trace::TraceContext;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Customer, CustomerDraft, CustomerPatch};
use crate::events;
use crate::state::AppState;
use crate::storage::{self, SORTABLE};

/// Fixed paths come before `customers/{id}` so they are not taken for ids.
pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(list_customers)
        .service(create_customer)
        .service(get_customer_summary)
        .service(get_customer)
        .service(replace_customer)
        .service(update_customer)
        .service(delete_customer);
}

/// A customer as the API shows it: card numbers masked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerResource {
    /// The MongoDB ObjectId, 24 hex digits.
    #[schema(example = "5b189af9a8d05613315b0212")]
    id: String,
    #[serde(flatten)]
    customer: CustomerDraft,
    #[serde(rename = "_links")]
    links: SelfLinks,
}

impl CustomerResource {
    fn new(customer: &Customer, base: &str) -> Self {
        let id = customer.id.to_hex();
        CustomerResource {
            links: SelfLinks::to(format!("{base}/customers/{id}")),
            id,
            customer: customer.masked(),
        }
    }
}

/// Every customer at once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerSummary {
    customers: Vec<CustomerResource>,
}

fn parse_id(id: &str) -> ApiResult<ObjectId> {
    ObjectId::parse_str(id).map_err(|_| ApiError::not_found("customer", id))
}

/// A page of customers.
#[utoipa::path(
    tag = "customers",
    params(PageQuery),
    responses(
        (status = 200, description = "A HAL page of customers", content(
            (HalPage<CustomerResource> = "application/hal+json"),
            (HalPage<CustomerResource> = "application/json")
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
) -> ApiResult<Hal<HalPage<CustomerResource>>> {
    let page = PageRequest::parse(&query, &SORTABLE)?;
    let (customers, total) = state.customers.page(&page).await?;
    let base = base_url(&request, &state.base_path);
    let items = customers
        .iter()
        .map(|customer| CustomerResource::new(customer, &base))
        .collect();
    let collection = format!("{base}/customers");
    Ok(Hal(HalPage::new(
        "customers",
        &collection,
        items,
        &page,
        total,
    )))
}

/// Every customer, without paging.
#[utoipa::path(
    tag = "customers",
    responses(
        (status = 200, description = "All customers", body = CustomerSummary),
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
        .map(|customer| CustomerResource::new(customer, &base))
        .collect();
    Ok(HttpResponse::Ok().json(CustomerSummary { customers }))
}

/// One customer.
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The customer id, 24 hex digits")),
    responses(
        (status = 200, description = "The customer", content(
            (CustomerResource = "application/hal+json"),
            (CustomerResource = "application/json")
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
) -> ApiResult<Hal<CustomerResource>> {
    let id = parse_id(&id)?;
    let customer = state
        .customers
        .find(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer", &id.to_hex()))?;
    let base = base_url(&request, &state.base_path);
    Ok(Hal(CustomerResource::new(&customer, &base)))
}

/// Creates a customer and publishes it.
#[utoipa::path(
    tag = "customers",
    request_body = CustomerDraft,
    responses(
        (status = 201, description = "Created; `Location` names it", content(
            (CustomerResource = "application/hal+json"),
            (CustomerResource = "application/json")
        )),
        (status = 422, description = "Invalid values", body = ErrorBody),
        DatabaseUnavailable,
        BodyRejected,
    ),
)]
#[post("/customers")]
async fn create_customer(
    request: HttpRequest,
    trace: TraceContext,
    body: Body<CustomerDraft>,
    state: web::Data<AppState>,
) -> ApiResult<CustomizeResponder<Hal<CustomerResource>>> {
    let customer = Customer {
        id: ObjectId::new(),
        draft: body.0.validated(&[])?,
    };
    let event = events::customer_changed(&customer, 0, &state.topics.customer_change, &trace)?;
    state.customers.insert(&customer, &[event]).await?;
    let resource = CustomerResource::new(&customer, &base_url(&request, &state.base_path));
    let location = resource.links.self_link.href.clone();
    Ok(Hal(resource)
        .customize()
        .with_status(StatusCode::CREATED)
        .insert_header((header::LOCATION, location)))
}

/// Replaces a customer and publishes the change.
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The customer id, 24 hex digits")),
    request_body = CustomerDraft,
    responses(
        (status = 200, description = "Replaced", content(
            (CustomerResource = "application/hal+json"),
            (CustomerResource = "application/json")
        )),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Changed meanwhile by another request", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
        DatabaseUnavailable,
        BodyRejected,
    ),
)]
#[put("/customers/{id}")]
async fn replace_customer(
    request: HttpRequest,
    trace: TraceContext,
    id: web::Path<String>,
    body: Body<CustomerDraft>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<CustomerResource>> {
    let draft = body.0;
    change_customer(request, trace, &id, state, move |_| draft.clone()).await
}

/// Changes the fields given and publishes the change.
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The customer id, 24 hex digits")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "Changed", content(
            (CustomerResource = "application/hal+json"),
            (CustomerResource = "application/json")
        )),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Changed meanwhile by another request", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
        DatabaseUnavailable,
        BodyRejected,
    ),
)]
#[patch("/customers/{id}")]
async fn update_customer(
    request: HttpRequest,
    trace: TraceContext,
    id: web::Path<String>,
    body: Body<CustomerPatch>,
    state: web::Data<AppState>,
) -> ApiResult<Hal<CustomerResource>> {
    let patch = body.0;
    change_customer(request, trace, &id, state, move |stored| {
        stored.clone().patched(patch.clone())
    })
    .await
}

/// Reads the customer, applies `change`, and stores the result with its event if nobody
/// changed the customer meanwhile.
async fn change_customer(
    request: HttpRequest,
    trace: TraceContext,
    id: &str,
    state: web::Data<AppState>,
    change: impl Fn(&CustomerDraft) -> CustomerDraft,
) -> ApiResult<Hal<CustomerResource>> {
    let id = parse_id(id)?;
    let changed = state
        .customers
        .change(id, |stored, next| {
            let customer = Customer {
                id,
                draft: change(&stored.draft).validated(&stored.draft.credit_cards)?,
            };
            let event =
                events::customer_changed(&customer, next, &state.topics.customer_change, &trace)?;
            Ok::<_, ApiError>(storage::replacement(
                &customer,
                vec![event],
                customer.clone(),
            )?)
        })
        .await?;
    match changed {
        Changed::Done(customer) => {
            let base = base_url(&request, &state.base_path);
            Ok(Hal(CustomerResource::new(&customer, &base)))
        }
        Changed::NotFound => Err(ApiError::not_found("customer", &id.to_hex())),
        Changed::Conflict => Err(ApiError::changed_meanwhile("customer")),
    }
}

/// Deletes a customer and publishes a tombstone, unless removals are not published
/// (`APP_EVENTS__PUBLISH_REMOVALS=false`).
#[utoipa::path(
    tag = "customers",
    params(("id" = String, Path, description = "The customer id, 24 hex digits")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 409, description = "Changed meanwhile by other requests", body = ErrorBody),
        DatabaseUnavailable,
    ),
)]
#[delete("/customers/{id}")]
async fn delete_customer(
    id: web::Path<String>,
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&id)?;
    if !remove_customer(&state, id, &trace).await? {
        return Err(ApiError::not_found("customer", &id.to_hex()));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a customer with its tombstone (none when removals are not published), reading it again if another request changed it
/// meanwhile; false if there is no such customer.
pub(super) async fn remove_customer(
    state: &AppState,
    id: ObjectId,
    trace: &TraceContext,
) -> ApiResult<bool> {
    let removed = state
        .customers
        .change(id, |_, next| {
            let events = if state.events.publish_removals {
                vec![events::customer_removed(
                    id,
                    next,
                    &state.topics.customer_change,
                    trace,
                )]
            } else {
                Vec::new()
            };
            Ok::<_, ApiError>(Decision::Remove { events, value: () })
        })
        .await?;
    match removed {
        Changed::Done(()) => Ok(true),
        Changed::NotFound => Ok(false),
        Changed::Conflict => Err(ApiError::changed_meanwhile("customer")),
    }
}
