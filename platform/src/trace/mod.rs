//! Distributed tracing with the OpenTelemetry SDK: one order's journey is one trace, across
//! HTTP requests, the outbox, Kafka records and the consumers.
//!
//! Requests, published records and consumed records run in `tracing` spans that the
//! `tracing-opentelemetry` layer turns into OpenTelemetry spans. Trace context is read from HTTP
//! headers and Kafka headers ([`ReadHeaderPairs`]) in W3C `traceparent` or in B3, the headers
//! of upstream's Sleuth (single `b3` or multi-header `X-B3-*`; `traceparent` wins when both are
//! there), and written to Kafka headers ([`HeaderPairs`]) as both `traceparent` and a single
//! `b3`, so that a Sleuth consumer continues our traces too; HTTP responses carry
//! `traceparent`. MongoDB commands are the driver's own child spans. Every log line
//! of a request or an event shows its `trace_id`. Spans leave the process only when an OTLP
//! endpoint is configured; the context is propagated either way.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{
    Link, SamplingDecision, SamplingResult, SpanContext, SpanKind, TraceContextExt, TraceId,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, ShouldSample};
use opentelemetry_zipkin::{B3Encoding, Propagator as B3Propagator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header name on HTTP requests and Kafka records alike.
pub const TRACEPARENT: &str = "traceparent";

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The propagator of every carrier: B3 (extracting the single header, else the multi-header
/// form; injecting the single `b3`), then W3C trace context, which wins on extraction when a
/// carrier holds both.
fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(B3Propagator::with_encoding(B3Encoding::SingleHeader)),
        Box::new(TraceContextPropagator::new()),
    ])
}
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Installs the tracer provider under the service name `service` and the propagator,
/// globally (for libraries that trace by themselves), and returns the tracer the `tracing` layer builds spans with. With an `endpoint`
/// (the collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318`) finished spans are
/// exported in batches. Later calls keep the first provider.
pub(crate) fn install(service: &'static str, endpoint: Option<&str>) -> anyhow::Result<SdkTracer> {
    global::set_text_map_propagator(propagator());
    let provider = match PROVIDER.get() {
        Some(provider) => provider,
        None => {
            let mut builder = SdkTracerProvider::builder()
                .with_sampler(Entries)
                .with_resource(Resource::builder().with_service_name(service).build());
            if let Some(endpoint) = endpoint {
                builder = builder.with_batch_exporter(exporter(endpoint)?);
                EXPORTING.store(true, Ordering::Relaxed);
            }
            let provider = PROVIDER.get_or_init(|| builder.build());
            global::set_tracer_provider(provider.clone());
            provider
        }
    };
    Ok(provider.tracer("storefront"))
}

/// Which spans are recorded: within a trace, what its start decided; starting a trace, the
/// requests to the API and the records published or consumed, but not a database command
/// outside them (the relay's polling, health checks) nor a request to the actuator (probes and
/// scrapes), which would bury the journeys under housekeeping.
#[derive(Debug, Clone)]
struct Entries;

impl ShouldSample for Entries {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .map(|context| context.span().span_context().clone())
            .filter(SpanContext::is_valid);
        let sampled = match &parent {
            Some(parent) => parent.is_sampled(),
            None => starts_a_journey(span_kind, attributes),
        };
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: parent
                .map(|parent| parent.trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

/// Whether a span with no parent begins work worth a trace of its own.
fn starts_a_journey(kind: &SpanKind, attributes: &[KeyValue]) -> bool {
    let actuator = attributes.iter().any(|attribute| {
        attribute.key.as_str() == "url.path" && attribute.value.as_str().contains("/actuator/")
    });
    *kind != SpanKind::Client && !actuator
}

fn exporter(endpoint: &str) -> anyhow::Result<SpanExporter> {
    let endpoint = endpoint.trim_end_matches('/');
    let url = if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    };
    SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()
        .context("building the OTLP span exporter")
}

/// Whether spans leave the process: libraries that trace by themselves (the MongoDB driver)
/// are asked to only then.
pub(crate) fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Sends the spans still buffered (at shutdown).
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.force_flush()
    {
        tracing::warn!(%error, "flushing spans");
    }
}

/// Makes `span` continue the trace whose context `carrier` holds (a new trace when it holds
/// none, or none that is valid), and shows its trace id in the span's `trace_id` field, which
/// the span must declare. Returns the span's context.
pub fn continue_trace(span: &tracing::Span, carrier: &dyn Extractor) -> TraceContext {
    let parent = propagator().extract(carrier);
    // Fails only without the tracing layer (no subscriber installed): there is no trace then.
    let _ = span.set_parent(parent);
    let context = TraceContext::of(span);
    span.record("trace_id", context.trace_id());
    context
}

/// What is done with a Kafka record in its span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordWork {
    /// Published by the outbox relay: a producer span, `<topic> publish`.
    Send,
    /// Handled by a consumer: a consumer span, `<topic> process`.
    Process,
}

/// The span of a Kafka record's publication or handling, continuing the trace that `carrier`
/// (the event's headers) holds, with the messaging attributes of OpenTelemetry's conventions.
pub(crate) fn record_span(work: RecordWork, topic: &str, carrier: &dyn Extractor) -> tracing::Span {
    let span = match work {
        RecordWork::Send => tracing::info_span!(
            "publish",
            trace_id = tracing::field::Empty,
            otel.name = %format_args!("{topic} publish"),
            otel.kind = "producer",
        ),
        RecordWork::Process => tracing::info_span!(
            "event",
            trace_id = tracing::field::Empty,
            otel.name = %format_args!("{topic} process"),
            otel.kind = "consumer",
        ),
    };
    continue_trace(&span, carrier);
    span.set_attribute("messaging.system", "kafka");
    span.set_attribute(
        "messaging.operation.type",
        match work {
            RecordWork::Send => "send",
            RecordWork::Process => "process",
        },
    );
    span.set_attribute("messaging.destination.name", topic.to_owned());
    span
}

/// The position in a trace of the work under way: what goes into the `traceparent` of the
/// events that work causes.
#[derive(Debug, Clone)]
pub struct TraceContext(Context);

impl TraceContext {
    /// The context of the current `tracing` span.
    pub fn current() -> Self {
        Self::of(&tracing::Span::current())
    }

    /// The context of `span`.
    pub fn of(span: &tracing::Span) -> Self {
        TraceContext(span.context())
    }

    /// The trace id as 32 hex digits, as logs show it.
    pub fn trace_id(&self) -> String {
        self.0.span().span_context().trace_id().to_string()
    }

    /// Names the span this context is at, once what it did is known (an HTTP route).
    pub(crate) fn rename(&self, name: String) {
        self.0.span().update_name(name);
    }

    /// Writes this context into `carrier`: `traceparent` (and `tracestate` when there is one)
    /// and `b3`; nothing when there is no valid span (B3 would write a "not sampled" flag).
    pub fn inject(&self, carrier: &mut dyn Injector) {
        if self.0.span().span_context().is_valid() {
            propagator().inject_context(&self.0, &mut Written(carrier));
        }
    }
}

/// The headers written with a context. The B3 propagator of `opentelemetry-zipkin` 0.31 writes
/// the `x-b3-*` headers beside `b3` whatever its encoding (its `support(UnSpecified)` is always
/// true); one form is enough for a B3 reader.
const WRITTEN: [&str; 3] = [TRACEPARENT, "tracestate", "b3"];

/// A carrier that takes only the [`WRITTEN`] headers.
struct Written<'a>(&'a mut dyn Injector);

impl Injector for Written<'_> {
    fn set(&mut self, key: &str, value: String) {
        if WRITTEN.contains(&key) {
            self.0.set(key, value);
        }
    }
}

/// The `traceparent` value; empty when there is no valid span.
impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields = HashMap::new();
        self.inject(&mut fields);
        f.write_str(fields.get(TRACEPARENT).map_or("", String::as_str))
    }
}

/// Name/value header pairs (Kafka's, or an outbox entry's) as a carrier of trace context.
pub struct HeaderPairs<'a, V>(pub &'a mut Vec<(String, V)>);

/// Read-only header pairs as a carrier of trace context. A name is matched exactly first (Kafka's
/// header names are case-sensitive), then regardless of case: the propagators ask for lowercase
/// names, and a Sleuth producer writes `X-B3-TraceId`.
pub struct ReadHeaderPairs<'a, V>(pub &'a [(String, V)]);

impl<V: AsRef<[u8]>> Extractor for ReadHeaderPairs<'_, V> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .or_else(|| {
                self.0
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(key))
            })
            .and_then(|(_, value)| std::str::from_utf8(value.as_ref()).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// An empty value (the propagator's `tracestate` when there is none) removes the header.
impl<V: From<String>> Injector for HeaderPairs<'_, V> {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            self.0.retain(|(name, _)| name != key);
            return;
        }
        match self.0.iter_mut().find(|(name, _)| name == key) {
            Some((_, existing)) => *existing = V::from(value),
            None => self.0.push((key.to_owned(), V::from(value))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn extract(headers: &[(String, Vec<u8>)]) -> Context {
        propagator().extract(&ReadHeaderPairs(headers))
    }

    fn pairs(headers: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
            .collect()
    }

    fn trace_id(context: &Context) -> String {
        context.span().span_context().trace_id().to_string()
    }

    #[test]
    fn b3_single_and_multi_headers_are_read_and_traceparent_wins_over_them() {
        let single = pairs(&[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")]);
        assert_eq!(
            trace_id(&extract(&single)),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
        // As Sleuth writes them on a Kafka record: mixed case, a 64-bit trace id.
        let multi = pairs(&[
            ("X-B3-TraceId", "a3ce929d0e0e4736"),
            ("X-B3-SpanId", "00f067aa0ba902b7"),
            ("X-B3-Sampled", "1"),
        ]);
        let context = extract(&multi);
        assert_eq!(trace_id(&context), "0000000000000000a3ce929d0e0e4736");
        assert!(context.span().span_context().is_sampled());
        let both = pairs(&[
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
            (TRACEPARENT, EXAMPLE),
        ]);
        assert_eq!(
            trace_id(&extract(&both)),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn records_carry_traceparent_and_b3_of_the_same_span() {
        let context = TraceContext(extract(&pairs(&[(TRACEPARENT, EXAMPLE)])));
        let mut written: Vec<(String, Vec<u8>)> = Vec::new();
        context.inject(&mut HeaderPairs(&mut written));
        assert_eq!(
            written,
            pairs(&[
                ("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
                (TRACEPARENT, EXAMPLE),
            ])
        );
        let mut none: Vec<(String, Vec<u8>)> = Vec::new();
        TraceContext(Context::new()).inject(&mut HeaderPairs(&mut none));
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn kafka_headers_carry_a_traceparent_both_ways() {
        let headers = vec![
            ("eventId".to_owned(), b"e1".to_vec()),
            (TRACEPARENT.to_owned(), EXAMPLE.as_bytes().to_vec()),
        ];
        let context = extract(&headers);
        let span = context.span();
        assert_eq!(
            span.span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(span.span_context().is_remote());

        let mut written: Vec<(String, Vec<u8>)> = vec![
            (TRACEPARENT.to_owned(), b"stale".to_vec()),
            ("eventId".to_owned(), b"e1".to_vec()),
        ];
        TraceContextPropagator::new().inject_context(&context, &mut HeaderPairs(&mut written));
        assert_eq!(
            written[0],
            (TRACEPARENT.to_owned(), EXAMPLE.as_bytes().to_vec())
        );
        assert_eq!(written.len(), 2, "replaced in place: {written:?}");
    }

    #[test]
    fn invalid_or_missing_traceparents_carry_no_parent() {
        for invalid in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            let headers = vec![(TRACEPARENT.to_owned(), invalid.as_bytes().to_vec())];
            assert!(
                !extract(&headers).span().span_context().is_valid(),
                "{invalid}"
            );
        }
        assert!(!extract(&[]).span().span_context().is_valid());
    }

    #[test]
    fn a_trace_starts_with_a_request_or_a_record_not_with_housekeeping() {
        let path = |path: &str| [KeyValue::new("url.path", path.to_owned())];
        assert!(starts_a_journey(
            &SpanKind::Server,
            &path("/accounts/customers")
        ));
        assert!(starts_a_journey(&SpanKind::Producer, &[]));
        assert!(starts_a_journey(&SpanKind::Consumer, &[]));
        assert!(
            !starts_a_journey(&SpanKind::Client, &[]),
            "a command outside any work"
        );
        assert!(!starts_a_journey(
            &SpanKind::Server,
            &path("/accounts/actuator/health")
        ));
    }

    #[test]
    fn within_a_trace_the_start_decides() {
        let sampled = extract(&[(TRACEPARENT.to_owned(), EXAMPLE.as_bytes().to_vec())]);
        let unsampled = extract(&[(
            TRACEPARENT.to_owned(),
            EXAMPLE.replace("-01", "-00").into_bytes(),
        )]);
        let decide = |parent: &Context| {
            Entries
                .should_sample(
                    Some(parent),
                    TraceId::INVALID,
                    "find",
                    &SpanKind::Client,
                    &[],
                    &[],
                )
                .decision
        };
        assert_eq!(decide(&sampled), SamplingDecision::RecordAndSample);
        assert_eq!(decide(&unsampled), SamplingDecision::Drop);
    }

    #[test]
    fn no_span_writes_an_empty_traceparent() {
        assert_eq!(TraceContext(Context::new()).to_string(), "");
    }
}
