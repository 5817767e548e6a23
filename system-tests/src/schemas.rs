//! Event payloads held against the committed JSON Schemas (`shared-events/schemas/`) by a
//! validator that is not ours: Python's `jsonschema`, through `scripts/validate-events.py`.

use serde_json::{Value, json};
use test_support::{python_tool, unique_name};

/// One payload and the schema file it must satisfy.
pub struct Case {
    /// What the payload is, for the failure's line: `fixture ...`, `record ... of <topic>`.
    pub what: String,
    /// A file of `shared-events/schemas/`, e.g. `customer-change-event.accepted.json`.
    pub schema: String,
    pub instance: Value,
}

/// Validates every case; returns the failures, one line each (empty when all pass).
pub async fn failures(cases: &[Case]) -> Vec<String> {
    let list: Vec<Value> = cases
        .iter()
        .map(|case| json!({ "what": case.what, "schema": case.schema, "instance": case.instance }))
        .collect();
    let file = std::env::temp_dir().join(format!("{}.json", unique_name("event-cases")));
    std::fs::write(&file, Value::Array(list).to_string()).expect("writing the cases");
    let output = tokio::process::Command::new(python_tool("python"))
        .arg(crate::repository().join("scripts/validate-events.py"))
        .arg(crate::repository().join("shared-events/schemas"))
        .arg(&file)
        .output()
        .await
        .expect("running scripts/validate-events.py (scripts/setup.sh --test installs jsonschema)");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr);
    let checked = format!("{} payloads checked", cases.len());
    assert!(
        report.starts_with(&checked),
        "validate-events.py did not check every payload: {report}{errors}"
    );
    let failures: Vec<String> = report.lines().skip(1).map(str::to_owned).collect();
    assert_eq!(
        output.status.success(),
        failures.is_empty(),
        "validate-events.py: {report}{errors}"
    );
    failures
}
