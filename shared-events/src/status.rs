//! The order state machine: the statuses an order goes through, and the moves between them
//! that the contract allows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an order is in its life; [`OrderStatusType::transition`] says where it may go next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatusType {
    Created,
    Approved,
    Rejected,
    Cancelled,
    Processing,
    OnHold,
    Shipped,
    InTransit,
    /// Old upstream data says `COMPLETED` for a received order; it is read, never written.
    #[serde(alias = "COMPLETED")]
    Received,
    Returned,
}

impl OrderStatusType {
    /// Every status, in the order of the happy path first.
    pub const ALL: [OrderStatusType; 10] = [
        OrderStatusType::Created,
        OrderStatusType::Approved,
        OrderStatusType::Rejected,
        OrderStatusType::Cancelled,
        OrderStatusType::Processing,
        OrderStatusType::OnHold,
        OrderStatusType::Shipped,
        OrderStatusType::InTransit,
        OrderStatusType::Received,
        OrderStatusType::Returned,
    ];

    /// Whether an order in this status may move to `next`: the contract's state machine.
    pub fn allows(self, next: OrderStatusType) -> bool {
        use OrderStatusType::*;
        matches!(
            (self, next),
            (Created, Approved | Rejected | Cancelled)
                | (Approved, Processing | Cancelled)
                | (Processing, Shipped | OnHold | Cancelled)
                | (OnHold, Processing | Cancelled)
                | (Shipped, InTransit)
                | (InTransit, Received)
                | (Received, Returned)
        )
    }

    /// Checks a move of an order from `current` (none for an order without a status) to
    /// `next`: the guard every service that changes a status applies before changing it.
    pub fn transition(
        current: Option<OrderStatusType>,
        next: OrderStatusType,
    ) -> Result<(), TransitionError> {
        if current == Some(next) {
            return Err(TransitionError::AlreadyInStatus(next));
        }
        if current.is_some_and(|status| status.allows(next)) {
            Ok(())
        } else {
            Err(TransitionError::Illegal {
                from: current,
                to: next,
            })
        }
    }
}

/// Why an order cannot move to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the order is already {0:?}")]
    AlreadyInStatus(OrderStatusType),
    #[error("an order that is {from:?} cannot become {to:?}")]
    Illegal {
        from: Option<OrderStatusType>,
        to: OrderStatusType,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_use_upstream_spelling() {
        let written: Vec<String> = OrderStatusType::ALL
            .iter()
            .map(|status| serde_json::to_string(status).unwrap())
            .collect();
        assert_eq!(
            written.join(","),
            "\"CREATED\",\"APPROVED\",\"REJECTED\",\"CANCELLED\",\"PROCESSING\",\"ON_HOLD\",\
             \"SHIPPED\",\"IN_TRANSIT\",\"RECEIVED\",\"RETURNED\""
        );
    }

    #[test]
    fn the_state_machine_allows_exactly_the_listed_transitions() {
        use OrderStatusType::*;
        let allowed: Vec<(OrderStatusType, OrderStatusType)> = OrderStatusType::ALL
            .iter()
            .flat_map(|from| OrderStatusType::ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.allows(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Created, Approved),
                (Created, Rejected),
                (Created, Cancelled),
                (Approved, Cancelled),
                (Approved, Processing),
                (Processing, Cancelled),
                (Processing, OnHold),
                (Processing, Shipped),
                (OnHold, Cancelled),
                (OnHold, Processing),
                (Shipped, InTransit),
                (InTransit, Received),
                (Received, Returned),
            ]
        );
    }

    #[test]
    fn an_unknown_status_is_an_error() {
        assert!(serde_json::from_str::<OrderStatusType>("\"LOST\"").is_err());
    }

    #[test]
    fn legacy_completed_status_reads_as_received_and_is_never_written() {
        let status: OrderStatusType = serde_json::from_str("\"COMPLETED\"").unwrap();
        assert_eq!(status, OrderStatusType::Received);
        assert_eq!(serde_json::to_string(&status).unwrap(), "\"RECEIVED\"");
    }

    #[test]
    fn a_move_to_the_status_an_order_has_is_a_repeat_and_any_move_needs_a_status() {
        use OrderStatusType::*;
        assert_eq!(
            OrderStatusType::transition(Some(Approved), Approved),
            Err(TransitionError::AlreadyInStatus(Approved))
        );
        assert_eq!(
            OrderStatusType::transition(None, Approved),
            Err(TransitionError::Illegal {
                from: None,
                to: Approved
            })
        );
        assert_eq!(OrderStatusType::transition(Some(Created), Approved), Ok(()));
    }
}
