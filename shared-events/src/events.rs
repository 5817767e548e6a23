//! The three events, named as upstream named them on the wire.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::uuid_text;
use crate::{Address, Contact, Name, Order, OrderStatusEvent, ShippingMethod, topics};

/// What every event type tells the code that publishes it.
pub trait Event: Serialize + DeserializeOwned {
    /// The wire name, used in the `eventType` and `__TypeId__` headers.
    const TYPE_NAME: &'static str;
    /// The topic the event is published on.
    const TOPIC: &'static str;

    /// The record key: the id of the aggregate the event is about, so that per-entity order
    /// holds across partitions.
    fn key(&self) -> String;
}

/// A customer was created or changed in accounts. Never carries credit cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerChangeEvent {
    /// The accounts customer id: a MongoDB ObjectId as 24 hex characters.
    pub id: String,
    pub name: Name,
    pub contact: Contact,
    pub addresses: Vec<Address>,
}

impl Event for CustomerChangeEvent {
    const TYPE_NAME: &'static str = "CustomerChangeEvent";
    const TOPIC: &'static str = topics::CUSTOMER_CHANGE;

    fn key(&self) -> String {
        self.id.clone()
    }
}

/// An approved order, with what fulfillment needs to ship it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentRequestEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub name: Name,
    pub contact: Contact,
    /// The customer's first SHIPPING address.
    pub address: Address,
    pub order: Order,
}

impl Event for FulfillmentRequestEvent {
    const TYPE_NAME: &'static str = "FulfillmentRequestEvent";
    const TOPIC: &'static str = topics::ORDER_FULFILL;

    fn key(&self) -> String {
        self.order.guid.to_string()
    }
}

/// Fulfillment moved an order to a new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatusChangeEvent {
    #[serde(with = "uuid_text")]
    #[schema(value_type = String, format = Uuid)]
    pub guid: Uuid,
    pub order_status_event: OrderStatusEvent,
    /// How the order ships, once fulfillment has chosen (from SHIPPED on); absent before, and
    /// in what upstream wrote. Not in upstream's event: its consumers ignore unknown fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<ShippingMethod>,
}

impl Event for OrderStatusChangeEvent {
    const TYPE_NAME: &'static str = "OrderStatusChangeEvent";
    const TOPIC: &'static str = topics::ORDER_STATUS_CHANGE;

    fn key(&self) -> String {
        self.guid.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::{AddressType, Money, OrderStatusType};

    fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn assert_round_trips<E: Event>(name: &str) -> E {
        let golden = fixture(name);
        let event: E = serde_json::from_value(golden.clone()).unwrap();
        assert_eq!(serde_json::to_value(&event).unwrap(), golden, "{name}");
        event
    }

    #[test]
    fn customer_change_fixture_round_trips() {
        let event: CustomerChangeEvent = assert_round_trips("customer-change-event.json");
        assert_eq!(event.key(), "5b189af9a8d05613315b0212");
        assert_eq!(event.addresses[1].address_type, AddressType::Shipping);
    }

    #[test]
    fn fulfillment_request_fixture_round_trips() {
        let event: FulfillmentRequestEvent = assert_round_trips("fulfillment-request-event.json");
        assert_eq!(event.key(), "facb2d0c-4ae7-4d6c-96a0-293d9c521652");
        assert_eq!(
            event.order.order_items[0].product.price,
            Some("11.99".parse::<Money>().unwrap())
        );
        assert_eq!(
            event.order.current_status(),
            Some(OrderStatusType::Approved)
        );
    }

    #[test]
    fn order_status_change_fixture_round_trips() {
        let event: OrderStatusChangeEvent = assert_round_trips("order-status-change-event.json");
        assert_eq!(
            event.order_status_event.order_status_type,
            OrderStatusType::Processing
        );
    }

    #[test]
    fn reader_accepts_unknown_fields_missing_optionals_string_prices_and_completed() {
        let upstream = json!({
            "timestamp": 1528334218821_i64,
            "someFutureField": {"nested": true},
            "name": {"title": "Ms.", "firstName": "Mary", "lastName": "Smith"},
            "contact": {"primaryPhone": "456-789-0001", "email": "marysmith@yougotmail.com"},
            "address": {"type": "SHIPPING", "description": "Home Sweet Home",
                        "address1": "1234 Main Street", "city": "Anywhere", "state": "NY",
                        "postalCode": "45455-66677"},
            "order": {
                "guid": "29692d7f-3ca5-4684-b5fd-51dbcf40dc1e",
                "orderStatusEvents": [
                    {"timestamp": 1528339278058_i64, "orderStatusType": "COMPLETED"}
                ],
                "orderItems": [{"product": {"guid": "a9d5a5c7-4245-4b4e-b1c3-1d3968f36b2d",
                    "title": "Yellow Widget", "price": "5.99"}, "quantity": 1}]
            }
        });
        let event: FulfillmentRequestEvent = serde_json::from_value(upstream).unwrap();
        assert_eq!(event.name.middle_name, None);
        assert_eq!(event.contact.secondary_phone, None);
        assert_eq!(event.order.order_status_events[0].note, None);
        assert_eq!(
            event.order.current_status(),
            Some(OrderStatusType::Received)
        );
        let product = &event.order.order_items[0].product;
        assert_eq!(product.price, Some("5.99".parse().unwrap()));
        assert_eq!(product.description, None);
    }

    #[test]
    fn reader_rejects_a_wrong_shape() {
        let wrong = json!({"guid": "not-a-uuid", "orderStatusEvent": {}});
        assert!(serde_json::from_value::<OrderStatusChangeEvent>(wrong).is_err());
        assert!(serde_json::from_slice::<CustomerChangeEvent>(b"not json").is_err());
    }

    #[test]
    fn shared_fixtures_match_the_copies_in_this_crate() {
        let shared = format!("{}/../../shared/spec/fixtures", env!("CARGO_MANIFEST_DIR"));
        let Ok(entries) = std::fs::read_dir(&shared) else {
            // A clone without the spec beside it has only this crate's copies to go by.
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let theirs: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(
                theirs,
                fixture(&name),
                "fixtures/{name} differs from the spec"
            );
        }
    }
}
