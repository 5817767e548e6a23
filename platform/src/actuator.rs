//! The actuator endpoints, as Spring Boot serves them: an index, health with components,
//! liveness and readiness, build info, and the Prometheus exposition.
//!
//! - `health`: every component (mongo, kafka, and the consumer loop where there is one);
//! - `health/liveness`: the process answers and its consumer loop is not stuck; a failing
//!   liveness probe restarts the pod, so it ignores the database and the broker;
//! - `health/readiness`: the database answers a ping and the broker a metadata request, so a
//!   pod that cannot serve is taken out of the load balancer until it can.
//!
//! Anything DOWN answers 503.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::DateTime;
use mongodb::Database;
use mongodb::bson::doc;
use rdkafka::producer::{FutureProducer, Producer};
use serde_json::{Map, Value, json};

use crate::consumer::Heartbeat;
use crate::http::request_url;

/// How long a dependency may take to answer a health check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// A consumer loop silent for longer than this is stuck.
const CONSUMER_SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// What the actuator reports on.
pub struct Actuator {
    /// The service name, e.g. `accounts`.
    pub application: &'static str,
    pub version: &'static str,
    pub database: Database,
    /// Any client of the cluster; its metadata request tells whether the broker answers.
    pub kafka: FutureProducer,
    pub consumer: Option<Heartbeat>,
}

/// Registers the actuator routes inside the service's scope.
pub fn configure(cfg: &mut web::ServiceConfig, actuator: Actuator) {
    cfg.app_data(web::Data::new(actuator))
        .route("/actuator", web::get().to(get_index))
        .route("/actuator/health", web::get().to(get_health))
        .route("/actuator/health/liveness", web::get().to(get_liveness))
        .route("/actuator/health/readiness", web::get().to(get_readiness))
        .route("/actuator/info", web::get().to(get_info))
        .route("/actuator/prometheus", web::get().to(get_prometheus));
}

/// One component's state and what explains it.
struct Component {
    name: &'static str,
    up: bool,
    details: Value,
}

impl Actuator {
    async fn mongo(&self) -> Component {
        let ping = self.database.run_command(doc! { "ping": 1 });
        let details = match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
            Ok(Ok(_)) => Ok(json!({ "database": self.database.name() })),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        component("mongo", details)
    }

    async fn kafka(&self) -> Component {
        let producer = self.kafka.clone();
        let metadata = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, CHECK_TIMEOUT)
                .map(|metadata| metadata.brokers().len())
        })
        .await;
        let details = match metadata {
            Ok(Ok(brokers)) => Ok(json!({ "brokers": brokers })),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        component("kafka", details)
    }

    fn consumer(&self) -> Option<Component> {
        let heartbeat = self.consumer.as_ref()?;
        let details = match heartbeat.age() {
            Some(age) if age <= CONSUMER_SILENCE_LIMIT => {
                Ok(json!({ "lastPollSecondsAgo": age.as_secs() }))
            }
            Some(age) => Err(format!("silent for {} s", age.as_secs())),
            None => Err("not started".to_owned()),
        };
        Some(component("consumer", details))
    }
}

fn component(name: &'static str, details: Result<Value, String>) -> Component {
    match details {
        Ok(details) => Component {
            name,
            up: true,
            details,
        },
        Err(error) => Component {
            name,
            up: false,
            details: json!({ "error": error }),
        },
    }
}

/// The health answer over some components: UP (200) only if all of them are.
fn health(components: Vec<Component>) -> HttpResponse {
    let up = components.iter().all(|component| component.up);
    let status = |up: bool| if up { "UP" } else { "DOWN" };
    let mut listed = Map::new();
    for component in components {
        listed.insert(
            component.name.to_owned(),
            json!({ "status": status(component.up), "details": component.details }),
        );
    }
    let body = json!({ "status": status(up), "components": listed });
    if up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn get_index(request: HttpRequest) -> HttpResponse {
    let base = request_url(&request);
    let link = |path: &str, templated: bool| json!({ "href": format!("{base}{path}"), "templated": templated });
    HttpResponse::Ok().json(json!({ "_links": {
        "self": link("", false),
        "health": link("/health", false),
        "health-path": link("/health/{*path}", true),
        "info": link("/info", false),
        "prometheus": link("/prometheus", false),
    } }))
}

async fn get_health(actuator: web::Data<Actuator>) -> HttpResponse {
    let (mongo, kafka) = tokio::join!(actuator.mongo(), actuator.kafka());
    let mut components = vec![mongo, kafka];
    components.extend(actuator.consumer());
    health(components)
}

async fn get_liveness(actuator: web::Data<Actuator>) -> HttpResponse {
    health(actuator.consumer().into_iter().collect())
}

async fn get_readiness(actuator: web::Data<Actuator>) -> HttpResponse {
    let (mongo, kafka) = tokio::join!(actuator.mongo(), actuator.kafka());
    health(vec![mongo, kafka])
}

async fn get_info(actuator: web::Data<Actuator>) -> HttpResponse {
    let built = env!("STOREFRONT_BUILD_EPOCH_SECONDS")
        .parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .map(|time| time.to_rfc3339());
    HttpResponse::Ok().json(json!({
        "app": { "name": actuator.application, "version": actuator.version },
        "git": { "commit": env!("STOREFRONT_GIT_COMMIT") },
        "build": { "time": built },
    }))
}

async fn get_prometheus() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}
