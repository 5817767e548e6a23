//! What orders publishes (fulfillment requests) and what it does with what it consumes
//! (customer changes and order status changes).

use mongodb::bson::oid::ObjectId;
use platform::consumer::{Handler, HandlerError, InboundMessage};
use platform::outbox::OutboxMessage;
use platform::trace::TraceContext;
use shared_events::{
    CustomerChangeEvent, Envelope, FulfillmentRequestEvent, OrderStatusChangeEvent, headers,
};

use crate::configuration::Topics;
use crate::domain::{CustomerOrders, StatusOutcome};
use crate::storage::{Changed, CustomerOrdersRepository, Decision, Target, Written};

/// The `eventSource` header of everything orders publishes.
const SOURCE: &str = "orders";

/// Attempts at creating a customer copy that another delivery may be creating at once.
const CONFLICT_RETRIES: usize = 3;

pub(crate) fn fulfillment_requested(
    request: &FulfillmentRequestEvent,
    topic: &str,
    trace: &TraceContext,
) -> anyhow::Result<OutboxMessage> {
    let envelope = Envelope::new(request, SOURCE, &trace.to_string())?;
    Ok(OutboxMessage {
        id: envelope.id,
        topic: topic.to_owned(),
        key: Some(envelope.key),
        payload: envelope.payload,
        headers: envelope.headers,
    })
}

/// Handles both inbound topics; every path is idempotent.
pub(crate) struct OrdersHandler {
    pub(crate) customers: CustomerOrdersRepository,
    pub(crate) topics: Topics,
}

/// The outcome labels logged for each handled event.
mod outcome {
    pub(super) const APPLIED: &str = "applied";
    pub(super) const DUPLICATE: &str = "duplicate";
    pub(super) const UNCHANGED: &str = "unchanged";
    pub(super) const REMOVED: &str = "removed";
}

impl Handler for OrdersHandler {
    async fn handle(&self, message: &InboundMessage) -> Result<&'static str, HandlerError> {
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

fn parse<E: serde::de::DeserializeOwned>(
    message: &InboundMessage,
    type_name: &str,
) -> Result<E, HandlerError> {
    let payload = message
        .payload
        .as_deref()
        .ok_or_else(|| HandlerError::Rejected(format!("an empty value is not a {type_name}")))?;
    serde_json::from_slice(payload)
        .map_err(|error| HandlerError::Rejected(format!("not a valid {type_name}: {error}")))
}

fn conflicted() -> HandlerError {
    HandlerError::Failed(anyhow::anyhow!(
        "the customer orders document kept changing; retrying later"
    ))
}

impl OrdersHandler {
    async fn on_customer_change(
        &self,
        message: &InboundMessage,
    ) -> Result<&'static str, HandlerError> {
        if message.payload.is_none() {
            let key = message
                .key_text()
                .ok_or_else(|| HandlerError::Rejected("a tombstone without a key".into()))?;
            let id = ObjectId::parse_str(key).map_err(|_| {
                HandlerError::Rejected(format!("tombstone key `{key}` is not a customer id"))
            })?;
            self.customers.remove(id).await?;
            return Ok(outcome::REMOVED);
        }
        let event: CustomerChangeEvent = parse(message, "CustomerChangeEvent")?;
        let id = ObjectId::parse_str(&event.id).map_err(|_| {
            HandlerError::Rejected(format!("customer id `{}` is not an ObjectId", event.id))
        })?;
        let event_id = message.header(headers::EVENT_ID);
        for _ in 0..CONFLICT_RETRIES {
            let changed = self
                .customers
                .change(Target::Customer(id), event_id, |stored| {
                    let mut customer = stored.customer.clone();
                    Ok::<_, HandlerError>(if customer.apply_change(&event) {
                        Decision::Write {
                            customer: Box::new(customer),
                            events: Vec::new(),
                            value: outcome::APPLIED,
                        }
                    } else {
                        Decision::Keep(outcome::UNCHANGED)
                    })
                })
                .await?;
            match changed {
                Changed::Done(label) => return Ok(label),
                Changed::AlreadyApplied => return Ok(outcome::DUPLICATE),
                Changed::Conflict => return Err(conflicted()),
                Changed::NotFound => {
                    let customer = CustomerOrders::from_change(id, &event);
                    if self.customers.insert(&customer, event_id).await? == Written::Done {
                        return Ok(outcome::APPLIED);
                    }
                }
            }
        }
        Err(conflicted())
    }

    async fn on_order_status_change(
        &self,
        message: &InboundMessage,
    ) -> Result<&'static str, HandlerError> {
        let event: OrderStatusChangeEvent = parse(message, "OrderStatusChangeEvent")?;
        let event_id = message.header(headers::EVENT_ID);
        let changed = self
            .customers
            .change(Target::Order(event.guid), event_id, |stored| {
                let mut customer = stored.customer.clone();
                let added = customer
                    .add_status(event.guid, event.order_status_event.clone())
                    .map_err(|error| HandlerError::Rejected(error.to_string()))?;
                Ok::<_, HandlerError>(match added {
                    StatusOutcome::Duplicate => Decision::Keep(outcome::DUPLICATE),
                    StatusOutcome::Added => Decision::Write {
                        customer: Box::new(customer),
                        events: Vec::new(),
                        value: outcome::APPLIED,
                    },
                })
            })
            .await?;
        match changed {
            Changed::Done(label) => Ok(label),
            Changed::AlreadyApplied => Ok(outcome::DUPLICATE),
            Changed::NotFound => Err(HandlerError::Rejected(format!(
                "no order has the guid {}",
                event.guid
            ))),
            Changed::Conflict => Err(conflicted()),
        }
    }
}
