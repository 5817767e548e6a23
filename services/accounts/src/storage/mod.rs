//! The `customer.accounts` collection.

use anyhow::Context;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use platform::documents::{Documents, Inserted};
use platform::outbox::{Outbox, OutboxMessage};
use platform::paging::PageRequest;
use platform::settings::DocumentLimits;
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, Name};

use crate::domain::{CreditCard, Customer, CustomerDraft};

pub(crate) const COLLECTION: &str = "customer.accounts";

/// A customer as stored: the draft's fields beside `_id` and a version that guards
/// read-modify-write changes.
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
    documents: Documents,
}

/// The API's sort properties and the stored fields they sort by.
pub(crate) const SORTABLE: [&str; 4] = ["id", "name.lastName", "name.firstName", "contact.email"];

impl CustomerRepository {
    pub(crate) fn new(database: &Database, outbox: Outbox, limits: DocumentLimits) -> Self {
        CustomerRepository {
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
        let document = platform::mongo::to_document(&to_document(customer, 0))?;
        match self.documents.insert(document, events).await? {
            Inserted::New => Ok(()),
            Inserted::Duplicate => anyhow::bail!("a customer with the id {} exists", customer.id),
        }
    }

    pub(crate) async fn find(&self, id: ObjectId) -> anyhow::Result<Option<Versioned>> {
        let found = self
            .documents
            .find_one_as::<CustomerDocument>(doc! { "_id": id })
            .await?;
        Ok(found.map(CustomerDocument::into_customer))
    }

    pub(crate) async fn page(&self, page: &PageRequest) -> anyhow::Result<(Vec<Customer>, u64)> {
        let (documents, total) = self.documents.page(page).await?;
        let customers = documents
            .iter()
            .map(|document| read(document).map(|(customer, _)| customer))
            .collect::<anyhow::Result<_>>()?;
        Ok((customers, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Versioned>> {
        let documents = self.documents.find_all(Document::new()).await?;
        documents.iter().map(read).collect()
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
        self.documents
            .update(
                doc! { "_id": customer.id, "version": version },
                doc! { "$set": state },
                events,
            )
            .await
    }

    /// Removes a customer read at `version`, with its tombstone; false if it changed or went
    /// away meanwhile. The removal is the customer's next version.
    pub(crate) async fn remove(
        &self,
        id: ObjectId,
        version: i64,
        events: &[OutboxMessage],
    ) -> anyhow::Result<bool> {
        self.documents
            .remove(
                doc! { "_id": id, "version": version },
                doc! { "$inc": { "version": 1 } },
                events,
            )
            .await
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
