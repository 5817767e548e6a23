use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::IndexModel;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use platform::mongo;
use serde::{Deserialize, Serialize};

use crate::database_settings;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: String,
    rank: i64,
    lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    guid: String,
    quantity: i32,
}

fn item(name: &str, rank: i64) -> Item {
    Item {
        id: ObjectId::new(),
        name: name.into(),
        rank,
        lines: vec![Line {
            guid: format!("{name}-line"),
            quantity: 1,
        }],
    }
}

#[tokio::test]
async fn documents_round_trip_and_queries_sort_skip_limit_and_count() {
    let database = mongo::connect(&database_settings()).await.unwrap();
    database.run_command(doc! { "ping": 1 }).await.unwrap();
    let collection = database.collection::<Document>("items");
    for (name, rank) in [("c", 3), ("a", 1), ("b", 2), ("d", 4)] {
        collection
            .insert_one(mongo::to_document(&item(name, rank)).unwrap())
            .await
            .unwrap();
    }
    let page: Vec<Document> = collection
        .find(doc! { "rank": { "$ne": 4 } })
        .sort(doc! { "rank": -1 })
        .skip(1)
        .limit(2)
        .projection(doc! { "lines": 0 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = page.iter().map(|d| d.get_str("name").unwrap()).collect();
    assert_eq!(names, ["b", "a"]);
    assert!(page[0].get("lines").is_none());
    let counted = collection
        .count_documents(doc! { "rank": { "$ne": 4 } })
        .await
        .unwrap();
    assert_eq!(counted, 3);

    let found = collection
        .find_one(doc! { "lines.guid": "d-line" })
        .await
        .unwrap()
        .unwrap();
    let read: Item = mongo::from_document(&found).unwrap();
    assert_eq!(read.name, "d");
    assert_eq!(
        mongo::to_bson(&read.rank).unwrap(),
        mongodb::bson::Bson::Int64(4)
    );
}

#[tokio::test]
async fn a_unique_index_turns_a_second_insert_into_a_duplicate_key_error() {
    let database = mongo::connect(&database_settings()).await.unwrap();
    let collection = database.collection::<Document>("items");
    collection
        .create_index(
            IndexModel::builder()
                .keys(doc! { "name": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
    collection
        .insert_one(mongo::to_document(&item("only", 1)).unwrap())
        .await
        .unwrap();
    let error = collection
        .insert_one(mongo::to_document(&item("only", 2)).unwrap())
        .await
        .unwrap_err();
    assert!(mongo::is_duplicate_key(&error), "{error}");
    assert!(!mongo::is_unavailable(&anyhow::Error::new(error)));
}

#[tokio::test]
async fn versioned_updates_push_with_slice_pull_by_id_and_delete_conditionally() {
    let database = mongo::connect(&database_settings()).await.unwrap();
    let collection = database.collection::<Document>("items");
    let id = ObjectId::new();
    collection
        .insert_one(doc! { "_id": id, "version": 0_i64, "seen": [], "queue": [] })
        .await
        .unwrap();
    let update = |version: i64, seen: &str| {
        let collection = collection.clone();
        let seen = seen.to_owned();
        async move {
            collection
                .update_one(
                    doc! { "_id": id, "version": version },
                    doc! {
                        "$set": { "version": version + 1 },
                        "$push": {
                            "seen": { "$each": [&seen], "$slice": -2 },
                            "queue": { "$each": [{ "_id": &seen }] },
                        },
                    },
                )
                .await
                .unwrap()
                .matched_count
        }
    };
    assert_eq!(update(0, "e1").await, 1);
    assert_eq!(
        update(0, "stale").await,
        0,
        "a stale version matches nothing"
    );
    assert_eq!(update(1, "e2").await, 1);
    assert_eq!(update(2, "e3").await, 1);
    let stored = collection
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap();
    let seen: Vec<&str> = stored
        .get_array("seen")
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    assert_eq!(seen, ["e2", "e3"], "$slice keeps the latest two");

    let pending = doc! { "queue.0": { "$exists": true } };
    assert_eq!(
        collection.count_documents(pending.clone()).await.unwrap(),
        1
    );
    collection
        .update_one(
            doc! { "_id": id },
            doc! { "$pull": { "queue": { "_id": { "$in": ["e1", "e2", "e3"] } } } },
        )
        .await
        .unwrap();
    assert_eq!(collection.count_documents(pending).await.unwrap(), 0);
    let deleted = collection
        .delete_one(doc! { "_id": id, "queue.0": { "$exists": false } })
        .await
        .unwrap();
    assert_eq!(deleted.deleted_count, 1);
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_unavailable() {
    let mut settings = database_settings();
    // Nothing listens on port 9 (discard) on this machine.
    settings.uri = "mongodb://127.0.0.1:9".into();
    settings.timeout = Duration::from_millis(300);
    let database = mongo::connect(&settings).await.unwrap();
    let error = database
        .collection::<Document>("items")
        .find_one(doc! {})
        .await
        .unwrap_err();
    assert!(mongo::is_unavailable(&anyhow::Error::new(error)));
}
