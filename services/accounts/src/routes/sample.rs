//! `customers/sample`: replaces every customer with the three sample customers.

use actix_web::{HttpResponse, web};
use mongodb::bson::oid::ObjectId;
use platform::trace::TraceContext;

use crate::domain::{Customer, sample};
use crate::error::ApiResult;
use crate::events;
use crate::startup::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    // Upstream changes data on GET here; GET keeps working and POST is accepted too.
    cfg.route("/customers/sample", web::get().to(create_sample_customers))
        .route("/customers/sample", web::post().to(create_sample_customers));
}

async fn create_sample_customers(
    trace: TraceContext,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let topic = &state.topics.customer_change;
    for customer in state.customers.all().await? {
        let tombstone = events::customer_removed(customer.id, topic, &trace);
        state.customers.remove(customer.id, &[tombstone]).await?;
    }
    for draft in sample::customers() {
        let customer = Customer {
            id: ObjectId::new(),
            draft,
        };
        let event = events::customer_changed(&customer, topic, &trace)?;
        state.customers.insert(&customer, &[event]).await?;
    }
    state.outbox.wake();
    Ok(HttpResponse::Created()
        .content_type("text/plain; charset=utf-8")
        .body("Sample customer accounts created"))
}
