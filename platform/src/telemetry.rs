//! Logging set-up.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` filters, `info` by default. Calling it again (a
/// second app in one test process) keeps the first subscriber.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn,mongodb=warn,actix_server=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
