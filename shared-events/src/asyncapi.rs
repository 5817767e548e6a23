//! The AsyncAPI 3.0 document of a service, which it serves at `{base}/v3/asyncapi` beside its
//! OpenAPI document: the topics it sends to and receives from (with the dead-letter topics of
//! those it receives), each message's payload (the JSON Schemas of [`crate::schema`]: what the
//! service writes for what it sends, what it reads for what it receives) and headers, and the
//! Kafka bindings (the record key, the partitions, the consumer group).

use serde_json::{Map, Value, json};

use crate::schema::{Contract, contracts};
use crate::{headers, topics};

/// The version of the Kafka bindings used.
const BINDING_VERSION: &str = "0.5.0";
/// Partitions of every topic (the contract's).
const PARTITIONS: u32 = 3;

/// A service's place in the event flow.
#[derive(Debug, Clone)]
pub struct EventFlow {
    /// The service's name, as the contracts name producers and consumers.
    pub service: &'static str,
    /// Its consumer group, if it consumes.
    pub group: Option<String>,
    /// The topic names it is configured with, by the contract's default name.
    pub topics: Vec<(&'static str, String)>,
    /// The headers its consumer adds to a dead letter, with what each holds.
    pub dead_letter_headers: &'static [(&'static str, &'static str)],
}

/// Which way a message of the contract goes for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sends,
    Receives,
}

impl EventFlow {
    /// `service` with every topic under its contract name, as the services are configured by
    /// default; the contract leaves out the topics it neither sends to nor receives from.
    pub fn with_default_topics(service: &'static str, group: Option<&str>) -> Self {
        EventFlow {
            service,
            group: group.map(str::to_owned),
            topics: topics::ALL
                .iter()
                .map(|topic| (*topic, (*topic).to_owned()))
                .collect(),
            dead_letter_headers: &[],
        }
    }

    /// Every message of the contract this service sends or receives, with the topic it is
    /// configured to use and which way the message goes. A received message's dead letters go
    /// to [`topics::dead_letter`] of that topic, which the service sends to.
    pub fn messages(&self) -> Vec<(Contract, String, Direction)> {
        contracts()
            .into_iter()
            .filter_map(|contract| {
                let topic = self.topic(&contract)?.to_owned();
                let direction = if contract.producer == self.service {
                    Direction::Sends
                } else if contract.consumers.contains(&self.service) {
                    Direction::Receives
                } else {
                    return None;
                };
                Some((contract, topic, direction))
            })
            .collect()
    }

    fn topic(&self, contract: &Contract) -> Option<&str> {
        self.topics
            .iter()
            .find(|(default, _)| *default == contract.topic)
            .map(|(_, configured)| configured.as_str())
    }
}

/// The AsyncAPI document of `flow`'s service.
pub fn document(flow: &EventFlow, title: &str, description: &str) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for (contract, topic, direction) in flow.messages() {
        let topic = topic.as_str();
        let sends = direction == Direction::Sends;
        let receives = !sends;
        let channel = channel_id(topic);
        let message = message_id(&contract.title);
        let schema = if sends {
            &contract.produced
        } else {
            &contract.accepted
        };
        messages.insert(message.clone(), event_message(&contract, schema, sends));
        let entry = channels
            .entry(channel.clone())
            .or_insert_with(|| topic_channel(topic));
        entry["messages"][&message] = json!({ "$ref": format!("#/components/messages/{message}") });
        let (action, verb) = if sends {
            ("send", "publish")
        } else {
            ("receive", "consume")
        };
        let operation = operations
            .entry(format!("{verb}_{channel}"))
            .or_insert_with(|| {
                let mut operation = json!({
                    "action": action,
                    "channel": { "$ref": format!("#/channels/{channel}") },
                    "messages": [],
                });
                if let (false, Some(group)) = (sends, &flow.group) {
                    operation["bindings"] = json!({ "kafka": {
                        "groupId": { "type": "string", "enum": [group] },
                        "bindingVersion": BINDING_VERSION,
                    } });
                }
                operation
            });
        if let Some(list) = operation["messages"].as_array_mut() {
            list.push(json!({ "$ref": format!("#/channels/{channel}/messages/{message}") }));
        }
        if receives {
            let dead = topics::dead_letter(topic);
            let dead_channel = channel_id(&dead);
            let mut channel = topic_channel(&dead);
            channel["description"] = format!(
                "Records of {topic} that {} can never process, with the original key, value \
                 and headers, and the reason.",
                flow.service
            )
            .into();
            channel["messages"]["DeadLetter"] =
                json!({ "$ref": "#/components/messages/DeadLetter" });
            channels.insert(dead_channel.clone(), channel);
            operations.insert(
                format!("dead_letter_{dead_channel}"),
                json!({
                    "action": "send",
                    "channel": { "$ref": format!("#/channels/{dead_channel}") },
                    "messages": [{ "$ref": format!("#/channels/{dead_channel}/messages/DeadLetter") }],
                }),
            );
            messages.insert(
                "DeadLetter".to_owned(),
                dead_letter_message(flow.dead_letter_headers),
            );
        }
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": title,
            "version": env!("CARGO_PKG_VERSION"),
            "description": description,
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": { "messages": messages },
    })
}

/// A channel id from a topic name (ids take letters, digits, `_` and `-`).
fn channel_id(topic: &str) -> String {
    topic
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn message_id(title: &str) -> String {
    title.split_whitespace().collect::<Vec<_>>().join("_")
}

fn topic_channel(topic: &str) -> Value {
    let compacted = topics::COMPACTED.contains(&topic);
    let mut binding = json!({
        "topic": topic,
        "partitions": PARTITIONS,
        "bindingVersion": BINDING_VERSION,
    });
    if compacted {
        binding["topicConfiguration"] = json!({ "cleanup.policy": ["compact"] });
    }
    json!({
        "address": topic,
        "messages": {},
        "bindings": { "kafka": binding },
    })
}

fn event_message(contract: &Contract, schema: &Value, sent: bool) -> Value {
    let mut payload = inline(schema, schema);
    if let Some(object) = payload.as_object_mut() {
        object.remove("$schema");
        object.remove("$defs");
    }
    let key = if contract.topic == topics::CUSTOMER_CHANGE {
        "The customer id (24 hex digits): a customer's changes stay in order on one partition."
    } else {
        "The order guid: an order's events stay in order on one partition."
    };
    json!({
        "name": contract.title,
        "title": contract.title,
        "summary": schema.get("description").cloned().unwrap_or(Value::Null),
        "contentType": "application/json",
        "headers": event_headers(&contract.title, sent),
        "payload": payload,
        "bindings": { "kafka": {
            "key": { "type": "string", "description": key },
            "bindingVersion": BINDING_VERSION,
        } },
    })
}

/// The headers every event carries. What a service sends has all of them; what it receives
/// may have none (upstream's producers sent no headers).
fn event_headers(title: &str, sent: bool) -> Value {
    let event_type = title.split_whitespace().next().unwrap_or(title);
    let properties = json!({
        headers::EVENT_ID: { "type": "string", "format": "uuid",
            "description": "Unique per event; consumers drop a repeat." },
        headers::EVENT_TYPE: { "type": "string", "const": event_type },
        headers::EVENT_SOURCE: { "type": "string", "description": "The service that produced it." },
        headers::EVENT_TIME: { "type": "string", "format": "date-time",
            "description": "When the change happened, RFC 3339 in UTC." },
        headers::TRACEPARENT: { "type": "string",
            "description": "W3C trace context of the request that caused the event." },
        headers::AGGREGATE_VERSION: { "type": "string", "pattern": "^[0-9]+$",
            "description": "The keyed customer's or order's version after the change, in \
                            decimal: a consumer holding a newer one drops the event as stale." },
        headers::TYPE_ID: { "type": "string",
            "const": format!("{}.{event_type}", headers::JAVA_PACKAGE),
            "description": "Spring Kafka's type hint, for upstream's Java consumers." },
    });
    let required: Vec<&str> = if sent {
        properties
            .as_object()
            .map(|names| names.keys().map(String::as_str).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    json!({ "type": "object", "properties": properties, "required": required })
}

fn dead_letter_message(headers: &[(&str, &str)]) -> Value {
    let properties: Map<String, Value> = headers
        .iter()
        .map(|(name, description)| {
            let header = json!({ "type": "string", "description": description });
            ((*name).to_owned(), header)
        })
        .collect();
    json!({
        "name": "DeadLetter",
        "title": "A record that can never be processed",
        "summary": "The original record's key, value and headers, with Spring Kafka's \
                    dead-letter headers.",
        "headers": { "type": "object", "properties": properties },
        "payload": { "description": "The original value, unchanged (it may not be JSON)." },
    })
}

/// The schema with every `#/$defs/...` reference of `document` replaced by what it names, so
/// that it stands alone inside another document.
fn inline(schema: &Value, document: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            let target = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|target| target.strip_prefix("#/$defs/"))
                .and_then(|name| document["$defs"].get(name));
            let mut inlined: Map<String, Value> = match target {
                Some(Value::Object(target)) => target.clone(),
                _ => Map::new(),
            };
            for (key, value) in object {
                if target.is_some() && key == "$ref" {
                    continue;
                }
                inlined.insert(key.clone(), inline(value, document));
            }
            if target.is_some() {
                return inline(&Value::Object(inlined), document);
            }
            Value::Object(inlined)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| inline(item, document)).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> Value {
        document(
            &EventFlow {
                service: "orders",
                group: Some("orders".to_owned()),
                topics: vec![
                    (
                        topics::CUSTOMER_CHANGE,
                        "accounts.customer.change".to_owned(),
                    ),
                    (topics::ORDER_FULFILL, "orders.order.fulfill".to_owned()),
                    (topics::ORDER_STATUS_CHANGE, "my.status".to_owned()),
                ],
                dead_letter_headers: &[("reason", "why")],
            },
            "orders",
            "d",
        )
    }

    #[test]
    fn a_service_sends_what_it_produces_and_receives_what_it_consumes_with_dead_letters() {
        let document = orders();
        let operations = document["operations"].as_object().unwrap();
        let actions: Vec<(String, &str)> = operations
            .iter()
            .map(|(id, operation)| (id.clone(), operation["action"].as_str().unwrap()))
            .collect();
        assert_eq!(
            actions,
            [
                ("consume_accounts_customer_change".to_owned(), "receive"),
                (
                    "dead_letter_accounts_customer_change_DLT".to_owned(),
                    "send"
                ),
                ("publish_orders_order_fulfill".to_owned(), "send"),
                ("consume_my_status".to_owned(), "receive"),
                ("dead_letter_my_status_DLT".to_owned(), "send"),
            ]
        );
        assert_eq!(
            document["channels"]["my_status"]["address"], "my.status",
            "the configured topic name"
        );
        assert_eq!(
            operations["consume_accounts_customer_change"]["bindings"]["kafka"]["groupId"]["enum"],
            json!(["orders"])
        );
        let changelog = &document["channels"]["accounts_customer_change"];
        assert_eq!(
            changelog["messages"].as_object().unwrap().len(),
            2,
            "event and tombstone"
        );
        assert_eq!(
            changelog["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"],
            json!(["compact"])
        );
    }

    #[test]
    fn payloads_stand_alone_written_strictly_read_leniently() {
        let document = orders();
        let messages = &document["components"]["messages"];
        let sent = &messages["FulfillmentRequestEvent"];
        assert!(!sent.to_string().contains("$ref"), "{sent}");
        assert_eq!(sent["payload"]["additionalProperties"], false);
        assert_eq!(sent["payload"]["properties"]["contact"]["type"], "object");
        assert_eq!(
            sent["headers"]["required"].as_array().unwrap().len(),
            7,
            "a sent event carries every header"
        );
        let received = &messages["CustomerChangeEvent"];
        assert!(received["payload"].get("additionalProperties").is_none());
        assert_eq!(received["headers"]["required"], json!([]));
        assert_eq!(
            messages["CustomerChangeEvent_tombstone"]["payload"]["type"],
            "null"
        );
    }
}
