//! Examples for the OpenAPI documents, taken from the golden fixtures.

use serde_json::Value;

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixtures are valid JSON")
}

fn customer_change() -> Value {
    fixture(include_str!("../fixtures/customer-change-event.json"))
}

fn fulfillment_request() -> Value {
    fixture(include_str!("../fixtures/fulfillment-request-event.json"))
}

pub(crate) fn name() -> Value {
    customer_change()["name"].clone()
}

pub(crate) fn contact() -> Value {
    customer_change()["contact"].clone()
}

pub(crate) fn address() -> Value {
    customer_change()["addresses"][1].clone()
}

pub(crate) fn order() -> Value {
    fulfillment_request()["order"].clone()
}

pub(crate) fn product() -> Value {
    fulfillment_request()["order"]["orderItems"][0]["product"].clone()
}

pub(crate) fn order_status_event() -> Value {
    fixture(include_str!("../fixtures/order-status-change-event.json"))["orderStatusEvent"].clone()
}
