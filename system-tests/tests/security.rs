//! Least privilege on a real, secured Kafka: a broker of the test's own that takes clients over
//! SASL_SSL only, with the ACLs `shared_events::acls` derives from the event contract, and the
//! services' principals meeting it through the real client (`platform::kafka`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform::settings::KafkaSettings;
use rdkafka::Message;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use shared_events::acls::grants;
use shared_events::asyncapi::EventFlow;
use shared_events::topics;
use system_tests::faults::create_customer;
use system_tests::processes;
use test_support::{EVENT_DEADLINE, PrivateDatabase, PrivateKafka, eventually, unique_name};

/// The three services as they run by default: their names are their Kafka users.
fn services() -> Vec<EventFlow> {
    vec![
        EventFlow::with_default_topics("accounts", None),
        EventFlow::with_default_topics("orders", Some("orders")),
        EventFlow::with_default_topics("fulfillment", Some("fulfillment")),
    ]
}

/// A secured broker with a user per service, named as the service; with each one's password.
fn broker_with_a_user_per_service() -> (PrivateKafka, Vec<(&'static str, String)>) {
    let passwords: Vec<(&'static str, String)> = services()
        .iter()
        .map(|flow| (flow.service, unique_name("password")))
        .collect();
    let users: Vec<(&str, &str)> = passwords
        .iter()
        .map(|(name, password)| (*name, password.as_str()))
        .collect();
    (PrivateKafka::start_secured(&users), passwords)
}

/// A broker with a user per service, every topic of the contract and its dead letters, and the
/// derived ACLs; with each service's password.
async fn secured_storefront_broker() -> (PrivateKafka, Vec<(&'static str, String)>) {
    let (kafka, passwords) = broker_with_a_user_per_service();
    let mut names: Vec<String> = topics::ALL
        .iter()
        .map(|topic| (*topic).to_owned())
        .collect();
    names.extend(topics::ALL.iter().map(|topic| topics::dead_letter(topic)));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    platform::kafka::create_topics(&kafka.admin_settings(), &names, 3, &topics::COMPACTED)
        .await
        .expect("creating the topics as admin");
    let grants: Vec<String> = grants(&services())
        .iter()
        .map(ToString::to_string)
        .collect();
    kafka.allow(&grants);
    (kafka, passwords)
}

fn impatient(settings: KafkaSettings) -> KafkaSettings {
    KafkaSettings {
        delivery_timeout: Duration::from_secs(10),
        ..settings
    }
}

async fn produce(producer: &FutureProducer, topic: &str) -> Result<(), KafkaError> {
    producer
        .send(
            FutureRecord::to(topic).key("k").payload("{}"),
            Duration::from_secs(10),
        )
        .await
        .map(|_| ())
        .map_err(|(error, _)| error)
}

#[tokio::test(flavor = "multi_thread")]
async fn services_authenticate_with_scram_over_tls_and_reach_only_what_the_contract_grants() {
    let (kafka, passwords) = secured_storefront_broker().await;
    let password = |service: &str| {
        passwords
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, password)| password.clone())
            .expect("a service's password")
    };

    let accounts = platform::kafka::producer(&impatient(
        kafka.user_settings("accounts", &password("accounts")),
    ))
    .expect("creating accounts' producer");
    // The broker applies new ACLs once it has the metadata record that carries them.
    eventually(
        "accounts allowed to write its changelog",
        EVENT_DEADLINE,
        || async { produce(&accounts, topics::CUSTOMER_CHANGE).await.ok() },
    )
    .await;

    let refused = produce(&accounts, topics::ORDER_FULFILL).await;
    assert!(
        matches!(
            refused,
            Err(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "accounts writing orders' topic: {refused:?}"
    );

    let orders = platform::kafka::producer(&impatient(
        kafka.user_settings("orders", &password("orders")),
    ))
    .expect("creating orders' producer");
    for topic in [
        topics::ORDER_FULFILL.to_owned(),
        topics::dead_letter(topics::CUSTOMER_CHANGE),
    ] {
        produce(&orders, &topic)
            .await
            .unwrap_or_else(|error| panic!("orders writing {topic}: {error}"));
    }
    let refused = produce(&orders, topics::CUSTOMER_CHANGE).await;
    assert!(
        matches!(
            refused,
            Err(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "orders writing the topic it only reads: {refused:?}"
    );

    let read = first_record(
        &kafka.user_settings("orders", &password("orders")),
        "orders",
        topics::CUSTOMER_CHANGE,
    )
    .await;
    let offset = read.unwrap_or_else(|error| panic!("orders reading as its group: {error}"));
    assert_eq!(offset, 0, "accounts' record, its offset committed");
    let refused = first_record(
        &kafka.user_settings("orders", &password("orders")),
        "fulfillment",
        topics::CUSTOMER_CHANGE,
    )
    .await;
    assert_eq!(
        refused.map_err(|error| error.rdkafka_error_code()),
        Err(Some(RDKafkaErrorCode::GroupAuthorizationFailed)),
        "orders reading its own topic as fulfillment's group"
    );
}

/// The offset of the first record `settings`' user reads from `topic` as a member of `group`,
/// committed; or the error the client meets first.
async fn first_record(
    settings: &KafkaSettings,
    group: &str,
    topic: &str,
) -> Result<i64, KafkaError> {
    let consumer: StreamConsumer = platform::kafka::client_config(settings)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a consumer");
    consumer.subscribe(&[topic]).expect("subscribing");
    let message = tokio::time::timeout(EVENT_DEADLINE, consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("nothing from {topic} within {EVENT_DEADLINE:?}"))?;
    let offset = message.offset();
    consumer.commit_message(&message, CommitMode::Sync)?;
    Ok(offset)
}

/// Keeps the errors the client reports outside any request: a refused login is one, while
/// the records waiting for a connection only time out.
#[derive(Clone, Default)]
struct ClientErrors(Arc<Mutex<Vec<KafkaError>>>);

impl ClientContext for ClientErrors {
    fn error(&self, error: KafkaError, _reason: &str) {
        self.0.lock().expect("the client's errors").push(error);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_refused_as_an_authentication_failure() {
    let (kafka, _) = secured_storefront_broker().await;
    let settings = kafka.user_settings("accounts", "not-the-password");
    let errors = ClientErrors::default();
    let producer: FutureProducer<ClientErrors> = platform::kafka::client_config(&settings)
        .set("message.timeout.ms", "5000")
        .create_with_context(errors.clone())
        .expect("creating a producer");
    let delivery = producer
        .send_result(
            FutureRecord::to(topics::CUSTOMER_CHANGE)
                .key("k")
                .payload("{}"),
        )
        .map_err(|(error, _)| error)
        .expect("queueing a record");

    eventually("the login refused", EVENT_DEADLINE, || async {
        let errors = errors.0.lock().expect("the client's errors");
        errors
            .iter()
            .any(|error| error.rdkafka_error_code() == Some(RDKafkaErrorCode::Authentication))
            .then_some(())
    })
    .await;
    let undelivered = delivery.await.expect("the delivery's outcome");
    assert!(undelivered.is_err(), "{undelivered:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_three_services_run_each_as_its_own_user_and_an_order_goes_round_the_flow() {
    let (kafka, passwords) = broker_with_a_user_per_service();
    let database = PrivateDatabase::start();
    let uri = database.uri();
    let store =
        processes::Storefront::start_secured(&kafka, &passwords, &[("APP_DATABASE__URI", &uri)])
            .await;

    let client = reqwest::Client::new();
    let id = create_customer(&client, &store.accounts.url, "ada@example.com").await;
    let copy = format!("{}/customers/{id}", store.orders.url);
    eventually("the customer's copy in orders", EVENT_DEADLINE, || async {
        let response = client.get(&copy).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;

    let placed: Value = client
        .post(format!("{copy}/orders"))
        .json(&json!({"orderItems": [
            {"product": {"guid": "b5efd4a0-4eb9-4ad0-bc9e-2f5542cbe897"}, "quantity": 2}]}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("placing an order")
        .json()
        .await
        .expect("the placed order");
    let guid = placed["guid"].as_str().expect("the order's guid");
    let order = format!("{}/orders/{guid}", store.orders.url);
    client
        .post(format!("{order}/approve"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("approving the order");
    let search = format!(
        "{}/fulfillments/search/findByOrderGuid?guid={guid}",
        store.fulfillment.url
    );
    let fulfillment = eventually(
        "the fulfillment request in fulfillment",
        EVENT_DEADLINE,
        || async {
            let response = client.get(&search).send().await.ok()?;
            let found: Value = response.error_for_status().ok()?.json().await.ok()?;
            found["id"].as_str().map(str::to_owned)
        },
    )
    .await;
    client
        .post(format!(
            "{}/fulfillments/{fulfillment}/status",
            store.fulfillment.url
        ))
        .json(&json!({"orderStatusType": "PROCESSING"}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("moving the fulfillment on");
    eventually(
        "the status change back in orders",
        EVENT_DEADLINE,
        || async {
            let held: Value = client.get(&order).send().await.ok()?.json().await.ok()?;
            let last = held["orderStatusEvents"].as_array()?.last()?.clone();
            (last["orderStatusType"] == "PROCESSING").then_some(())
        },
    )
    .await;

    for service in store.services() {
        let ready = client
            .get(format!("{}/actuator/health/readiness", service.url))
            .send()
            .await
            .expect("asking for readiness");
        assert_eq!(ready.status(), 200, "{} ready", service.name);
    }
    // The contract grants no DescribeConfigs: the changelog's policy is reported unreadable,
    // with the broker's reason, and the services run on (docs/upstream-fleet.md).
    for service in [&store.accounts, &store.orders] {
        let reported = eventually(
            &format!("{}'s changelog policy line", service.name),
            EVENT_DEADLINE,
            || async {
                processes::log_lines(service).into_iter().find(|line| {
                    line["fields"]["topic"] == store.topics.customer_change.as_str()
                        && line["fields"]["cleanup_policy"].is_string()
                })
            },
        )
        .await;
        assert_eq!(reported["level"], "WARN", "{reported}");
        assert_eq!(
            reported["fields"]["cleanup_policy"], "unknown",
            "{reported}"
        );
        assert!(
            reported["fields"]["reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("may not DescribeConfigs")),
            "{reported}"
        );
    }
}
