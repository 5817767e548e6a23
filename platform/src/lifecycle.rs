//! A service's life: what it installs at start, the pieces it runs together, and the order in
//! which it stops them.
//!
//! On SIGTERM, Ctrl-C or the shutdown token: the HTTP server stops taking requests and lets
//! those in flight finish; then the consumer stops and commits; the outbox relay stops last, so
//! that it publishes what the last requests wrote. A consumer that stops by itself takes the
//! service down with it, so that the orchestrator restarts it instead of leaving it serving
//! stale data.

use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::consumer::{Consumer, Handler};
use crate::relay::Relay;
use crate::settings::TelemetrySettings;

/// Runs a service's `main` to its end on the runtime its consumer, outbox relay and shared
/// MongoDB client live on: one thread, the process's main thread.
///
/// The HTTP workers run on runtimes and threads of their own, each with its own MongoDB client
/// ([`crate::mongo::Connector`]), so what runs here waits on the broker and the database. On
/// one thread, a record handed from the consumer to the driver's connection and back wakes no
/// other thread; on tokio's multi-threaded runtime each such hand-over woke an idle worker
/// (an `eventfd` write and a context switch). A consumer's handling is bounded by one core
/// this way; a service scales out by instances in its consumer group.
pub fn run<F>(main: F) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(main)
}

/// Installs what observes a service named `name`: the metrics recorder, the tracer (exporting
/// when the settings name a collector) and the log.
pub fn install_observability(
    name: &'static str,
    settings: &TelemetrySettings,
) -> anyhow::Result<()> {
    crate::metrics::install(name);
    let tracer = crate::trace::install(name, settings.otlp_endpoint.as_deref())?;
    crate::logging::init(settings.log_format, tracer);
    Ok(())
}

/// The running pieces of a service: its HTTP server, its outbox relay and, in a service that
/// consumes, its consumer. Nothing runs until [`Application::run_until_stopped`].
pub struct Application {
    port: u16,
    server: Server,
    relay: Relay,
    consumer: Option<Consuming>,
    shutdown: CancellationToken,
}

/// A consumer's loop, not yet started, and the token that stops it.
struct Consuming {
    run: BoxFuture<'static, anyhow::Result<()>>,
    stop: CancellationToken,
}

impl Application {
    /// A service that serves HTTP on `port` and relays its outbox.
    pub fn new(server: Server, port: u16, relay: Relay) -> Self {
        Application {
            port,
            server,
            relay,
            consumer: None,
            shutdown: CancellationToken::new(),
        }
    }

    /// The same service, consuming too.
    pub fn with_consumer<H: Handler>(self, consumer: Consumer<H>) -> Self {
        let stop = consumer.stop_token();
        Application {
            consumer: Some(Consuming {
                run: Box::pin(consumer.run()),
                stop,
            }),
            ..self
        }
    }

    /// The port the HTTP server listens on (the one picked when the settings said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cancelling this token stops the service as SIGTERM would.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves (and consumes) until SIGTERM, Ctrl-C or the shutdown token, then stops the parts
    /// in order.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            relay,
            consumer,
            shutdown,
            ..
        } = self;
        let signals = tokio::spawn(crate::shutdown::cancel_on_signal(shutdown.clone()));
        let relay_stop = CancellationToken::new();
        let relay = tokio::spawn(relay.run(relay_stop.clone()));
        let handle = server.handle();
        let server = tokio::spawn(server);

        let consumed = match consumer {
            None => {
                shutdown.cancelled().await;
                stop_server(handle, server).await?;
                Ok(Ok(()))
            }
            Some(Consuming { run, stop }) => {
                let mut task = tokio::spawn(run);
                let ended_early = tokio::select! {
                    () = shutdown.cancelled() => None,
                    ended = &mut task => Some(ended),
                };
                stop_server(handle, server).await?;
                match ended_early {
                    Some(ended) => ended,
                    None => {
                        stop.cancel();
                        task.await
                    }
                }
            }
        };
        relay_stop.cancel();
        relay.await.context("the outbox relay task")?;
        signals.abort();
        crate::trace::flush();
        consumed
            .context("the consumer task")?
            .context("the consumer")
    }
}

async fn stop_server(
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
) -> anyhow::Result<()> {
    handle.stop(true).await;
    server.await.context("the HTTP server task")??;
    Ok(())
}
