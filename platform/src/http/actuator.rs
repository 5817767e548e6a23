//! The actuator endpoints, as Spring Boot serves them: an index, health with components,
//! liveness and readiness, build info, and the Prometheus exposition.
//!
//! - `health`: every component (mongo, kafka, and the consumer loop where there is one);
//! - `health/liveness`: the process answers and its consumer loop is not stuck; a failing
//!   liveness probe restarts the pod, so it ignores the database and the broker;
//! - `health/readiness`: the database answers a ping and the broker a metadata request, and the
//!   broker refuses the service nothing (login, certificate, a topic or group it needs: see
//!   [`crate::kafka_access`]), so a pod that cannot serve is taken out of the load balancer
//!   until it can; a refusal is named under the kafka component's `reason`.
//!
//! Anything DOWN answers 503.

use std::time::Duration;

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::DateTime;
use mongodb::Database;
use mongodb::bson::doc;
use rdkafka::producer::Producer as _;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::consumer::{Heartbeat, Pulse};
use crate::http::hal::request_url;
use crate::http::routes::RouteConfig;
use crate::kafka::Producer;

/// How long a dependency may take to answer a health check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// A consumer loop silent for longer than this is stuck.
const CONSUMER_SILENCE_LIMIT: Duration = Duration::from_secs(30);

/// What the actuator reports on.
#[derive(Clone)]
pub struct Actuator {
    /// The service name, e.g. `accounts`.
    application: &'static str,
    database: Database,
    /// The service's producer: its metadata request tells whether the broker answers, and its
    /// access what the broker refuses the service's clients.
    kafka: Producer,
    consumer: Option<Heartbeat>,
    exposure: Exposure,
}

/// Which actuator endpoints are served; by default health, info and prometheus, and nothing
/// else exists to expose (no environment, heap dump or shutdown endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    health: bool,
    info: bool,
    prometheus: bool,
}

impl Exposure {
    /// Reads a comma-separated list such as `health,info,prometheus`.
    pub fn parse(list: &str) -> anyhow::Result<Self> {
        let mut exposure = Exposure {
            health: false,
            info: false,
            prometheus: false,
        };
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "health" => exposure.health = true,
                "info" => exposure.info = true,
                "prometheus" => exposure.prometheus = true,
                other => anyhow::bail!(
                    "unknown actuator endpoint `{other}` in the exposure list; \
                     use health, info or prometheus"
                ),
            }
        }
        Ok(exposure)
    }
}

impl Actuator {
    pub fn new(
        application: &'static str,
        database: Database,
        kafka: Producer,
        consumer: Option<Heartbeat>,
    ) -> Self {
        Actuator {
            application,
            database,
            kafka,
            consumer,
            exposure: Exposure {
                health: true,
                info: true,
                prometheus: true,
            },
        }
    }
}

/// Registers the actuator routes inside the service's scope.
pub fn configure(cfg: &mut RouteConfig<'_, '_>, mut actuator: Actuator, exposure: Exposure) {
    actuator.exposure = exposure;
    cfg.app_data(web::Data::new(actuator)).service(get_index);
    if exposure.health {
        cfg.service(get_health)
            .service(get_liveness)
            .service(get_readiness);
    }
    if exposure.info {
        cfg.service(get_info);
    }
    if exposure.prometheus {
        cfg.service(get_prometheus);
    }
}

/// UP or DOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Up,
    Down,
}

/// The health of one component, with what explains it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentHealth {
    pub status: Status,
    #[schema(value_type = Object)]
    pub details: Value,
}

/// The health of the service: UP only when every component is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"status": "UP", "components": {
    "mongo": {"status": "UP", "details": {"database": "orders"}},
    "kafka": {"status": "UP", "details": {"brokers": 1}},
    "consumer": {"status": "UP", "details": {"lastPollSecondsAgo": 0}}}}))]
pub struct Health {
    pub status: Status,
    pub components: BTreeMap<String, ComponentHealth>,
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
        let producer = self.kafka.client().clone();
        let metadata = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, CHECK_TIMEOUT)
                .map(|metadata| metadata.brokers().len())
        })
        .await;
        let access = self.kafka.access();
        let details = match metadata {
            Ok(Ok(brokers)) => {
                access.connected();
                Ok(json!({ "brokers": brokers }))
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        let reasons = access.reasons();
        if reasons.is_empty() {
            return component("kafka", details);
        }
        let mut details = match details {
            Ok(details) => details,
            Err(error) => json!({ "error": error }),
        };
        details["reason"] = reasons.join("; ").into();
        Component {
            name: "kafka",
            up: false,
            details,
        }
    }

    fn consumer(&self) -> Option<Component> {
        let heartbeat = self.consumer.as_ref()?;
        let details = match heartbeat.pulse() {
            Pulse::Beating(age) if age <= CONSUMER_SILENCE_LIMIT => {
                Ok(json!({ "lastPollSecondsAgo": age.as_secs() }))
            }
            Pulse::Beating(age) => Err(format!("silent for {} s", age.as_secs())),
            Pulse::NotStarted => Err("not started".to_owned()),
            Pulse::Failed => Err("failed for good; the service is stopping".to_owned()),
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
    let status = |up: bool| if up { Status::Up } else { Status::Down };
    let components = components
        .into_iter()
        .map(|component| {
            let health = ComponentHealth {
                status: status(component.up),
                details: component.details,
            };
            (component.name.to_owned(), health)
        })
        .collect();
    let body = Health {
        status: status(up),
        components,
    };
    if up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Links to every actuator endpoint, as Spring Boot lists them.
#[utoipa::path(tag = "actuator", responses((status = 200, description = "Links", body = Object)))]
#[get("/actuator")]
async fn get_index(request: HttpRequest, actuator: web::Data<Actuator>) -> HttpResponse {
    let base = request_url(&request);
    let link = |path: &str, templated: bool| json!({ "href": format!("{base}{path}"), "templated": templated });
    let exposure = actuator.exposure;
    let mut links = serde_json::Map::new();
    links.insert("self".into(), link("", false));
    if exposure.health {
        links.insert("health".into(), link("/health", false));
        links.insert("health-path".into(), link("/health/{*path}", true));
    }
    if exposure.info {
        links.insert("info".into(), link("/info", false));
    }
    if exposure.prometheus {
        links.insert("prometheus".into(), link("/prometheus", false));
    }
    HttpResponse::Ok().json(json!({ "_links": links }))
}

/// Every component: MongoDB, Kafka and, where there is one, the consumer loop.
#[utoipa::path(tag = "actuator", responses(
    (status = 200, description = "All components UP", body = Health),
    (status = 503, description = "Some component DOWN", body = Health),
))]
#[get("/actuator/health")]
async fn get_health(actuator: web::Data<Actuator>) -> HttpResponse {
    let (mongo, kafka) = tokio::join!(actuator.mongo(), actuator.kafka());
    let mut components = vec![mongo, kafka];
    components.extend(actuator.consumer());
    health(components)
}

/// Whether the process should be restarted: only a stuck consumer loop makes it DOWN.
#[utoipa::path(tag = "actuator", responses(
    (status = 200, description = "Alive", body = Health),
    (status = 503, description = "Stuck", body = Health),
))]
#[get("/actuator/health/liveness")]
async fn get_liveness(actuator: web::Data<Actuator>) -> HttpResponse {
    health(actuator.consumer().into_iter().collect())
}

/// Whether the service can serve: the database and the broker answer.
#[utoipa::path(tag = "actuator", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Not ready", body = Health),
))]
#[get("/actuator/health/readiness")]
async fn get_readiness(actuator: web::Data<Actuator>) -> HttpResponse {
    let (mongo, kafka) = tokio::join!(actuator.mongo(), actuator.kafka());
    health(vec![mongo, kafka])
}

/// Name, version, git commit and build time.
#[utoipa::path(tag = "actuator", responses((status = 200, description = "Build information", body = Object,
    example = json!({"app": {"name": "orders", "version": "0.1.0"}, "git": {"commit": "d97a036678aa"},
                     "build": {"time": "2026-11-25T01:52:02+00:00"}}))))]
#[get("/actuator/info")]
async fn get_info(actuator: web::Data<Actuator>) -> HttpResponse {
    let built = env!("STOREFRONT_BUILD_EPOCH_SECONDS")
        .parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .map(|time| time.to_rfc3339());
    HttpResponse::Ok().json(json!({
        "app": { "name": actuator.application, "version": env!("CARGO_PKG_VERSION") },
        "git": { "commit": env!("STOREFRONT_GIT_COMMIT") },
        "build": { "time": built },
    }))
}

/// Metrics in the Prometheus text format.
#[utoipa::path(tag = "actuator", responses((status = 200, description = "The exposition",
    content_type = "text/plain; version=0.0.4", body = String)))]
#[get("/actuator/prometheus")]
async fn get_prometheus() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_reads_a_list_and_refuses_unknown_endpoints() {
        let exposure = Exposure::parse(" health , prometheus").unwrap();
        assert!(exposure.health && exposure.prometheus && !exposure.info);
        let error = Exposure::parse("health,env").unwrap_err().to_string();
        assert!(error.contains("`env`"), "{error}");
    }
}
