//! W3C trace context (`traceparent`), carried from HTTP requests into Kafka headers and on into
//! the consumers, so that one order's journey shares one trace id in every service's logs.
//!
//! When an OTLP endpoint is configured, every request and every consumed record is also
//! exported as a span ([`export`]), with exactly the ids the logs and headers show.

use std::fmt;

use rand::Rng;

pub mod export;

/// The header name on HTTP requests and Kafka records alike.
pub const TRACEPARENT: &str = "traceparent";

/// One position in a trace: the trace it belongs to and the span that is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    /// The span this one continues, when it came from a `traceparent`.
    parent_span_id: Option<u64>,
    sampled: bool,
}

impl TraceContext {
    /// A new trace, for work that arrived without one.
    pub fn new_root() -> Self {
        let mut rng = rand::rng();
        TraceContext {
            trace_id: rng.random_range(1..=u128::MAX),
            span_id: rng.random_range(1..=u64::MAX),
            parent_span_id: None,
            sampled: true,
        }
    }

    /// A new span in the same trace, for work this service does on behalf of its parent.
    pub fn child(&self) -> Self {
        TraceContext {
            span_id: rand::rng().random_range(1..=u64::MAX),
            parent_span_id: Some(self.span_id),
            ..*self
        }
    }

    /// Continues the trace of an incoming `traceparent`, or starts a new one when there is
    /// none or it is not valid.
    pub fn continue_from(traceparent: Option<&str>) -> Self {
        traceparent
            .and_then(Self::parse)
            .map(|parent| parent.child())
            .unwrap_or_else(Self::new_root)
    }

    /// Parses a version-00 `traceparent`; `None` for anything else or all-zero ids.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace_id, span_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |text: &str, length: usize| {
            text.len() == length
                && text
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        };
        if parts.next().is_some()
            || version != "00"
            || !hex(trace_id, 32)
            || !hex(span_id, 16)
            || !hex(flags, 2)
        {
            return None;
        }
        let trace_id = u128::from_str_radix(trace_id, 16).ok()?;
        let span_id = u64::from_str_radix(span_id, 16).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        (trace_id != 0 && span_id != 0).then_some(TraceContext {
            trace_id,
            span_id,
            parent_span_id: None,
            sampled: flags & 1 == 1,
        })
    }

    /// The span id as 16 hex digits.
    pub fn span_id(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// The trace id as 32 hex digits, as logs show it.
    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_traceparent_reads_and_writes_back_the_same() {
        let context = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(context.to_string(), EXAMPLE);
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_its_own_span() {
        let parent = TraceContext::parse(EXAMPLE).unwrap();
        let child = parent.child();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.to_string(), parent.to_string());
        assert_eq!(
            TraceContext::continue_from(Some(EXAMPLE)).trace_id(),
            parent.trace_id()
        );
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for invalid in [
            "",
            "garbage",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceContext::parse(invalid), None, "{invalid}");
        }
        let fresh = TraceContext::continue_from(Some("garbage"));
        assert_eq!(
            TraceContext::parse(&fresh.to_string()).map(|parsed| parsed.to_string()),
            Some(fresh.to_string())
        );
        assert_ne!(
            TraceContext::new_root().trace_id(),
            TraceContext::new_root().trace_id()
        );
    }
}
