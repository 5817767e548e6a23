//! `actuator/health`: whether the service can reach its database.

use actix_web::{HttpResponse, web};
use mongodb::bson::doc;
use serde_json::json;

use crate::startup::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/actuator/health", web::get().to(get_health));
}

async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    match state.database.run_command(doc! { "ping": 1 }).await {
        Ok(_) => HttpResponse::Ok().json(json!({ "status": "UP" })),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "DOWN" }))
        }
    }
}
