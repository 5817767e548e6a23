//! What orders publishes (fulfillment requests) and what it does with what it consumes
//! (customer changes and order status changes).

use mongodb::bson::oid::ObjectId;
use platform::consumer::{Handler, HandlerError, InboundMessage, Outcome};
use platform::documents::{Changed, Decision, Inserted};
use platform::outbox::OutboxMessage;
use platform::trace::TraceContext;
use shared_events::{
    CustomerChangeEvent, Envelope, FulfillmentRequestEvent, OrderStatusChangeEvent, Origin, headers,
};

use crate::configuration::Topics;
use crate::domain::{CopyChange, CustomerOrders, StatusOutcome};
use crate::storage::{CustomerOrdersRepository, Stored};

/// The `eventSource` header of everything orders publishes.
const SOURCE: &str = "orders";

/// The request to fulfill an order, announced by the write that stores its customer's orders at
/// `version`.
pub(crate) fn fulfillment_requested(
    request: &FulfillmentRequestEvent,
    version: i64,
    topic: &str,
    trace: &TraceContext,
) -> anyhow::Result<OutboxMessage> {
    let traceparent = trace.to_string();
    let origin = Origin {
        source: SOURCE,
        traceparent: &traceparent,
    };
    let Envelope {
        id,
        key,
        payload,
        headers,
    } = Envelope::new(request, version, &origin)?;
    Ok(OutboxMessage::new(topic, id, key, payload, headers))
}

/// Handles both inbound topics; every path is idempotent.
pub(crate) struct OrdersHandler {
    pub(crate) customers: CustomerOrdersRepository,
    pub(crate) topics: Topics,
}

impl Handler for OrdersHandler {
    async fn handle(&self, message: &InboundMessage) -> Result<Outcome, HandlerError> {
        if message.topic == self.topics.customer_change {
            self.on_customer_change(message).await
        } else if message.topic == self.topics.order_status_change {
            self.on_order_status_change(message).await
        } else {
            Err(HandlerError::Rejected(format!(
                "orders does not consume {}",
                message.topic
            )))
        }
    }
}

/// The outcome of a change that found its document; one that kept changing is retried later.
fn handled(changed: Changed<Outcome>) -> Result<Outcome, HandlerError> {
    match changed {
        Changed::Done(outcome) => Ok(outcome),
        Changed::NotFound | Changed::Conflict => Err(HandlerError::Failed(anyhow::anyhow!(
            "the customer orders document kept changing; retrying later"
        ))),
    }
}

impl OrdersHandler {
    async fn on_customer_change(&self, message: &InboundMessage) -> Result<Outcome, HandlerError> {
        if message.payload.is_none() {
            let key = message
                .key_text()
                .ok_or_else(|| HandlerError::Rejected("a tombstone without a key".into()))?;
            let id = ObjectId::parse_str(key).map_err(|_| {
                HandlerError::Rejected(format!("tombstone key `{key}` is not a customer id"))
            })?;
            self.customers.remove(id).await?;
            return Ok(Outcome::Removed);
        }
        let event: CustomerChangeEvent = message.json("CustomerChangeEvent")?;
        let id = ObjectId::parse_str(&event.id).map_err(|_| {
            HandlerError::Rejected(format!("customer id `{}` is not an ObjectId", event.id))
        })?;
        let version = message
            .header(headers::AGGREGATE_VERSION)
            .map(headers::parse_version)
            .transpose()
            .map_err(HandlerError::Rejected)?;
        let event_id = message.header(headers::EVENT_ID);
        let mut decide = |stored: Stored, _| {
            if stored.has_applied(event_id) {
                return Ok::<_, HandlerError>(Decision::Keep(Outcome::Duplicate));
            }
            let mut customer = stored.customer.clone();
            let outcome = match customer.apply_change(&event, version) {
                CopyChange::Stale => return Ok(Decision::Keep(Outcome::Stale)),
                CopyChange::Unchanged if customer == stored.customer => {
                    return Ok(Decision::Keep(Outcome::Unchanged));
                }
                CopyChange::Unchanged => Outcome::Unchanged,
                CopyChange::Applied => Outcome::Applied,
            };
            Ok(stored.write(&customer, event_id, Vec::new(), outcome)?)
        };
        let changed = match self.customers.change_customer(id, &mut decide).await? {
            Changed::NotFound => {
                let created = CustomerOrders::from_change(id, &event, version);
                match self.customers.insert(&created, event_id).await? {
                    Inserted::New => Changed::Done(Outcome::Applied),
                    // Created meanwhile by another delivery: changed like any stored customer.
                    Inserted::Duplicate => self.customers.change_customer(id, decide).await?,
                }
            }
            changed => changed,
        };
        handled(changed)
    }

    async fn on_order_status_change(
        &self,
        message: &InboundMessage,
    ) -> Result<Outcome, HandlerError> {
        let event: OrderStatusChangeEvent = message.json("OrderStatusChangeEvent")?;
        let event_id = message.header(headers::EVENT_ID);
        let changed = self
            .customers
            .change_order(event.guid, |stored, _| {
                if stored.has_applied(event_id) {
                    return Ok::<_, HandlerError>(Decision::Keep(Outcome::Duplicate));
                }
                let mut customer = stored.customer.clone();
                let added = customer
                    .add_status(event.guid, event.order_status_event.clone())
                    .map_err(|error| HandlerError::Rejected(error.to_string()))?;
                match added {
                    StatusOutcome::Duplicate => Ok(Decision::Keep(Outcome::Duplicate)),
                    StatusOutcome::Added => {
                        Ok(stored.write(&customer, event_id, Vec::new(), Outcome::Applied)?)
                    }
                }
            })
            .await?;
        if changed == Changed::NotFound {
            return Err(HandlerError::Rejected(format!(
                "no order has the guid {}",
                event.guid
            )));
        }
        handled(changed)
    }
}
