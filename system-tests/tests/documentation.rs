//! Each service's OpenAPI document: valid OpenAPI 3.1, exactly the contract's operations, each
//! of them served; and Swagger UI rendering them in a real browser.

use std::process::Stdio;

use serde_json::Value;
use system_tests::Storefront;
use test_support::unique_name;
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

fn validator() -> String {
    let tools = std::env::var("STOREFRONT_TOOLS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.local/share/storefront",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{tools}/venv/bin/openapi-spec-validator")
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
        let checked = Command::new(validator())
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

#[tokio::test]
async fn chromium_renders_every_operation_in_swagger_ui() {
    let store = Storefront::start().await;
    for (service, base) in services(&store) {
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
            .arg(format!("{base}/swagger-ui/"))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .expect("running chromium (scripts/setup.sh installs it)");
        let page = String::from_utf8_lossy(&output.stdout);
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
