//! The transactional outbox: events travel inside the document whose change they describe.
//! This module holds what an outbox is (its entries, its layout in a document, its backlog);
//! `documents` writes events into it and `relay` publishes them.
//!
//! A service writes a change and the event that announces it in one single-document write: the
//! event is pushed onto the document's `outbox` array. MongoDB makes a single-document write
//! atomic, so there is no moment at which the change is stored and its event is not (no dual
//! write, and no multi-document transaction, which needs a replica set).
//!
//! The relay publishes pending events in array order, waits for the broker's acknowledgement,
//! and only then pulls them from the array. A crash between the two publishes an event again
//! when the relay restarts, so delivery is at least once; consumers deduplicate by event id.
//!
//! Several instances of a service share the work rather than repeat it: a relay publishes a
//! document's events only while it holds the document's claim, taken by a conditional update
//! with an expiry (see `relay`). The claim makes publishing each event once the normal case
//! with any number of instances; a relay that stalls past its claim may still publish an event
//! twice, which consumers drop like any redelivery.
//!
//! A document to be deleted is marked with `pendingRemoval` and given its tombstone instead; the
//! relay deletes it once that tombstone is published. Reads skip such documents.
//!
//! An event that can never be published (the producer refuses it: it is over
//! `message.max.bytes`) is moved to the collection's dead letters,
//! `<collection>.outbox-dead-letters`, with the reason, so that it neither holds back the events
//! behind it nor stalls the relay; nothing is dropped. Every other failure, an entry this relay
//! cannot read included (it may come from a newer version of the service), is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use mongodb::Collection;
use mongodb::bson::{Bson, DateTime, Document, doc};
use tokio::sync::Notify;

use crate::settings::OutboxSettings;

/// The array of pending events inside each document.
pub const FIELD: &str = "outbox";
/// Set on a document that is deleted once its outbox is empty.
pub const PENDING_REMOVAL: &str = "pendingRemoval";
/// The claim of the relay instance publishing a document's events: `{owner, until}`. While it
/// holds, no other instance takes the document; a claim left by an instance that died expires.
pub const CLAIM: &str = "outboxClaim";

/// The collection that keeps a collection's unpublishable events, each under its event id:
/// `<collection>.outbox-dead-letters`, in the same database.
pub fn dead_letters(collection: &Collection<Document>) -> Collection<Document> {
    let namespace = collection.namespace();
    collection
        .client()
        .database(&namespace.db)
        .collection(&format!("{}.outbox-dead-letters", namespace.coll))
}

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Unique per event; becomes the `_id` of the entry.
    pub id: String,
    pub topic: String,
    pub key: Option<String>,
    /// `None` publishes a tombstone.
    pub payload: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl OutboxMessage {
    /// The event `id` for `topic` under `key`, with its payload (`None` for a tombstone) and
    /// headers: the parts an event envelope holds, handed over as they are.
    pub fn new(
        topic: &str,
        id: String,
        key: String,
        payload: Option<String>,
        headers: Vec<(String, String)>,
    ) -> Self {
        OutboxMessage {
            id,
            topic: topic.to_owned(),
            key: Some(key),
            payload,
            headers,
        }
    }

    /// The entry as stored in the outbox array.
    pub fn to_bson(&self) -> Bson {
        let headers: Document = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Bson::String(value.clone())))
            .collect();
        Bson::Document(doc! {
            "_id": &self.id,
            "topic": &self.topic,
            "key": self.key.clone(),
            "payload": self.payload.clone(),
            "headers": headers,
            "createdAt": DateTime::now(),
        })
    }

    pub(crate) fn from_document(entry: &Document) -> anyhow::Result<Self> {
        let text = |field: &str| -> anyhow::Result<Option<String>> {
            match entry.get(field) {
                None | Some(Bson::Null) => Ok(None),
                Some(Bson::String(value)) => Ok(Some(value.clone())),
                Some(other) => anyhow::bail!("outbox field {field} is {other}, not a string"),
            }
        };
        let headers = entry
            .get_document("headers")
            .context("outbox entry without headers")?
            .iter()
            .map(|(name, value)| match value {
                Bson::String(value) => Ok((name.clone(), value.clone())),
                other => anyhow::bail!("outbox header {name} is {other}, not a string"),
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(OutboxMessage {
            id: text("_id")?.context("outbox entry without an id")?,
            topic: text("topic")?.context("outbox entry without a topic")?,
            key: text("key")?,
            payload: text("payload")?,
            headers,
        })
    }
}

/// What the writers of a collection share with its relay: the call that wakes the relay after a
/// write, and the backlog the relay last measured, which refuses new writes while it is longer
/// than `max_pending` (backpressure: when the broker is away, the outbox does not grow without
/// bound, and clients are told to come back instead).
#[derive(Debug, Clone)]
pub struct Outbox {
    wake: Arc<Notify>,
    pending: Arc<AtomicU64>,
    max_pending: u64,
}

impl Outbox {
    pub fn new(settings: &OutboxSettings) -> Self {
        Outbox {
            wake: Arc::default(),
            pending: Arc::default(),
            max_pending: settings.max_pending,
        }
    }

    /// Tells the relay that a write just added events, so it publishes them without waiting
    /// for its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Returns once a write woke the relay.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Records the backlog the relay measured.
    pub(crate) fn set_pending(&self, pending: u64) {
        self.pending.store(pending, Ordering::Relaxed);
    }

    /// The backlog, when it is too long to take more events.
    pub fn overloaded(&self) -> Option<u64> {
        let pending = self.pending.load(Ordering::Relaxed);
        (pending > self.max_pending).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_as_written() {
        let message = OutboxMessage {
            id: "e1".into(),
            topic: "t".into(),
            key: Some("k".into()),
            payload: None,
            headers: vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        };
        let stored = message.to_bson();
        let read = OutboxMessage::from_document(stored.as_document().unwrap()).unwrap();
        assert_eq!(read, message);
    }
}
