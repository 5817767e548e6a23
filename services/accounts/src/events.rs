//! What accounts publishes: a change event for every created or changed customer, a tombstone
//! for every removed one.

use mongodb::bson::oid::ObjectId;
use platform::outbox::OutboxMessage;
use platform::trace::TraceContext;
use shared_events::{CustomerChangeEvent, Envelope};

use crate::domain::Customer;

/// The `eventSource` header of everything accounts publishes.
const SOURCE: &str = "accounts";

pub(crate) fn customer_changed(
    customer: &Customer,
    topic: &str,
    trace: &TraceContext,
) -> anyhow::Result<OutboxMessage> {
    let envelope = Envelope::new(&customer.change_event(), SOURCE, &trace.to_string())?;
    Ok(to_outbox(envelope, topic))
}

pub(crate) fn customer_removed(id: ObjectId, topic: &str, trace: &TraceContext) -> OutboxMessage {
    to_outbox(
        Envelope::tombstone::<CustomerChangeEvent>(id.to_hex(), SOURCE, &trace.to_string()),
        topic,
    )
}

fn to_outbox(envelope: Envelope, topic: &str) -> OutboxMessage {
    OutboxMessage {
        id: envelope.id,
        topic: topic.to_owned(),
        key: Some(envelope.key),
        payload: envelope.payload,
        headers: envelope.headers,
    }
}
