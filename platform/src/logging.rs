//! Logging: readable text (coloured on a terminal), JSON lines in containers.
//!
//! Requests and consumed events run inside a span that carries their `trace_id`, so every line
//! they log shows it: in text as `request{trace_id=...}`, in JSON under `span`.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber: `RUST_LOG` filters, `info` by default. Calling it again (a
/// second app in one test process) keeps the first subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,rdkafka=warn,librdkafka=warn,mongodb=warn,actix_server=warn")
    });
    // Colours only for a person at a terminal: in a file, escape codes get in the way of grep.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
