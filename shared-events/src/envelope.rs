//! An event ready to publish: key, JSON payload and headers, still independent of any client.

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

use crate::Event;
use crate::headers::EventHeaders;

/// Where an event comes from: the producing service and the trace of the work that caused it.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The `eventSource` header, e.g. `accounts`.
    pub source: &'a str,
    /// W3C trace context; empty when none.
    pub traceparent: &'a str,
}

/// One event as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The unique event id, also in the `eventId` header.
    pub id: String,
    pub key: String,
    /// UTF-8 JSON, or `None` for a tombstone.
    pub payload: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Envelope {
    /// Wraps an event produced by `origin` about the aggregate at `version` (after the change).
    pub fn new<E: Event>(
        event: &E,
        version: i64,
        origin: &Origin<'_>,
    ) -> Result<Self, serde_json::Error> {
        let payload = serde_json::to_string(event)?;
        Ok(Self::build::<E>(
            event.key(),
            Some(payload),
            version,
            origin,
        ))
    }

    /// A deletion of the aggregate `key` at `version`: the event type's topic with an empty
    /// value.
    pub fn tombstone<E: Event>(key: String, version: i64, origin: &Origin<'_>) -> Self {
        Self::build::<E>(key, None, version, origin)
    }

    fn build<E: Event>(
        key: String,
        payload: Option<String>,
        version: i64,
        origin: &Origin<'_>,
    ) -> Self {
        let headers = EventHeaders {
            event_id: Uuid::new_v4().to_string(),
            event_type: E::TYPE_NAME.to_owned(),
            source: origin.source.to_owned(),
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            traceparent: origin.traceparent.to_owned(),
            aggregate_version: version,
        };
        Envelope {
            id: headers.event_id.clone(),
            key,
            payload,
            headers: headers.to_pairs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers;
    use crate::{OrderStatusChangeEvent, OrderStatusEvent, OrderStatusType};

    fn status_change() -> OrderStatusChangeEvent {
        OrderStatusChangeEvent {
            guid: Uuid::new_v4(),
            order_status_event: OrderStatusEvent {
                timestamp: 1,
                order_status_type: OrderStatusType::Shipped,
                note: None,
            },
            shipping_method: None,
        }
    }

    #[test]
    fn an_envelope_is_keyed_by_the_aggregate_and_carries_every_header() {
        let event = status_change();
        let origin = Origin {
            source: "fulfillment",
            traceparent: "",
        };
        let envelope = Envelope::new(&event, 4, &origin).unwrap();
        assert_eq!(envelope.key, event.guid.to_string());
        let header = |name: &str| {
            envelope
                .headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(header(headers::EVENT_ID), Some(envelope.id.as_str()));
        assert_eq!(header(headers::EVENT_TYPE), Some("OrderStatusChangeEvent"));
        assert_eq!(header(headers::EVENT_SOURCE), Some("fulfillment"));
        assert!(header(headers::EVENT_TIME).unwrap().ends_with('Z'));
        assert_eq!(header(headers::AGGREGATE_VERSION), Some("4"));
        let parsed: OrderStatusChangeEvent =
            serde_json::from_str(envelope.payload.as_deref().unwrap()).unwrap();
        assert_eq!(parsed, event);
    }

    #[test]
    fn every_envelope_gets_its_own_id_and_a_tombstone_has_no_payload() {
        let origin = Origin {
            source: "s",
            traceparent: "",
        };
        let first = Envelope::tombstone::<OrderStatusChangeEvent>("k".into(), 1, &origin);
        let second = Envelope::tombstone::<OrderStatusChangeEvent>("k".into(), 1, &origin);
        assert_ne!(first.id, second.id);
        assert_eq!(first.payload, None);
    }
}
