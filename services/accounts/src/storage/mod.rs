//! The `customer.accounts` collection.

use anyhow::Context;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use platform::documents::{Changed, Decision, Documents, Inserted};
use platform::outbox::{Outbox, OutboxMessage};
use platform::paging::PageRequest;
use platform::settings::DocumentLimits;
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, Name};

use crate::domain::{CreditCard, Customer, CustomerDraft};

pub(crate) const COLLECTION: &str = "customer.accounts";

/// A customer as stored: the draft's fields beside `_id` (and the version `Documents` keeps).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    name: Name,
    contact: Contact,
    addresses: Vec<Address>,
    credit_cards: Vec<CreditCard>,
}

impl CustomerDocument {
    fn into_customer(self) -> Customer {
        Customer {
            id: self.id,
            draft: CustomerDraft {
                name: self.name,
                contact: self.contact,
                addresses: self.addresses,
                credit_cards: self.credit_cards,
            },
        }
    }
}

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
        let document = platform::mongo::to_document(&to_document(customer))?;
        match self.documents.insert(document, events).await? {
            Inserted::New => Ok(()),
            Inserted::Duplicate => anyhow::bail!("a customer with the id {} exists", customer.id),
        }
    }

    pub(crate) async fn find(&self, id: ObjectId) -> anyhow::Result<Option<Customer>> {
        let found = self
            .documents
            .find_one_as::<CustomerDocument>(doc! { "_id": id })
            .await?;
        Ok(found.map(CustomerDocument::into_customer))
    }

    pub(crate) async fn page(&self, page: &PageRequest) -> anyhow::Result<(Vec<Customer>, u64)> {
        let (documents, total) = self.documents.page(page).await?;
        let customers = documents.iter().map(read).collect::<anyhow::Result<_>>()?;
        Ok((customers, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Customer>> {
        let documents = self.documents.find_all(Document::new()).await?;
        documents.iter().map(read).collect()
    }

    /// Reads the customer `id` and stores what `decide` makes of it (given the customer and the
    /// version its change is stored at), reading again if another request changed it meanwhile.
    pub(crate) async fn change<T, E: From<anyhow::Error>>(
        &self,
        id: ObjectId,
        mut decide: impl FnMut(Customer, i64) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E> {
        self.documents
            .change(doc! { "_id": id }, |stored: CustomerDocument, next| {
                decide(stored.into_customer(), next)
            })
            .await
    }
}

/// The write that stores `customer` as its whole new state, with the events that announce it.
pub(crate) fn replacement<T>(
    customer: &Customer,
    events: Vec<OutboxMessage>,
    value: T,
) -> anyhow::Result<Decision<T>> {
    Decision::set(&to_document(customer), events, value)
}

fn to_document(customer: &Customer) -> CustomerDocument {
    let draft = customer.draft.clone();
    CustomerDocument {
        id: customer.id,
        name: draft.name,
        contact: draft.contact,
        addresses: draft.addresses,
        credit_cards: draft.credit_cards,
    }
}

fn read(document: &Document) -> anyhow::Result<Customer> {
    platform::mongo::from_document::<CustomerDocument>(document)
        .map(CustomerDocument::into_customer)
}
