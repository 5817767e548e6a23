//! `customers/sample`: replaces every customer with the three sample customers.

use actix_web::{HttpResponse, get, post, web};
use mongodb::bson::oid::ObjectId;
use platform::http::errors::{ApiResult, DatabaseUnavailable};
use platform::http::routes::RouteConfig;
use platform::trace::TraceContext;

use super::customers::remove_customer;
use crate::domain::{Customer, sample};
use crate::events;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut RouteConfig<'_, '_>) {
    cfg.service(create_sample_customers)
        .service(create_sample_customers_by_get);
}

/// Replaces all customers with the three sample customers, publishing each new one and a
/// tombstone for each removed one.
#[utoipa::path(
    tag = "sample data",
    responses(
        (status = 201, description = "Replaced", body = String, content_type = "text/plain",
         example = "Sample customer accounts created"),
        DatabaseUnavailable,
    ),
)]
#[post("/customers/sample")]
async fn create_sample_customers(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    replace_with_samples(trace, state).await
}

/// The same as POST: upstream changes data on GET here, and its users' scripts still do.
#[utoipa::path(
    tag = "sample data",
    responses(
        (status = 201, description = "Replaced", body = String, content_type = "text/plain",
         example = "Sample customer accounts created"),
        DatabaseUnavailable,
    ),
)]
#[get("/customers/sample")]
async fn create_sample_customers_by_get(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    replace_with_samples(trace, state).await
}

async fn replace_with_samples(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let topic = &state.topics.customer_change;
    for customer in state.customers.all().await? {
        remove_customer(&state, customer.id, &trace).await?;
    }
    for draft in sample::customers() {
        let customer = Customer {
            id: ObjectId::new(),
            draft,
        };
        let event = events::customer_changed(&customer, 0, topic, &trace)?;
        state.customers.insert(&customer, &[event]).await?;
    }
    Ok(HttpResponse::Created()
        .content_type("text/plain; charset=utf-8")
        .body("Sample customer accounts created"))
}
