//! Topic names, and the dead-letter topic that goes with each.

/// `CustomerChangeEvent`s from accounts, keyed by customer id; an empty value is a deletion.
pub const CUSTOMER_CHANGE: &str = "accounts.customer.change";
/// `FulfillmentRequestEvent`s from orders, keyed by order guid.
pub const ORDER_FULFILL: &str = "orders.order.fulfill";
/// `OrderStatusChangeEvent`s from fulfillment, keyed by order guid.
pub const ORDER_STATUS_CHANGE: &str = "fulfillment.order.change";

/// Every event topic, in the order the sample flow uses them.
pub const ALL: [&str; 3] = [CUSTOMER_CHANGE, ORDER_FULFILL, ORDER_STATUS_CHANGE];

/// Suffix of a dead-letter topic: Spring Kafka's convention, so Java tooling recognises it.
pub const DEAD_LETTER_SUFFIX: &str = ".DLT";

/// The topic that receives the messages of `topic` that can never be processed.
pub fn dead_letter(topic: &str) -> String {
    format!("{topic}{DEAD_LETTER_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_infrastructure_script_creates_exactly_these_topics() {
        let script = include_str!("../../scripts/lib.sh");
        let listed: Vec<&str> = script
            .lines()
            .skip_while(|line| !line.starts_with("TOPICS=("))
            .skip(1)
            .take_while(|line| !line.starts_with(')'))
            .map(str::trim)
            .collect();
        assert_eq!(listed, ALL);
        assert!(script.contains(&format!("DEAD_LETTER_SUFFIX=\"{DEAD_LETTER_SUFFIX}\"")));
    }

    #[test]
    fn dead_letter_topic_appends_the_spring_suffix() {
        assert_eq!(dead_letter(CUSTOMER_CHANGE), "accounts.customer.change.DLT");
    }
}
