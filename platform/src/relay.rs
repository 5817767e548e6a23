//! The outbox relay: publishes the events waiting in a collection's outboxes, in order, and
//! pulls them once the broker acknowledged them.
//!
//! Each pass takes a batch of documents with pending events, claims them, hands all their
//! events to the producer at once, and then removes what the broker acknowledged (and the
//! claims) with one database command for the whole pass. An event the producer refuses
//! outright goes to the collection's dead letters; any other failure is retried with backoff,
//! holding back the events behind it.
//!
//! Several instances of a service run a relay each over the same collection, and share the
//! documents without a coordinator: a relay publishes only the documents it claimed, by one
//! conditional update per pass that takes each document whose claim is free, expired or its own
//! and whose outbox still starts where this relay read it. A document is thus published by one
//! relay at a time, in order; one whose relay died is taken by another once the claim expires.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::TryStreamExt;
use futures_util::future::join_all;
use mongodb::bson::{Bson, DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use opentelemetry::trace::Status;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::kafka::{self, Producer, Record};
use crate::mongo::{bounded, timed};
use crate::outbox::{CLAIM, FIELD, Outbox, OutboxMessage, PENDING_REMOVAL, dead_letters};
use crate::settings::OutboxSettings;
use crate::trace::{self, HeaderPairs, ReadHeaderPairs, RecordWork, TraceContext};

/// The partial index of the documents with pending events.
pub const OUTBOX_PENDING_INDEX: &str = "outbox_pending";
/// The partial index of the documents marked for removal.
pub const PENDING_REMOVAL_INDEX: &str = "pending_removal";

/// Publishes the events of one collection's outboxes.
pub struct Relay {
    collection: Collection<Document>,
    dead_letters: Collection<Document>,
    producer: Producer,
    settings: OutboxSettings,
    outbox: Outbox,
    /// Deadline for each database call.
    call_timeout: Duration,
    /// Who this relay is in the claims it writes: unique per process.
    owner: String,
}

impl Relay {
    /// A relay of the outboxes of `collection`, polling every `settings.poll_interval` and
    /// woken sooner by `outbox` whenever a write adds events: the writers' `Documents` must
    /// hold the same `outbox`, which also carries the backlog this relay measures to them.
    pub fn new(
        collection: &Collection<Document>,
        outbox: &Outbox,
        producer: Producer,
        settings: OutboxSettings,
        call_timeout: Duration,
    ) -> Self {
        Relay {
            dead_letters: dead_letters(collection),
            collection: collection.clone(),
            producer,
            settings,
            outbox: outbox.clone(),
            call_timeout,
            owner: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Publishes until `shutdown`, then returns after finishing the pass in progress.
    pub async fn run(self, shutdown: CancellationToken) {
        if !self.settings.relay_enabled {
            tracing::warn!(collection = %self.collection.name(), "outbox relay disabled");
            return;
        }
        crate::metrics::start_outbox_dead_letter_count(self.collection.name());
        tracing::info!(collection = %self.collection.name(), owner = %self.owner, "outbox relay started");
        let mut delays = crate::retry::delays();
        let mut indexed = false;
        loop {
            if !indexed {
                match self.create_indexes().await {
                    Ok(()) => indexed = true,
                    Err(error) => tracing::warn!(
                        collection = %self.collection.name(),
                        error = format!("{error:#}"),
                        "creating the outbox indexes failed; trying again next pass"
                    ),
                }
            }
            let began = Instant::now();
            let pass = self.publish_pending().await;
            if let Err(error) = self.report_backlog().await {
                tracing::debug!(error = format!("{error:#}"), "measuring the outbox backlog");
            }
            crate::metrics::record_relay_pass(self.collection.name(), began.elapsed());
            let pause = match pass {
                Ok(_) => {
                    delays = crate::retry::delays();
                    self.settings.poll_interval
                }
                Err(error) => {
                    let delay = delays.next().unwrap_or(crate::retry::LONGEST_DELAY);
                    let error_text = format!("{error:#}");
                    let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    let collection = self.collection.name();
                    // A refusal was logged once when it began, and readiness names it.
                    if self.producer.access().explains(&error) {
                        tracing::debug!(%collection, error = error_text, retry_in_ms, "outbox relay pass refused; retrying");
                    } else {
                        tracing::warn!(%collection, error = error_text, retry_in_ms, "outbox relay pass failed; retrying");
                    }
                    delay
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.outbox.woken() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        // Events written just before shutdown are published if the broker is there to take them.
        if let Err(error) = self.publish_pending().await {
            tracing::warn!(error = format!("{error:#}"), "final outbox pass failed");
        }
        // What this relay still holds is free for the others at once, not when it expires.
        if let Err(error) = self.release_claims().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "releasing the outbox claims failed"
            );
        }
    }

    /// Gives up every claim this relay holds.
    pub async fn release_claims(&self) -> anyhow::Result<()> {
        let release = self.collection.update_many(
            doc! { format!("{CLAIM}.owner"): &self.owner },
            doc! { "$unset": { CLAIM: "" } },
        );
        self.call("update", release)
            .await
            .context("releasing the outbox claims")?;
        Ok(())
    }

    /// The indexes that serve the relay's queries, so that a poll reads the documents with
    /// pending events rather than the whole collection. Both are partial: they hold only the
    /// documents the relay looks for, and MongoDB uses each for the clause of the relay's `$or`
    /// that matches its filter (an OR of two index scans in `explain`).
    /// - `outbox_pending`, on `outbox._id`, of documents with an entry in their outbox: the
    ///   relay's find, and the backlog measure;
    /// - `pending_removal`, on `pendingRemoval`, of documents marked for removal.
    pub async fn create_indexes(&self) -> anyhow::Result<()> {
        let pending = format!("{FIELD}._id");
        let indexes = [
            IndexModel::builder()
                .keys(doc! { &pending: 1 })
                .options(
                    IndexOptions::builder()
                        .name(OUTBOX_PENDING_INDEX.to_owned())
                        .partial_filter_expression(doc! { &pending: { "$exists": true } })
                        .build(),
                )
                .build(),
            IndexModel::builder()
                .keys(doc! { PENDING_REMOVAL: 1 })
                .options(
                    IndexOptions::builder()
                        .name(PENDING_REMOVAL_INDEX.to_owned())
                        .partial_filter_expression(doc! { PENDING_REMOVAL: true })
                        .build(),
                )
                .build(),
        ];
        let create = self.collection.create_indexes(indexes);
        bounded(self.call_timeout, create)
            .await
            .context("creating the outbox indexes")?;
        Ok(())
    }

    /// Publishes every pending event of the documents this relay can claim, returning how many
    /// were published.
    ///
    /// Each pass takes up to `batch_size` documents, claims them, hands all their events to the
    /// producer at once, and then removes what the broker acknowledged with one database
    /// command for the whole pass rather than one per document: the database, not the broker,
    /// is what a busy relay waits on. Documents another relay holds are left to it.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        let mut published = 0;
        loop {
            let now = DateTime::now();
            let claimable = self.claimable(now);
            // Documents marked for removal are taken even with an empty outbox: one whose delete
            // failed after its last events were pulled is deleted by a later pass.
            // Each clause implies the filter of one of the partial indexes, so each is an index
            // scan.
            let filter = doc! { "$or": [
                { format!("{FIELD}._id"): { "$exists": true }, "$or": claimable.clone() },
                { PENDING_REMOVAL: true, "$or": claimable },
            ] };
            let find = async {
                self.collection
                    .find(filter)
                    .projection(doc! { FIELD: 1 })
                    .limit(i64::from(self.settings.batch_size))
                    .await?
                    .try_collect::<Vec<Document>>()
                    .await
            };
            let found = self
                .call("find", find)
                .await
                .context("finding pending outbox events")?;
            if found.is_empty() {
                return Ok(published);
            }
            let documents = self.claim(found, now).await?;
            if documents.is_empty() {
                // Another relay took them between the read and the claim: the next read
                // leaves out what it holds.
                continue;
            }
            let (sent, removed) = self
                .holding_claims(async {
                    let sent =
                        join_all(documents.iter().map(|document| self.send_pending(document)))
                            .await;
                    let removed = self.remove_published(&sent).await;
                    (sent, removed)
                })
                .await;
            removed?;
            published += sent
                .iter()
                .map(|sent| sent.acknowledged.len())
                .sum::<usize>();
            if let Some(error) = sent.into_iter().find_map(|sent| sent.failure) {
                return Err(error);
            }
        }
    }

    /// Runs `work`, renewing this relay's claims every third of their lifetime meanwhile: a
    /// pass that waits on the broker (up to the delivery timeout) keeps its documents, and the
    /// claim's lifetime need only cover the gap between two renewals.
    async fn holding_claims<T>(&self, work: impl Future<Output = T>) -> T {
        let period = (self.settings.claim_ttl / 3).max(Duration::from_millis(1));
        let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = renewals.tick() => {
                    if let Err(error) = self.renew_claims().await {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "renewing the outbox claims failed"
                        );
                    }
                }
            }
        }
    }

    /// Extends every claim this relay still holds by the claim's lifetime from now.
    async fn renew_claims(&self) -> anyhow::Result<()> {
        let renew = self.collection.update_many(
            doc! { format!("{CLAIM}.owner"): &self.owner },
            doc! { "$set": { format!("{CLAIM}.until"): self.claim_end(DateTime::now()) } },
        );
        self.call("update", renew)
            .await
            .context("renewing the outbox claims")?;
        Ok(())
    }

    /// One operation on the collection, bounded by the call timeout and timed.
    async fn call<T, E>(
        &self,
        operation: &'static str,
        work: impl IntoFuture<Output = Result<T, E>>,
    ) -> anyhow::Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        bounded(
            self.call_timeout,
            timed(self.collection.name(), operation, work),
        )
        .await
    }

    /// When a claim taken at `now` ends.
    fn claim_end(&self, now: DateTime) -> DateTime {
        let ttl = i64::try_from(self.settings.claim_ttl.as_millis()).unwrap_or(i64::MAX);
        DateTime::from_millis(now.timestamp_millis().saturating_add(ttl))
    }

    /// The claims this relay may take at `now`: none, expired, or its own.
    fn claimable(&self, now: DateTime) -> Vec<Document> {
        vec![
            doc! { CLAIM: { "$exists": false } },
            doc! { format!("{CLAIM}.until"): { "$lte": now } },
            doc! { format!("{CLAIM}.owner"): &self.owner },
        ]
    }

    /// Claims the documents `found` (read at `now`) that no other relay holds and whose outbox
    /// still starts with the event read, in one command; returns those it claimed. A document
    /// whose first event changed was published by another relay meanwhile: what this one read
    /// of it is stale, and the next pass reads it again.
    async fn claim(&self, found: Vec<Document>, now: DateTime) -> anyhow::Result<Vec<Document>> {
        let until = self.claim_end(now);
        let unchanged: Vec<Document> = found
            .iter()
            .map(|document| {
                let id = document.get("_id").cloned().unwrap_or(Bson::Null);
                match first_event(document) {
                    Some(event) => doc! { "_id": id, format!("{FIELD}.0._id"): event },
                    None => doc! { "_id": id, format!("{FIELD}.0"): { "$exists": false } },
                }
            })
            .collect();
        let claim = self.collection.update_many(
            doc! { "$and": [{ "$or": unchanged }, { "$or": self.claimable(now) }] },
            doc! { "$set": { CLAIM: { "owner": &self.owner, "until": until } } },
        );
        let claimed = self
            .call("update", claim)
            .await
            .context("claiming documents with pending outbox events")?;
        if usize::try_from(claimed.matched_count).ok() == Some(found.len()) {
            return Ok(found);
        }
        // Some were held by another relay, or changed since the read: read back those this
        // pass claimed (its claims, and no other, end at `until`).
        let ids: Vec<Bson> = found
            .iter()
            .filter_map(|document| document.get("_id").cloned())
            .collect();
        let read = async {
            self.collection
                .find(doc! {
                    "_id": { "$in": ids },
                    format!("{CLAIM}.owner"): &self.owner,
                    format!("{CLAIM}.until"): until,
                })
                .projection(doc! { FIELD: 1 })
                .await?
                .try_collect::<Vec<Document>>()
                .await
        };
        self.call("find", read)
            .await
            .context("reading the claimed documents")
    }

    /// Sets the backlog gauges: events still pending, and the age of the oldest.
    pub async fn report_backlog(&self) -> anyhow::Result<()> {
        let pipeline = [
            doc! { "$match": { format!("{FIELD}._id"): { "$exists": true } } },
            doc! { "$project": {
                "pending": { "$size": format!("${FIELD}") },
                "oldest": { "$min": format!("${FIELD}.createdAt") },
            } },
            doc! { "$group": {
                "_id": Bson::Null,
                "pending": { "$sum": "$pending" },
                "oldest": { "$min": "$oldest" },
            } },
        ];
        let aggregate = async { self.collection.aggregate(pipeline).await?.try_next().await };
        let summary = self
            .call("aggregate", aggregate)
            .await
            .context("measuring the outbox backlog")?;
        let (pending, oldest_age) = match summary {
            None => (0, Duration::ZERO),
            Some(summary) => {
                let pending = match summary.get("pending") {
                    Some(Bson::Int32(count)) => u64::try_from(*count).unwrap_or(0),
                    Some(Bson::Int64(count)) => u64::try_from(*count).unwrap_or(0),
                    _ => 0,
                };
                let age = summary
                    .get_datetime("oldest")
                    .map(|oldest| {
                        let millis = DateTime::now().timestamp_millis() - oldest.timestamp_millis();
                        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
                    })
                    .unwrap_or(Duration::ZERO);
                (pending, age)
            }
        };
        self.outbox.set_pending(pending);
        crate::metrics::set_outbox_backlog(self.collection.name(), pending, oldest_age);
        Ok(())
    }

    /// Publishes one document's pending events in order, returning those the broker took and
    /// those that can never be published.
    async fn send_pending(&self, document: &Document) -> Sent {
        let id = document.get("_id").cloned().unwrap_or(Bson::Null);
        let entries = match document.get(FIELD) {
            None => &[][..],
            Some(Bson::Array(entries)) => entries.as_slice(),
            Some(other) => {
                return Sent {
                    failure: Some(anyhow::anyhow!(
                        "the outbox of {id} is {other}, not an array"
                    )),
                    id,
                    acknowledged: Vec::new(),
                    refused: Vec::new(),
                };
            }
        };
        // Only the entries in front of the first one this relay cannot read are sent: those
        // behind it wait for it, so that their order is kept.
        let mut readable = Vec::with_capacity(entries.len());
        let mut unreadable = None;
        for entry in entries {
            let message = entry
                .as_document()
                .context("outbox entry is not a document")
                .and_then(OutboxMessage::from_document);
            match message {
                Ok(message) => readable.push((entry, message)),
                Err(error) => {
                    unreadable = Some(error.context(format!("reading an outbox entry of {id}")));
                    break;
                }
            }
        }
        // Sending them all at once keeps their order: the producer is idempotent, so records to
        // one partition are written in the order they were handed over.
        let attempts = join_all(readable.iter().map(|(_, message)| self.send(message))).await;
        let mut sent = Sent {
            id,
            acknowledged: Vec::new(),
            refused: Vec::new(),
            failure: None,
        };
        // Up to the first event that may still be published later: the rest stay, in order.
        for ((entry, message), attempt) in readable.into_iter().zip(attempts) {
            match attempt {
                Ok(()) => sent.acknowledged.push(message.id),
                Err(reason) if reason.downcast_ref::<kafka::Refused>().is_some() => {
                    sent.refused.push((message.id, entry.clone(), reason));
                }
                Err(error) => {
                    sent.failure = Some(error);
                    return sent;
                }
            }
        }
        sent.failure = unreadable;
        sent
    }

    /// Keeps an event that can never be published in the dead letters, under its id (once,
    /// however often this is retried).
    async fn dead_letter(
        &self,
        document: &Bson,
        event: &str,
        entry: &Bson,
        reason: &anyhow::Error,
    ) -> anyhow::Result<()> {
        let reason = format!("{reason:#}");
        let record = self
            .dead_letters
            .update_one(
                doc! { "_id": event },
                doc! { "$setOnInsert": {
                    "source": document.clone(),
                    "entry": entry.clone(),
                    "reason": &reason,
                    "deadLetteredAt": DateTime::now(),
                } },
            )
            .upsert(true);
        let recorded = bounded(
            self.call_timeout,
            timed(self.dead_letters.name(), "update", record),
        )
        .await
        .with_context(|| format!("keeping the unpublishable event {event}"))?;
        if recorded.upserted_id.is_none() {
            // Kept by an earlier pass, or by another replica's relay.
            return Ok(());
        }
        tracing::error!(
            collection = %self.collection.name(),
            %document,
            event,
            %reason,
            "outbox event dead-lettered"
        );
        crate::metrics::record_outbox_dead_lettered(self.collection.name());
        Ok(())
    }

    /// Keeps the events that can never be published in the dead letters, pulls them and the
    /// acknowledged events from their documents, then deletes the documents marked for removal
    /// that this left empty: two commands for the whole pass, whatever its size, and one for
    /// each dead-lettered event.
    async fn remove_published(&self, sent: &[Sent]) -> anyhow::Result<()> {
        let mut removable: Vec<Vec<&str>> = Vec::with_capacity(sent.len());
        let mut dead_letter_failure = None;
        for sent in sent {
            let mut events: Vec<&str> = sent.acknowledged.iter().map(String::as_str).collect();
            for (event, entry, reason) in &sent.refused {
                // Pulled only once kept: a failure leaves the event for the next pass.
                match self.dead_letter(&sent.id, event, entry, reason).await {
                    Ok(()) => events.push(event),
                    Err(error) => {
                        dead_letter_failure.get_or_insert(error);
                    }
                }
            }
            removable.push(events);
        }
        let touched: Vec<Bson> = sent
            .iter()
            .zip(&removable)
            .filter(|(_, events)| !events.is_empty())
            .map(|(sent, _)| sent.id.clone())
            .collect();
        if !touched.is_empty() {
            // Event ids are unique, so pulling all of the pass's acknowledged ids from each of its
            // documents removes from each exactly its own; events pushed since the read stay.
            // The claim goes with them: the next event of a document goes out with whichever
            // relay is woken by its write.
            let events: Vec<&str> = removable.concat();
            let pull = self.collection.update_many(
                doc! { "_id": { "$in": touched } },
                doc! {
                    "$pull": { FIELD: { "_id": { "$in": events } } },
                    "$unset": { CLAIM: "" },
                },
            );
            self.call("update", pull)
                .await
                .context("removing published events from the outbox")?;
        }
        // The filter, not the documents read before publishing, decides: a document marked for
        // removal while its last events were being published is removed too.
        let drained: Vec<Bson> = sent
            .iter()
            .filter(|sent| sent.failure.is_none())
            .map(|sent| sent.id.clone())
            .collect();
        if drained.is_empty() {
            return dead_letter_failure.map_or(Ok(()), Err);
        }
        let delete = self.collection.delete_many(doc! {
            "_id": { "$in": drained },
            PENDING_REMOVAL: true,
            format!("{FIELD}.0"): { "$exists": false },
        });
        self.call("delete", delete)
            .await
            .context("removing documents whose tombstones were published")?;
        dead_letter_failure.map_or(Ok(()), Err)
    }

    /// Publishes one event in a span of its own, a child of the work that wrote the event; the
    /// record's `traceparent` names this span, so its consumers continue from the send.
    async fn send(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let span = trace::record_span(
            RecordWork::Send,
            &message.topic,
            &ReadHeaderPairs(&message.headers),
        );
        span.set_attribute("messaging.message.id", message.id.clone());
        let mut headers: Vec<(String, Vec<u8>)> = message
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone().into_bytes()))
            .collect();
        TraceContext::of(&span).inject(&mut HeaderPairs(&mut headers));
        let published = kafka::publish(
            &self.producer,
            &Record {
                topic: &message.topic,
                key: message.key.as_deref().map(str::as_bytes),
                payload: message.payload.as_deref().map(str::as_bytes),
                headers: &headers,
            },
        )
        .instrument(span.clone())
        .await;
        if let Err(error) = &published {
            span.set_status(Status::error(error.to_string()));
        }
        published
    }
}

/// The id of the first event in a document's outbox, if it has one.
fn first_event(document: &Document) -> Option<&Bson> {
    document
        .get_array(FIELD)
        .ok()?
        .first()?
        .as_document()?
        .get("_id")
}

/// What one pass did with one document's events.
struct Sent {
    /// The document's `_id`.
    id: Bson,
    /// The ids of the events the broker acknowledged, in outbox order, up to the first that
    /// failed.
    acknowledged: Vec<String>,
    /// The events before that failure that can never be published: id, entry and reason.
    refused: Vec<(String, Bson, anyhow::Error)>,
    /// Why the entry that failed, and those behind it, were not published, if one failed.
    failure: Option<anyhow::Error>,
}
