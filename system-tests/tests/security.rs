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
use system_tests::faults::{count_log_lines, create_customer, customer, pending_outbox_events};
use system_tests::processes::{self, write_probe};
use system_tests::sample::{fifth_orders_in, refresh_sample_data};
use test_support::{
    EVENT_DEADLINE, PrivateDatabase, PrivateKafka, eventually, summed, unique_name,
};

/// The three services as they run by default: their names are their Kafka users.
fn services() -> Vec<EventFlow> {
    vec![
        EventFlow::with_default_topics("accounts", None),
        EventFlow::with_default_topics("orders", Some("orders")),
        EventFlow::with_default_topics("fulfillment", Some("fulfillment")),
    ]
}

/// A broker with a user per service, every topic of the contract and its dead letters, and the
/// derived ACLs; with each service's password.
async fn secured_storefront_broker() -> (PrivateKafka, Vec<(&'static str, String)>) {
    let (kafka, passwords) = processes::secured_broker();
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

#[tokio::test(flavor = "multi_thread")]
async fn services_authenticate_with_scram_over_tls_and_reach_only_what_the_contract_grants() {
    let (kafka, passwords) = secured_storefront_broker().await;

    let accounts = platform::kafka::producer(&impatient(
        kafka.user_settings("accounts", &password(&passwords, "accounts")),
    ))
    .expect("creating accounts' producer");
    // The broker applies new ACLs once it has the metadata record that carries them.
    eventually(
        "accounts allowed to write its changelog",
        EVENT_DEADLINE,
        || async { write_probe(&accounts, topics::CUSTOMER_CHANGE).await.ok() },
    )
    .await;

    let refused = write_probe(&accounts, topics::ORDER_FULFILL).await;
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
        kafka.user_settings("orders", &password(&passwords, "orders")),
    ))
    .expect("creating orders' producer");
    for topic in [
        topics::ORDER_FULFILL.to_owned(),
        topics::dead_letter(topics::CUSTOMER_CHANGE),
    ] {
        write_probe(&orders, &topic)
            .await
            .unwrap_or_else(|error| panic!("orders writing {topic}: {error}"));
    }
    let refused = write_probe(&orders, topics::CUSTOMER_CHANGE).await;
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
        &kafka.user_settings("orders", &password(&passwords, "orders")),
        "orders",
        topics::CUSTOMER_CHANGE,
    )
    .await;
    let offset = read.unwrap_or_else(|error| panic!("orders reading as its group: {error}"));
    assert_eq!(offset, 0, "accounts' record, its offset committed");
    let refused = first_record(
        &kafka.user_settings("orders", &password(&passwords, "orders")),
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

/// A secured broker with a user per service (and their passwords), a database of the test's
/// own, and the three services on them, each as its own user, with `settings` besides.
async fn secured_storefront(settings: &[(&str, &str)]) -> SecuredStorefront {
    let (kafka, passwords) = processes::secured_broker();
    let database = PrivateDatabase::start();
    let uri = database.uri();
    let mut all = vec![("APP_DATABASE__URI", uri.as_str())];
    all.extend_from_slice(settings);
    let store = processes::Storefront::start_secured(&kafka, &passwords, &all).await;
    SecuredStorefront {
        kafka,
        passwords,
        database,
        store,
    }
}

struct SecuredStorefront {
    kafka: PrivateKafka,
    passwords: Vec<(&'static str, String)>,
    database: PrivateDatabase,
    store: processes::Storefront,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_three_services_run_each_as_its_own_user_and_an_order_goes_round_the_flow() {
    let SecuredStorefront {
        kafka,
        database: _database,
        mut store,
        ..
    } = secured_storefront(&[]).await;

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

    // The upstream demo's seven sample calls, as users make them, through the three principals.
    refresh_sample_data(
        &store.accounts.url,
        &store.orders.url,
        &store.fulfillment.url,
    )
    .await;
    let summary = format!("{}/customers/summary", store.orders.url);
    eventually(
        "every sample customer's fifth order received, in orders",
        EVENT_DEADLINE,
        || async {
            let held: Value = client.get(&summary).send().await.ok()?.json().await.ok()?;
            fifth_orders_in(&held, 3, "RECEIVED").then_some(())
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
    // The contract grants DescribeConfigs on the changelog to the two services that read its
    // policy at start-up: each reports it (docs/upstream-fleet.md).
    for service in [&store.accounts, &store.orders] {
        let reported = policy_line(service, &store.topics.customer_change, "compact").await;
        assert_eq!(reported["level"], "INFO", "{}: {reported}", service.name);
    }
    // Without the grant the policy is reported unreadable, with the broker's reason, and the
    // service runs on.
    kafka.revoke(&[format!(
        "accounts,Topic,{},DescribeConfigs",
        store.topics.customer_change
    )]);
    store
        .accounts
        .replace(&[])
        .await
        .expect("accounts restarted without DescribeConfigs, ready");
    let reported = policy_line(&store.accounts, &store.topics.customer_change, "unknown").await;
    assert_eq!(reported["level"], "WARN", "{reported}");
    assert!(
        reported["fields"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("may not DescribeConfigs")),
        "{reported}"
    );
}

/// The reason the readiness of `service` gives once it answers 503 with one in its kafka
/// component.
async fn readiness_reason(client: &reqwest::Client, service: &processes::Service) -> String {
    eventually(
        &format!("{} not ready, with a reason", service.name),
        EVENT_DEADLINE,
        || not_ready_because(client, service),
    )
    .await
}

/// The reason in the kafka component if the readiness of `service` answers 503 DOWN now.
async fn not_ready_because(
    client: &reqwest::Client,
    service: &processes::Service,
) -> Option<String> {
    let readiness = format!("{}/actuator/health/readiness", service.url);
    let response = client.get(&readiness).send().await.ok()?;
    if response.status() != 503 {
        return None;
    }
    let health: Value = response.json().await.ok()?;
    assert_eq!(health["status"], "DOWN", "{health}");
    health["components"]["kafka"]["details"]["reason"]
        .as_str()
        .map(str::to_owned)
}

/// Waits until the readiness of `service` answers 200.
async fn ready_again(client: &reqwest::Client, service: &processes::Service) {
    let readiness = format!("{}/actuator/health/readiness", service.url);
    eventually(
        &format!("{} ready again", service.name),
        EVENT_DEADLINE,
        || async {
            let response = client.get(&readiness).send().await.ok()?;
            (response.status() == 200).then_some(())
        },
    )
    .await;
}

/// Waits until orders holds its copy of the customer `id`.
async fn copied_to_orders(client: &reqwest::Client, store: &processes::Storefront, id: &str) {
    let copy = format!("{}/customers/{id}", store.orders.url);
    eventually("the customer's copy in orders", EVENT_DEADLINE, || async {
        let response = client.get(&copy).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
}

/// Records orders consumed with the outcome `outcome`, from its metrics.
async fn consumed(client: &reqwest::Client, store: &processes::Storefront, outcome: &str) -> f64 {
    let exposition = client
        .get(format!("{}/actuator/prometheus", store.orders.url))
        .send()
        .await
        .expect("scraping orders")
        .text()
        .await
        .expect("orders' metrics");
    summed(
        &exposition,
        "kafka_records_consumed_total",
        ("outcome", outcome),
    )
}

/// Asserts that none of `secrets` is in what the services answer (info, health, an error
/// body), then stops them and asserts that none is in anything they printed.
async fn assert_secrets_kept(
    client: &reqwest::Client,
    store: &mut processes::Storefront,
    secrets: &[&str],
) {
    for service in store.services() {
        let mut answers = Vec::new();
        for path in [
            "actuator/info",
            "actuator/health",
            "actuator/health/readiness",
        ] {
            let response = client
                .get(format!("{}/{path}", service.url))
                .send()
                .await
                .expect("asking the actuator");
            answers.push(response.text().await.expect("an actuator answer"));
        }
        let refused = client
            .post(format!("{}/customers", service.url))
            .body("{not json")
            .send()
            .await
            .expect("posting a malformed body");
        answers.push(refused.text().await.expect("an error body"));
        for answer in &answers {
            for secret in secrets {
                assert!(
                    !answer.contains(secret),
                    "{} answered a password: {answer}",
                    service.name
                );
            }
        }
    }
    for service in [
        &mut store.accounts,
        &mut store.orders,
        &mut store.fulfillment,
    ] {
        service.terminate().await.expect("stopping a service");
    }
    for service in store.services() {
        let log = std::fs::read_to_string(&service.log).expect("the service's log");
        assert!(
            log.contains("\"level\""),
            "{}: a log to search",
            service.name
        );
        for secret in secrets {
            assert!(!log.contains(secret), "{} printed a password", service.name);
        }
    }
}

/// The readiness reason while the broker refuses the login.
const AUTHENTICATION_FAILED: &str = "Kafka authentication failed: check \
    APP_KAFKA__SASL_USERNAME, APP_KAFKA__SASL_PASSWORD and APP_KAFKA__SASL_MECHANISM";
/// The readiness reason while the client refuses the broker's certificate.
const TLS_FAILED: &str = "Kafka TLS verification failed: check APP_KAFKA__SSL_CA_LOCATION";

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_or_certificate_is_the_readiness_reason_and_the_outbox_keeps_the_events() {
    let SecuredStorefront {
        kafka,
        passwords,
        database,
        mut store,
    } = secured_storefront(&[]).await;
    let uri = database.uri();
    let client = reqwest::Client::new();
    let mongo = mongodb::Client::with_uri_str(&uri)
        .await
        .expect("a database client");
    let wrong = unique_name("wrong");

    // An outbox bound of one event, and publishes given up after 2 s, so that the bound is
    // reached within the test.
    store
        .accounts
        .replace_alive(&[
            ("APP_KAFKA__SASL_PASSWORD", &wrong),
            ("APP_OUTBOX__MAX_PENDING", "1"),
            ("APP_KAFKA__DELIVERY_TIMEOUT", "2000"),
        ])
        .await
        .expect("accounts with a wrong password");
    let reason = readiness_reason(&client, &store.accounts).await;
    assert_eq!(reason, AUTHENTICATION_FAILED);
    let mut created =
        vec![create_customer(&client, &store.accounts.url, "grace@example.com").await];
    assert_eq!(
        pending_outbox_events(&mongo, &store.accounts).await,
        1,
        "the acknowledged write's event waits in the outbox"
    );
    // Writes answer 201 until the relay has counted more waiting events than the bound, then
    // 503 `overloaded`, as with the broker away.
    let customers = format!("{}/customers", store.accounts.url);
    let written = std::sync::Mutex::new(Vec::new());
    let refused: Value = eventually(
        "a write refused by the outbox bound",
        EVENT_DEADLINE,
        || async {
            let email = format!("{}@example.com", unique_name("bounded"));
            let response = client
                .post(&customers)
                .json(&customer(&email))
                .send()
                .await
                .ok()?;
            let status = response.status();
            let body: Value = response.json().await.ok()?;
            if status == 201 {
                let id = body["id"]
                    .as_str()
                    .expect("the created customer's id")
                    .to_owned();
                written.lock().expect("the customers written").push(id);
                return None;
            }
            assert_eq!(status, 503, "{body}");
            Some(body)
        },
    )
    .await;
    assert_eq!(refused["code"], "overloaded", "{refused}");
    created.extend(written.into_inner().expect("the customers written"));

    // A mechanism the listener does not offer is refused as a login.
    store
        .orders
        .replace_alive(&[("APP_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")])
        .await
        .expect("orders with another mechanism");
    assert_eq!(
        readiness_reason(&client, &store.orders).await,
        AUTHENTICATION_FAILED
    );

    let unrelated = kafka.unrelated_ca().display().to_string();
    store
        .fulfillment
        .replace_alive(&[("APP_KAFKA__SSL_CA_LOCATION", &unrelated)])
        .await
        .expect("fulfillment trusting another CA");
    let reason = readiness_reason(&client, &store.fulfillment).await;
    assert_eq!(reason, TLS_FAILED);

    // A user the broker does not know, over a trusted connection: a refused login.
    let ca = kafka.ca_location().display().to_string();
    let stranger = unique_name("stranger");
    store
        .fulfillment
        .replace_alive(&[
            ("APP_KAFKA__SSL_CA_LOCATION", &ca),
            ("APP_KAFKA__SASL_USERNAME", &stranger),
        ])
        .await
        .expect("fulfillment as an unknown user");
    assert_eq!(
        readiness_reason(&client, &store.fulfillment).await,
        AUTHENTICATION_FAILED
    );

    store
        .orders
        .replace(&[("APP_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")])
        .await
        .expect("orders with its mechanism, ready");
    let right = password(&passwords, "accounts");
    store
        .accounts
        .replace(&[("APP_KAFKA__SASL_PASSWORD", &right)])
        .await
        .expect("accounts with its password, ready");
    for id in &created {
        copied_to_orders(&client, &store, id).await;
    }
    eventually("accounts' outbox emptied", EVENT_DEADLINE, || async {
        (pending_outbox_events(&mongo, &store.accounts).await == 0).then_some(())
    })
    .await;

    let secrets: Vec<&str> = passwords
        .iter()
        .map(|(_, password)| password.as_str())
        .chain([wrong.as_str()])
        .collect();
    assert_secrets_kept(&client, &mut store, &secrets).await;
    // Each refusal is logged once, with the setting to look at, however often the clients
    // retried; what it brings at each retry (every broker down) is not logged.
    for (service, reasons) in [
        (&store.accounts, vec![AUTHENTICATION_FAILED]),
        (&store.orders, vec![AUTHENTICATION_FAILED]),
        (&store.fulfillment, vec![AUTHENTICATION_FAILED, TLS_FAILED]),
    ] {
        let refusals = count_log_lines(
            &service.log,
            "Kafka refuses the connection; retrying",
            "reason",
        );
        assert_eq!(
            refusals,
            reasons
                .into_iter()
                .map(|reason| (reason.to_owned(), 1))
                .collect(),
            "{}",
            service.name
        );
        let errors = count_log_lines(&service.log, "Kafka client error", "error");
        assert!(errors.is_empty(), "{}: {errors:?}", service.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_plain_over_tls_a_revoked_write_or_group_is_reported_and_nothing_is_lost() {
    // Confluent Cloud's shape: SASL PLAIN over TLS.
    let SecuredStorefront {
        kafka,
        passwords,
        database,
        mut store,
    } = secured_storefront(&[("APP_KAFKA__SASL_MECHANISM", "PLAIN")]).await;
    let uri = database.uri();
    let client = reqwest::Client::new();
    let mongo = mongodb::Client::with_uri_str(&uri)
        .await
        .expect("a database client");
    let mut created = vec![create_customer(&client, &store.accounts.url, "c0@example.com").await];
    copied_to_orders(&client, &store, &created[0]).await;

    let topic = store.topics.customer_change.clone();
    let write = vec![format!("accounts,Topic,{topic},Write")];
    kafka.revoke(&write);
    // The broker applies the removal once it has the metadata record that carries it: writes
    // go on meanwhile, and those after it wait.
    let expected = format!("Kafka authorization failed: not authorized to write {topic}");
    let written = std::sync::Mutex::new(Vec::new());
    eventually("accounts' write refused", EVENT_DEADLINE, || async {
        let email = format!("{}@example.com", unique_name("during"));
        let id = create_customer(&client, &store.accounts.url, &email).await;
        written.lock().expect("the customers written").push(id);
        let reason = not_ready_because(&client, &store.accounts).await?;
        reason.starts_with(&expected).then_some(())
    })
    .await;
    created.extend(written.into_inner().expect("the customers written"));
    for _ in 0..3 {
        let email = format!("c{}@example.com", created.len());
        created.push(create_customer(&client, &store.accounts.url, &email).await);
    }
    assert!(
        pending_outbox_events(&mongo, &store.accounts).await >= 3,
        "the refused writes' events wait in the outbox"
    );
    assert!(
        readiness_reason(&client, &store.accounts)
            .await
            .starts_with(&expected)
    );

    kafka.allow(&write);
    ready_again(&client, &store.accounts).await;
    for id in &created {
        copied_to_orders(&client, &store, id).await;
    }
    assert_eq!(pending_outbox_events(&mongo, &store.accounts).await, 0);
    let count = f64::from(u32::try_from(created.len()).expect("a few customers"));
    assert_eq!(consumed(&client, &store, "applied").await, count);
    assert_eq!(consumed(&client, &store, "duplicate").await, 0.0);

    let group = store
        .orders
        .setting("APP_CONSUMER__GROUP_ID")
        .expect("orders' group")
        .to_owned();
    let read = vec![format!("orders,Group,{group},Read")];
    kafka.revoke(&read);
    let reason = readiness_reason(&client, &store.orders).await;
    assert!(
        reason.starts_with(&format!(
            "Kafka authorization failed: not authorized to read as group {group}"
        )),
        "{reason}"
    );
    kafka.allow(&read);
    ready_again(&client, &store.orders).await;
    let last = create_customer(&client, &store.accounts.url, "last@example.com").await;
    copied_to_orders(&client, &store, &last).await;

    let secrets: Vec<&str> = passwords
        .iter()
        .map(|(_, password)| password.as_str())
        .collect();
    assert_secrets_kept(&client, &mut store, &secrets).await;
    // Each refusal is logged once, however often the clients retried.
    for (service, message) in [
        (
            &store.accounts,
            "Kafka refuses the writes; the events wait in the outbox",
        ),
        (&store.orders, "Kafka refuses the consumer; retrying"),
    ] {
        let refusals = count_log_lines(&service.log, message, "reason");
        assert_eq!(
            refusals.values().sum::<usize>(),
            1,
            "{}: {refusals:?}",
            service.name
        );
    }
}

/// The password of `service` among `passwords`.
fn password(passwords: &[(&'static str, String)], service: &str) -> String {
    passwords
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, password)| password.clone())
        .expect("a service's password")
}

/// The line where `service` reported the changelog `topic`'s cleanup policy as `policy`.
async fn policy_line(service: &processes::Service, topic: &str, policy: &str) -> Value {
    eventually(
        &format!("{} reporting the changelog policy `{policy}`", service.name),
        EVENT_DEADLINE,
        || async {
            processes::log_lines(service).into_iter().find(|line| {
                line["fields"]["topic"] == topic && line["fields"]["cleanup_policy"] == policy
            })
        },
    )
    .await
}
