//! The `fulfillment.requests` collection: one document per order.

use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use platform::http::PageRequest;
use platform::outbox::{self, OutboxMessage};
use serde::{Deserialize, Serialize};
use shared_events::{Address, Contact, Name, Order, OrderStatusType};

use crate::domain::{Fulfillment, ShippingMethod};

pub(crate) const COLLECTION: &str = "fulfillment.requests";

/// The API's sort properties.
pub(crate) const SORTABLE: [&str; 3] = ["id", "timestamp", "name.lastName"];

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
    #[serde(default)]
    version: i64,
}

/// What storing a new fulfillment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    New,
    /// The order already has its fulfillment.
    Duplicate,
}

#[derive(Clone)]
pub(crate) struct FulfillmentRepository {
    collection: Collection<Document>,
}

impl FulfillmentRepository {
    pub(crate) fn new(database: &Database) -> Self {
        FulfillmentRepository {
            collection: database.collection(COLLECTION),
        }
    }

    pub(crate) fn collection(&self) -> Collection<Document> {
        self.collection.clone()
    }

    pub(crate) async fn create_indexes(&self) -> anyhow::Result<()> {
        let unique_order = IndexModel::builder()
            .keys(doc! { "orderGuid": 1 })
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
        self.collection
            .create_indexes([unique_order, by_status])
            .await
            .context("creating the fulfillment indexes")?;
        Ok(())
    }

    pub(crate) async fn insert(&self, fulfillment: &Fulfillment) -> anyhow::Result<Inserted> {
        let document = platform::mongo::to_document(&to_document(fulfillment, 0))?;
        match self.collection.insert_one(document).await {
            Ok(_) => Ok(Inserted::New),
            Err(error) if platform::mongo::is_duplicate_key(&error) => Ok(Inserted::Duplicate),
            Err(error) => Err(error).context("inserting a fulfillment"),
        }
    }

    pub(crate) async fn find(&self, id: ObjectId) -> anyhow::Result<Option<(Fulfillment, i64)>> {
        let found = self
            .collection
            .find_one(doc! { "_id": id })
            .projection(doc! { outbox::FIELD: 0 })
            .await
            .context("reading a fulfillment")?;
        found.map(|document| read(&document)).transpose()
    }

    pub(crate) async fn with_status(
        &self,
        status: OrderStatusType,
    ) -> anyhow::Result<Vec<(Fulfillment, i64)>> {
        self.find_many(
            doc! { "status": platform::mongo::to_bson(&status)? },
            doc! { "_id": 1 },
            None,
        )
        .await
    }

    pub(crate) async fn page(&self, page: &PageRequest) -> anyhow::Result<(Vec<Fulfillment>, u64)> {
        let total = self
            .collection
            .count_documents(doc! {})
            .await
            .context("counting fulfillments")?;
        let sort = platform::mongo::page_sort(page);
        let fulfillments = self
            .find_many(doc! {}, sort, Some(page))
            .await?
            .into_iter()
            .map(|(fulfillment, _)| fulfillment)
            .collect();
        Ok((fulfillments, total))
    }

    pub(crate) async fn all(&self) -> anyhow::Result<Vec<Fulfillment>> {
        Ok(self
            .find_many(doc! {}, doc! { "_id": 1 }, None)
            .await?
            .into_iter()
            .map(|(fulfillment, _)| fulfillment)
            .collect())
    }

    async fn find_many(
        &self,
        filter: Document,
        sort: Document,
        page: Option<&PageRequest>,
    ) -> anyhow::Result<Vec<(Fulfillment, i64)>> {
        let mut find = self
            .collection
            .find(filter)
            .projection(doc! { outbox::FIELD: 0 })
            .sort(sort);
        if let Some(page) = page {
            find = find
                .skip(page.offset())
                .limit(i64::try_from(page.size).unwrap_or(i64::MAX));
        }
        let documents: Vec<Document> = find
            .await
            .context("listing fulfillments")?
            .try_collect()
            .await
            .context("listing fulfillments")?;
        documents.iter().map(read).collect()
    }

    /// Stores a fulfillment's new state with its events if it is still at `version`; false if
    /// it changed meanwhile.
    pub(crate) async fn update(
        &self,
        fulfillment: &Fulfillment,
        version: i64,
        events: &[OutboxMessage],
    ) -> anyhow::Result<bool> {
        let mut state = platform::mongo::to_document(&to_document(fulfillment, version + 1))?;
        state.remove("_id");
        let result = self
            .collection
            .update_one(
                doc! { "_id": fulfillment.id, "version": version },
                doc! { "$set": state, "$push": outbox::push(events) },
            )
            .await
            .context("updating a fulfillment")?;
        Ok(result.matched_count == 1)
    }
}

fn to_document(fulfillment: &Fulfillment, version: i64) -> FulfillmentDocument {
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
        version,
    }
}

fn read(document: &Document) -> anyhow::Result<(Fulfillment, i64)> {
    let stored: FulfillmentDocument = platform::mongo::from_document(document)?;
    let fulfillment = Fulfillment {
        id: stored.id,
        timestamp: stored.timestamp,
        name: stored.name,
        contact: stored.contact,
        address: stored.address,
        order: stored.order,
        shipping_method: stored.shipping_method,
        traceparent: stored.traceparent,
    };
    Ok((fulfillment, stored.version))
}
