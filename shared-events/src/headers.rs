//! Kafka header names carried by every event, and their typed form.
//!
//! Upstream sent no headers; consumers must still accept a message without any.

/// A unique id per event (UUID); consumers deduplicate on it.
pub const EVENT_ID: &str = "eventId";
/// The event's type name, e.g. `CustomerChangeEvent`.
pub const EVENT_TYPE: &str = "eventType";
/// The service that produced the event, e.g. `accounts`.
pub const EVENT_SOURCE: &str = "eventSource";
/// When the change happened, RFC 3339 in UTC.
pub const EVENT_TIME: &str = "eventTime";
/// W3C trace context of the request that caused the event.
pub const TRACEPARENT: &str = "traceparent";
/// The version of the aggregate (the record key's customer or order) after the change, in
/// decimal: it grows with every change of that aggregate, so a consumer that holds a newer
/// version knows an event is stale, whatever order records arrived in.
pub const AGGREGATE_VERSION: &str = "aggregateVersion";
/// Spring Kafka's type hint, so upstream's Java consumers deserialize our events unchanged.
pub const TYPE_ID: &str = "__TypeId__";

/// The Java package upstream's event classes live in; `__TypeId__` is this plus the type name.
pub const JAVA_PACKAGE: &str = "com.storefront.model";

/// Reads an `aggregateVersion` header value: a non-negative decimal integer.
pub fn parse_version(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|version| *version >= 0)
        .ok_or_else(|| format!("header {AGGREGATE_VERSION} `{value}` is not a version"))
}

/// The headers of one event, as written by a producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeaders {
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub time: String,
    pub traceparent: String,
    /// The aggregate's version after the change.
    pub aggregate_version: i64,
}

impl EventHeaders {
    /// The name/value pairs to put on the Kafka record, `__TypeId__` included.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        vec![
            (EVENT_ID.to_owned(), self.event_id.clone()),
            (EVENT_TYPE.to_owned(), self.event_type.clone()),
            (EVENT_SOURCE.to_owned(), self.source.clone()),
            (EVENT_TIME.to_owned(), self.time.clone()),
            (TRACEPARENT.to_owned(), self.traceparent.clone()),
            (
                AGGREGATE_VERSION.to_owned(),
                self.aggregate_version.to_string(),
            ),
            (
                TYPE_ID.to_owned(),
                format!("{JAVA_PACKAGE}.{}", self.event_type),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_id_header_names_the_upstream_java_class() {
        let headers = EventHeaders {
            event_id: "e1".into(),
            event_type: "CustomerChangeEvent".into(),
            source: "accounts".into(),
            time: "2026-01-01T00:00:00Z".into(),
            traceparent: String::new(),
            aggregate_version: 3,
        };
        let pairs = headers.to_pairs();
        assert!(pairs.contains(&(
            TYPE_ID.to_owned(),
            "com.storefront.model.CustomerChangeEvent".to_owned()
        )));
        assert!(pairs.contains(&(AGGREGATE_VERSION.to_owned(), "3".to_owned())));
        assert_eq!(pairs.len(), 7);
    }

    #[test]
    fn a_version_is_a_non_negative_integer() {
        assert_eq!(parse_version("0"), Ok(0));
        assert_eq!(parse_version("42"), Ok(42));
        for malformed in ["", "-1", "1.5", "x", "99999999999999999999"] {
            assert!(parse_version(malformed).is_err(), "{malformed}");
        }
    }
}
