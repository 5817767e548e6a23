//! One fulfillment per approved order, and the moves it makes through the state machine.

use mongodb::bson::oid::ObjectId;
use shared_events::{
    Address, Contact, FulfillmentRequestEvent, Name, Order, OrderStatusChangeEvent,
    OrderStatusEvent, OrderStatusType, ShippingMethod, TransitionError,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfillment {
    pub id: ObjectId,
    /// When the fulfillment was requested, epoch millis.
    pub timestamp: i64,
    pub name: Name,
    pub contact: Contact,
    /// The SHIPPING address the order goes to.
    pub address: Address,
    pub order: Order,
    pub shipping_method: Option<ShippingMethod>,
    /// The W3C trace context of the order's journey, carried by every status change
    /// published for it, so the journey shares one trace id across services.
    pub traceparent: String,
}

impl Fulfillment {
    pub fn from_request(request: FulfillmentRequestEvent, traceparent: String) -> Self {
        Fulfillment {
            id: ObjectId::new(),
            timestamp: request.timestamp,
            name: request.name,
            contact: request.contact,
            address: request.address,
            order: request.order,
            shipping_method: None,
            traceparent,
        }
    }

    pub fn status(&self) -> Option<OrderStatusType> {
        self.order.current_status()
    }

    /// Moves the order to `next` at `now` if the state machine allows it, and returns the
    /// event that announces the move.
    pub fn advance(
        &mut self,
        next: OrderStatusType,
        note: Option<String>,
        now: i64,
    ) -> Result<OrderStatusChangeEvent, TransitionError> {
        OrderStatusType::transition(self.status(), next)?;
        let event = OrderStatusEvent {
            timestamp: now,
            order_status_type: next,
            note,
        };
        self.order.order_status_events.push(event.clone());
        Ok(OrderStatusChangeEvent {
            guid: self.order.guid,
            order_status_event: event,
            shipping_method: self.shipping_method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fulfillment() -> Fulfillment {
        let fixture =
            include_str!("../../../../shared-events/fixtures/fulfillment-request-event.json");
        Fulfillment::from_request(serde_json::from_str(fixture).unwrap(), String::new())
    }

    #[test]
    fn the_happy_path_moves_through_every_shipping_status() {
        let mut fulfillment = fulfillment();
        use OrderStatusType::*;
        for (step, next) in [Processing, Shipped, InTransit, Received]
            .into_iter()
            .enumerate()
        {
            let event = fulfillment
                .advance(next, None, i64::try_from(step).unwrap())
                .unwrap();
            assert_eq!(event.guid, fulfillment.order.guid);
            assert_eq!(event.order_status_event.order_status_type, next);
        }
        assert_eq!(fulfillment.status(), Some(Received));
        assert_eq!(fulfillment.order.order_status_events.len(), 6);
    }

    #[test]
    fn illegal_and_repeated_moves_are_refused_without_a_change() {
        let mut fulfillment = fulfillment();
        let before = fulfillment.clone();
        assert_eq!(
            fulfillment.advance(OrderStatusType::Shipped, None, 1),
            Err(TransitionError::Illegal {
                from: Some(OrderStatusType::Approved),
                to: OrderStatusType::Shipped
            })
        );
        assert_eq!(
            fulfillment.advance(OrderStatusType::Approved, None, 1),
            Err(TransitionError::AlreadyInStatus(OrderStatusType::Approved))
        );
        assert_eq!(fulfillment, before);
    }
}
