//! The `customer.accounts` collection.

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use platform::http::PageRequest;
use platform::outbox::{self, OutboxMessage};
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, Name};

use crate::domain::{CreditCard, Customer, CustomerDraft};

pub(crate) const COLLECTION: &str = "customer.accounts";

/// A customer as stored: the draft's fields beside `_id` and a version that guards
/// read-modify-write changes. The outbox and removal fields are managed by update operators.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: Name,
    contact: Contact,
    addresses: Vec<Address>,
    credit_cards: Vec<CreditCard>,
    #[serde(default)]
    version: i64,
}

impl CustomerDocument {
    fn into_customer(self) -> (Customer, i64) {
        let customer = Customer {
            id: self.id,
            draft: CustomerDraft {
                name: self.name,
                contact: self.contact,
                addresses: self.addresses,
                credit_cards: self.credit_cards,
            },
        };
        (customer, self.version)
    }
}

/// A stored customer and the version it was read at.
pub(crate) type Versioned = (Customer, i64);

#[derive(Clone)]
pub(crate) struct CustomerRepository {
    collection: Collection<Document>,
}

/// The API's sort properties and the stored fields they sort by.
pub(crate) const SORTABLE: [&str; 4] = ["id", "name.lastName", "name.firstName", "contact.email"];

impl CustomerRepository {
    pub(crate) fn new(database: &Database) -> Self {
        CustomerRepository {
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
                    .keys(doc! { "contact.email": 1 })
                    .options(IndexOptions::builder().name("email".to_owned()).build())
                    .build(),
            )
            .await
            .context("creating the customer indexes")?;
        Ok(())
    }

    pub(crate) async fn insert(
        &self,
        customer: &Customer,
        events: &[OutboxMessage],
    ) -> anyhow::Result<()> {
        let mut document = platform::mongo::to_document(&to_document(customer, 0))?;
        document.insert(
            outbox::FIELD,
            events
                .iter()
                .map(OutboxMessage::to_bson)
                .collect::<Vec<_>>(),
        );
        self.collection
            .insert_one(document)
            .await
            .context("inserting a customer")?;
        Ok(())
    }

    pub(crate) async fn find(&self, id: ObjectId) -> anyhow::Result<Option<Versioned>> {
        let filter = live(doc! { "_id": id });
        let found = self
            .collection
            .find_one(filter)
            .projection(without_outbox())
            .await
            .context("reading a customer")?;
        found.map(|document| read(&document)).transpose()
    }

    pub(crate) async fn page(&self, page: &PageRequest) -> anyhow::Result<(Vec<Customer>, u64)> {
        let filter = outbox::not_pending_removal();
        let total = self
            .collection
            .count_documents(filter.clone())
            .await
            .context("counting customers")?;
        let sort = platform::mongo::page_sort(page);
        let customers = self
            .collection
            .find(filter)
            .projection(without_outbox())
            .sort(sort)
            .skip(page.offset())
            .limit(i64::try_from(page.size).unwrap_or(i64::MAX))
            .await
            .context("listing customers")?
            .try_collect::<Vec<_>>()
            .await
            .context("listing customers")?;
        let customers = customers
            .iter()
            .map(|document| read(document).map(|(customer, _)| customer))
            .collect::<anyhow::Result<_>>()?;
        Ok((customers, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Customer>> {
        let documents: Vec<Document> = self
            .collection
            .find(outbox::not_pending_removal())
            .projection(without_outbox())
            .sort(doc! { "_id": 1 })
            .await
            .context("listing customers")?
            .try_collect()
            .await
            .context("listing customers")?;
        documents
            .iter()
            .map(|document| read(document).map(|(customer, _)| customer))
            .collect()
    }

    /// Stores a customer's new state if it is still at `version`; false if it changed or
    /// went away meanwhile.
    pub(crate) async fn replace(
        &self,
        customer: &Customer,
        version: i64,
        events: &[OutboxMessage],
    ) -> anyhow::Result<bool> {
        let mut state = platform::mongo::to_document(&to_document(customer, version + 1))?;
        state.remove("_id");
        let result = self
            .collection
            .update_one(
                live(doc! { "_id": customer.id, "version": version }),
                doc! { "$set": state, "$push": outbox::push(events) },
            )
            .await
            .context("updating a customer")?;
        Ok(result.matched_count == 1)
    }

    /// Marks a customer for removal with its tombstone; false if there is no such customer.
    pub(crate) async fn remove(
        &self,
        id: ObjectId,
        events: &[OutboxMessage],
    ) -> anyhow::Result<bool> {
        let result = self
            .collection
            .update_one(
                live(doc! { "_id": id }),
                doc! {
                    "$set": { outbox::PENDING_REMOVAL: true },
                    "$inc": { "version": 1 },
                    "$push": outbox::push(events),
                },
            )
            .await
            .context("removing a customer")?;
        Ok(result.matched_count == 1)
    }
}

fn to_document(customer: &Customer, version: i64) -> CustomerDocument {
    let draft = customer.draft.clone();
    CustomerDocument {
        id: customer.id,
        name: draft.name,
        contact: draft.contact,
        addresses: draft.addresses,
        credit_cards: draft.credit_cards,
        version,
    }
}

fn read(document: &Document) -> anyhow::Result<Versioned> {
    platform::mongo::from_document::<CustomerDocument>(document)
        .map(CustomerDocument::into_customer)
}

fn live(mut filter: Document) -> Document {
    filter.extend(outbox::not_pending_removal());
    filter
}

fn without_outbox() -> Document {
    doc! { outbox::FIELD: 0 }
}
