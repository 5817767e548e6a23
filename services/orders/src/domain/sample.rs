//! Upstream's five sample orders, each with random items and a fixed status history.

use std::num::NonZeroU32;

use rand::Rng;
use rand::seq::IndexedRandom;
use shared_events::{Order, OrderItem, OrderStatusEvent, OrderStatusType};
use uuid::Uuid;

use super::catalog;

/// The five status histories, the last one waiting for fulfillment.
fn histories() -> [Vec<(OrderStatusType, Option<&'static str>)>; 5] {
    use OrderStatusType::*;
    [
        vec![
            (Created, None),
            (Rejected, Some("Primary credit card expired")),
        ],
        vec![
            (Created, None),
            (Approved, None),
            (Processing, None),
            (Shipped, None),
            (InTransit, None),
            (Received, None),
        ],
        vec![
            (Created, None),
            (Approved, None),
            (Processing, None),
            (OnHold, Some("Items out of stock")),
            (Cancelled, Some("Ordered alternative items")),
        ],
        vec![
            (Created, None),
            (Approved, None),
            (Processing, None),
            (Shipped, None),
            (InTransit, None),
            (Received, None),
            (Returned, Some("Items damaged during shipping")),
        ],
        vec![(Created, None), (Approved, None)],
    ]
}

/// Five new orders, their histories stamped at `now` (epoch millis).
pub fn orders(now: i64, rng: &mut impl Rng) -> Vec<Order> {
    let products = catalog::products();
    histories()
        .into_iter()
        .map(|history| Order {
            guid: Uuid::new_v4(),
            order_status_events: history
                .into_iter()
                .map(|(status, note)| OrderStatusEvent {
                    timestamp: now,
                    order_status_type: status,
                    note: note.map(str::to_owned),
                })
                .collect(),
            order_items: (0..rng.random_range(1..=5))
                .map(|_| OrderItem {
                    product: products
                        .choose(rng)
                        .expect("the catalog is not empty")
                        .clone(),
                    quantity: NonZeroU32::new(rng.random_range(1..=5)).expect("at least one"),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_orders_with_upstreams_histories_and_one_to_five_items() {
        let orders = orders(1_000, &mut rand::rng());
        assert_eq!(orders.len(), 5);
        let last: Vec<Option<OrderStatusType>> = orders.iter().map(Order::current_status).collect();
        use OrderStatusType::*;
        assert_eq!(
            last,
            [
                Some(Rejected),
                Some(Received),
                Some(Cancelled),
                Some(Returned),
                Some(Approved)
            ]
        );
        assert_eq!(
            orders[2].order_status_events[3].note.as_deref(),
            Some("Items out of stock")
        );
        for order in &orders {
            assert!((1..=5).contains(&order.order_items.len()));
            assert!(
                order
                    .order_items
                    .iter()
                    .all(|item| item.quantity.get() <= 5)
            );
        }
        let guids: std::collections::HashSet<_> = orders.iter().map(|order| order.guid).collect();
        assert_eq!(guids.len(), 5);
    }

    #[test]
    fn every_sample_history_follows_the_state_machine() {
        for order in orders(0, &mut rand::rng()) {
            for pair in order.order_status_events.windows(2) {
                assert!(
                    pair[0].order_status_type.allows(pair[1].order_status_type),
                    "{:?} -> {:?}",
                    pair[0].order_status_type,
                    pair[1].order_status_type
                );
            }
        }
    }
}
