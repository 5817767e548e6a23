//! What fulfillment publishes (order status changes) and what it does with what it consumes
//! (fulfillment requests).

use platform::consumer::{Handler, HandlerError, InboundMessage, Outcome};
use platform::documents::Inserted;
use platform::outbox::OutboxMessage;
use platform::trace::TraceContext;
use shared_events::{Envelope, FulfillmentRequestEvent, OrderStatusChangeEvent, Origin};

use crate::domain::Fulfillment;
use crate::storage::FulfillmentRepository;

/// The `eventSource` header of everything fulfillment publishes.
const SOURCE: &str = "fulfillment";

/// The event announcing a status change, in the trace of the fulfillment's order, carried by
/// the write that stores the fulfillment at `version`.
pub(crate) fn order_status_changed(
    event: &OrderStatusChangeEvent,
    fulfillment: &Fulfillment,
    version: i64,
    topic: &str,
) -> anyhow::Result<OutboxMessage> {
    let origin = Origin {
        source: SOURCE,
        traceparent: &fulfillment.traceparent,
    };
    let Envelope {
        id,
        key,
        payload,
        headers,
    } = Envelope::new(event, version, &origin)?;
    Ok(OutboxMessage::new(topic, id, key, payload, headers))
}

/// Creates one fulfillment per order: a request seen again, by redelivery or a second
/// "fulfill" call, finds the fulfillment already there and changes nothing.
pub(crate) struct FulfillmentHandler {
    pub(crate) fulfillments: FulfillmentRepository,
}

impl Handler for FulfillmentHandler {
    async fn handle(&self, message: &InboundMessage) -> Result<Outcome, HandlerError> {
        let request: FulfillmentRequestEvent = message.json("FulfillmentRequestEvent")?;
        // Later status changes continue the order's trace from the span consuming the request.
        let fulfillment = Fulfillment::from_request(request, TraceContext::current().to_string());
        match self.fulfillments.insert(&fulfillment).await? {
            Inserted::New => Ok(Outcome::Applied),
            Inserted::Duplicate => Ok(Outcome::Duplicate),
        }
    }
}
