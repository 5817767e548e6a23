//! The yardstick for CPU per request: `storefront-bench constant --port N` serves, as a process
//! of its own, an actix-web handler that answers a constant (a customer-sized JSON body), with
//! the framework's defaults, as the services use them. The benchmark spawns it, drives it like
//! the read phase drives accounts, and reads its CPU time from `/proc/PID/stat`: what a request
//! costs the framework and the kernel with none of the storefront's work.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio::process::{Child, Command};

use crate::footprint::{Cpu, cpu};
use crate::workers::{Outcome, closed_loop};

/// How long the constant server may take to answer its first request.
const READY_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `GET /constant/{id}` on 127.0.0.1:`port` until killed.
pub(crate) async fn serve(port: u16) -> anyhow::Result<()> {
    let body = web::Bytes::from(serde_json::to_vec(&crate::load::customer(0))?);
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

/// The constant server, running as a child process.
pub(crate) struct Constant {
    process: Child,
    pid: u32,
    url: String,
}

impl Constant {
    /// Starts it on a free port and waits until it answers.
    pub(crate) async fn start(client: &reqwest::Client) -> anyhow::Result<Self> {
        let port = test_support::free_port();
        let process = Command::new(std::env::current_exe()?)
            .args(["constant", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the constant server")?;
        let pid = process.id().context("the constant server ended at once")?;
        let url = format!("http://127.0.0.1:{port}/constant");
        let deadline = Instant::now() + READY_DEADLINE;
        while !client
            .get(format!("{url}/0"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the constant server did not answer"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(Constant { process, pid, url })
    }

    /// Reads of the constant on `concurrency` workers for `duration`, and the CPU the server
    /// used meanwhile.
    pub(crate) async fn read(
        &self,
        client: &reqwest::Client,
        concurrency: usize,
        duration: Duration,
    ) -> anyhow::Result<(Outcome, Cpu)> {
        let before = cpu(&[self.pid])?;
        let (client, url) = (client.clone(), Arc::new(self.url.clone()));
        let outcome = closed_loop(concurrency, duration, move |n| {
            crate::load::read(client.get(format!("{url}/{n}")), "GET constant")
        })
        .await;
        Ok((outcome, cpu(&[self.pid])?.since(before)))
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.process.kill().await;
    }
}
