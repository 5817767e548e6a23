//! Logging: readable text (coloured on a terminal), JSON lines in containers.
//!
//! Requests and consumed events run inside a span that carries their `trace_id`, so every line
//! they log shows it: in text as `request{trace_id=...}`, in JSON under `span`. The same spans
//! feed the OpenTelemetry layer, whatever `RUST_LOG` lets through to the log.

use std::io::IsTerminal;

use opentelemetry_sdk::trace::SdkTracer;
use serde::Deserialize;
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber: log lines filtered by `RUST_LOG` (`info` by default), and
/// this crate's spans turned into OpenTelemetry spans by `tracer`. Calling it again (a second
/// app in one test process) keeps the first subscriber.
pub(crate) fn init(format: LogFormat, tracer: SdkTracer) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,rdkafka=warn,librdkafka=warn,mongodb=warn,actix_server=warn")
    });
    // Colours only for a person at a terminal: in a file, escape codes get in the way of grep.
    let text = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
    let log = match format {
        LogFormat::Text => text.boxed(),
        LogFormat::Json => text
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    // The spans of requests, records published and records consumed, even when the log is
    // quieter than `info`: the trace context travels in them.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target("platform", Level::INFO));
    let _ = Registry::default()
        .with(log.with_filter(filter))
        .with(spans)
        .try_init();
}
