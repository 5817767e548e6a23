//! The command line: `storefront-bench [OPTIONS]` runs the benchmark, the subcommands run the
//! other measurements, the load generator and the yardstick.

use std::path::PathBuf;
use std::time::Duration;

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
    /// A backlog of customer changes waits on the changelog, then orders works through it once
    /// per prefetch bound while its resident memory is sampled.
    Backlog(BacklogOptions),
    /// 1, 2 and 3 instances of each service behind the load generator (round robin over their
    /// ports): reads by id and customer changes applied in orders, with the raw MongoDB
    /// baselines, records published per change, CPU per operation, rebalances.
    Scale(ScaleOptions),
    /// How cost grows with the data held: raw and HTTP reads by id, raw and conditional
    /// updates, customer changes applied in orders and the outbox relays' idle passes at each
    /// size. Writes a chart (SVG) beside the report.
    Growth(GrowthOptions),
    /// The realistic flow against a deployment that is already running (through the Istio
    /// gateway, or compose's services), for a while or until stopped; fails if a flow failed.
    #[command(
        after_help = "STOREFRONT_TOKEN (environment): a JWT sent as a bearer token, \
                            for istio/jwt."
    )]
    Load(TrafficOptions),
    /// The yardstick the benchmark runs by itself, as a process of its own: an actix-web
    /// handler answering a constant, for CPU per request with none of our work.
    Constant {
        /// Serves on 127.0.0.1:PORT until killed.
        #[arg(long)]
        port: u16,
    },
}

/// Where the service binaries are and where the report goes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Paths {
    /// Where accounts, orders and fulfillment are.
    #[arg(long, value_name = "DIR", default_value_os_t = binary_directory())]
    pub(crate) bin_dir: PathBuf,
    /// The JSON report; the Markdown goes beside it, .md [default: DIR/../bench/report.json, or COMMAND.json]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

impl Paths {
    /// The report's path: `--out`, else `<report>.json` in `bench/` beside the binaries' folder.
    pub(crate) fn out(&self, report: &str) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            self.bin_dir
                .join("../bench")
                .join(report)
                .with_extension("json")
        })
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Options {
    #[command(flatten)]
    pub(crate) paths: Paths,
    /// Workers in every phase, raw baselines included.
    #[arg(long, value_name = "N", default_value = "4", value_parser = at_least_one)]
    pub(crate) concurrency: usize,
    /// Length of each baseline and throughput phase.
    #[arg(long = "phase-seconds", value_name = "N", default_value = "10", value_parser = seconds)]
    pub(crate) phase: Duration,
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
    pub(crate) paths: Paths,
    /// Records in the backlog.
    #[arg(long, value_name = "N", default_value = "200000", value_parser = at_least_one)]
    pub(crate) records: usize,
    /// Comma-separated APP_CONSUMER__PREFETCH_KBYTES values.
    #[arg(long, value_name = "L", value_delimiter = ',', default_value = "4096,65536",
          value_parser = trimmed::<u32>)]
    pub(crate) prefetch_kbytes: Vec<u32>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ScaleOptions {
    #[command(flatten)]
    pub(crate) paths: Paths,
    /// Comma-separated instance counts.
    #[arg(long, value_name = "L", value_delimiter = ',', default_value = "1,2,3",
          value_parser = at_least_one)]
    pub(crate) instances: Vec<usize>,
    /// Workers in every phase.
    #[arg(long, value_name = "N", default_value = "8", value_parser = at_least_one)]
    pub(crate) concurrency: usize,
    /// Length of each phase.
    #[arg(long = "phase-seconds", value_name = "N", default_value = "10", value_parser = seconds)]
    pub(crate) phase: Duration,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct GrowthOptions {
    #[command(flatten)]
    pub(crate) paths: Paths,
    /// Comma-separated, increasing customer counts.
    #[arg(long, value_name = "L", value_delimiter = ',', default_value = "10000,100000,1000000",
          value_parser = at_least_one)]
    pub(crate) sizes: Vec<usize>,
    /// Workers in every phase.
    #[arg(long, value_name = "N", default_value = "4", value_parser = at_least_one)]
    pub(crate) concurrency: usize,
    /// Length of each phase.
    #[arg(long = "phase-seconds", value_name = "N", default_value = "10", value_parser = seconds)]
    pub(crate) phase: Duration,
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

    /// `None` runs until stopped.
    pub(crate) fn duration(&self) -> Option<Duration> {
        (self.seconds > 0).then(|| Duration::from_secs(self.seconds))
    }
}

impl Cli {
    /// Parses the process's arguments, exiting with clap's message on a mistake or for help.
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
        match mistake {
            Some(mistake) => {
                Err(Self::command().error(clap::error::ErrorKind::ArgumentConflict, mistake))
            }
            None => Ok(self),
        }
    }
}

/// The binary's own folder, where `cargo build` puts the services too.
fn binary_directory() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|binary| binary.parent().map(PathBuf::from))
        .unwrap_or_default()
}

fn trimmed<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))
}

fn at_least_one(value: &str) -> Result<usize, String> {
    match trimmed(value)? {
        0 => Err("must be at least 1".to_owned()),
        count => Ok(count),
    }
}

fn seconds(value: &str) -> Result<Duration, String> {
    trimmed(value).map(Duration::from_secs)
}

fn millis(value: &str) -> Result<Duration, String> {
    trimmed(value).map(Duration::from_millis)
}

/// A pace must be a positive number of flows per second.
fn rate(value: &str) -> Result<f64, String> {
    match trimmed::<f64>(value)? {
        rate if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err("must be a positive number".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(arguments: &[&str]) -> Result<Cli, clap::Error> {
        let arguments = ["storefront-bench", "--bin-dir", "target/release"]
            .into_iter()
            .chain(arguments.iter().copied());
        Cli::try_parse_from(arguments).and_then(Cli::checked)
    }

    fn parse_after_bin_dir(command: &str, arguments: &[&str]) -> Result<Cli, clap::Error> {
        let arguments = ["storefront-bench", command, "--bin-dir", "target/release"]
            .into_iter()
            .chain(arguments.iter().copied());
        Cli::try_parse_from(arguments).and_then(Cli::checked)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_put_the_report_beside_the_release_directory() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(
            cli.run.paths.out("report"),
            PathBuf::from("target/release/../bench/report.json")
        );
        assert_eq!(cli.run.concurrency, 4);
        assert_eq!(cli.run.flows, Duration::from_secs(30));
        assert_eq!(cli.run.rate, None);
    }

    #[test]
    fn every_option_is_read() {
        let options = parse(&[
            "--out",
            "r.json",
            "--concurrency",
            "8",
            "--phase-seconds",
            "5",
            "--flow-seconds",
            "20",
            "--rate",
            "2.5",
            "--poll-ms",
            "10",
            "--start-runs",
            "1",
            "--bulk-messages",
            "100",
        ])
        .unwrap()
        .run;
        assert_eq!(options.paths.out("report"), PathBuf::from("r.json"));
        assert_eq!(options.concurrency, 8);
        assert_eq!(options.phase, Duration::from_secs(5));
        assert_eq!(options.flows, Duration::from_secs(20));
        assert_eq!(options.rate, Some(2.5));
        assert_eq!(options.poll, Duration::from_millis(10));
        assert_eq!((options.start_runs, options.bulk_messages), (1, 100));
    }

    #[test]
    fn mistakes_are_refused() {
        let kind = |arguments: &[&str]| parse(arguments).unwrap_err().kind();
        assert_eq!(kind(&["--concurrency"]), ErrorKind::InvalidValue);
        assert_eq!(kind(&["--concurrency", "many"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["--concurrency", "0"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["--rate", "0"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["--fast", "1"]), ErrorKind::UnknownArgument);
        assert_eq!(kind(&["--help"]), ErrorKind::DisplayHelp);
    }

    #[test]
    fn the_backlog_command_reads_its_own_options() {
        let cli = parse_after_bin_dir(
            "backlog",
            &["--records", "1000", "--prefetch-kbytes", "1024, 8192"],
        );
        let Some(Command::Backlog(options)) = cli.unwrap().command else {
            panic!("expected the backlog command");
        };
        assert_eq!(
            (options.records, options.prefetch_kbytes),
            (1000, vec![1024, 8192])
        );
        assert_eq!(
            options.paths.out("backlog"),
            PathBuf::from("target/release/../bench/backlog.json")
        );
        assert!(parse_after_bin_dir("backlog", &["--records", "0"]).is_err());
        assert!(parse_after_bin_dir("backlog", &["--prefetch-kbytes", "lots"]).is_err());
    }

    #[test]
    fn the_growth_command_takes_increasing_sizes() {
        let cli = parse_after_bin_dir("growth", &["--sizes", "100,1000", "--database-pid", "4242"]);
        let Some(Command::Growth(options)) = cli.unwrap().command else {
            panic!("expected the growth command");
        };
        assert_eq!(options.sizes, vec![100, 1000]);
        assert_eq!((options.concurrency, options.database_pid), (4, Some(4242)));
        for mistake in [
            ["--database-pid", "mongod"],
            ["--sizes", "1000,100"],
            ["--sizes", "0,10"],
            ["--instances", "1"],
        ] {
            assert!(
                parse_after_bin_dir("growth", &mistake).is_err(),
                "{mistake:?}"
            );
        }
    }

    #[test]
    fn the_scale_command_reads_its_own_options() {
        let cli = parse_after_bin_dir("scale", &["--instances", "1, 3", "--phase-seconds", "5"]);
        let Some(Command::Scale(options)) = cli.unwrap().command else {
            panic!("expected the scale command");
        };
        assert_eq!(options.instances, vec![1, 3]);
        assert_eq!(
            (options.concurrency, options.phase),
            (8, Duration::from_secs(5))
        );
        assert!(parse_after_bin_dir("scale", &["--instances", "0,1"]).is_err());
        assert!(parse_after_bin_dir("scale", &["--rate", "1"]).is_err());
    }

    #[test]
    fn the_load_command_finds_the_services_under_a_gateway_or_one_by_one() {
        let load = |arguments: &[&str]| {
            Cli::try_parse_from(["storefront-bench", "load"].iter().chain(arguments))
                .and_then(Cli::checked)
        };
        let cli = load(&[
            "--gateway",
            "http://gateway.example/",
            "--fulfillment",
            "http://fulfillment:8080/fulfillment",
            "--seconds",
            "0",
            "--rate",
            "2",
        ]);
        let Some(Command::Load(options)) = cli.unwrap().command else {
            panic!("expected the load command");
        };
        assert_eq!(
            options.urls().unwrap(),
            [
                "http://gateway.example/accounts",
                "http://gateway.example/orders",
                "http://fulfillment:8080/fulfillment"
            ]
        );
        assert_eq!(options.duration(), None, "0 runs until stopped");
        assert_eq!(options.rate, Some(2.0));
        let missing = load(&["--accounts", "http://a/accounts"]).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("where is orders? --gateway URL or --orders URL"),
            "{missing}"
        );
        assert!(load(&["--gateway", "http://g", "--rate", "-1"]).is_err());
    }

    #[test]
    fn the_constant_server_needs_its_port() {
        let cli = Cli::try_parse_from(["storefront-bench", "constant", "--port", "8123"]);
        assert!(matches!(
            cli.unwrap().command,
            Some(Command::Constant { port: 8123 })
        ));
        assert!(Cli::try_parse_from(["storefront-bench", "constant"]).is_err());
    }
}
