//! The `customer.orders` collection: one document per customer, its orders inside.

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use platform::http::PageRequest;
use platform::outbox::{self, OutboxMessage};
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, Name, Order};
use uuid::Uuid;

use crate::domain::CustomerOrders;

pub(crate) const COLLECTION: &str = "customer.orders";

/// Event ids remembered per document for deduplication; redeliveries come soon after the
/// original, so the latest hundred are plenty.
const REMEMBERED_EVENTS: i32 = 100;

/// The API's sort properties.
pub(crate) const SORTABLE: [&str; 3] = ["id", "name.lastName", "name.firstName"];

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerOrdersDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: Name,
    contact: Contact,
    addresses: Vec<Address>,
    #[serde(default)]
    orders: Vec<Order>,
    #[serde(default)]
    version: i64,
    /// Ids of the events already applied to this document.
    #[serde(default)]
    applied_events: Vec<String>,
}

/// A stored customer with what guards changes to it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) customer: CustomerOrders,
    pub(crate) version: i64,
    pub(crate) applied_events: Vec<String>,
}

impl Stored {
    pub(crate) fn has_applied(&self, event_id: Option<&str>) -> bool {
        event_id.is_some_and(|id| self.applied_events.iter().any(|applied| applied == id))
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Done,
    /// The document changed or appeared meanwhile: read it again and retry.
    Conflict,
}

/// Read-modify-write attempts before a change gives up.
const CONFLICT_RETRIES: usize = 10;

/// Which document a change applies to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Customer(ObjectId),
    Order(Uuid),
}

/// What a change decided after looking at the current state.
pub(crate) enum Decision<T> {
    /// Store this state with these events.
    Write {
        customer: Box<CustomerOrders>,
        events: Vec<OutboxMessage>,
        value: T,
    },
    /// Nothing to store.
    Keep(T),
}

/// How a change ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Changed<T> {
    Done(T),
    NotFound,
    /// The inbound event with this id was applied before.
    AlreadyApplied,
    /// Other writers kept winning.
    Conflict,
}

#[derive(Clone)]
pub(crate) struct CustomerOrdersRepository {
    collection: Collection<Document>,
}

impl CustomerOrdersRepository {
    pub(crate) fn new(database: &Database) -> Self {
        CustomerOrdersRepository {
            collection: database.collection(COLLECTION),
        }
    }

    pub(crate) fn collection(&self) -> Collection<Document> {
        self.collection.clone()
    }

    pub(crate) async fn create_indexes(&self) -> anyhow::Result<()> {
        self.collection
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "orders.guid": 1 })
                    .options(
                        IndexOptions::builder()
                            .name("order_guid".to_owned())
                            .build(),
                    )
                    .build(),
            )
            .await
            .context("creating the customer orders indexes")?;
        Ok(())
    }

    pub(crate) async fn find(&self, id: ObjectId) -> anyhow::Result<Option<Stored>> {
        self.find_one(doc! { "_id": id }).await
    }

    pub(crate) async fn find_by_order(&self, guid: Uuid) -> anyhow::Result<Option<Stored>> {
        self.find_one(doc! { "orders.guid": guid.to_string() })
            .await
    }

    async fn find_one(&self, mut filter: Document) -> anyhow::Result<Option<Stored>> {
        filter.extend(outbox::not_pending_removal());
        let found = self
            .collection
            .find_one(filter)
            .projection(doc! { outbox::FIELD: 0 })
            .await
            .context("reading customer orders")?;
        found.map(|document| read(&document)).transpose()
    }

    pub(crate) async fn page(
        &self,
        page: &PageRequest,
    ) -> anyhow::Result<(Vec<CustomerOrders>, u64)> {
        let filter = outbox::not_pending_removal();
        let total = self
            .collection
            .count_documents(filter.clone())
            .await
            .context("counting customers")?;
        let sort = platform::mongo::page_sort(page);
        let documents: Vec<Document> = self
            .collection
            .find(filter)
            .projection(doc! { outbox::FIELD: 0 })
            .sort(sort)
            .skip(page.offset())
            .limit(i64::try_from(page.size).unwrap_or(i64::MAX))
            .await
            .context("listing customers")?
            .try_collect()
            .await
            .context("listing customers")?;
        let customers = documents
            .iter()
            .map(|document| read(document).map(|stored| stored.customer))
            .collect::<anyhow::Result<_>>()?;
        Ok((customers, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Stored>> {
        let documents: Vec<Document> = self
            .collection
            .find(outbox::not_pending_removal())
            .projection(doc! { outbox::FIELD: 0 })
            .sort(doc! { "_id": 1 })
            .await
            .context("listing customers")?
            .try_collect()
            .await
            .context("listing customers")?;
        documents.iter().map(read).collect()
    }

    /// Stores a customer seen for the first time.
    pub(crate) async fn insert(
        &self,
        customer: &CustomerOrders,
        event_id: Option<&str>,
    ) -> anyhow::Result<Written> {
        let document = platform::mongo::to_document(&CustomerOrdersDocument {
            id: customer.id,
            name: customer.name.clone(),
            contact: customer.contact.clone(),
            addresses: customer.addresses.clone(),
            orders: customer.orders.clone(),
            version: 0,
            applied_events: event_id.map(str::to_owned).into_iter().collect(),
        })?;
        match self.collection.insert_one(document).await {
            Ok(_) => Ok(Written::Done),
            Err(error) if platform::mongo::is_duplicate_key(&error) => Ok(Written::Conflict),
            Err(error) => Err(error).context("inserting customer orders"),
        }
    }

    /// Reads the target, lets `decide` choose what to store, and stores it if nobody changed
    /// the document meanwhile, reading again and retrying if somebody did.
    pub(crate) async fn change<T, E: From<anyhow::Error>>(
        &self,
        target: Target,
        event_id: Option<&str>,
        mut decide: impl FnMut(&Stored) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E> {
        for _ in 0..CONFLICT_RETRIES {
            let found = match target {
                Target::Customer(id) => self.find(id).await?,
                Target::Order(guid) => self.find_by_order(guid).await?,
            };
            let Some(stored) = found else {
                return Ok(Changed::NotFound);
            };
            if stored.has_applied(event_id) {
                return Ok(Changed::AlreadyApplied);
            }
            match decide(&stored)? {
                Decision::Keep(value) => return Ok(Changed::Done(value)),
                Decision::Write {
                    customer,
                    events,
                    value,
                } => {
                    if self.update(&stored, &customer, event_id, &events).await? == Written::Done {
                        return Ok(Changed::Done(value));
                    }
                }
            }
        }
        Ok(Changed::Conflict)
    }

    /// Stores the new state of a customer read at `stored.version`, with the events that
    /// announce it, and remembers `event_id` as applied.
    async fn update(
        &self,
        stored: &Stored,
        customer: &CustomerOrders,
        event_id: Option<&str>,
        events: &[OutboxMessage],
    ) -> anyhow::Result<Written> {
        let mut push = outbox::push(events);
        if let Some(event_id) = event_id {
            push.insert(
                "appliedEvents",
                doc! { "$each": [event_id], "$slice": -REMEMBERED_EVENTS },
            );
        }
        let update = doc! {
            "$set": {
                "name": platform::mongo::to_bson(&customer.name)?,
                "contact": platform::mongo::to_bson(&customer.contact)?,
                "addresses": platform::mongo::to_bson(&customer.addresses)?,
                "orders": platform::mongo::to_bson(&customer.orders)?,
                "version": stored.version + 1,
            },
            "$push": push,
        };
        let filter = doc! { "_id": customer.id, "version": stored.version };
        let result = self
            .collection
            .update_one(filter, update)
            .await
            .context("updating customer orders")?;
        Ok(if result.matched_count == 1 {
            Written::Done
        } else {
            Written::Conflict
        })
    }

    /// Removes a customer's copy. Its pending events are published first: the relay deletes a
    /// document marked for removal once its outbox is empty.
    pub(crate) async fn remove(&self, id: ObjectId) -> anyhow::Result<()> {
        self.collection
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { outbox::PENDING_REMOVAL: true } },
            )
            .await
            .context("marking customer orders for removal")?;
        self.collection
            .delete_one(doc! {
                "_id": id,
                outbox::PENDING_REMOVAL: true,
                format!("{}.0", outbox::FIELD): { "$exists": false },
            })
            .await
            .context("removing customer orders")?;
        Ok(())
    }
}

fn read(document: &Document) -> anyhow::Result<Stored> {
    let stored: CustomerOrdersDocument = platform::mongo::from_document(document)?;
    Ok(Stored {
        customer: CustomerOrders {
            id: stored.id,
            name: stored.name,
            contact: stored.contact,
            addresses: stored.addresses,
            orders: stored.orders,
        },
        version: stored.version,
        applied_events: stored.applied_events,
    })
}
