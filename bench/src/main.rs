//! `storefront-bench`: the load generator and benchmark of issue 6.
//!
//! It starts the three services from their release binaries (timing start to readiness and
//! reading their memory), measures what the raw Kafka and MongoDB clients achieve on the same
//! broker and database at the same concurrency, drives the services with the realistic flow, and
//! reports every service figure as a ratio to that limit. `scripts/bench.sh` builds and runs it.

#![forbid(unsafe_code)]

mod backlog;
mod baseline;
mod chart;
mod constant;
mod footprint;
mod growth;
mod latency;
mod load;
mod options;
mod report;
mod run;
mod scale;
mod stack;
mod traffic;
mod workers;

use std::path::Path;
use std::process::ExitCode;

use options::{Command, Options, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|binary| binary.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    match Options::parse(std::env::args().skip(1), bin_dir) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => finished(run::run(options).await),
        Ok(Command::Backlog(options)) => finished(backlog::run(options).await),
        Ok(Command::Scale(options)) => finished(scale::run(options).await),
        Ok(Command::Growth(options)) => finished(growth::run(options).await),
        Ok(Command::Traffic(options)) => finished(traffic::run(options).await),
        Ok(Command::Constant { port }) => finished(constant::serve(port).await),
        Err(mistake) => {
            eprintln!("{mistake}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn finished(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("the benchmark failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}
