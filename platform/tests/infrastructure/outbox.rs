use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use platform::documents::Documents;
use platform::outbox::{self, Outbox, OutboxMessage};
use platform::relay::Relay;
use platform::settings::{KafkaSettings, OutboxSettings};
use test_support::{
    EVENT_DEADLINE, TopicReader, create_topics_with_dead_letters, eventually, shared_kafka,
    unique_name,
};
use tokio_util::sync::CancellationToken;

use crate::{database_settings, document_limits, outbox_settings};

fn message(topic: &str, key: &str, payload: Option<&str>) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::new_v4().to_string(),
        topic: topic.to_owned(),
        key: Some(key.to_owned()),
        payload: payload.map(str::to_owned),
        headers: vec![("eventType".into(), "Test".into())],
    }
}

/// What each relay test starts from: a topic of its own, and a collection in a fresh database,
/// written through `documents` or, to lay out what the services never write, directly.
struct Setup {
    kafka: KafkaSettings,
    topic: String,
    documents: Documents,
    collection: Collection<Document>,
}

impl Setup {
    async fn new() -> Self {
        let kafka = shared_kafka();
        let topic = unique_name("outbox");
        create_topics_with_dead_letters(&kafka, &[&topic]).await;
        let database = platform::mongo::connect(&database_settings())
            .await
            .unwrap();
        let documents = Documents::new(
            &database,
            "aggregates",
            Outbox::new(&outbox_settings()),
            document_limits(),
        );
        Setup {
            kafka,
            topic,
            collection: documents.collection().clone(),
            documents,
        }
    }
}

/// A relay of `documents` with the test settings.
fn relay(kafka: &KafkaSettings, documents: &Documents) -> Relay {
    relay_with(kafka, documents, outbox_settings())
}

/// A relay of `documents` with its own producer.
fn relay_with(kafka: &KafkaSettings, documents: &Documents, settings: OutboxSettings) -> Relay {
    Relay::new(
        documents.collection(),
        documents.outbox(),
        platform::kafka::producer(kafka).unwrap(),
        settings,
        database_settings().timeout,
    )
}

#[tokio::test]
async fn the_relay_publishes_in_order_then_empties_the_outbox_and_removes_marked_documents() {
    let Setup {
        kafka,
        topic,
        documents,
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

    let relay = relay(&kafka, &documents);
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
        documents,
        collection,
    } = Setup::new().await;
    let mut settings = outbox_settings();
    // Only a wake-up or the final pass can publish within the test's deadline.
    settings.poll_interval = std::time::Duration::from_secs(3600);
    let relay = relay_with(&kafka, &documents, settings);
    let stop = CancellationToken::new();
    let running = tokio::spawn(relay.run(stop.clone()));

    let id = ObjectId::new();
    documents
        .insert(doc! { "_id": id }, &[message(&topic, "a", Some("woken"))])
        .await
        .unwrap();
    let mut reader = TopicReader::new(&kafka, &topic);
    assert_eq!(
        reader.read_at_least(1, EVENT_DEADLINE).await[0].text(),
        "woken"
    );

    // Written as by another instance of the service: this relay is not woken by it.
    collection
        .update_one(
            doc! { "_id": id },
            doc! { "$push": { outbox::FIELD: message(&topic, "a", Some("last")).to_bson() } },
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
        documents,
        collection,
    } = Setup::new().await;
    let drained = ObjectId::new();
    let stuck = ObjectId::new();
    // The broker creates no topic on produce (auto-creation is off): a record to a topic that
    // does not exist waits for it until the delivery timeout, a failure that may pass.
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
    let relay = relay(&impatient, &documents);
    let error = relay.publish_pending().await.unwrap_err();
    assert!(format!("{error:#}").contains(&missing), "{error:#}");

    let drained_document = collection.find_one(doc! { "_id": drained }).await.unwrap();
    assert_eq!(outbox_ids(drained_document.unwrap()), Vec::<String>::new());
    let stuck_document = collection.find_one(doc! { "_id": stuck }).await.unwrap();
    assert_eq!(
        outbox_ids(stuck_document.expect("a document with unpublished events is kept")),
        [stuck_events[1].id.clone(), stuck_events[2].id.clone()],
        "the event that failed, and those behind it, stay"
    );
    assert_eq!(
        dead_letters(&collection).await,
        Vec::<Document>::new(),
        "a failure that may pass is not a dead letter"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn relays_of_three_instances_share_the_outboxes_and_publish_each_event_once() {
    let Setup {
        kafka,
        topic,
        documents,
        collection,
    } = Setup::new().await;
    // More documents than one pass takes, so the relays meet over the same batches.
    let keys: Vec<String> = (0..40).map(|key| format!("k{key}")).collect();
    let aggregates: Vec<Document> = keys
        .iter()
        .map(|key| {
            let events: Vec<_> = (0..3)
                .map(|n| message(&topic, key, Some(&format!("{key}-{n}"))).to_bson())
                .collect();
            doc! { "_id": key, outbox::FIELD: events }
        })
        .collect();
    collection.insert_many(aggregates).await.unwrap();

    let relays = [
        relay(&kafka, &documents),
        relay(&kafka, &documents),
        relay(&kafka, &documents),
    ];
    let passes = futures_util::future::join_all(relays.iter().map(Relay::publish_pending)).await;
    let published: Vec<usize> = passes.into_iter().map(Result::unwrap).collect();
    assert_eq!(published.iter().sum::<usize>(), 120, "{published:?}");

    let mut reader = TopicReader::new(&kafka, &topic);
    reader.read_at_least(120, EVENT_DEADLINE).await;
    let records = reader.read_for(Duration::from_secs(1)).await;
    assert_eq!(records.len(), 120, "every event once, none twice");
    for key in &keys {
        let payloads: Vec<&str> = records
            .iter()
            .filter(|record| record.key.as_deref() == Some(key.as_str()))
            .map(|record| record.text())
            .collect();
        let expected: Vec<String> = (0..3).map(|n| format!("{key}-{n}")).collect();
        assert_eq!(payloads, expected, "in order per document");
    }
    let claimed = collection
        .count_documents(doc! { outbox::CLAIM: { "$exists": true } })
        .await
        .unwrap();
    assert_eq!(claimed, 0, "a drained document is left unclaimed");
}

#[tokio::test]
async fn a_claimed_document_waits_for_its_relay_until_released_or_expired() {
    let Setup {
        kafka,
        documents,
        collection,
        ..
    } = Setup::new().await;
    // An entry no relay can read: a pass fails on it at once and keeps the document claimed.
    let id = ObjectId::new();
    collection
        .insert_one(doc! { "_id": id, outbox::FIELD: [{ "_id": "unreadable" }] })
        .await
        .unwrap();
    let claim_of = || async {
        collection
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
            .unwrap()
            .get_document(outbox::CLAIM)
            .ok()
            .map(|claim| claim.get_str("owner").unwrap().to_owned())
    };
    let first = relay(&kafka, &documents);
    let second = relay(&kafka, &documents);

    first.publish_pending().await.unwrap_err();
    let holder = claim_of()
        .await
        .expect("claimed by the relay that failed on it");
    assert_eq!(
        second.publish_pending().await.unwrap(),
        0,
        "another relay leaves a claimed document alone"
    );
    assert_eq!(claim_of().await.as_ref(), Some(&holder));

    first.release_claims().await.unwrap();
    assert_eq!(claim_of().await, None);
    second
        .publish_pending()
        .await
        .expect_err("a released document is the next relay's");
    let taker = claim_of().await.expect("claimed by the second relay");
    assert_ne!(taker, holder);

    // A claim past its expiry, as a relay killed mid-pass leaves it, is anyone's.
    collection
        .update_one(
            doc! { "_id": id },
            doc! { "$set": { outbox::CLAIM: {
                "owner": "killed",
                "until": mongodb::bson::DateTime::from_millis(0),
            } } },
        )
        .await
        .unwrap();
    first
        .publish_pending()
        .await
        .expect_err("an expired claim is taken");
    assert_eq!(claim_of().await.as_ref(), Some(&holder));
    let read = documents
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap();
    assert!(
        !read.contains_key(outbox::CLAIM),
        "reads leave the claim out: {read}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_waiting_on_the_broker_renews_its_claims_past_their_lifetime() {
    let Setup {
        kafka,
        documents,
        collection,
        ..
    } = Setup::new().await;
    // A record to a topic that does not exist waits for it until the delivery timeout: a pass
    // far longer than a claim lasts.
    let id = ObjectId::new();
    let waiting = message(&unique_name("missing"), "k", Some("1"));
    collection
        .insert_one(doc! { "_id": id, outbox::FIELD: [waiting.to_bson()] })
        .await
        .unwrap();
    let impatient = KafkaSettings {
        delivery_timeout: Duration::from_secs(4),
        ..kafka.clone()
    };
    let mut settings = outbox_settings();
    settings.claim_ttl = Duration::from_millis(600);
    let first = relay_with(&impatient, &documents, settings.clone());
    let second = relay_with(&kafka, &documents, settings);
    let pass = tokio::spawn(async move { first.publish_pending().await });

    let claim = || async {
        let document = collection.find_one(doc! { "_id": id }).await.unwrap()?;
        let claim = document.get_document(outbox::CLAIM).ok()?.clone();
        Some((
            claim.get_str("owner").unwrap().to_owned(),
            *claim.get_datetime("until").unwrap(),
        ))
    };
    let (owner, taken_until) = eventually("the first relay's claim", EVENT_DEADLINE, claim).await;
    // Past the claim's first end, the same relay still holds it, renewed.
    let renewed = eventually(
        "the claim renewed past its first end",
        EVENT_DEADLINE,
        || async {
            let (holder, until) = claim().await?;
            let now = mongodb::bson::DateTime::now();
            (now > taken_until && until > now).then_some(holder)
        },
    )
    .await;
    assert_eq!(renewed, owner);
    assert_eq!(
        second.publish_pending().await.unwrap(),
        0,
        "a renewed claim keeps the document from the other relays"
    );
    assert!(!pass.is_finished(), "the pass still waits on the broker");
    pass.await
        .unwrap()
        .expect_err("the topic never appears: the pass fails at its delivery timeout");
}

/// The dead letters of `collection`'s outboxes.
async fn dead_letters(collection: &Collection<Document>) -> Vec<Document> {
    outbox::dead_letters(collection)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// The ids of the events in a document's outbox, in order.
fn outbox_ids(document: Document) -> Vec<String> {
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
}

#[tokio::test]
async fn events_the_producer_refuses_are_dead_lettered_and_the_events_behind_them_go_out() {
    let Setup {
        kafka,
        topic,
        documents,
        collection,
    } = Setup::new().await;
    // Over the producer's message.max.bytes: refused at once, before reaching the broker.
    let oversized = "x".repeat(2 * 1024 * 1024);
    let missing = unique_name("missing");
    let (plain, marked, unreadable) = (ObjectId::new(), ObjectId::new(), ObjectId::new());
    let plain_events = [
        message(&topic, "plain", Some("1")),
        message(&topic, "plain", Some(&oversized)),
        // A failure that may pass: it stays, and so does everything behind it.
        message(&missing, "plain", Some("3")),
        message(&topic, "plain", Some(&oversized)),
        message(&topic, "plain", Some("5")),
    ];
    let plain_entries: Vec<_> = plain_events.iter().map(OutboxMessage::to_bson).collect();
    let marked_entries = [
        message(&topic, "marked", Some("6")).to_bson(),
        message(&topic, "marked", Some(&oversized)).to_bson(),
    ];
    let unreadable_entries = [
        message(&topic, "unreadable", Some("7")).to_bson(),
        "not an entry".into(),
        message(&topic, "unreadable", Some("9")).to_bson(),
    ];
    collection
        .insert_many([
            doc! { "_id": plain, outbox::FIELD: plain_entries.clone() },
            doc! { "_id": marked, outbox::PENDING_REMOVAL: true, outbox::FIELD: marked_entries.to_vec() },
            doc! { "_id": unreadable, outbox::FIELD: unreadable_entries.to_vec() },
        ])
        .await
        .unwrap();

    let impatient = KafkaSettings {
        delivery_timeout: Duration::from_secs(2),
        ..kafka.clone()
    };
    let relay = relay(&impatient, &documents);
    for pass in ["first", "second"] {
        assert!(relay.publish_pending().await.is_err(), "{pass} pass");
        let document = |id| {
            let collection = collection.clone();
            async move {
                collection
                    .find_one(doc! { "_id": id })
                    .await
                    .unwrap()
                    .expect("a document with events left")
            }
        };
        assert_eq!(
            outbox_ids(document(plain).await),
            [
                plain_events[2].id.clone(),
                plain_events[3].id.clone(),
                plain_events[4].id.clone()
            ],
            "{pass} pass: the first refused event is dead-lettered, the failed one and those behind it stay"
        );
        assert_eq!(
            document(unreadable).await.get_array(outbox::FIELD).unwrap()[..],
            unreadable_entries[1..],
            "{pass} pass: an entry the relay cannot read stays, with those behind it"
        );
        assert!(
            collection
                .find_one(doc! { "_id": marked })
                .await
                .unwrap()
                .is_none(),
            "{pass} pass: the marked document is deleted once nothing is left in it"
        );
        let mut kept = dead_letters(&collection).await;
        kept.sort_by_key(|dead| dead.get_object_id("source").ok());
        let sources: Vec<(&str, ObjectId)> = kept
            .iter()
            .map(|dead| {
                (
                    dead.get_str("_id").unwrap(),
                    dead.get_object_id("source").unwrap(),
                )
            })
            .collect();
        let marked_event = marked_entries[1]
            .as_document()
            .unwrap()
            .get_str("_id")
            .unwrap();
        assert_eq!(
            sources,
            [(plain_events[1].id.as_str(), plain), (marked_event, marked)],
            "{pass} pass: each refused event kept once"
        );
        let first = &kept[0];
        assert_eq!(first.get("entry"), Some(&plain_entries[1]), "kept whole");
        assert!(first.get_datetime("deadLetteredAt").is_ok());
        let reason = first.get_str("reason").unwrap();
        assert!(reason.contains("too large"), "{reason}");
    }
    // What could go out went out, in order ("5" once a pass); nothing behind the unreadable
    // entry did, since its order depends on that entry.
    let mut reader = TopicReader::new(&kafka, &topic);
    reader.read_at_least(5, EVENT_DEADLINE).await;
    let records = reader.read_for(Duration::from_millis(500)).await.to_vec();
    let payloads = |key: &str| -> Vec<&str> {
        records
            .iter()
            .filter(|record| record.key.as_deref() == Some(key))
            .map(|record| record.text())
            .collect()
    };
    assert_eq!(payloads("plain"), ["1", "5", "5"]);
    assert_eq!(payloads("marked"), ["6"]);
    assert_eq!(payloads("unreadable"), ["7"]);
}

#[tokio::test]
async fn a_document_marked_for_removal_with_nothing_left_to_publish_is_deleted() {
    let Setup {
        kafka,
        documents,
        collection,
        ..
    } = Setup::new().await;
    // What a pass leaves when its delete fails after the document's last events were pulled.
    let id = ObjectId::new();
    collection
        .insert_one(doc! { "_id": id, outbox::PENDING_REMOVAL: true, outbox::FIELD: [] })
        .await
        .unwrap();
    let relay = relay(&kafka, &documents);
    assert_eq!(relay.publish_pending().await.unwrap(), 0);
    assert!(
        collection
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_relay_creates_the_partial_indexes_its_queries_use() {
    let Setup {
        kafka,
        documents,
        collection,
        ..
    } = Setup::new().await;
    let relay = relay(&kafka, &documents);
    relay.create_indexes().await.unwrap();
    relay
        .create_indexes()
        .await
        .expect("creating them again changes nothing");
    let indexes: Vec<mongodb::IndexModel> = collection
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let index = |name: &str| {
        indexes
            .iter()
            .find(|index| {
                index
                    .options
                    .as_ref()
                    .and_then(|options| options.name.as_deref())
                    == Some(name)
            })
            .unwrap_or_else(|| panic!("no index {name} in {indexes:?}"))
    };
    let pending = index(platform::relay::OUTBOX_PENDING_INDEX);
    assert_eq!(pending.keys, doc! { "outbox._id": 1 });
    let removal = index(platform::relay::PENDING_REMOVAL_INDEX);
    assert_eq!(removal.keys, doc! { "pendingRemoval": 1 });
}
