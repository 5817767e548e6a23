//! Each service's OpenAPI document: valid OpenAPI 3.1, exactly the contract's operations, each
//! of them served, every answer to generated requests documented (schemathesis); and Swagger UI
//! rendering them in a real browser.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use system_tests::Storefront;
use test_support::{python_tool, unique_name};
use tokio::process::Command;

const ACTUATOR: [&str; 6] = [
    "GET /actuator",
    "GET /actuator/health",
    "GET /actuator/health/liveness",
    "GET /actuator/health/readiness",
    "GET /actuator/info",
    "GET /actuator/prometheus",
];

/// The operations contract section 5 lists, per service, below its base path.
fn contract(service: &str) -> Vec<String> {
    let own: &[&str] = match service {
        "accounts" => &[
            "GET /customers",
            "POST /customers",
            "GET /customers/sample",
            "POST /customers/sample",
            "GET /customers/summary",
            "GET /customers/{id}",
            "PUT /customers/{id}",
            "PATCH /customers/{id}",
            "DELETE /customers/{id}",
        ],
        "orders" => &[
            "GET /customerOrderses",
            "GET /customerOrderses/{id}",
            "GET /customers",
            "GET /customers/sample/orders",
            "POST /customers/sample/orders",
            "GET /customers/sample/fulfill",
            "POST /customers/sample/fulfill",
            "GET /customers/summary",
            "GET /customers/{id}",
            "POST /customers/{id}/orders",
            "GET /orders/{guid}",
            "POST /orders/{guid}/approve",
        ],
        "fulfillment" => &[
            "GET /fulfillment/sample/{step}",
            "POST /fulfillment/sample/{step}",
            "GET /fulfillments",
            "GET /fulfillments/sample/{step}",
            "POST /fulfillments/sample/{step}",
            "GET /fulfillments/search/findByOrderGuid",
            "GET /fulfillments/summary",
            "GET /fulfillments/{id}",
            "POST /fulfillments/{id}/status",
        ],
        other => panic!("no service {other}"),
    };
    let mut operations: Vec<String> = own
        .iter()
        .chain(ACTUATOR.iter())
        .map(|operation| {
            let (method, path) = operation.split_once(' ').unwrap();
            format!("{method} /{service}{path}")
        })
        .collect();
    operations.sort();
    operations
}

fn documented(document: &Value) -> Vec<String> {
    let mut operations: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    operations.sort();
    operations
}

fn services(store: &Storefront) -> [(&'static str, &str); 3] {
    [
        ("accounts", store.accounts.as_str()),
        ("orders", store.orders.as_str()),
        ("fulfillment", store.fulfillment.as_str()),
    ]
}

/// The topics each service's AsyncAPI document says it sends to and receives from.
fn event_flow(service: &str, topics: &system_tests::Topics) -> Vec<(String, String)> {
    let (customer, fulfill, status) = (
        &topics.customer_change,
        &topics.order_fulfill,
        &topics.order_status_change,
    );
    let dead = shared_events::topics::dead_letter;
    let flow: Vec<(&str, String)> = match service {
        "accounts" => vec![("send", customer.clone())],
        "orders" => vec![
            ("receive", customer.clone()),
            ("send", dead(customer)),
            ("send", fulfill.clone()),
            ("receive", status.clone()),
            ("send", dead(status)),
        ],
        "fulfillment" => vec![
            ("receive", fulfill.clone()),
            ("send", dead(fulfill)),
            ("send", status.clone()),
        ],
        other => panic!("no service {other}"),
    };
    flow.into_iter()
        .map(|(action, topic)| (action.to_owned(), topic))
        .collect()
}

/// Each service's AsyncAPI document passes the AsyncAPI project's own parser, and names the
/// topics the service is configured with, in the direction it uses them.
#[tokio::test]
async fn each_asyncapi_document_parses_and_names_the_topics_the_service_uses() {
    let store = Storefront::start().await;
    let mut files = Vec::new();
    for (service, base) in services(&store) {
        let (status, document) = store.get(&format!("{base}/v3/asyncapi")).await;
        assert_eq!(status, 200, "{service}");
        assert_eq!(document["asyncapi"], "3.0.0");
        let operations: Vec<(String, String)> = document["operations"]
            .as_object()
            .unwrap()
            .values()
            .map(|operation| {
                let channel = operation["channel"]["$ref"].as_str().unwrap();
                let id = channel.trim_start_matches("#/channels/");
                let topic = document["channels"][id]["address"].as_str().unwrap();
                (
                    operation["action"].as_str().unwrap().to_owned(),
                    topic.to_owned(),
                )
            })
            .collect();
        assert_eq!(operations, event_flow(service, &store.topics), "{service}");
        let file = std::env::temp_dir().join(format!("{}.json", unique_name(service)));
        std::fs::write(&file, document.to_string()).unwrap();
        files.push(file);
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/validate-asyncapi.mjs"
    );
    let parsed = Command::new("node")
        .arg(script)
        .arg(test_support::npm_tools())
        .args(&files)
        .output()
        .await
        .expect("running node (scripts/setup.sh --test installs the AsyncAPI parser)");
    let report = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(report.matches("parsed, 0 errors").count(), 3, "{report}");
}

#[tokio::test]
async fn each_document_is_valid_and_lists_exactly_the_operations_served() {
    let store = Storefront::start().await;
    for (service, base) in services(&store) {
        let (status, document) = store.get(&format!("{base}/v3/api-docs")).await;
        assert_eq!(status, 200, "{service}");
        assert_eq!(document["openapi"], "3.1.0");

        let file = std::env::temp_dir().join(format!("{}.json", unique_name(service)));
        std::fs::write(&file, document.to_string()).unwrap();
        let checked = Command::new(python_tool("openapi-spec-validator"))
            .arg(&file)
            .output()
            .await
            .expect("running openapi-spec-validator (scripts/setup.sh installs it)");
        let report = String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success(),
            "{service}: {}",
            report.chars().take(600).collect::<String>()
        );

        let operations = documented(&document);
        assert_eq!(operations, contract(service), "{service}");

        let root = base.trim_end_matches(&format!("/{service}"));
        for operation in operations {
            let (method, path) = operation.split_once(' ').unwrap();
            let path = path
                .replace("{id}", "5b189af9a8d05613315b0212")
                .replace("{guid}", "00000000-0000-0000-0000-000000000000")
                .replace("{step}", "process");
            let request = store
                .client
                .request(method.parse().unwrap(), format!("{root}{path}"))
                .header("content-type", "application/json")
                .body("{}");
            let response = request.send().await.unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert!(
                !body.contains("nothing is served at"),
                "{operation} is documented but not served ({status}: {body})"
            );
        }
    }
}

/// What schemathesis checks of every answer: never a 5xx, and a status, content type and body
/// the document lists for the operation.
const SCHEMATHESIS_CHECKS: &str = "not_a_server_error,status_code_conformance,\
                                   content_type_conformance,response_schema_conformance";
/// Test cases per operation and phase: enough to reach every parameter's and body's edge cases,
/// few enough that the three services take well under a minute together.
const SCHEMATHESIS_MAX_EXAMPLES: &str = "20";
/// Fixed, so that a failure shows again on the next run.
const SCHEMATHESIS_SEED: &str = "20251125";

#[tokio::test]
async fn every_answer_to_generated_requests_is_documented_and_none_is_a_server_error() {
    let store = system_tests::processes::Storefront::start().await;
    // The working directory, where schemathesis keeps its example database and crash cache.
    let scratch = std::env::temp_dir().join(unique_name("schemathesis"));
    std::fs::create_dir_all(&scratch).unwrap();
    // accounts first: the customers it creates reach orders over the broker meanwhile.
    for service in store.services() {
        let run = Command::new(python_tool("st"))
            .arg("run")
            .arg(format!("{}/v3/api-docs", service.url))
            // The document's paths already carry the base path.
            .arg(format!("--url=http://127.0.0.1:{}", service.port))
            .arg(format!("--checks={SCHEMATHESIS_CHECKS}"))
            .arg(format!("--max-examples={SCHEMATHESIS_MAX_EXAMPLES}"))
            .arg(format!("--seed={SCHEMATHESIS_SEED}"))
            .args(["--request-timeout=10", "--no-color"])
            .current_dir(&scratch)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .unwrap_or_else(|_| panic!("schemathesis took over 2 minutes on {}", service.name))
            .expect("running schemathesis (scripts/setup.sh installs it)");
        assert!(
            output.status.success(),
            "schemathesis found problems in {} (its log: {}):\n{}{}",
            service.name,
            service.log.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// The page a headless Chromium shows at `url` once its scripts ran.
async fn rendered(url: &str) -> String {
    let profile = std::env::temp_dir().join(unique_name("chromium"));
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .expect("running chromium (scripts/setup.sh installs it)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn chromium_renders_every_operation_in_swagger_ui() {
    let store = Storefront::start().await;
    for (service, base) in services(&store) {
        let page = rendered(&format!("{base}/swagger-ui/")).await;
        for operation in contract(service) {
            let (_, path) = operation.split_once(' ').unwrap();
            assert!(
                page.contains(&format!("data-path=\"{path}\"")),
                "{service}'s Swagger UI does not show {path}"
            );
        }
        assert!(page.contains("Storefront"), "the document's title is shown");
    }
}

/// The AsyncAPI viewer, served from the binary, shows every topic the service uses and every
/// message it sends or receives.
#[tokio::test]
async fn chromium_renders_every_channel_and_message_in_the_asyncapi_viewer() {
    let store = Storefront::start().await;
    for (service, base) in services(&store) {
        let page = rendered(&format!("{base}/asyncapi/")).await;
        for (_, topic) in event_flow(service, &store.topics) {
            assert!(
                page.contains(&topic),
                "{service}'s viewer does not show {topic}"
            );
        }
        let (_, document) = store.get(&format!("{base}/v3/asyncapi")).await;
        for message in document["components"]["messages"]
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(
                page.contains(message.as_str()),
                "{service}'s viewer does not show {message}"
            );
        }
        assert!(page.contains("Storefront"), "the document's title is shown");
    }
}
