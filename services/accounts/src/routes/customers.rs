//! `customers`: the customer accounts resource, as HAL.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use mongodb::bson::oid::ObjectId;
use platform::http::{PageQuery, PageRequest, hal_page, request_url, with_self_link};
use platform::trace::TraceContext;
use serde_json::json;

use crate::domain::{Customer, CustomerDraft, CustomerPatch};
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::startup::AppState;
use crate::storage::SORTABLE;

/// How often a read-modify-write is retried when another request changed the customer first.
const CONFLICT_RETRIES: usize = 3;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::get().to(list_customers))
        .route("/customers", web::post().to(create_customer))
        .route("/customers/summary", web::get().to(get_customer_summary))
        .route("/customers/{id}", web::get().to(get_customer))
        .route("/customers/{id}", web::put().to(replace_customer))
        .route("/customers/{id}", web::patch().to(update_customer))
        .route("/customers/{id}", web::delete().to(delete_customer));
}

fn parse_id(id: &str) -> ApiResult<ObjectId> {
    ObjectId::parse_str(id).map_err(|_| ApiError::NotFound(id.to_owned()))
}

/// The collection URL, from a request to the collection or to one of its items.
fn collection_url(request: &HttpRequest, state: &AppState) -> String {
    let url = request_url(request);
    let marker = format!("{}/customers", state.base_path);
    match url.find(&marker) {
        Some(start) => url[..start + marker.len()].to_owned(),
        None => url,
    }
}

fn item(customer: &Customer, collection: &str) -> serde_json::Value {
    with_self_link(
        customer.to_resource(),
        &format!("{collection}/{}", customer.id.to_hex()),
    )
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
    let url = collection_url(&request, &state);
    Ok(HttpResponse::Ok().json(hal_page("customers", &url, items, &page, total)))
}

async fn get_customer_summary(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let customers: Vec<_> = state
        .customers
        .all()
        .await?
        .iter()
        .map(Customer::to_resource)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "customers": customers })))
}

async fn get_customer(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&id)?;
    let (customer, _) = state
        .customers
        .find(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(id.to_hex()))?;
    Ok(HttpResponse::Ok().json(item(&customer, &collection_url(&request, &state))))
}

async fn create_customer(
    request: HttpRequest,
    trace: TraceContext,
    body: web::Json<CustomerDraft>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let customer = Customer {
        id: ObjectId::new(),
        draft: body.into_inner().validated(&[])?,
    };
    let event = events::customer_changed(&customer, &state.topics.customer_change, &trace)?;
    state.customers.insert(&customer, &[event]).await?;
    state.outbox.wake();
    let collection = collection_url(&request, &state);
    let location = format!("{collection}/{}", customer.id.to_hex());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(item(&customer, &collection)))
}

async fn replace_customer(
    request: HttpRequest,
    trace: TraceContext,
    id: web::Path<String>,
    body: web::Json<CustomerDraft>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let draft = body.into_inner();
    change_customer(request, trace, &id, state, move |_| draft.clone()).await
}

async fn update_customer(
    request: HttpRequest,
    trace: TraceContext,
    id: web::Path<String>,
    body: web::Json<CustomerPatch>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let patch = body.into_inner();
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
) -> ApiResult<HttpResponse> {
    let id = parse_id(id)?;
    for _ in 0..CONFLICT_RETRIES {
        let (stored, version) = state
            .customers
            .find(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(id.to_hex()))?;
        let customer = Customer {
            id,
            draft: change(&stored.draft).validated(&stored.draft.credit_cards)?,
        };
        let event = events::customer_changed(&customer, &state.topics.customer_change, &trace)?;
        if state
            .customers
            .replace(&customer, version, &[event])
            .await?
        {
            state.outbox.wake();
            return Ok(HttpResponse::Ok().json(item(&customer, &collection_url(&request, &state))));
        }
    }
    Err(ApiError::Conflict)
}

async fn delete_customer(
    id: web::Path<String>,
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&id)?;
    let tombstone = events::customer_removed(id, &state.topics.customer_change, &trace);
    if !state.customers.remove(id, &[tombstone]).await? {
        return Err(ApiError::NotFound(id.to_hex()));
    }
    state.outbox.wake();
    Ok(HttpResponse::NoContent().finish())
}
