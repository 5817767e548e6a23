//! The `fulfillment.requests` collection: one document per order.

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
use shared_events::{Address, Contact, Name, Order, OrderStatusType, ShippingMethod};
use uuid::Uuid;

use crate::domain::Fulfillment;

pub(crate) const COLLECTION: &str = "fulfillment.requests";

/// The API's sort properties.
pub(crate) const SORTABLE: [&str; 3] = ["id", "timestamp", "name.lastName"];

/// The field that holds the order's guid, under a unique index.
const ORDER_GUID: &str = "orderGuid";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    /// The order's guid, unique: one fulfillment per order however often it is requested.
    order_guid: String,
    /// The order's latest status, kept beside the history so it can be queried.
    status: Option<OrderStatusType>,
    timestamp: i64,
    name: Name,
    contact: Contact,
    address: Address,
    order: Order,
    shipping_method: Option<ShippingMethod>,
    #[serde(default)]
    traceparent: String,
}

#[derive(Clone)]
pub(crate) struct FulfillmentRepository {
    documents: Documents,
}

impl FulfillmentRepository {
    pub(crate) fn new(database: &Database, outbox: Outbox, limits: DocumentLimits) -> Self {
        FulfillmentRepository {
            documents: Documents::new(database, COLLECTION, outbox, limits)
                .with_unique_key(ORDER_GUID),
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
        let unique_order = IndexModel::builder()
            .keys(doc! { ORDER_GUID: 1 })
            .options(
                IndexOptions::builder()
                    .name("order_guid".to_owned())
                    .unique(true)
                    .build(),
            )
            .build();
        let by_status = IndexModel::builder()
            .keys(doc! { "status": 1 })
            .options(IndexOptions::builder().name("status".to_owned()).build())
            .build();
        self.documents
            .collection()
            .create_indexes([unique_order, by_status])
            .await
            .context("creating the fulfillment indexes")?;
        Ok(())
    }

    /// Stores a new fulfillment; a duplicate if its order has one already.
    pub(crate) async fn insert(&self, fulfillment: &Fulfillment) -> anyhow::Result<Inserted> {
        let document = platform::mongo::to_document(&to_document(fulfillment))?;
        self.documents.insert(document, &[]).await
    }

    pub(crate) async fn find(&self, id: ObjectId) -> anyhow::Result<Option<Fulfillment>> {
        self.find_one(doc! { "_id": id }).await
    }

    /// The fulfillment of an order.
    pub(crate) async fn find_by_order(&self, guid: Uuid) -> anyhow::Result<Option<Fulfillment>> {
        self.find_one(doc! { ORDER_GUID: guid.to_string() }).await
    }

    async fn find_one(&self, filter: Document) -> anyhow::Result<Option<Fulfillment>> {
        let found = self.documents.find_one(filter).await?;
        found.map(|document| read(&document)).transpose()
    }

    pub(crate) async fn with_status(
        &self,
        status: OrderStatusType,
    ) -> anyhow::Result<Vec<Fulfillment>> {
        let filter = doc! { "status": platform::mongo::to_bson(&status)? };
        let documents = self.documents.find_all(filter).await?;
        documents.iter().map(read).collect()
    }

    pub(crate) async fn page(&self, page: &PageRequest) -> anyhow::Result<(Vec<Fulfillment>, u64)> {
        let (documents, total) = self.documents.page(page).await?;
        let fulfillments = documents.iter().map(read).collect::<anyhow::Result<_>>()?;
        Ok((fulfillments, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Fulfillment>> {
        let documents = self.documents.find_all(Document::new()).await?;
        documents.iter().map(read).collect()
    }

    /// Reads the fulfillment `id` and stores what `decide` makes of it (given the fulfillment
    /// and the version its change is stored at), reading again if another request changed it
    /// meanwhile.
    pub(crate) async fn change<T, E: From<anyhow::Error>>(
        &self,
        id: ObjectId,
        mut decide: impl FnMut(Fulfillment, i64) -> Result<Decision<T>, E>,
    ) -> Result<Changed<T>, E> {
        self.documents
            .change(doc! { "_id": id }, |stored: FulfillmentDocument, next| {
                decide(fulfillment(stored), next)
            })
            .await
    }
}

/// The write that stores `fulfillment` as its whole new state, with the events that announce
/// it.
pub(crate) fn replacement<T>(
    fulfillment: &Fulfillment,
    events: Vec<OutboxMessage>,
    value: T,
) -> anyhow::Result<Decision<T>> {
    Decision::set(&to_document(fulfillment), events, value)
}

fn to_document(fulfillment: &Fulfillment) -> FulfillmentDocument {
    FulfillmentDocument {
        id: fulfillment.id,
        order_guid: fulfillment.order.guid.to_string(),
        status: fulfillment.status(),
        timestamp: fulfillment.timestamp,
        name: fulfillment.name.clone(),
        contact: fulfillment.contact.clone(),
        address: fulfillment.address.clone(),
        order: fulfillment.order.clone(),
        shipping_method: fulfillment.shipping_method,
        traceparent: fulfillment.traceparent.clone(),
    }
}

fn read(document: &Document) -> anyhow::Result<Fulfillment> {
    platform::mongo::from_document(document).map(fulfillment)
}

fn fulfillment(stored: FulfillmentDocument) -> Fulfillment {
    Fulfillment {
        id: stored.id,
        timestamp: stored.timestamp,
        name: stored.name,
        contact: stored.contact,
        address: stored.address,
        order: stored.order,
        shipping_method: stored.shipping_method,
        traceparent: stored.traceparent,
    }
}
