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
/// Spring Kafka's type hint, so upstream's Java consumers deserialize our events unchanged.
pub const TYPE_ID: &str = "__TypeId__";

/// The Java package upstream's event classes live in; `__TypeId__` is this plus the type name.
pub const JAVA_PACKAGE: &str = "com.storefront.model";

/// The headers of one event, as written by a producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeaders {
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub time: String,
    pub traceparent: String,
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
        };
        let pairs = headers.to_pairs();
        assert!(pairs.contains(&(
            TYPE_ID.to_owned(),
            "com.storefront.model.CustomerChangeEvent".to_owned()
        )));
        assert_eq!(pairs.len(), 6);
    }
}
