//! A customer as orders knows it, with that customer's orders.

use std::num::NonZeroU32;

use mongodb::bson::oid::ObjectId;
use serde::Deserialize;
use shared_events::{
    Address, AddressType, Contact, CustomerChangeEvent, FulfillmentRequestEvent, Name, Order,
    OrderItem, OrderStatusEvent, OrderStatusType, TransitionError,
};
use utoipa::ToSchema;
use uuid::Uuid;

use super::catalog;

/// The copy of an accounts customer, with the orders placed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerOrders {
    /// The accounts customer id.
    pub id: ObjectId,
    pub name: Name,
    pub contact: Contact,
    pub addresses: Vec<Address>,
    pub orders: Vec<Order>,
    /// The accounts version of the customer this copy holds (`aggregateVersion` of the change
    /// it came from); none for a copy made from a change that carried no version.
    pub customer_version: Option<i64>,
}

/// What a customer change did to the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyChange {
    /// Name, contact or addresses changed.
    Applied,
    /// They were already those; only the version the copy holds may have moved on.
    Unchanged,
    /// The change is not newer than the copy: it arrived after a later one and is ignored.
    Stale,
}

/// An order as a client places it: products by guid, and quantities.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    pub order_items: Vec<NewOrderItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct NewOrderItem {
    pub product: ProductReference,
    #[schema(minimum = 1, example = 2)]
    pub quantity: u32,
}

/// A product named by its guid; title, description and price come from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct ProductReference {
    #[schema(example = "7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37")]
    pub guid: Uuid,
}

/// What recording a status change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    Added,
    /// The same status with the same timestamp and note is already in the history.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("no order has the guid {0}")]
    UnknownOrder(Uuid),
    #[error("no product has the guid {0}")]
    UnknownProduct(Uuid),
    #[error("an order needs at least one item")]
    NoItems,
    #[error("orderItems[{0}].quantity must be at least 1")]
    ZeroQuantity(usize),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the customer has no SHIPPING address to fulfill the order to")]
    NoShippingAddress,
}

impl CustomerOrders {
    /// A new copy from the first change event seen for the customer, at `version` if the
    /// event carried one.
    pub fn from_change(id: ObjectId, event: &CustomerChangeEvent, version: Option<i64>) -> Self {
        CustomerOrders {
            id,
            name: event.name.clone(),
            contact: event.contact.clone(),
            addresses: event.addresses.clone(),
            orders: Vec::new(),
            customer_version: version,
        }
    }

    /// Takes the name, contact and addresses of a change at `version`, leaving the orders
    /// alone, unless the copy already holds that version or a later one. A change without a
    /// version (upstream's producers send none) is applied as it comes.
    pub fn apply_change(
        &mut self,
        event: &CustomerChangeEvent,
        version: Option<i64>,
    ) -> CopyChange {
        if let (Some(incoming), Some(held)) = (version, self.customer_version)
            && incoming <= held
        {
            return CopyChange::Stale;
        }
        let unchanged = self.name == event.name
            && self.contact == event.contact
            && self.addresses == event.addresses;
        self.name = event.name.clone();
        self.contact = event.contact.clone();
        self.addresses = event.addresses.clone();
        if version.is_some() {
            self.customer_version = version;
        }
        if unchanged {
            CopyChange::Unchanged
        } else {
            CopyChange::Applied
        }
    }

    pub fn order(&self, guid: Uuid) -> Option<&Order> {
        self.orders.iter().find(|order| order.guid == guid)
    }

    fn order_mut(&mut self, guid: Uuid) -> Result<&mut Order, OrderError> {
        self.orders
            .iter_mut()
            .find(|order| order.guid == guid)
            .ok_or(OrderError::UnknownOrder(guid))
    }

    /// Records a status change reported by fulfillment. The history stays in timestamp order
    /// whatever order changes arrive in, and the same change twice is recorded once.
    pub fn add_status(
        &mut self,
        guid: Uuid,
        status: OrderStatusEvent,
    ) -> Result<StatusOutcome, OrderError> {
        let history = &mut self.order_mut(guid)?.order_status_events;
        if history.contains(&status) {
            return Ok(StatusOutcome::Duplicate);
        }
        let position = history
            .iter()
            .position(|existing| existing.timestamp > status.timestamp)
            .unwrap_or(history.len());
        history.insert(position, status);
        Ok(StatusOutcome::Added)
    }

    /// Places an order, CREATED at `now`, with the catalog's products.
    pub fn place_order(&mut self, new: NewOrder, now: i64) -> Result<Order, OrderError> {
        if new.order_items.is_empty() {
            return Err(OrderError::NoItems);
        }
        let order_items = new
            .order_items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                Ok(OrderItem {
                    product: catalog::find(item.product.guid)
                        .ok_or(OrderError::UnknownProduct(item.product.guid))?,
                    quantity: NonZeroU32::new(item.quantity)
                        .ok_or(OrderError::ZeroQuantity(index))?,
                })
            })
            .collect::<Result<_, OrderError>>()?;
        let order = Order {
            guid: Uuid::new_v4(),
            order_status_events: vec![status_at(OrderStatusType::Created, now)],
            order_items,
        };
        self.orders.push(order.clone());
        Ok(order)
    }

    /// Approves a CREATED order and returns the request to fulfill it.
    pub fn approve(&mut self, guid: Uuid, now: i64) -> Result<FulfillmentRequestEvent, OrderError> {
        let order = self.order(guid).ok_or(OrderError::UnknownOrder(guid))?;
        OrderStatusType::transition(order.current_status(), OrderStatusType::Approved)?;
        // Checked before changing anything, so that a refused approval changes nothing.
        self.shipping_address()?;
        self.order_mut(guid)?
            .order_status_events
            .push(status_at(OrderStatusType::Approved, now));
        let order = self.order(guid).ok_or(OrderError::UnknownOrder(guid))?;
        self.fulfillment_request(order, now)
    }

    /// The requests to fulfill every order whose latest status is APPROVED.
    pub fn approved_fulfillment_requests(
        &self,
        now: i64,
    ) -> Result<Vec<FulfillmentRequestEvent>, OrderError> {
        self.orders
            .iter()
            .filter(|order| order.current_status() == Some(OrderStatusType::Approved))
            .map(|order| self.fulfillment_request(order, now))
            .collect()
    }

    fn fulfillment_request(
        &self,
        order: &Order,
        now: i64,
    ) -> Result<FulfillmentRequestEvent, OrderError> {
        Ok(FulfillmentRequestEvent {
            timestamp: now,
            name: self.name.clone(),
            contact: self.contact.clone(),
            address: self.shipping_address()?.clone(),
            order: order.clone(),
        })
    }

    fn shipping_address(&self) -> Result<&Address, OrderError> {
        self.addresses
            .iter()
            .find(|address| address.address_type == AddressType::Shipping)
            .ok_or(OrderError::NoShippingAddress)
    }
}

fn status_at(status: OrderStatusType, now: i64) -> OrderStatusEvent {
    OrderStatusEvent {
        timestamp: now,
        order_status_type: status,
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sample;

    fn change_event() -> CustomerChangeEvent {
        let fixture = include_str!("../../../../shared-events/fixtures/customer-change-event.json");
        serde_json::from_str(fixture).unwrap()
    }

    fn customer_with_sample_orders() -> CustomerOrders {
        let event = change_event();
        let mut customer =
            CustomerOrders::from_change(ObjectId::parse_str(&event.id).unwrap(), &event, Some(1));
        customer.orders = sample::orders(1_000, &mut rand::rng());
        customer
    }

    fn status(status: OrderStatusType, timestamp: i64) -> OrderStatusEvent {
        OrderStatusEvent {
            timestamp,
            order_status_type: status,
            note: None,
        }
    }

    #[test]
    fn a_change_replaces_name_contact_and_addresses_but_keeps_orders() {
        let mut customer = customer_with_sample_orders();
        let mut event = change_event();
        event.contact.email = "new@example.com".into();
        assert_eq!(customer.apply_change(&event, Some(2)), CopyChange::Applied);
        assert_eq!(customer.contact.email, "new@example.com");
        assert_eq!(customer.orders.len(), 5);
        assert_eq!(customer.customer_version, Some(2));
        assert_eq!(
            customer.apply_change(&event, Some(3)),
            CopyChange::Unchanged,
            "the same values again change nothing but the version held"
        );
        assert_eq!(customer.customer_version, Some(3));
    }

    #[test]
    fn a_change_older_than_the_copy_is_stale_and_changes_nothing() {
        let mut customer = customer_with_sample_orders();
        let mut newer = change_event();
        newer.contact.email = "newer@example.com".into();
        assert_eq!(customer.apply_change(&newer, Some(5)), CopyChange::Applied);
        let mut older = change_event();
        older.contact.email = "older@example.com".into();
        for version in [4, 5] {
            assert_eq!(
                customer.apply_change(&older, Some(version)),
                CopyChange::Stale
            );
        }
        assert_eq!(customer.contact.email, "newer@example.com");
        assert_eq!(customer.customer_version, Some(5));
        assert_eq!(
            customer.apply_change(&older, None),
            CopyChange::Applied,
            "a change without a version is applied as it comes"
        );
        assert_eq!(customer.customer_version, Some(5));
    }

    #[test]
    fn statuses_keep_timestamp_order_and_are_recorded_once() {
        let mut customer = customer_with_sample_orders();
        let guid = customer.orders[4].guid;
        let shipped = status(OrderStatusType::Shipped, 3_000);
        let processing = status(OrderStatusType::Processing, 2_000);
        assert_eq!(
            customer.add_status(guid, shipped.clone()),
            Ok(StatusOutcome::Added)
        );
        assert_eq!(
            customer.add_status(guid, processing.clone()),
            Ok(StatusOutcome::Added)
        );
        assert_eq!(
            customer.add_status(guid, shipped),
            Ok(StatusOutcome::Duplicate)
        );
        let history: Vec<OrderStatusType> = customer.orders[4]
            .order_status_events
            .iter()
            .map(|event| event.order_status_type)
            .collect();
        use OrderStatusType::*;
        assert_eq!(history, [Created, Approved, Processing, Shipped]);
        assert_eq!(
            customer.add_status(Uuid::nil(), processing),
            Err(OrderError::UnknownOrder(Uuid::nil()))
        );
    }

    #[test]
    fn placing_an_order_takes_catalog_products_and_starts_created() {
        let mut customer = customer_with_sample_orders();
        let new: NewOrder = serde_json::from_value(serde_json::json!({"orderItems": [
            {"product": {"guid": "7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37", "price": 0.01}, "quantity": 2}
        ]}))
        .unwrap();
        let order = customer.place_order(new, 5_000).unwrap();
        assert_eq!(order.current_status(), Some(OrderStatusType::Created));
        assert_eq!(
            order.order_items[0].product.price.unwrap().to_string(),
            "11.99"
        );
        assert_eq!(customer.orders.len(), 6);
    }

    #[test]
    fn placing_refuses_unknown_products_zero_quantities_and_empty_orders() {
        let mut customer = customer_with_sample_orders();
        let item = |guid: Uuid, quantity| NewOrderItem {
            product: ProductReference { guid },
            quantity,
        };
        let green = Uuid::parse_str("7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37").unwrap();
        assert_eq!(
            customer.place_order(
                NewOrder {
                    order_items: vec![]
                },
                0
            ),
            Err(OrderError::NoItems)
        );
        assert_eq!(
            customer.place_order(
                NewOrder {
                    order_items: vec![item(Uuid::nil(), 1)]
                },
                0
            ),
            Err(OrderError::UnknownProduct(Uuid::nil()))
        );
        assert_eq!(
            customer.place_order(
                NewOrder {
                    order_items: vec![item(green, 1), item(green, 0)]
                },
                0
            ),
            Err(OrderError::ZeroQuantity(1))
        );
        assert_eq!(customer.orders.len(), 5);
    }

    #[test]
    fn approving_a_created_order_requests_its_fulfillment_to_the_shipping_address() {
        let mut customer = customer_with_sample_orders();
        let new = NewOrder {
            order_items: vec![NewOrderItem {
                product: ProductReference {
                    guid: catalog::products()[0].guid,
                },
                quantity: 1,
            }],
        };
        let guid = customer.place_order(new, 5_000).unwrap().guid;
        let request = customer.approve(guid, 6_000).unwrap();
        assert_eq!(request.order.guid, guid);
        assert_eq!(request.address.address_type, AddressType::Shipping);
        assert_eq!(request.address.description, "My home address");
        assert_eq!(
            request.order.current_status(),
            Some(OrderStatusType::Approved)
        );
        assert_eq!(
            customer.approve(guid, 7_000),
            Err(OrderError::Transition(TransitionError::AlreadyInStatus(
                OrderStatusType::Approved
            )))
        );
    }

    #[test]
    fn only_a_created_order_can_be_approved_and_a_refusal_changes_nothing() {
        let mut customer = customer_with_sample_orders();
        let rejected = customer.orders[0].guid;
        assert!(matches!(
            customer.approve(rejected, 0),
            Err(OrderError::Transition(TransitionError::Illegal { .. }))
        ));
        let new = NewOrder {
            order_items: vec![NewOrderItem {
                product: ProductReference {
                    guid: catalog::products()[0].guid,
                },
                quantity: 1,
            }],
        };
        let guid = customer.place_order(new, 0).unwrap().guid;
        customer
            .addresses
            .retain(|address| address.address_type != AddressType::Shipping);
        let before = customer.clone();
        assert_eq!(
            customer.approve(guid, 1),
            Err(OrderError::NoShippingAddress)
        );
        assert_eq!(customer, before);
    }

    #[test]
    fn only_approved_orders_are_sent_for_fulfillment() {
        let customer = customer_with_sample_orders();
        let requests = customer.approved_fulfillment_requests(9_000).unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].order.guid, customer.orders[4].guid);
        assert_eq!(requests[0].timestamp, 9_000);
    }
}
