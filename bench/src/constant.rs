//! The yardstick for CPU per request: a process of its own serving an actix-web handler that
//! answers a customer-sized constant with the framework's defaults, driven like the read phase:
//! what a request costs the framework and the kernel with none of the storefront's work.

use std::process::Stdio;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use test_support::within;
use tokio::process::Command;

use crate::footprint::{Cpu, metered};
use crate::latency::{Outcome, Phase, closed_loop};
use crate::load::{customer, read};

/// Serves `GET /constant/{id}` on 127.0.0.1:`port` until killed.
pub(crate) async fn serve(port: u16) -> anyhow::Result<()> {
    let body = web::Bytes::from(serde_json::to_vec(&customer(0))?);
    HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/constant/{id}",
            web::get().to(move |_id: web::Path<String>| {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .bind(("127.0.0.1", port))
    .with_context(|| format!("binding 127.0.0.1:{port}"))?
    .run()
    .await
    .context("serving the constant")
}

/// Starts the constant server on a free port and reads it over `phase`, with its CPU meanwhile.
pub(crate) async fn measure(
    client: &reqwest::Client,
    phase: Phase,
) -> anyhow::Result<(Outcome, Cpu)> {
    let port = test_support::free_port();
    let mut process = Command::new(std::env::current_exe()?)
        .args(["constant", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the constant server")?;
    let pid = process.id().context("the constant server ended at once")?;
    let url = format!("http://127.0.0.1:{port}/constant");
    let answers = || async { Ok(read(client.get(format!("{url}/0")), "").await.ok()) };
    let (deadline, interval) = (Duration::from_secs(10), Duration::from_millis(5));
    within("the constant server", deadline, interval, answers).await?;
    let state = (client.clone(), url);
    let outcome = closed_loop(phase, state, |(client, url), n| {
        read(client.get(format!("{url}/{n}")), "GET constant")
    });
    let (outcome, used, _) = metered(&[pid], outcome).await?;
    let _ = process.kill().await;
    Ok((outcome, used))
}
