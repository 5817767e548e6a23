//! The sample data as users load it: `scripts/refresh-sample-data.py`, the upstream demo's
//! seven sample calls, each taking effect before the next.

use serde_json::Value;

/// Runs `scripts/refresh-sample-data.py` against the three services at their base URLs (each
/// ending in the service's context path, as `/accounts`); asserts it succeeded and loaded the
/// sample customers, and returns what it printed.
pub async fn refresh_sample_data(accounts: &str, orders: &str, fulfillment: &str) -> String {
    let root = |url: &str, path: &str| url.trim_end_matches(path).to_owned();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/refresh-sample-data.py"
    );
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--accounts", &root(accounts, "/accounts")])
        .args(["--orders", &root(orders, "/orders")])
        .args(["--fulfillment", &root(fulfillment, "/fulfillment")])
        .output()
        .await
        .expect("running the script");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("201 Sample customer accounts created"),
        "{printed}"
    );
    assert!(printed.ends_with("Sample data loaded.\n"), "{printed}");
    printed
}

/// Whether orders' customer summary (`GET /orders/customers/summary`) holds `customers`
/// customers, each with its fifth order last moved to `status`.
pub fn fifth_orders_in(summary: &Value, customers: usize, status: &str) -> bool {
    let Some(copies) = summary["customers"].as_array() else {
        return false;
    };
    copies.len() == customers
        && copies.iter().all(|copy| {
            copy["orders"][4]["orderStatusEvents"]
                .as_array()
                .and_then(|events| events.last())
                .is_some_and(|last| last["orderStatusType"] == status)
        })
}
