//! The value types that events carry: a customer's name, contact and addresses, and an order.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Money;
use crate::status::OrderStatusType;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::name)]
pub struct Name {
    pub title: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub suffix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::contact)]
pub struct Contact {
    pub primary_phone: String,
    pub secondary_phone: Option<String>,
    pub email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AddressType {
    Billing,
    Shipping,
    ShippingAlternate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::address)]
pub struct Address {
    #[serde(rename = "type")]
    pub address_type: AddressType,
    pub description: String,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::order_status_event)]
pub struct OrderStatusEvent {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub order_status_type: OrderStatusType,
    pub note: Option<String>,
}

/// How fulfillment ships an order; written in exactly upstream's mixed case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ShippingMethod {
    #[serde(rename = "USPS")]
    Usps,
    FedEx,
    #[serde(rename = "UPS")]
    Ups,
    Uber,
    Drone,
}

impl ShippingMethod {
    pub const ALL: [ShippingMethod; 5] = [
        ShippingMethod::Usps,
        ShippingMethod::FedEx,
        ShippingMethod::Ups,
        ShippingMethod::Uber,
        ShippingMethod::Drone,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::product)]
pub struct Product {
    #[serde(with = "uuid_text")]
    #[schema(value_type = String, format = Uuid)]
    pub guid: Uuid,
    pub title: String,
    /// Absent in some upstream documents; always written by our services.
    pub description: Option<String>,
    /// A decimal amount, never negative, written as a JSON number with exactly its decimal digits
    /// (`11.99`, at most 15 significant digits, so a binary float holds it exactly). Absent in
    /// some upstream documents; always written by our services.
    #[schema(value_type = Option<f64>, example = 11.99, minimum = 0)]
    pub price: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product: Product,
    #[schema(value_type = u32, minimum = 1)]
    pub quantity: NonZeroU32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::order)]
pub struct Order {
    #[serde(with = "uuid_text")]
    #[schema(value_type = String, format = Uuid)]
    pub guid: Uuid,
    pub order_status_events: Vec<OrderStatusEvent>,
    pub order_items: Vec<OrderItem>,
}

impl Order {
    /// The status of the latest entry in the history, which is kept in timestamp order.
    pub fn current_status(&self) -> Option<OrderStatusType> {
        self.order_status_events
            .last()
            .map(|event| event.order_status_type)
    }
}

/// Order and product guids are strings in JSON and in MongoDB alike (upstream stored strings;
/// `uuid`'s own serializer would write binary to a non-human-readable serializer).
pub(crate) mod uuid_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use uuid::Uuid;

    pub(crate) fn serialize<S: Serializer>(guid: &Uuid, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&guid.hyphenated())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Uuid, D::Error> {
        let text = String::deserialize(deserializer)?;
        Uuid::parse_str(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipping_methods_use_upstreams_spelling() {
        let written: Vec<String> = ShippingMethod::ALL
            .iter()
            .map(|method| serde_json::to_string(method).unwrap())
            .collect();
        assert_eq!(written.join(","), r#""USPS","FedEx","UPS","Uber","Drone""#);
    }

    #[test]
    fn a_quantity_of_zero_is_an_error() {
        let item = r#"{"product":{"guid":"7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37","title":"Green Widget"},"quantity":0}"#;
        assert!(serde_json::from_str::<OrderItem>(item).is_err());
    }
}
