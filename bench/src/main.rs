//! `storefront-bench`: the load generator and benchmark, every service figure a ratio to what
//! the raw Kafka and MongoDB clients achieve on the same broker and database.

#![forbid(unsafe_code)]

/// Logs a step of the run on stderr (the report goes to stdout and files).
macro_rules! step {
    ($($format:tt)*) => {
        eprintln!("==> {}", format_args!($($format)*))
    };
}

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

use std::process::ExitCode;

use options::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::read();
    let outcome = match cli.command {
        None => run::run(cli.run).await,
        Some(Command::Backlog(options)) => backlog::run(options).await,
        Some(Command::Scale(options)) => scale::run(options).await,
        Some(Command::Growth(options)) => growth::run(options).await,
        Some(Command::Load(options)) => traffic::run(options).await,
        Some(Command::Constant { port }) => constant::serve(port).await,
    };
    if let Err(error) = outcome {
        eprintln!("the benchmark failed: {error:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
