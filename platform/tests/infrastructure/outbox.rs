use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use platform::outbox::{self, Outbox, OutboxMessage, Relay};
use platform::settings::{KafkaSettings, OutboxSettings};
use test_support::{EVENT_DEADLINE, TopicReader, create_topics_with_dead_letters, unique_name};
use tokio_util::sync::CancellationToken;

use crate::{database_settings, kafka_settings, outbox_settings};

fn message(topic: &str, key: &str, payload: Option<&str>) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::new_v4().to_string(),
        topic: topic.to_owned(),
        key: Some(key.to_owned()),
        payload: payload.map(str::to_owned),
        headers: vec![("eventType".into(), "Test".into())],
    }
}

/// What each relay test starts from: a topic of its own, and a collection in a fresh database.
struct Setup {
    kafka: KafkaSettings,
    topic: String,
    collection: Collection<Document>,
}

impl Setup {
    async fn new() -> Self {
        let kafka = kafka_settings();
        let topic = unique_name("outbox");
        create_topics_with_dead_letters(&kafka, &[&topic]).await;
        let database = platform::mongo::connect(&database_settings())
            .await
            .unwrap();
        Setup {
            kafka,
            topic,
            collection: database.collection("aggregates"),
        }
    }
}

/// A relay of `collection` with the test settings.
fn relay(kafka: &KafkaSettings, collection: &Collection<Document>) -> Relay {
    relay_with(
        kafka,
        collection,
        outbox_settings(),
        Outbox::new(&outbox_settings()),
    )
}

/// A relay of `collection` with its own producer.
fn relay_with(
    kafka: &KafkaSettings,
    collection: &Collection<Document>,
    settings: OutboxSettings,
    outbox: Outbox,
) -> Relay {
    Relay::new(
        collection.clone(),
        platform::kafka::producer(kafka).unwrap(),
        settings,
        outbox,
        database_settings().timeout,
    )
}

#[tokio::test]
async fn the_relay_publishes_in_order_then_empties_the_outbox_and_removes_marked_documents() {
    let Setup {
        kafka,
        topic,
        collection,
    } = Setup::new().await;

    let kept = ObjectId::new();
    let removed = ObjectId::new();
    let first = message(&topic, "kept", Some("1"));
    let second = message(&topic, "kept", Some("2"));
    let tombstone = message(&topic, "removed", None);
    collection
        .insert_one(doc! { "_id": kept, outbox::FIELD: [first.to_bson(), second.to_bson()] })
        .await
        .unwrap();
    collection
        .insert_one(doc! {
            "_id": removed,
            outbox::PENDING_REMOVAL: true,
            outbox::FIELD: [tombstone.to_bson()],
        })
        .await
        .unwrap();

    let relay = relay(&kafka, &collection);
    assert_eq!(relay.publish_pending().await.unwrap(), 3);
    assert_eq!(
        relay.publish_pending().await.unwrap(),
        0,
        "nothing is published twice"
    );

    let mut reader = TopicReader::new(&kafka, &topic);
    let records = reader.read_at_least(3, EVENT_DEADLINE).await.to_vec();
    let kept_payloads: Vec<&str> = records
        .iter()
        .filter(|record| record.key.as_deref() == Some("kept"))
        .map(|record| record.text())
        .collect();
    assert_eq!(kept_payloads, ["1", "2"]);
    let tombstone_record = records
        .iter()
        .find(|record| record.key.as_deref() == Some("removed"))
        .unwrap();
    assert_eq!(tombstone_record.payload, None);
    assert_eq!(tombstone_record.headers["eventType"], "Test");

    let kept_document = collection
        .find_one(doc! { "_id": kept })
        .await
        .unwrap()
        .unwrap();
    assert!(kept_document.get_array(outbox::FIELD).unwrap().is_empty());
    assert!(
        collection
            .find_one(doc! { "_id": removed })
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_running_relay_is_woken_by_a_write_and_publishes_once_more_at_shutdown() {
    let Setup {
        kafka,
        topic,
        collection,
    } = Setup::new().await;
    let waker = Outbox::new(&outbox_settings());
    let mut settings = outbox_settings();
    // Only a wake-up or the final pass can publish within the test's deadline.
    settings.poll_interval = std::time::Duration::from_secs(3600);
    let relay = relay_with(&kafka, &collection, settings, waker.clone());
    let stop = CancellationToken::new();
    let running = tokio::spawn(relay.run(stop.clone()));

    let id = ObjectId::new();
    collection
        .insert_one(
            doc! { "_id": id, outbox::FIELD: [message(&topic, "a", Some("woken")).to_bson()] },
        )
        .await
        .unwrap();
    waker.wake();
    let mut reader = TopicReader::new(&kafka, &topic);
    assert_eq!(
        reader.read_at_least(1, EVENT_DEADLINE).await[0].text(),
        "woken"
    );

    collection
        .update_one(
            doc! { "_id": id },
            doc! { "$push": outbox::push(&[message(&topic, "a", Some("last"))]) },
        )
        .await
        .unwrap();
    stop.cancel();
    running.await.unwrap();
    assert_eq!(
        reader.read_at_least(2, EVENT_DEADLINE).await[1].text(),
        "last"
    );
}

#[tokio::test]
async fn a_pass_that_fails_part_way_removes_only_what_the_broker_took_from_each_document() {
    let Setup {
        kafka,
        topic,
        collection,
    } = Setup::new().await;
    let drained = ObjectId::new();
    let stuck = ObjectId::new();
    // tansu creates no topic on produce: a record to a topic that does not exist waits for it
    // until the delivery timeout, a failure that may pass.
    let missing = unique_name("missing");
    let stuck_events = [
        message(&topic, "stuck", Some("1")),
        message(&missing, "stuck", Some("2")),
        message(&topic, "stuck", Some("3")),
    ];
    collection
        .insert_one(doc! {
            "_id": drained,
            outbox::FIELD: [message(&topic, "drained", Some("a")).to_bson()],
        })
        .await
        .unwrap();
    collection
        .insert_one(doc! {
            "_id": stuck,
            outbox::PENDING_REMOVAL: true,
            outbox::FIELD: stuck_events.iter().map(OutboxMessage::to_bson).collect::<Vec<_>>(),
        })
        .await
        .unwrap();

    let impatient = KafkaSettings {
        delivery_timeout: Duration::from_secs(2),
        ..kafka
    };
    let relay = relay(&impatient, &collection);
    let error = relay.publish_pending().await.unwrap_err();
    assert!(format!("{error:#}").contains(&missing), "{error:#}");

    let outbox_ids = |document: Document| -> Vec<String> {
        document
            .get_array(outbox::FIELD)
            .unwrap()
            .iter()
            .map(|entry| {
                entry
                    .as_document()
                    .unwrap()
                    .get_str("_id")
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let drained_document = collection.find_one(doc! { "_id": drained }).await.unwrap();
    assert_eq!(outbox_ids(drained_document.unwrap()), Vec::<String>::new());
    let stuck_document = collection.find_one(doc! { "_id": stuck }).await.unwrap();
    assert_eq!(
        outbox_ids(stuck_document.expect("a document with unpublished events is kept")),
        [stuck_events[1].id.clone(), stuck_events[2].id.clone()],
        "the event that failed, and those behind it, stay"
    );
    assert_eq!(dead_letters(&collection).await, Vec::<Document>::new());
}

/// The dead letters of `collection`'s outboxes.
async fn dead_letters(collection: &Collection<Document>) -> Vec<Document> {
    let namespace = collection.namespace();
    collection
        .client()
        .database(&namespace.db)
        .collection::<Document>(&outbox::dead_letter_collection(&namespace.coll))
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn entries_that_can_never_be_published_are_dead_lettered_and_the_rest_go_out() {
    let Setup {
        kafka,
        topic,
        collection,
    } = Setup::new().await;
    let id = ObjectId::new();
    // Over the producer's message.max.bytes: refused at once, before reaching the broker.
    let oversized = message(&topic, "doc", Some(&"x".repeat(2 * 1024 * 1024)));
    collection
        .insert_one(doc! {
            "_id": id,
            outbox::PENDING_REMOVAL: true,
            outbox::FIELD: [
                message(&topic, "doc", Some("1")).to_bson(),
                oversized.to_bson(),
                "not an entry",
                message(&topic, "doc", Some("4")).to_bson(),
            ],
        })
        .await
        .unwrap();

    let relay = relay(&kafka, &collection);
    assert_eq!(relay.publish_pending().await.unwrap(), 2);
    assert_eq!(relay.publish_pending().await.unwrap(), 0, "nothing is left");
    let mut reader = TopicReader::new(&kafka, &topic);
    let records = reader.read_at_least(2, EVENT_DEADLINE).await.to_vec();
    let payloads: Vec<&str> = records.iter().map(|record| record.text()).collect();
    assert_eq!(
        payloads,
        ["1", "4"],
        "the events behind them go out, in order"
    );
    assert!(
        collection
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
            .is_none(),
        "the document marked for removal is deleted once nothing is left to publish"
    );

    let kept = dead_letters(&collection).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter()
            .all(|dead| dead.get_object_id("source") == Ok(id))
    );
    let oversized_entry = kept
        .iter()
        .find(|dead| dead.get_document("entry").is_ok())
        .expect("the oversized entry");
    assert_eq!(
        oversized_entry
            .get_document("entry")
            .unwrap()
            .get_str("_id"),
        Ok(oversized.id.as_str()),
        "kept whole"
    );
    assert!(
        oversized_entry
            .get_str("reason")
            .unwrap()
            .contains("too large"),
        "{oversized_entry:?}"
    );
    let unreadable = kept
        .iter()
        .find(|dead| dead.get_str("entry") == Ok("not an entry"))
        .expect("the unreadable entry");
    assert!(
        unreadable
            .get_str("reason")
            .unwrap()
            .contains("not a document")
    );
}

#[tokio::test]
async fn a_document_marked_for_removal_with_nothing_left_to_publish_is_deleted() {
    let Setup {
        kafka, collection, ..
    } = Setup::new().await;
    // What a pass leaves when its delete fails after the document's last events were pulled.
    let id = ObjectId::new();
    collection
        .insert_one(doc! { "_id": id, outbox::PENDING_REMOVAL: true, outbox::FIELD: [] })
        .await
        .unwrap();
    let relay = relay(&kafka, &collection);
    assert_eq!(relay.publish_pending().await.unwrap(), 0);
    assert!(
        collection
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
            .is_none()
    );
}
