//! What accounts publishes: a change event for every created or changed customer, a tombstone
//! for every removed one.

use mongodb::bson::oid::ObjectId;
use platform::outbox::OutboxMessage;
use platform::trace::TraceContext;
use shared_events::{CustomerChangeEvent, Envelope, Origin};

use crate::domain::Customer;

/// The `eventSource` header of everything accounts publishes.
const SOURCE: &str = "accounts";

/// The change event of `customer`, stored at `version` by the write that carries it.
pub(crate) fn customer_changed(
    customer: &Customer,
    version: i64,
    topic: &str,
    trace: &TraceContext,
) -> anyhow::Result<OutboxMessage> {
    let traceparent = trace.to_string();
    let envelope = Envelope::new(&customer.change_event(), version, &origin(&traceparent))?;
    Ok(to_outbox(envelope, topic))
}

/// The tombstone of the customer `id`, removed at `version`.
pub(crate) fn customer_removed(
    id: ObjectId,
    version: i64,
    topic: &str,
    trace: &TraceContext,
) -> OutboxMessage {
    let traceparent = trace.to_string();
    let envelope =
        Envelope::tombstone::<CustomerChangeEvent>(id.to_hex(), version, &origin(&traceparent));
    to_outbox(envelope, topic)
}

fn origin(traceparent: &str) -> Origin<'_> {
    Origin {
        source: SOURCE,
        traceparent,
    }
}

fn to_outbox(envelope: Envelope, topic: &str) -> OutboxMessage {
    let Envelope {
        id,
        key,
        payload,
        headers,
    } = envelope;
    OutboxMessage::new(topic, id, key, payload, headers)
}
