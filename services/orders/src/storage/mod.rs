//! The `customer.orders` collection: one document per customer, its orders inside.

use anyhow::Context;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, RawArrayBuf, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use platform::documents::{Changed, Decision, Documents, Inserted};
use platform::outbox::{Outbox, OutboxMessage};
use platform::paging::PageRequest;
use platform::settings::DocumentLimits;
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
    /// The accounts version of the customer held (see `CustomerOrders::customer_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_version: Option<i64>,
    /// Ids of the events already applied to this document, kept as the server sent them: one
    /// copy of the array's bytes, not a string allocated per id.
    #[serde(default)]
    applied_events: RawArrayBuf,
}

/// A stored customer with the inbound events already applied to it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) customer: CustomerOrders,
    pub(crate) applied_events: RawArrayBuf,
}

impl Stored {
    pub(crate) fn has_applied(&self, event_id: Option<&str>) -> bool {
        event_id.is_some_and(|id| {
            self.applied_events
                .into_iter()
                .any(|applied| applied.ok().and_then(|applied| applied.as_str()) == Some(id))
        })
    }

    /// The write that turns this copy into `customer`, with the events that announce the
    /// change, remembering `event_id` as applied.
    pub(crate) fn write<T>(
        &self,
        customer: &CustomerOrders,
        event_id: Option<&str>,
        events: Vec<OutboxMessage>,
        value: T,
    ) -> anyhow::Result<Decision<T>> {
        // Only what differs from the copy read: a customer's change leaves its orders as they
        // were, and an order's status leaves the customer's name and addresses.
        let before = &self.customer;
        let mut set = Document::new();
        set_changed(&mut set, "name", &customer.name, &before.name)?;
        set_changed(&mut set, "contact", &customer.contact, &before.contact)?;
        set_changed(
            &mut set,
            "addresses",
            &customer.addresses,
            &before.addresses,
        )?;
        set_changed(&mut set, "orders", &customer.orders, &before.orders)?;
        set_changed(
            &mut set,
            "customerVersion",
            &customer.customer_version,
            &before.customer_version,
        )?;
        let mut update = doc! { "$set": set };
        if let Some(event_id) = event_id {
            update.insert(
                "$push",
                doc! {
                    "appliedEvents": { "$each": [event_id], "$slice": -REMEMBERED_EVENTS },
                },
            );
        }
        Ok(Decision::Write {
            update,
            events,
            value,
        })
    }
}

#[derive(Clone)]
pub(crate) struct CustomerOrdersRepository {
    documents: Documents,
}

impl CustomerOrdersRepository {
    pub(crate) fn new(database: &Database, outbox: Outbox, limits: DocumentLimits) -> Self {
        CustomerOrdersRepository {
            documents: Documents::new(database, COLLECTION, outbox, limits),
        }
    }

    /// The same repository through another client (an HTTP worker's own).
    pub(crate) fn on(&self, database: &Database) -> Self {
        Self {
            documents: self.documents.on(database),
        }
    }

    pub(crate) fn documents(&self) -> &Documents {
        &self.documents
    }

    pub(crate) async fn create_indexes(&self) -> anyhow::Result<()> {
        self.documents
            .collection()
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

    async fn find_one(&self, filter: Document) -> anyhow::Result<Option<Stored>> {
        let found = self
            .documents
            .find_one_as::<CustomerOrdersDocument>(filter)
            .await?;
        Ok(found.map(stored))
    }

    pub(crate) async fn page(
        &self,
        page: &PageRequest,
    ) -> anyhow::Result<(Vec<CustomerOrders>, u64)> {
        let (documents, total) = self.documents.page(page).await?;
        let customers = documents
            .iter()
            .map(|document| read(document).map(|stored| stored.customer))
            .collect::<anyhow::Result<_>>()?;
        Ok((customers, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Stored>> {
        let documents = self.documents.find_all(Document::new()).await?;
        documents.iter().map(read).collect()
    }

    /// Reads the customer `id` and stores what `decide` makes of it (given the copy read and
    /// the version its change is stored at), reading again if another writer changed it
    /// meanwhile.
    pub(crate) async fn change_customer<T, E: From<anyhow::Error>>(
        &self,
        id: ObjectId,
        decide: impl FnMut(Stored, i64) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E> {
        self.change(doc! { "_id": id }, decide).await
    }

    /// Reads the customer with the order `guid` and stores what `decide` makes of it, as
    /// [`CustomerOrdersRepository::change_customer`] does.
    pub(crate) async fn change_order<T, E: From<anyhow::Error>>(
        &self,
        guid: Uuid,
        decide: impl FnMut(Stored, i64) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E> {
        self.change(doc! { "orders.guid": guid.to_string() }, decide)
            .await
    }

    async fn change<T, E: From<anyhow::Error>>(
        &self,
        filter: Document,
        mut decide: impl FnMut(Stored, i64) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E> {
        self.documents
            .change(filter, |document: CustomerOrdersDocument, next| {
                decide(stored(document), next)
            })
            .await
    }

    /// Stores a customer seen for the first time, with `event_id` applied.
    pub(crate) async fn insert(
        &self,
        customer: &CustomerOrders,
        event_id: Option<&str>,
    ) -> anyhow::Result<Inserted> {
        let document = platform::mongo::to_document(&CustomerOrdersDocument {
            id: customer.id,
            name: customer.name.clone(),
            contact: customer.contact.clone(),
            addresses: customer.addresses.clone(),
            orders: customer.orders.clone(),
            customer_version: customer.customer_version,
            applied_events: event_id.into_iter().collect(),
        })?;
        self.documents.insert(document, &[]).await
    }

    /// Removes a customer's copy. Its pending events are published first: the document is
    /// deleted once its outbox is empty.
    pub(crate) async fn remove(&self, id: ObjectId) -> anyhow::Result<()> {
        self.documents
            .remove(doc! { "_id": id }, Document::new(), &[])
            .await?;
        Ok(())
    }
}

/// Adds `field: after` to a `$set` when it differs from what was read.
fn set_changed<T: PartialEq + Serialize>(
    set: &mut Document,
    field: &str,
    after: &T,
    before: &T,
) -> anyhow::Result<()> {
    if after != before {
        set.insert(field, platform::mongo::to_bson(after)?);
    }
    Ok(())
}

fn read(document: &Document) -> anyhow::Result<Stored> {
    platform::mongo::from_document(document).map(stored)
}

fn stored(stored: CustomerOrdersDocument) -> Stored {
    Stored {
        customer: CustomerOrders {
            id: stored.id,
            name: stored.name,
            contact: stored.contact,
            addresses: stored.addresses,
            orders: stored.orders,
            customer_version: stored.customer_version,
        },
        applied_events: stored.applied_events,
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::oid::ObjectId;
    use mongodb::bson::{doc, from_slice, to_vec};

    use super::{CustomerOrdersDocument, read, stored};

    fn stored_document(applied: &[&str]) -> mongodb::bson::Document {
        doc! {
            "_id": ObjectId::new(),
            "name": {"title": "Dr.", "firstName": "Ada", "lastName": "Lovelace"},
            "contact": {"primaryPhone": "555-000-1111", "email": "ada@example.com"},
            "addresses": [],
            "version": 3,
            "appliedEvents": applied,
        }
    }

    #[test]
    fn the_events_applied_are_found_in_the_array_as_read_from_the_server() {
        let document = stored_document(&["e1", "e2"]);
        let raw: CustomerOrdersDocument = from_slice(&to_vec(&document).unwrap()).unwrap();
        let from_reply = stored(raw);
        let from_tree = read(&document).unwrap();
        for copy in [&from_reply, &from_tree] {
            assert!(copy.has_applied(Some("e2")));
            assert!(!copy.has_applied(Some("e3")));
            assert!(
                !copy.has_applied(None),
                "an event without an id is never a duplicate"
            );
        }
    }

    #[test]
    fn the_applied_events_are_written_as_an_array_of_ids() {
        let document = stored_document(&["e1"]);
        let raw: CustomerOrdersDocument = from_slice(&to_vec(&document).unwrap()).unwrap();
        let written = platform::mongo::to_document(&raw).unwrap();
        assert_eq!(
            written.get_array("appliedEvents").unwrap(),
            &vec!["e1".into()]
        );
    }

    #[test]
    fn a_document_without_applied_events_has_applied_none() {
        let mut document = stored_document(&[]);
        document.remove("appliedEvents");
        let copy = read(&document).unwrap();
        assert!(!copy.has_applied(Some("e1")));
    }
}
