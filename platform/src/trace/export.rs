//! Exporting spans over OTLP/HTTP (protobuf), off unless an endpoint is configured.
//!
//! The spans are built from [`TraceContext`]s, so an exported span has exactly the trace id
//! and span id that the logs and the outgoing `traceparent` headers carry, and its parent is
//! the span named by the incoming `traceparent`.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::SystemTime;

use anyhow::Context;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};

use super::TraceContext;

static PROCESSOR: OnceLock<BatchSpanProcessor> = OnceLock::new();

/// Starts exporting to `endpoint` (the collector's OTLP/HTTP base URL, e.g.
/// `http://otel-collector:4318`) under the service name `service`. Later calls keep the first
/// exporter.
pub fn install(endpoint: &str, service: &'static str) -> anyhow::Result<()> {
    let endpoint = endpoint.trim_end_matches('/');
    let url = if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    };
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()
        .context("building the OTLP span exporter")?;
    let mut processor = BatchSpanProcessor::builder(exporter).build();
    processor.set_resource(&Resource::builder().with_service_name(service).build());
    let _ = PROCESSOR.set(processor);
    Ok(())
}

/// Sends what is buffered (at shutdown).
pub fn flush() {
    if let Some(processor) = PROCESSOR.get()
        && let Err(error) = processor.force_flush()
    {
        tracing::warn!(%error, "flushing spans");
    }
}

/// One finished unit of work.
pub struct FinishedSpan {
    pub context: TraceContext,
    pub name: String,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<KeyValue>,
    pub failed: bool,
}

/// Exports a span, if an exporter is installed.
pub fn record(span: FinishedSpan) {
    let Some(processor) = PROCESSOR.get() else {
        return;
    };
    let context = span.context;
    let flags = if context.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let span_context = SpanContext::new(
        TraceId::from(context.trace_id),
        SpanId::from(context.span_id),
        flags,
        false,
        TraceState::default(),
    );
    processor.on_end(SpanData {
        span_context,
        parent_span_id: context
            .parent_span_id
            .map(SpanId::from)
            .unwrap_or(SpanId::INVALID),
        parent_span_is_remote: context.parent_span_id.is_some(),
        span_kind: span.kind,
        name: Cow::Owned(span.name),
        start_time: span.start,
        end_time: span.end,
        attributes: span.attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: if span.failed {
            Status::error("")
        } else {
            Status::Unset
        },
        instrumentation_scope: InstrumentationScope::builder("storefront").build(),
    });
}
