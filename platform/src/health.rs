//! `actuator/health`: whether the service can reach its database.

use actix_web::{HttpResponse, web};
use mongodb::Database;
use mongodb::bson::doc;
use serde_json::json;

struct Probe {
    database: Database,
}

/// Registers `/actuator/health` inside the service's scope.
pub fn configure(cfg: &mut web::ServiceConfig, database: Database) {
    cfg.app_data(web::Data::new(Probe { database }))
        .route("/actuator/health", web::get().to(get_health));
}

async fn get_health(probe: web::Data<Probe>) -> HttpResponse {
    match probe.database.run_command(doc! { "ping": 1 }).await {
        Ok(_) => HttpResponse::Ok().json(json!({ "status": "UP" })),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "DOWN" }))
        }
    }
}
