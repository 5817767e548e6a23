//! `Documents`: what the services' repositories read and write, against the local database.

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use platform::documents::{Changed, Decision, Documents, Inserted, OutboxFull, TooLarge};
use platform::outbox::{self, Outbox, OutboxMessage};
use platform::paging::{PageQuery, PageRequest};
use serde::Deserialize;
use tokio::runtime::Handle;

use crate::{database_settings, document_limits, outbox_settings};

fn event(id: &str) -> OutboxMessage {
    OutboxMessage {
        id: id.to_owned(),
        topic: "t".into(),
        key: Some("k".into()),
        payload: Some("{}".into()),
        headers: Vec::new(),
    }
}

async fn documents() -> Documents {
    let database = platform::mongo::connect(&database_settings())
        .await
        .unwrap();
    Documents::new(
        &database,
        "things",
        Outbox::new(&outbox_settings()),
        document_limits(),
    )
}

/// The stored document as it is, outbox and all.
async fn raw(documents: &Documents, id: ObjectId) -> Option<Document> {
    documents
        .collection()
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
}

fn outbox_ids(document: &Document) -> Vec<&str> {
    document
        .get_array(outbox::FIELD)
        .map(|entries| {
            entries
                .iter()
                .map(|entry| entry.as_document().unwrap().get_str("_id").unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_write_stores_its_events_with_it_and_reads_never_show_them() {
    let documents = documents().await;
    let id = ObjectId::new();
    let inserted = documents
        .insert(doc! { "_id": id, "n": 1, "applied": [] }, &[event("e1")])
        .await
        .unwrap();
    assert_eq!(inserted, Inserted::New);
    let updated = documents
        .update(
            doc! { "_id": id, "n": 1 },
            doc! { "$set": { "n": 2 }, "$push": { "applied": "m1" } },
            &[event("e2"), event("e3")],
        )
        .await
        .unwrap();
    assert!(updated);
    let stale = documents
        .update(
            doc! { "_id": id, "n": 1 },
            doc! { "$set": { "n": 3 } },
            &[event("e4")],
        )
        .await
        .unwrap();
    assert!(!stale, "a filter that no longer matches changes nothing");

    let stored = raw(&documents, id).await.unwrap();
    assert_eq!(outbox_ids(&stored), ["e1", "e2", "e3"]);
    assert_eq!(stored.get_array("applied").unwrap().len(), 1);
    let read = documents
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, doc! { "_id": id, "n": 2, "applied": ["m1"] });

    let again = documents
        .insert(doc! { "_id": id }, &[event("e5")])
        .await
        .unwrap();
    assert_eq!(again, Inserted::Duplicate);
    assert_eq!(
        outbox_ids(&raw(&documents, id).await.unwrap()),
        ["e1", "e2", "e3"]
    );
}

#[tokio::test]
async fn a_removed_document_is_hidden_at_once_and_deleted_once_its_outbox_is_empty() {
    let documents = documents().await;
    let (announced, silent, kept) = (ObjectId::new(), ObjectId::new(), ObjectId::new());
    for id in [announced, silent, kept] {
        documents.insert(doc! { "_id": id }, &[]).await.unwrap();
    }

    let removed = documents
        .remove(doc! { "_id": announced }, doc! {}, &[event("tombstone")])
        .await
        .unwrap();
    assert!(removed);
    let waiting = raw(&documents, announced)
        .await
        .expect("kept until its tombstone is published");
    assert_eq!(outbox_ids(&waiting), ["tombstone"]);
    assert!(
        documents
            .find_one(doc! { "_id": announced })
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        documents
            .find_one_as::<Document>(doc! { "_id": announced })
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        documents
            .remove(doc! { "_id": silent }, doc! {}, &[])
            .await
            .unwrap()
    );
    assert!(
        raw(&documents, silent).await.is_none(),
        "nothing to publish: deleted at once"
    );
    assert!(
        !documents
            .remove(doc! { "_id": silent }, doc! {}, &[])
            .await
            .unwrap(),
        "removing twice finds nothing"
    );

    let everything = PageRequest::parse(&PageQuery::default(), &[]).unwrap();
    let (page, total) = documents.page(&everything).await.unwrap();
    assert_eq!((page, total), (vec![doc! { "_id": kept }], 1));
    assert_eq!(
        documents.find_all(doc! {}).await.unwrap(),
        [doc! { "_id": kept }]
    );
    assert_eq!(
        documents
            .find_one_as::<Document>(doc! { "_id": kept })
            .await
            .unwrap(),
        Some(doc! { "_id": kept })
    );
}

#[tokio::test]
async fn a_document_never_holds_more_events_than_its_limit() {
    let documents = documents().await;
    let id = ObjectId::new();
    documents
        .insert(doc! { "_id": id, "n": 0 }, &[event("e1"), event("e2")])
        .await
        .unwrap();
    let change = |n: i32, events: Vec<OutboxMessage>| {
        let documents = documents.clone();
        async move {
            documents
                .update(doc! { "_id": id }, doc! { "$set": { "n": n } }, &events)
                .await
        }
    };
    assert!(change(1, vec![event("e3")]).await.unwrap(), "room for one");
    let full = change(2, vec![event("e4")]).await.unwrap_err();
    assert_eq!(
        full.downcast_ref::<OutboxFull>().map(|full| full.limit),
        Some(3),
        "{full:#}"
    );
    assert!(
        change(2, Vec::new()).await.unwrap(),
        "a change without events still goes through"
    );
    let stored = raw(&documents, id).await.unwrap();
    assert_eq!(outbox_ids(&stored), ["e1", "e2", "e3"]);
    assert_eq!(stored.get_i32("n").unwrap(), 2);

    let missing = documents
        .update(
            doc! { "_id": ObjectId::new() },
            doc! { "$set": { "n": 1 } },
            &[event("e5")],
        )
        .await
        .unwrap();
    assert!(!missing, "no such document is not a full outbox");
}

#[tokio::test]
async fn a_write_larger_than_the_limits_is_refused_before_the_database_sees_it() {
    let documents = documents().await;
    let id = ObjectId::new();
    let big = "x".repeat(2000);
    let refused = documents
        .insert(doc! { "_id": id, "text": &big }, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.downcast_ref::<TooLarge>(),
            Some(TooLarge::Document { limit: 1024, .. })
        ),
        "{refused:#}"
    );
    assert!(raw(&documents, id).await.is_none());

    documents
        .insert(doc! { "_id": id, "text": "small" }, &[])
        .await
        .unwrap();
    let refused = documents
        .update(doc! { "_id": id }, doc! { "$set": { "text": &big } }, &[])
        .await
        .unwrap_err();
    assert!(refused.downcast_ref::<TooLarge>().is_some(), "{refused:#}");

    let mut huge_event = event("e1");
    huge_event.payload = Some("x".repeat(platform::settings::MAX_EVENT_BYTES + 1));
    let refused = documents
        .update(
            doc! { "_id": id },
            doc! { "$set": { "n": 1 } },
            &[huge_event],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.downcast_ref::<TooLarge>(),
            Some(TooLarge::Event { .. })
        ),
        "{refused:#}"
    );
    let too_many: Vec<_> = (0..4).map(|n| event(&format!("m{n}"))).collect();
    let refused = documents
        .update(doc! { "_id": id }, doc! { "$set": { "n": 1 } }, &too_many)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.downcast_ref::<TooLarge>(),
            Some(TooLarge::Events {
                events: 4,
                limit: 3,
                ..
            })
        ),
        "{refused:#}"
    );
    let stored = raw(&documents, id).await.unwrap();
    assert_eq!(stored.get_str("text").unwrap(), "small");
    assert!(outbox_ids(&stored).is_empty());
}

/// How many `operation`s on `collection` the metrics hold.
fn timed_count(collection: &str, operation: &str) -> u64 {
    let series = format!("collection=\"{collection}\",operation=\"{operation}\"");
    platform::metrics::render()
        .lines()
        .filter(|line| line.starts_with("mongodb_operation_duration_seconds_count{"))
        .find(|line| line.contains(&series))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn every_read_and_write_is_timed_by_collection_and_command() {
    platform::metrics::install("infrastructure");
    let database = platform::mongo::connect(&database_settings())
        .await
        .unwrap();
    let name = test_support::unique_name("timed");
    let documents = Documents::new(
        &database,
        &name,
        Outbox::new(&outbox_settings()),
        document_limits(),
    );
    let id = ObjectId::new();
    documents
        .insert(doc! { "_id": id, "n": 1 }, &[])
        .await
        .unwrap();
    documents.find_one(doc! { "_id": id }).await.unwrap();
    documents.find_all(Document::new()).await.unwrap();
    documents
        .update(doc! { "_id": id }, doc! { "$set": { "n": 2 } }, &[])
        .await
        .unwrap();
    documents
        .remove(doc! { "_id": id }, doc! { "$set": { "n": 3 } }, &[])
        .await
        .unwrap();
    for (operation, count) in [("insert", 1), ("find", 2), ("update", 2), ("delete", 1)] {
        assert_eq!(timed_count(&name, operation), count, "{operation}");
    }
}

#[derive(Debug, Deserialize)]
struct Counter {
    n: i32,
}

/// Adds `by` to the counter `id` through a change of its own, from inside another change's
/// decision: another writer storing its change between that change's read and write.
fn interpose(documents: &Documents, id: ObjectId, by: i32) -> anyhow::Result<()> {
    let other = documents.change(doc! { "_id": id }, |counter: Counter, _| {
        Ok::<_, anyhow::Error>(Decision::Write {
            update: doc! { "$set": { "n": counter.n + by } },
            events: Vec::new(),
            value: (),
        })
    });
    match tokio::task::block_in_place(|| Handle::current().block_on(other))? {
        Changed::Done(()) => Ok(()),
        changed => anyhow::bail!("the interposed change ended {changed:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_decides_again_on_what_another_writer_stored_in_between() {
    let documents = documents().await;
    let id = ObjectId::new();
    documents
        .insert(doc! { "_id": id, "n": 1 }, &[])
        .await
        .unwrap();
    let mut decided = Vec::new();
    let changed = documents
        .change(doc! { "_id": id }, |counter: Counter, next| {
            decided.push((counter.n, next));
            if decided.len() == 1 {
                interpose(&documents, id, 10)?;
            }
            Ok::<_, anyhow::Error>(Decision::Write {
                update: doc! { "$set": { "n": counter.n + 1 } },
                events: vec![event("e1")],
                value: counter.n + 1,
            })
        })
        .await
        .unwrap();
    assert_eq!(changed, Changed::Done(12), "no change lost");
    assert_eq!(
        decided,
        [(1, 1), (11, 2)],
        "decided again on the other writer's state, at the version after it"
    );
    let stored = raw(&documents, id).await.unwrap();
    assert_eq!(stored.get_i32("n").unwrap(), 12);
    assert_eq!(
        outbox_ids(&stored),
        ["e1"],
        "only the stored decision's events"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_gives_up_on_a_document_that_keeps_changing_and_removes_one_that_holds_still() {
    let documents = documents().await;
    let id = ObjectId::new();
    documents
        .insert(doc! { "_id": id, "n": 0 }, &[])
        .await
        .unwrap();
    let mut attempts = 0;
    let conflict = documents
        .change(doc! { "_id": id }, |_: Counter, _| {
            attempts += 1;
            interpose(&documents, id, 1)?;
            Ok::<_, anyhow::Error>(Decision::Write {
                update: doc! { "$set": { "n": -1 } },
                events: vec![event("lost")],
                value: (),
            })
        })
        .await
        .unwrap();
    assert_eq!(conflict, Changed::Conflict);
    let stored = raw(&documents, id).await.unwrap();
    assert_eq!(
        stored.get_i32("n").unwrap(),
        attempts,
        "every other writer's change kept, none of the loser's"
    );
    assert!(outbox_ids(&stored).is_empty());

    let removed = documents
        .change(doc! { "_id": id }, |_: Counter, next| {
            Ok::<_, anyhow::Error>(Decision::Remove {
                events: vec![event("tombstone")],
                value: next,
            })
        })
        .await
        .unwrap();
    assert_eq!(removed, Changed::Done(i64::from(attempts) + 1));
    assert!(
        documents
            .find_one(doc! { "_id": id })
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        outbox_ids(&raw(&documents, id).await.unwrap()),
        ["tombstone"]
    );
    let gone = documents
        .change(doc! { "_id": id }, |_: Counter, _| {
            Ok::<_, anyhow::Error>(Decision::Keep(()))
        })
        .await
        .unwrap();
    assert_eq!(gone, Changed::NotFound);
}
