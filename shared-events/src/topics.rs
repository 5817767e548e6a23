//! Topic names, and the dead-letter topic that goes with each.

/// `CustomerChangeEvent`s from accounts, keyed by customer id; an empty value is a deletion.
pub const CUSTOMER_CHANGE: &str = "accounts.customer.change";
/// `FulfillmentRequestEvent`s from orders, keyed by order guid.
pub const ORDER_FULFILL: &str = "orders.order.fulfill";
/// `OrderStatusChangeEvent`s from fulfillment, keyed by order guid.
pub const ORDER_STATUS_CHANGE: &str = "fulfillment.order.change";

/// Every event topic, in the order the sample flow uses them.
pub const ALL: [&str; 3] = [CUSTOMER_CHANGE, ORDER_FULFILL, ORDER_STATUS_CHANGE];

/// The changelogs: keyed by aggregate id, with tombstones for removals. They are compacted
/// (`cleanup.policy=compact`), so the latest record of every key is kept however old it is, and
/// a consumer group that starts from the beginning rebuilds every aggregate. The other topics
/// carry commands and history, which retention may drop.
pub const COMPACTED: [&str; 1] = [CUSTOMER_CHANGE];

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
        let compacted = script
            .lines()
            .find_map(|line| line.strip_prefix("COMPACTED_TOPICS=("))
            .and_then(|line| line.strip_suffix(')'))
            .map(|line| line.split_whitespace().collect::<Vec<_>>());
        assert_eq!(compacted.as_deref(), Some(&COMPACTED[..]));
        assert!(script.contains(&format!("DEAD_LETTER_SUFFIX=\"{DEAD_LETTER_SUFFIX}\"")));
    }

    #[test]
    fn dead_letter_topic_appends_the_spring_suffix() {
        assert_eq!(dead_letter(CUSTOMER_CHANGE), "accounts.customer.change.DLT");
    }
}
