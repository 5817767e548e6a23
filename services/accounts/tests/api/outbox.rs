//! A change acknowledged by the API reaches the topic even if the process dies before its
//! relay published it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use test_support::{EVENT_DEADLINE, eventually, free_port};
use tokio::process::{Child, Command};

use crate::helpers::{customer_body, test_settings};

/// Starts the accounts binary with the test's database and topic, on a free port.
async fn start_process(
    settings: &accounts::configuration::Settings,
    port: u16,
    relay_enabled: bool,
) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_accounts"))
        .env("APP_HTTP__PORT", port.to_string())
        .env("APP_DATABASE__NAME", &settings.database.name)
        .env(
            "APP_TOPICS__CUSTOMER_CHANGE",
            &settings.topics.customer_change,
        )
        .env("APP_OUTBOX__RELAY_ENABLED", relay_enabled.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the accounts binary");
    let health = format!("http://127.0.0.1:{port}/accounts/actuator/health");
    let client = reqwest::Client::new();
    eventually(
        "accounts to answer its health check",
        EVENT_DEADLINE,
        || {
            let request = client.get(&health).send();
            async move { request.await.ok().filter(|r| r.status() == 200).map(|_| ()) }
        },
    )
    .await;
    child
}

#[tokio::test]
async fn an_event_written_before_a_crash_is_published_once_after_restart() {
    let settings = test_settings().await;
    let port = free_port();

    // The relay is off: the change is stored with its event, and the process dies (SIGKILL)
    // before anything was published.
    let mut crashed = start_process(&settings, port, false).await;
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/accounts/customers"))
        .json(&customer_body("ada@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    crashed.kill().await.unwrap();

    let mut reader =
        test_support::TopicReader::new(&settings.kafka, &settings.topics.customer_change);
    assert!(
        reader.read_for(Duration::from_secs(1)).await.is_empty(),
        "nothing may be published while the relay is off"
    );

    let _restarted = start_process(&settings, port, true).await;
    let records = reader.read_at_least(1, EVENT_DEADLINE).await.to_vec();
    assert_eq!(records[0].key.as_deref(), created["id"].as_str());
    let more = reader.read_for(Duration::from_secs(2)).await;
    assert_eq!(more.len(), 1, "the event arrives exactly once");
}
