//! The JSON Schema (2020-12) of every event payload, generated from the types: their utoipa
//! schemas, the same that document the HTTP API, with `$defs` in place of OpenAPI's components.
//! Each event has two, committed under `shared-events/schemas/`:
//! - **produced** (`<event>.json`): exactly what the services write, no other field
//!   (`additionalProperties: false` everywhere);
//! - **accepted** (`<event>.accepted.json`): what the consumers read, which is more: unknown
//!   fields, money as a decimal string (`"11.99"`, as upstream's documents have it), and the
//!   legacy status `COMPLETED` (read as RECEIVED).
//!
//! Plus the tombstone of the customer changelog, a record with no value. [`compatibility`]
//! holds a change to these schemas against the consumers and producers already deployed.

pub mod compatibility;

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::{CustomerChangeEvent, Event, FulfillmentRequestEvent, OrderStatusChangeEvent};

/// The JSON Schema dialect of every document.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// One message of the contract: who writes it, who reads it, and its two schemas.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    /// The file name without `.json`, e.g. `customer-change-event`.
    pub file: &'static str,
    pub title: String,
    pub topic: &'static str,
    pub producer: &'static str,
    pub consumers: &'static [&'static str],
    pub produced: Value,
    pub accepted: Value,
}

/// Every message of the contract, in a fixed order.
pub fn contracts() -> Vec<Contract> {
    let tombstone = json!({
        "$schema": DIALECT,
        "title": "CustomerChangeEvent tombstone",
        "description": "A customer was removed: a record keyed by the customer id, with no value \
                        (null). Compaction keeps it until the topic's delete.retention.ms, then \
                        drops the key altogether.",
        "type": "null",
    });
    vec![
        event::<CustomerChangeEvent>("customer-change-event", "accounts", &["orders"]),
        Contract {
            file: "customer-change-event.tombstone",
            title: "CustomerChangeEvent tombstone".to_owned(),
            topic: CustomerChangeEvent::TOPIC,
            producer: "accounts",
            consumers: &["orders"],
            produced: tombstone.clone(),
            accepted: tombstone,
        },
        event::<FulfillmentRequestEvent>("fulfillment-request-event", "orders", &["fulfillment"]),
        event::<OrderStatusChangeEvent>("order-status-change-event", "fulfillment", &["orders"]),
    ]
}

fn event<T: Event + ToSchema>(
    file: &'static str,
    producer: &'static str,
    consumers: &'static [&'static str],
) -> Contract {
    let document = document::<T>();
    Contract {
        file,
        title: T::TYPE_NAME.to_owned(),
        topic: T::TOPIC,
        producer,
        consumers,
        produced: closed(document.clone()),
        accepted: tolerant(document),
    }
}

/// The type's schema as a standalone document: the schemas it refers to under `$defs`.
fn document<T: Event + ToSchema>() -> Value {
    let mut referenced = Vec::new();
    T::schemas(&mut referenced);
    let definitions: Map<String, Value> = referenced
        .into_iter()
        .map(|(name, schema)| (name, to_json_schema(json_value(&schema))))
        .collect();
    let mut root = Map::new();
    root.insert("$schema".to_owned(), DIALECT.into());
    root.insert("title".to_owned(), T::TYPE_NAME.into());
    if let Value::Object(schema) = to_json_schema(json_value(&T::schema())) {
        root.extend(schema);
    }
    root.insert("$defs".to_owned(), Value::Object(definitions));
    Value::Object(root)
}

fn json_value(schema: &impl serde::Serialize) -> Value {
    serde_json::to_value(schema).expect("a utoipa schema is JSON")
}

/// An OpenAPI 3.1 schema as plain JSON Schema 2020-12: references into `$defs`, and `example`
/// (OpenAPI's) as `examples`.
fn to_json_schema(schema: Value) -> Value {
    each_schema(schema, &mut |schema| {
        if let Some(Value::String(target)) = schema.get_mut("$ref") {
            *target = target.replace("#/components/schemas/", "#/$defs/");
        }
        if let Some(example) = schema.remove("example") {
            schema.insert("examples".to_owned(), Value::Array(vec![example]));
        }
    })
}

/// What producers write: every object closed to other fields.
fn closed(document: Value) -> Value {
    each_schema(document, &mut |schema| {
        if schema.get("type") == Some(&json!("object")) {
            schema.insert("additionalProperties".to_owned(), false.into());
        }
    })
}

/// What consumers read beyond what producers write (`Money`'s and `OrderStatusType`'s
/// deserializers, and serde's leave to ignore unknown fields).
fn tolerant(document: Value) -> Value {
    each_schema(document, &mut |schema| {
        if let Some(Value::Object(properties)) = schema.get_mut("properties")
            && let Some(Value::Object(price)) = properties.get_mut("price")
        {
            price.insert("type".to_owned(), json!(["number", "string", "null"]));
            price.insert("pattern".to_owned(), r"^\s*[0-9]+(\.[0-9]+)?\s*$".into());
            price.insert(
                "description".to_owned(),
                "A decimal amount: a JSON number with its exact digits, or (upstream's \
                 documents) a string of them."
                    .into(),
            );
        }
        if let Some(Value::Array(values)) = schema.get_mut("enum")
            && values.contains(&json!("RECEIVED"))
        {
            values.push("COMPLETED".into());
        }
    })
}

/// Calls `visit` on every schema object of a document: the root, `$defs`, properties, items
/// and the members of `allOf`, `anyOf` and `oneOf`; never on a property map or an example.
fn each_schema(mut document: Value, visit: &mut impl FnMut(&mut Map<String, Value>)) -> Value {
    walk(&mut document, visit);
    document
}

fn walk(schema: &mut Value, visit: &mut impl FnMut(&mut Map<String, Value>)) {
    let Value::Object(object) = schema else {
        return;
    };
    visit(object);
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "$defs" | "properties" => {
                if let Value::Object(members) = value {
                    members.values_mut().for_each(|member| walk(member, visit));
                }
            }
            "items" | "additionalProperties" => walk(value, visit),
            "allOf" | "anyOf" | "oneOf" => {
                if let Value::Array(members) = value {
                    members.iter_mut().for_each(|member| walk(member, visit));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(file: &str) -> Contract {
        contracts()
            .into_iter()
            .find(|contract| contract.file == file)
            .unwrap()
    }

    #[test]
    fn references_point_into_defs_and_every_defined_schema_is_there() {
        let schema = contract("fulfillment-request-event").produced;
        let text = schema.to_string();
        assert!(!text.contains("#/components/"), "{text}");
        for name in [
            "Name",
            "Contact",
            "Address",
            "Order",
            "OrderStatusType",
            "Product",
        ] {
            assert!(schema["$defs"].get(name).is_some(), "no $defs/{name}");
        }
        assert_eq!(schema["$schema"], DIALECT);
        assert_eq!(schema["properties"]["order"]["$ref"], "#/$defs/Order");
    }

    #[test]
    fn producers_write_no_other_field_and_consumers_read_unknown_ones() {
        let customer = contract("customer-change-event");
        assert_eq!(customer.produced["additionalProperties"], false);
        assert_eq!(
            customer.produced["$defs"]["Contact"]["additionalProperties"],
            false
        );
        assert!(customer.accepted.get("additionalProperties").is_none());
    }

    #[test]
    fn consumers_read_money_as_a_string_and_the_legacy_status() {
        let request = contract("fulfillment-request-event");
        let price = &request.accepted["$defs"]["Product"]["properties"]["price"];
        assert_eq!(price["type"], json!(["number", "string", "null"]));
        let produced_price = &request.produced["$defs"]["Product"]["properties"]["price"];
        assert_eq!(produced_price["type"], json!(["number", "null"]));
        let statuses = &request.accepted["$defs"]["OrderStatusType"]["enum"];
        assert!(statuses.as_array().unwrap().contains(&json!("COMPLETED")));
        let produced = &request.produced["$defs"]["OrderStatusType"]["enum"];
        assert!(!produced.as_array().unwrap().contains(&json!("COMPLETED")));
        // What the schemas say consumers read, the types do read.
        let product: crate::Product = serde_json::from_value(json!({
            "guid": "7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37", "title": "Green Widget",
            "price": " 11.99 ", "unknown": 1
        }))
        .unwrap();
        assert_eq!(product.price.unwrap().to_string(), "11.99");
        let status: crate::OrderStatusType = serde_json::from_value(json!("COMPLETED")).unwrap();
        assert_eq!(status, crate::OrderStatusType::Received);
    }

    #[test]
    fn examples_are_json_schema_examples() {
        let name = &contract("customer-change-event").produced["$defs"]["Name"];
        assert!(name.get("example").is_none());
        assert_eq!(name["examples"][0]["firstName"], "John");
    }
}
