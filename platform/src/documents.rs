//! The documents of a collection that carries its events in each document's outbox: the one
//! way the services read and write them, so that no repository spells an outbox field.
//!
//! - Reads never see a document waiting to be removed, nor the outbox itself.
//! - A write stores the change and its events in one single-document command, and wakes the
//!   relay when it added events.
//! - A removal marks the document and adds its tombstone; the document is deleted once its
//!   outbox is drained (at once if it already is, else by the relay).
//! - No write makes a document outgrow its [`DocumentLimits`]: writers set a document's whole
//!   state (the document on insert, `$set` on update), so the size of what a write sets is the
//!   size of the state; events are bounded one by one and in number per document. A change past
//!   them is refused before the database sees it, with [`TooLarge`] (it can never succeed) or
//!   [`OutboxFull`] (it can, once the relay has caught up).
//! - A change that depends on what is stored goes through [`Documents::change`], the one
//!   read-modify-write: it owns the document's version, the filter that guards a write with it,
//!   and the retry when another writer came in between.

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, RawBsonRef, RawDocumentBuf, doc};
use mongodb::{Collection, Database};
use serde::de::DeserializeOwned;

use crate::mongo::timed;
use crate::outbox::{CLAIM, FIELD, Outbox, OutboxMessage, PENDING_REMOVAL};
use crate::paging::PageRequest;
use crate::settings::{DocumentLimits, MAX_EVENT_BYTES};

/// The field that counts a document's changes, so that a read-modify-write stores its change
/// only onto the state it read. A document without it (as inserted) is at version 0.
const VERSION: &str = "version";

/// Read-modify-write attempts before a change gives up: another writer (a request, or another
/// delivery changing the same document) stored its change between the read and the write of
/// each one.
const CHANGE_ATTEMPTS: usize = 10;

/// What a read-modify-write makes of the document it read.
#[derive(Debug)]
pub enum Decision<T> {
    /// Apply `update` (update operators; `$set` holds the changed state) with the events that
    /// announce the change.
    Write {
        update: Document,
        events: Vec<OutboxMessage>,
        value: T,
    },
    /// Remove the document with the events that announce it (its tombstone).
    Remove {
        events: Vec<OutboxMessage>,
        value: T,
    },
    /// Store nothing: the document is as the change wants it, or the change does not apply.
    Keep(T),
}

impl<T> Decision<T> {
    /// A write that sets `state` as the document's whole new state (its `_id` kept), with the
    /// events that announce it.
    pub fn set(
        state: &impl serde::Serialize,
        events: Vec<OutboxMessage>,
        value: T,
    ) -> anyhow::Result<Self> {
        let mut state = crate::mongo::to_document(state)?;
        state.remove("_id");
        Ok(Decision::Write {
            update: doc! { "$set": state },
            events,
            value,
        })
    }
}

/// How a read-modify-write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed<T> {
    /// Decided, and stored if the decision was to store something.
    Done(T),
    /// No live document matched.
    NotFound,
    /// Another writer stored a change between the read and the write of every attempt.
    Conflict,
}

/// What inserting a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// A document with the same unique key is already there.
    Duplicate,
}

/// A change refused because it would make a document larger than its collection keeps: it
/// can never succeed as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    #[error(
        "the change would make this {collection} document {bytes} bytes, over its limit of \
         {limit} bytes"
    )]
    Document {
        collection: String,
        bytes: usize,
        limit: usize,
    },
    #[error("the change would publish an event of {bytes} bytes; events are at most {limit}")]
    Event { bytes: usize, limit: usize },
    #[error(
        "the change would publish {events} events at once; one {collection} document holds at \
         most {limit}"
    )]
    Events {
        collection: String,
        events: usize,
        limit: usize,
    },
}

/// A change refused because its document already holds as many unpublished events as it may
/// (the broker is away or slow): it can succeed once the relay has published them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this {collection} document already holds {limit} events waiting for the broker; try again \
     once they are published"
)]
pub struct OutboxFull {
    pub collection: String,
    pub limit: usize,
}

/// One collection's documents and the outbox their events wait in.
#[derive(Debug, Clone)]
pub struct Documents {
    collection: Collection<Document>,
    outbox: Outbox,
    limits: DocumentLimits,
    /// The field a unique index of the collection holds besides `_id`, if any.
    unique_key: Option<&'static str>,
}

impl Documents {
    pub fn new(database: &Database, name: &str, outbox: Outbox, limits: DocumentLimits) -> Self {
        Documents {
            collection: database.collection(name),
            outbox,
            limits,
            unique_key: None,
        }
    }

    /// The same documents, whose collection has a unique index on `key` (one field): a read of
    /// one value of it goes as a read by `_id` does (see [`lookup`]). The caller creates the
    /// index.
    pub fn with_unique_key(self, key: &'static str) -> Self {
        Documents {
            unique_key: Some(key),
            ..self
        }
    }

    /// The same documents through another client (an HTTP worker's own).
    pub fn on(&self, database: &Database) -> Self {
        Documents {
            collection: database.collection(self.collection.name()),
            ..self.clone()
        }
    }

    /// The collection itself, for its indexes.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    /// The outbox the relay of this collection empties.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The first live document that matches (see [`lookup`] for how a read by `_id` goes).
    pub async fn find_one(&self, filter: Document) -> anyhow::Result<Option<Document>> {
        let find = self
            .collection
            .find_one(lookup(filter, self.unique_key))
            .projection(without_outbox());
        let found = timed(self.collection.name(), "find", find)
            .await
            .with_context(|| format!("reading from {}", self.collection.name()))?;
        Ok(found.filter(|document| !document.get_bool(PENDING_REMOVAL).unwrap_or(false)))
    }

    /// The first live document that matches (as [`Documents::find_one`]), decoded from the
    /// bytes of the server's reply into `T` (no `Document` tree in between).
    pub async fn find_one_as<T>(&self, filter: Document) -> anyhow::Result<Option<T>>
    where
        T: DeserializeOwned + Send + Sync,
    {
        match self.find_raw(filter).await? {
            Some(raw) => self.decode(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// The first live document that matches, as the server sent it.
    async fn find_raw(&self, filter: Document) -> anyhow::Result<Option<RawDocumentBuf>> {
        let raw = self.collection.clone_with_type::<RawDocumentBuf>();
        let find = raw
            .find_one(lookup(filter, self.unique_key))
            .projection(without_outbox());
        let found = timed(self.collection.name(), "find", find)
            .await
            .with_context(|| format!("reading from {}", self.collection.name()))?;
        Ok(found.filter(|raw| !raw.get_bool(PENDING_REMOVAL).unwrap_or(false)))
    }

    fn decode<T: DeserializeOwned>(&self, raw: &RawDocumentBuf) -> anyhow::Result<T> {
        mongodb::bson::from_slice(raw.as_bytes())
            .with_context(|| format!("reading a document of {}", self.collection.name()))
    }

    /// Reads the live document that matches, lets `decide` choose what becomes of it, and
    /// stores that if no other writer stored a change to the document in between; if one did,
    /// reads the document again and decides again, [`CHANGE_ATTEMPTS`] times at most.
    ///
    /// `decide` gets the document decoded as `D` and the version its write stores, which the
    /// events announcing the change carry. The write finds the document by `_id` and the
    /// version read, whatever `filter` was, so a document is read and written by `_id` alone
    /// when the caller reads it by `_id`.
    pub async fn change<D, T, E>(
        &self,
        filter: Document,
        mut decide: impl FnMut(D, i64) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E>
    where
        D: DeserializeOwned + Send + Sync,
        E: From<anyhow::Error>,
    {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some(raw) = self.find_raw(filter.clone()).await? else {
                return Ok(Changed::NotFound);
            };
            let read = ReadVersion::of(&raw).with_context(|| {
                format!(
                    "reading the version of a {} document",
                    self.collection.name()
                )
            })?;
            let next = read.version + 1;
            let (stored, value) = match decide(self.decode(&raw)?, next)? {
                Decision::Keep(value) => return Ok(Changed::Done(value)),
                Decision::Write {
                    mut update,
                    events,
                    value,
                } => {
                    operator(&mut update, "$set").insert(VERSION, next);
                    (self.update(read.guard(), update, &events).await?, value)
                }
                Decision::Remove { events, value } => {
                    let removal = doc! { "$set": { VERSION: next, PENDING_REMOVAL: true } };
                    let removed = self.update(read.guard(), removal, &events).await?;
                    if removed && events.is_empty() {
                        self.delete_if_drained(read.id()).await?;
                    }
                    (removed, value)
                }
            };
            if stored {
                return Ok(Changed::Done(value));
            }
        }
        Ok(Changed::Conflict)
    }

    /// Every live document that matches, in `_id` order.
    pub async fn find_all(&self, filter: Document) -> anyhow::Result<Vec<Document>> {
        let find = async {
            self.collection
                .find(live(filter))
                .projection(without_outbox())
                .sort(doc! { "_id": 1 })
                .await?
                .try_collect()
                .await
        };
        timed(self.collection.name(), "find", find)
            .await
            .with_context(|| format!("listing {}", self.collection.name()))
    }

    /// One page of the live documents, sorted as the page asks, and how many there are in all.
    pub async fn page(&self, page: &PageRequest) -> anyhow::Result<(Vec<Document>, u64)> {
        let count = self.collection.count_documents(live(Document::new()));
        let total = timed(self.collection.name(), "aggregate", count)
            .await
            .with_context(|| format!("counting {}", self.collection.name()))?;
        let find = async {
            self.collection
                .find(live(Document::new()))
                .projection(without_outbox())
                .sort(crate::mongo::page_sort(page))
                .skip(page.offset())
                .limit(page.limit())
                .await?
                .try_collect()
                .await
        };
        let documents = timed(self.collection.name(), "find", find)
            .await
            .with_context(|| format!("listing {}", self.collection.name()))?;
        Ok((documents, total))
    }

    /// Stores a new document with the events that announce it.
    pub async fn insert(
        &self,
        mut document: Document,
        events: &[OutboxMessage],
    ) -> anyhow::Result<Inserted> {
        self.check(&document, events)?;
        if !events.is_empty() {
            let entries: Vec<Bson> = events.iter().map(OutboxMessage::to_bson).collect();
            document.insert(FIELD, entries);
        }
        let insert = self.collection.insert_one(document);
        match timed(self.collection.name(), "insert", insert).await {
            Ok(_) => {
                self.wake_for(events);
                Ok(Inserted::New)
            }
            Err(error) if crate::mongo::is_duplicate_key(&error) => Ok(Inserted::Duplicate),
            Err(error) => {
                Err(error).with_context(|| format!("inserting into {}", self.collection.name()))
            }
        }
    }

    /// Applies `update` (update operators; `$set` holds the state) to the live document that
    /// matches, and adds the events that announce the change, in the same command; false if
    /// none matched. A document whose outbox has no room for the events is not changed:
    /// [`OutboxFull`].
    pub async fn update(
        &self,
        filter: Document,
        mut update: Document,
        events: &[OutboxMessage],
    ) -> anyhow::Result<bool> {
        self.check(
            update.get_document("$set").unwrap_or(&Document::new()),
            events,
        )?;
        let mut bounded = live(filter.clone());
        if !events.is_empty() {
            let entries: Vec<Bson> = events.iter().map(OutboxMessage::to_bson).collect();
            operator(&mut update, "$push").insert(FIELD, doc! { "$each": entries });
            bounded.insert(self.outbox_room(events), doc! { "$exists": false });
        }
        let write = self.collection.update_one(bounded, update);
        let result = timed(self.collection.name(), "update", write)
            .await
            .with_context(|| format!("updating {}", self.collection.name()))?;
        if result.matched_count == 1 {
            self.wake_for(events);
            return Ok(true);
        }
        if !events.is_empty() {
            let mut full = live(filter);
            full.insert(self.outbox_room(events), doc! { "$exists": true });
            let count = self.collection.count_documents(full).limit(1);
            if timed(self.collection.name(), "aggregate", count)
                .await
                .with_context(|| format!("reading {}", self.collection.name()))?
                > 0
            {
                return Err(OutboxFull {
                    collection: self.collection.name().to_owned(),
                    limit: self.limits.max_outbox_events,
                }
                .into());
            }
        }
        Ok(false)
    }

    /// Refuses a write that sets `state` with `events` if either is larger than kept.
    fn check(&self, state: &Document, events: &[OutboxMessage]) -> anyhow::Result<()> {
        let limit = self.limits.max_outbox_events;
        if events.len() > limit {
            anyhow::bail!(TooLarge::Events {
                collection: self.collection.name().to_owned(),
                events: events.len(),
                limit,
            });
        }
        if let Some(bytes) = events
            .iter()
            .filter_map(|event| event.payload.as_ref().map(String::len))
            .find(|bytes| *bytes > MAX_EVENT_BYTES)
        {
            anyhow::bail!(TooLarge::Event {
                bytes,
                limit: MAX_EVENT_BYTES,
            });
        }
        let bytes = crate::mongo::encoded_len(state)?;
        if bytes > self.limits.max_bytes {
            anyhow::bail!(TooLarge::Document {
                collection: self.collection.name().to_owned(),
                bytes,
                limit: self.limits.max_bytes,
            });
        }
        Ok(())
    }

    /// The outbox position that exists only if the outbox has no room left for `events`.
    fn outbox_room(&self, events: &[OutboxMessage]) -> String {
        let room = self.limits.max_outbox_events.saturating_sub(events.len());
        format!("{FIELD}.{room}")
    }

    /// Removes the live document that matches, with `update` and the
    /// events that announce the removal; false if none matched. Reads no longer see it. It is
    /// deleted once its pending events are published: at once if it has none.
    pub async fn remove(
        &self,
        filter: Document,
        mut update: Document,
        events: &[OutboxMessage],
    ) -> anyhow::Result<bool> {
        operator(&mut update, "$set").insert(PENDING_REMOVAL, true);
        let removed = self.update(filter.clone(), update, events).await?;
        if events.is_empty() {
            self.delete_if_drained(filter).await?;
        }
        Ok(removed)
    }

    /// Deletes the document that matches if it is marked for removal and its outbox is empty.
    async fn delete_if_drained(&self, mut filter: Document) -> anyhow::Result<()> {
        filter.extend(doc! {
            PENDING_REMOVAL: true,
            format!("{FIELD}.0"): { "$exists": false },
        });
        let delete = self.collection.delete_one(filter);
        timed(self.collection.name(), "delete", delete)
            .await
            .with_context(|| format!("deleting from {}", self.collection.name()))?;
        Ok(())
    }

    fn wake_for(&self, events: &[OutboxMessage]) {
        if !events.is_empty() {
            self.outbox.wake();
        }
    }
}

/// Where a read-modify-write found a document: its `_id` and the version it was at.
struct ReadVersion {
    id: Bson,
    version: i64,
    /// False for a document never changed since its insert, which has no version field.
    recorded: bool,
}

impl ReadVersion {
    fn of(raw: &RawDocumentBuf) -> anyhow::Result<Self> {
        let id = raw.get("_id")?.context("a document without an _id")?;
        let (version, recorded) = match raw.get(VERSION)? {
            None => (0, false),
            Some(RawBsonRef::Int64(version)) => (version, true),
            Some(RawBsonRef::Int32(version)) => (i64::from(version), true),
            Some(other) => anyhow::bail!("the version is {other:?}, not an integer"),
        };
        Ok(ReadVersion {
            id: Bson::try_from(id)?,
            version,
            recorded,
        })
    }

    fn id(&self) -> Document {
        doc! { "_id": self.id.clone() }
    }

    /// The filter that matches the document only while it is still at the version read.
    fn guard(&self) -> Document {
        let mut guard = self.id();
        if self.recorded {
            guard.insert(VERSION, self.version);
        } else {
            guard.insert(VERSION, doc! { "$exists": false });
        }
        guard
    }
}

/// The document under an update operator, created if the update has none yet.
fn operator<'a>(update: &'a mut Document, name: &str) -> &'a mut Document {
    if update.get_document(name).is_err() {
        update.insert(name, Document::new());
    }
    update
        .get_document_mut(name)
        .expect("a document, inserted just above if it was missing")
}

/// The filter of a read that returns one document: a lookup of one value of `_id` or of the
/// collection's other unique key goes as it is, and the reader drops a document marked for
/// removal from the answer (the projection keeps the mark): a unique key matches one document
/// at most, so that is the same answer. Any other filter, an operator or a pattern on the key
/// included (`$in` may match a removed document before a live one), is narrowed to live
/// documents by the server.
///
/// An exact `_id` match is the shape MongoDB answers on its fastest path (no query planning),
/// and an exact match of a unique index's fields the only one mongo-java-server answers from an
/// index: with the liveness condition beside it, that server scans the whole collection.
fn lookup(filter: Document, unique_key: Option<&str>) -> Document {
    let one_value = match filter.iter().next() {
        Some((key, value)) if filter.len() == 1 => {
            (key == "_id" || Some(key.as_str()) == unique_key)
                && !matches!(value, Bson::Document(_) | Bson::RegularExpression(_))
        }
        _ => false,
    };
    if one_value { filter } else { live(filter) }
}

/// The filter, narrowed to documents not waiting to be removed.
fn live(mut filter: Document) -> Document {
    filter.insert(PENDING_REMOVAL, doc! { "$ne": true });
    filter
}

fn without_outbox() -> Document {
    doc! { FIELD: 0, CLAIM: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_join_the_push_an_update_already_has() {
        let mut update = doc! { "$set": { "a": 1 }, "$push": { "applied": "e1" } };
        operator(&mut update, "$push").insert(FIELD, "entries");
        assert_eq!(
            update,
            doc! { "$set": { "a": 1 }, "$push": { "applied": "e1", FIELD: "entries" } }
        );
        let mut bare = doc! { "$inc": { "version": 1 } };
        operator(&mut bare, "$set").insert(PENDING_REMOVAL, true);
        assert_eq!(
            bare,
            doc! { "$inc": { "version": 1 }, "$set": { PENDING_REMOVAL: true } }
        );
    }

    #[test]
    fn reads_leave_out_documents_waiting_to_be_removed() {
        assert_eq!(
            live(doc! { "_id": 1 }),
            doc! { "_id": 1, PENDING_REMOVAL: { "$ne": true } }
        );
    }

    #[test]
    fn only_a_lookup_of_one_unique_value_leaves_liveness_to_the_reader() {
        assert_eq!(lookup(doc! { "_id": 1 }, None), doc! { "_id": 1 });
        let by_key = doc! { "orderGuid": "g" };
        assert_eq!(lookup(by_key.clone(), Some("orderGuid")), by_key);
        assert_eq!(lookup(by_key.clone(), None), live(by_key));
        let by_ids = doc! { "_id": { "$in": [1, 2] } };
        assert_eq!(lookup(by_ids.clone(), None), live(by_ids));
        let by_pattern = doc! { "orderGuid": Bson::RegularExpression(mongodb::bson::Regex {
            pattern: "^g".to_owned(),
            options: String::new(),
        }) };
        assert_eq!(
            lookup(by_pattern.clone(), Some("orderGuid")),
            live(by_pattern)
        );
        let by_guid = doc! { "orders.guid": "g" };
        assert_eq!(lookup(by_guid.clone(), Some("orderGuid")), live(by_guid));
        let with_version = doc! { "_id": 1, "version": 3 };
        assert_eq!(lookup(with_version.clone(), None), live(with_version));
    }
}
