//! Running a service's parts together, and stopping them in order.
//!
//! On SIGTERM, Ctrl-C or the shutdown token: the HTTP server stops taking requests and lets
//! those in flight finish; then the consumer stops and commits; the outbox relay stops last, so
//! that it publishes what the last requests wrote. A consumer that stops by itself takes the
//! service down with it, so that the orchestrator restarts it instead of leaving it serving
//! stale data.

use actix_web::dev::Server;
use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::consumer::{Consumer, Handler};
use crate::outbox::Relay;

/// Serves until stopped.
pub async fn serve(
    server: Server,
    relay: Relay,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run(server, relay, None, shutdown).await
}

/// Serves and consumes until stopped.
pub async fn serve_and_consume<H: Handler>(
    server: Server,
    relay: Relay,
    consumer: Consumer<H>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stop = consumer.stop_token();
    let task = tokio::spawn(consumer.run());
    run(server, relay, Some((task, stop)), shutdown).await
}

type ConsumerTask = (JoinHandle<anyhow::Result<()>>, CancellationToken);

async fn run(
    server: Server,
    relay: Relay,
    consumer: Option<ConsumerTask>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
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
        Some((mut task, stop)) => {
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
    crate::trace::export::flush();
    consumed
        .context("the consumer task")?
        .context("the consumer")
}

async fn stop_server(
    handle: actix_web::dev::ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
) -> anyhow::Result<()> {
    handle.stop(true).await;
    server.await.context("the HTTP server task")??;
    Ok(())
}
