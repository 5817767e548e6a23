use std::time::Duration;

use serde_json::Value;
use test_support::{PrivateDatabase, eventually};

use crate::helpers::{AccountsApp, spawn_app, spawn_app_with, test_settings};

#[tokio::test]
async fn the_actuator_reports_health_info_and_links() {
    let app = spawn_app().await;
    let index = app.get_json("/actuator").await;
    for link in ["self", "health", "info", "prometheus"] {
        let href = index["_links"][link]["href"].as_str().unwrap();
        assert!(href.contains("/accounts/actuator"), "{link}: {href}");
    }
    let health = app.get_json("/actuator/health").await;
    assert_eq!(health["status"], "UP");
    assert_eq!(health["components"]["mongo"]["status"], "UP");
    assert_eq!(health["components"]["kafka"]["status"], "UP");
    assert_eq!(
        app.get_json("/actuator/health/liveness").await["status"],
        "UP"
    );
    let readiness = app.get_json("/actuator/health/readiness").await;
    assert_eq!(readiness["components"]["kafka"]["details"]["brokers"], 1);
    let info = app.get_json("/actuator/info").await;
    assert_eq!(info["app"]["name"], "accounts");
    assert_eq!(info["app"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        info["git"]["commit"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(info["build"]["time"].as_str().is_some());
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_and_answer_with_their_trace() {
    let app = spawn_app().await;
    let created: Value = app.create_customer("ada@example.com").await;
    let id = created["id"].as_str().unwrap();
    app.get_json(&format!("/customers/{id}")).await;
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let scanned = app
        .client
        .get(app.url("/wp-admin/setup.php"))
        .header("traceparent", parent)
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 404);
    let traceparent = scanned.headers()["traceparent"].to_str().unwrap();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert_ne!(traceparent, parent, "the service's own span");

    let response = app
        .client
        .get(app.url("/actuator/prometheus"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let exposition = response.text().await.unwrap();
    assert!(exposition.contains(r#"route="/accounts/customers/{id}""#));
    assert!(exposition.contains(r#"route="UNMATCHED""#));
    assert!(!exposition.contains(id), "raw paths never become labels");
    assert!(!exposition.contains("wp-admin"));
    assert!(exposition.contains("# TYPE http_server_requests_seconds histogram"));
    assert!(exposition.contains("process_resident_memory_bytes"));
}

#[tokio::test]
async fn without_its_database_the_service_is_unready_and_recovers_by_itself() {
    let mut database = PrivateDatabase::start();
    database.wait_answering().await;
    let mut settings = test_settings().await;
    settings.database.uri = database.uri().into();
    settings.database.timeout = Duration::from_millis(500);
    let app = spawn_app_with(settings).await;
    assert_eq!(
        app.get_json("/actuator/health/readiness").await["status"],
        "UP"
    );

    database.kill();
    let readiness = app
        .client
        .get(app.url("/actuator/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_eq!(readiness.status(), 503);
    let body: Value = readiness.json().await.unwrap();
    assert_eq!(body["components"]["mongo"]["status"], "DOWN");
    assert_eq!(body["components"]["kafka"]["status"], "UP");
    let health = app
        .client
        .get(app.url("/actuator/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    let liveness = app
        .client
        .get(app.url("/actuator/health/liveness"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        liveness.status(),
        200,
        "a lost database is no reason to restart"
    );
    let listed = app.client.get(app.url("/customers")).send().await.unwrap();
    assert_eq!(listed.status(), 503);
    let error: Value = listed.json().await.unwrap();
    assert_eq!(error["code"], "database_unavailable");

    database.restart();
    eventually("readiness to recover", Duration::from_secs(30), || async {
        let response = app
            .client
            .get(app.url("/actuator/health/readiness"))
            .send()
            .await
            .ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    assert_eq!(app.get_json("/customers").await["page"]["totalElements"], 0);
}

#[tokio::test]
async fn only_health_info_and_prometheus_are_exposed_unless_configured_otherwise() {
    let app = spawn_app().await;
    for endpoint in [
        "env",
        "beans",
        "heapdump",
        "threaddump",
        "loggers",
        "configprops",
        "mappings",
        "metrics",
        "shutdown",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/actuator/{endpoint}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "actuator/{endpoint}");
    }

    let mut settings = test_settings().await;
    settings.http.actuator_exposure = "health".into();
    let app = spawn_app_with(settings).await;
    assert_eq!(app.get_json("/actuator/health").await["status"], "UP");
    for endpoint in ["info", "prometheus"] {
        let response = app
            .client
            .get(app.url(&format!("/actuator/{endpoint}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "actuator/{endpoint}");
    }
    let links = app.get_json("/actuator").await["_links"].clone();
    assert!(links.get("health").is_some());
    assert!(links.get("info").is_none() && links.get("prometheus").is_none());
}
