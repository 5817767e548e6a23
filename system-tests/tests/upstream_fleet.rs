//! Running beside the upstream (Spring) services, as docs/upstream-fleet.md describes it. The
//! upstream side is played on the wire with the real Kafka client, its records as Spring Kafka's
//! `JsonSerializer` writes them: no key, a `__TypeId__` header naming upstream's class, upstream's
//! JSON (the fixtures), and Sleuth's `b3` header where upstream traces.

use mongodb::bson::oid::ObjectId;
use platform::settings::KafkaSettings;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use shared_events::headers::{JAVA_PACKAGE, TRACEPARENT, TYPE_ID};
use system_tests::faults::{create_customer, customer, fixture_text};
use system_tests::processes::{Service, Storefront, log_lines, logged_in_trace};
use test_support::{EVENT_DEADLINE, TopicReader, eventually, summed};

/// What the start-up check logs for a compacted changelog.
const REFUSED: &str = "keyless records from an upstream producer are refused by the broker";
/// What it logs for a changelog with `cleanup.policy=delete`.
const TAKEN: &str = "keyless records from an upstream producer are taken";

/// A producer as upstream's services have one: the client's defaults, nothing of ours.
fn upstream_producer(kafka: &KafkaSettings) -> FutureProducer {
    platform::kafka::client_config(kafka)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("creating the upstream-like producer")
}

/// `__TypeId__` as Spring Kafka's `JsonSerializer` sets it: the payload's Java class.
fn type_id(event: &str) -> (&'static str, String) {
    (TYPE_ID, format!("{JAVA_PACKAGE}.{event}"))
}

/// Publishes `payload` without a key and with `headers`, as upstream does
/// (`kafkaTemplate.send(topic, payload)`); the broker's answer.
async fn send_like_upstream(
    producer: &FutureProducer,
    topic: &str,
    payload: &Value,
    headers: &[(&str, String)],
) -> Result<(), KafkaError> {
    let mut owned = OwnedHeaders::new();
    for (name, value) in headers {
        owned = owned.insert(Header {
            key: name,
            value: Some(value.as_bytes()),
        });
    }
    let payload = payload.to_string();
    let record: FutureRecord<'_, [u8], str> = FutureRecord::to(topic)
        .payload(payload.as_str())
        .headers(owned);
    producer
        .send(record, std::time::Duration::from_secs(10))
        .await
        .map(|_| ())
        .map_err(|(error, _)| error)
}

/// John Doe as upstream's accounts publishes a change of him, under a new id.
fn upstream_customer() -> (String, Value) {
    let id = ObjectId::new().to_hex();
    let mut event: Value = serde_json::from_str(&fixture_text("customer-change-event.json"))
        .expect("the customer change fixture");
    event["id"] = json!(id);
    (id, event)
}

/// Waits until `service` has logged the start-up check's line for `topic` saying `meaning`;
/// returns the policy it logged.
async fn reported_policy(service: &Service, topic: &str, meaning: &str) -> String {
    eventually(
        &format!("{}'s changelog policy line", service.name),
        EVENT_DEADLINE,
        || async {
            log_lines(service).into_iter().find_map(|line| {
                let fields = &line["fields"];
                (fields["topic"] == topic
                    && fields["message"]
                        .as_str()
                        .is_some_and(|message| message.contains(meaning)))
                .then(|| {
                    fields["cleanup_policy"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
            })
        },
    )
    .await
}

/// The `kafka_topic_cleanup_policy` series of `service` whose policy is `policy`, summed.
async fn policy_gauge(client: &reqwest::Client, service: &Service, policy: &str) -> f64 {
    let exposition = client
        .get(format!("{}/actuator/prometheus", service.url))
        .send()
        .await
        .expect("scraping")
        .text()
        .await
        .expect("the exposition");
    summed(
        &exposition,
        "kafka_topic_cleanup_policy",
        ("policy", policy),
    )
}

#[tokio::test]
async fn with_a_delete_changelog_upstream_records_reach_our_services_and_traces_carry_on() {
    let store = Storefront::start().await;
    let client = reqwest::Client::new();
    let topic = &store.topics.customer_change;
    for service in [&store.accounts, &store.orders] {
        assert_eq!(reported_policy(service, topic, TAKEN).await, "delete");
        assert_eq!(policy_gauge(&client, service, "delete").await, 1.0);
    }

    // Upstream's accounts with Sleuth: `__TypeId__` and `b3`; and without either.
    let producer = upstream_producer(&store.kafka);
    let trace_id = "463ac35c9f6413ad48485a3953bb6124";
    let (traced, event) = upstream_customer();
    let headers = [
        type_id("CustomerChangeEvent"),
        ("b3", format!("{trace_id}-a2fb4a1d1a96d312-1")),
    ];
    send_like_upstream(&producer, topic, &event, &headers)
        .await
        .expect("the broker takes a keyless record on a delete changelog");
    let (headerless, event) = upstream_customer();
    send_like_upstream(&producer, topic, &event, &[])
        .await
        .expect("and one without headers");
    for id in [&traced, &headerless] {
        let copy_url = format!("{}/customers/{id}", store.orders.url);
        eventually(
            "the upstream customer in orders",
            EVENT_DEADLINE,
            || async {
                let copy: Value = client.get(&copy_url).send().await.ok()?.json().await.ok()?;
                (copy["name"]["lastName"] == "Doe").then_some(())
            },
        )
        .await;
    }
    eventually(
        "orders to handle the record in its B3 trace",
        EVENT_DEADLINE,
        || async {
            logged_in_trace(&store.orders, trace_id)
                .contains(&"event handled".to_owned())
                .then_some(())
        },
    )
    .await;

    // Upstream's orders asks for fulfillment: ours fulfills.
    let mut request: Value = serde_json::from_str(&fixture_text("fulfillment-request-event.json"))
        .expect("the fulfillment request fixture");
    let guid = uuid::Uuid::new_v4().to_string();
    request["order"]["guid"] = json!(guid);
    send_like_upstream(
        &producer,
        &store.topics.order_fulfill,
        &request,
        &[type_id("FulfillmentRequestEvent")],
    )
    .await
    .expect("publishing a fulfillment request");
    let summary = format!("{}/fulfillments/summary", store.fulfillment.url);
    eventually(
        "the upstream request in fulfillment",
        EVENT_DEADLINE,
        || async {
            let summary: Value = client.get(&summary).send().await.ok()?.json().await.ok()?;
            summary["fulfillments"]
                .as_array()?
                .iter()
                .any(|fulfillment| fulfillment["order"]["guid"] == guid.as_str())
                .then_some(())
        },
    )
    .await;

    // A request traced by an upstream service: our record carries its trace in both headers, so
    // that a Sleuth consumer continues it too.
    let caller_trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let created = client
        .post(format!("{}/customers", store.accounts.url))
        .header("b3", format!("{caller_trace}-e457b5a2e4d86bd1-1"))
        .json(&customer("ada@example.com"))
        .send()
        .await
        .expect("creating a customer");
    assert_eq!(created.status(), 201);
    let mut reader = TopicReader::new(&store.kafka, topic);
    // The two upstream records, then ours: the one with a key.
    let ours = reader
        .read_at_least(3, EVENT_DEADLINE)
        .await
        .iter()
        .find(|record| record.key.is_some())
        .cloned()
        .expect("our record on the changelog");
    let traceparent = &ours.headers[TRACEPARENT];
    let span_id = traceparent
        .strip_prefix(&format!("00-{caller_trace}-"))
        .and_then(|rest| rest.strip_suffix("-01"))
        .unwrap_or_else(|| panic!("continues the caller's trace: {traceparent}"));
    assert_eq!(
        ours.headers.get("b3"),
        Some(&format!("{caller_trace}-{span_id}-1")),
        "{:?}",
        ours.headers
    );
}

#[tokio::test]
async fn with_a_compacted_changelog_an_upstream_change_is_refused_and_reported() {
    let store = Storefront::start_with_compacted_changelog(&[]).await;
    let client = reqwest::Client::new();
    let topic = &store.topics.customer_change;
    for service in [&store.accounts, &store.orders] {
        assert_eq!(reported_policy(service, topic, REFUSED).await, "compact");
        assert_eq!(policy_gauge(&client, service, "compact").await, 1.0);
    }
    let (_, event) = upstream_customer();
    let refused = send_like_upstream(
        &upstream_producer(&store.kafka),
        topic,
        &event,
        &[type_id("CustomerChangeEvent")],
    )
    .await;
    assert_eq!(
        refused
            .as_ref()
            .err()
            .and_then(KafkaError::rdkafka_error_code),
        Some(RDKafkaErrorCode::InvalidRecord),
        "{refused:?}"
    );
}

#[tokio::test]
async fn with_removals_unpublished_a_deleted_customer_keeps_its_copy_in_orders() {
    let store = Storefront::start_with(&[("APP_EVENTS__PUBLISH_REMOVALS", "false")]).await;
    let client = reqwest::Client::new();
    let id = create_customer(&client, &store.accounts.url, "ada@example.com").await;
    let copy_url = format!("{}/customers/{id}", store.orders.url);
    let arrived = |url: String| {
        let client = client.clone();
        async move {
            eventually(&format!("GET {url}"), EVENT_DEADLINE, || async {
                (client.get(&url).send().await.ok()?.status() == 200).then_some(())
            })
            .await;
        }
    };
    arrived(copy_url.clone()).await;
    let deleted = client
        .delete(format!("{}/customers/{id}", store.accounts.url))
        .send()
        .await
        .expect("deleting");
    assert_eq!(deleted.status(), 204);

    // The deletion stored no event (accounts' own tests show its outbox drained with no
    // tombstone): a customer created after it reaches orders, and the deleted one is still there.
    let marker = create_customer(&client, &store.accounts.url, "marker@example.com").await;
    arrived(format!("{}/customers/{marker}", store.orders.url)).await;
    let kept = client
        .get(&copy_url)
        .send()
        .await
        .expect("reading the copy");
    assert_eq!(kept.status(), 200, "orders keeps the deleted customer");
    let records = TopicReader::new(&store.kafka, &store.topics.customer_change)
        .read_all(EVENT_DEADLINE)
        .await
        .to_vec();
    assert_eq!(records.len(), 2);
    assert!(
        records.iter().all(|record| record.payload.is_some()),
        "no tombstone"
    );
}
