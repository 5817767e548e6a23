//! What the orders API answers with.

use platform::http::hal::SelfLinks;
use serde::Serialize;
use shared_events::{Address, Contact, Name, Order};
use utoipa::ToSchema;

use crate::domain::CustomerOrders;

/// A customer copy with its orders.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerOrdersResource {
    /// The accounts customer id, 24 hex digits.
    #[schema(example = "5b189af9a8d05613315b0212")]
    id: String,
    name: Name,
    contact: Contact,
    addresses: Vec<Address>,
    orders: Vec<Order>,
    #[serde(rename = "_links")]
    links: SelfLinks,
}

impl CustomerOrdersResource {
    /// The copy as an item of the collection at `collection` (its URL), which its link names.
    pub(crate) fn new(customer: &CustomerOrders, collection: &str) -> Self {
        let id = customer.id.to_hex();
        CustomerOrdersResource {
            links: SelfLinks::to(format!("{collection}/{id}")),
            id,
            name: customer.name.clone(),
            contact: customer.contact.clone(),
            addresses: customer.addresses.clone(),
            orders: customer.orders.clone(),
        }
    }
}

/// Every customer copy at once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomerOrdersSummary {
    pub(crate) customers: Vec<CustomerOrdersResource>,
}

/// One order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderResource {
    #[serde(flatten)]
    order: Order,
    #[serde(rename = "_links")]
    links: SelfLinks,
}

impl OrderResource {
    pub(crate) fn new(order: Order, base: &str) -> Self {
        OrderResource {
            links: SelfLinks::to(format!("{base}/orders/{}", order.guid)),
            order,
        }
    }

    pub(crate) fn href(&self) -> &str {
        &self.links.self_link.href
    }
}
