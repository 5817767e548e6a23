//! The command line: `storefront-bench [OPTIONS]` runs the benchmark, the subcommands run the
//! other measurements, the load generator and the yardstick.

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "storefront-bench",
    about = "Starts the three services from their release binaries on free ports, with their own \
             databases, consumer groups and topics; measures raw Kafka and MongoDB on the same \
             broker and database; drives the realistic flow; prints Markdown tables and writes \
             JSON.",
    after_help = "Broker and database come from the same settings the services read \
                  (APP_KAFKA__*, APP_DATABASE__URI).",
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) run: Options,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Orders' resident memory as it works through a backlog, once per prefetch bound.
    Backlog(BacklogOptions),
    /// 1, 2 and 3 instances of each service behind the load generator, round robin.
    #[command(mut_arg("concurrency", |arg| arg.default_value("8")))]
    Scale(ScaleOptions),
    /// How cost grows with the customers held; writes a chart (SVG) beside the report.
    Growth(GrowthOptions),
    /// The realistic flow against a running deployment; fails if a flow failed.
    #[command(after_help = "STOREFRONT_TOKEN (environment): a JWT sent as a bearer token.")]
    Load(TrafficOptions),
    /// The yardstick for CPU per request: an actix-web handler answering a constant.
    Constant {
        /// Serves on 127.0.0.1:PORT until killed.
        #[arg(long)]
        port: u16,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// Where accounts, orders and fulfillment are.
    #[arg(long, value_name = "DIR", default_value_os_t = binary_directory())]
    pub(crate) bin_dir: PathBuf,
    /// The JSON report; the Markdown goes beside it, .md [default: DIR/../bench/report.json, or COMMAND.json]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Workers in every phase, raw baselines included.
    #[arg(long, value_name = "N", default_value = "4", value_parser = at_least_one)]
    pub(crate) concurrency: usize,
    /// Length of each baseline and throughput phase.
    #[arg(long = "phase-seconds", value_name = "N", default_value = "10", value_parser = seconds)]
    pub(crate) phase: Duration,
}

impl Common {
    pub(crate) fn phases(&self) -> crate::latency::Phase {
        (self.concurrency, self.phase)
    }

    /// The report's path: `--out`, else `<report>.json` in `bench/` beside the binaries' folder.
    pub(crate) fn out(&self, report: &str) -> PathBuf {
        let default = || self.bin_dir.join(format!("../bench/{report}.json"));
        self.out.clone().unwrap_or_else(default)
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Options {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Length of the realistic-flow phase.
    #[arg(long = "flow-seconds", value_name = "N", default_value = "30", value_parser = seconds)]
    pub(crate) flows: Duration,
    /// Pace the flows to N per second in all (else as fast as the workers go).
    #[arg(long, value_name = "N", value_parser = rate)]
    pub(crate) rate: Option<f64>,
    /// How often a worker looks for an effect in the other service.
    #[arg(long = "poll-ms", value_name = "N", default_value = "5", value_parser = millis)]
    pub(crate) poll: Duration,
    /// Extra start-stop cycles per service for the start-up figure.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) start_runs: usize,
    /// Records in the bulk produce and consume baseline.
    #[arg(long, value_name = "N", default_value = "20000", value_parser = at_least_one)]
    pub(crate) bulk_messages: usize,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct BacklogOptions {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Records in the backlog.
    #[arg(long, value_name = "N", default_value = "200000", value_parser = at_least_one)]
    pub(crate) records: usize,
    /// Comma-separated APP_CONSUMER__PREFETCH_KBYTES values.
    #[arg(
        long,
        value_name = "L",
        value_delimiter = ',',
        default_value = "4096,65536"
    )]
    pub(crate) prefetch_kbytes: Vec<u32>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ScaleOptions {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Comma-separated instance counts.
    #[arg(long, value_name = "L", value_delimiter = ',', default_value = "1,2,3",
          value_parser = at_least_one)]
    pub(crate) instances: Vec<usize>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct GrowthOptions {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Comma-separated, increasing customer counts.
    #[arg(long, value_name = "L", value_delimiter = ',', default_value = "10000,100000,1000000",
          value_parser = at_least_one)]
    pub(crate) sizes: Vec<usize>,
    /// The database server's process: its CPU over the idle passes is reported.
    #[arg(long, value_name = "N")]
    pub(crate) database_pid: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct TrafficOptions {
    /// The services under one address: URL/accounts, URL/orders, URL/fulfillment.
    #[arg(long, value_name = "URL")]
    gateway: Option<String>,
    /// Accounts' base URL (e.g. http://accounts:8080/accounts), instead of or over --gateway.
    #[arg(long, value_name = "URL")]
    accounts: Option<String>,
    /// Orders' base URL, instead of or over --gateway.
    #[arg(long, value_name = "URL")]
    orders: Option<String>,
    /// Fulfillment's base URL, instead of or over --gateway.
    #[arg(long, value_name = "URL")]
    fulfillment: Option<String>,
    /// Flows at once.
    #[arg(long, value_name = "N", default_value = "4", value_parser = at_least_one)]
    pub(crate) concurrency: usize,
    /// How long; 0 runs until SIGTERM or Ctrl-C.
    #[arg(long, value_name = "N", default_value_t = 60)]
    seconds: u64,
    /// Pace the flows to N per second in all.
    #[arg(long, value_name = "N", value_parser = rate)]
    pub(crate) rate: Option<f64>,
    /// How often a flow looks for an effect in another service.
    #[arg(long = "poll-ms", value_name = "N", default_value = "50", value_parser = millis)]
    pub(crate) poll: Duration,
}

impl TrafficOptions {
    /// The base URLs of accounts, orders and fulfillment, each given or under the gateway.
    pub(crate) fn urls(&self) -> Result<[String; 3], String> {
        let gateway = self.gateway.as_deref().map(|url| url.trim_end_matches('/'));
        let base = |service: &str, given: &Option<String>| {
            given
                .as_deref()
                .map(|url| url.trim_end_matches('/').to_owned())
                .or_else(|| gateway.map(|gateway| format!("{gateway}/{service}")))
                .ok_or_else(|| format!("where is {service}? --gateway URL or --{service} URL"))
        };
        Ok([
            base("accounts", &self.accounts)?,
            base("orders", &self.orders)?,
            base("fulfillment", &self.fulfillment)?,
        ])
    }

    pub(crate) fn duration(&self) -> Option<Duration> {
        (self.seconds > 0).then(|| Duration::from_secs(self.seconds))
    }
}

impl Cli {
    pub(crate) fn read() -> Self {
        Self::checked(Self::parse()).unwrap_or_else(|error| error.exit())
    }

    /// The checks that span more than one option.
    fn checked(self) -> Result<Self, clap::Error> {
        let mistake = match &self.command {
            Some(Command::Growth(growth)) if !growth.sizes.is_sorted_by(|a, b| a < b) => {
                Some("--sizes takes increasing counts".to_owned())
            }
            Some(Command::Load(load)) => load.urls().err(),
            _ => None,
        };
        let conflict = |mistake| Self::command().error(ErrorKind::ArgumentConflict, mistake);
        mistake.map_or(Ok(self), |mistake| Err(conflict(mistake)))
    }
}

/// The binary's own folder, where `cargo build` puts the services too.
fn binary_directory() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|binary| binary.parent().map(PathBuf::from))
        .unwrap_or_default()
}

fn at_least_one(value: &str) -> Result<usize, String> {
    match value.trim().parse() {
        Ok(0) | Err(_) => Err(format!("`{value}` is not a count of at least 1")),
        Ok(count) => Ok(count),
    }
}

fn seconds(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_secs)
}

fn millis(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_millis)
}

fn rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(format!("`{value}` is not a positive number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Cli, clap::Error> {
        let arguments = ["storefront-bench"].iter().chain(arguments);
        Cli::try_parse_from(arguments).and_then(Cli::checked)
    }

    #[test]
    fn each_command_reads_and_checks_its_options() {
        Cli::command().debug_assert();
        let cli = parse(&["--bin-dir", "target/release", "--rate", "2.5"]).unwrap();
        let expected = PathBuf::from("target/release/../bench/report.json");
        assert_eq!(cli.run.common.out("report"), expected);
        assert_eq!((cli.run.common.concurrency, cli.run.rate), (4, Some(2.5)));
        for mistake in [&["--rate", "0"][..], &["scale", "--instances", "0,1"]] {
            assert!(parse(mistake).is_err(), "{mistake:?}");
        }
        assert!(parse(&["growth", "--sizes", "1000,100"]).is_err());
        let Some(Command::Scale(scale)) = parse(&["scale", "--instances", "1,3"]).unwrap().command
        else {
            panic!("expected the scale command");
        };
        assert_eq!((scale.instances, scale.common.concurrency), (vec![1, 3], 8));
        let load = [
            "load",
            "--gateway",
            "http://g/",
            "--fulfillment",
            "http://f/fulfillment",
        ];
        let Some(Command::Load(options)) = parse(&load).unwrap().command else {
            panic!("expected the load command");
        };
        let urls = options.urls().unwrap();
        assert_eq!(
            [&urls[0][..], &urls[2]],
            ["http://g/accounts", "http://f/fulfillment"]
        );
        let missing = parse(&["load", "--accounts", "http://a/accounts"]).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("--gateway URL or --orders URL"),
            "{missing}"
        );
    }
}
