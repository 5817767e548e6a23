//! The command line: `storefront-bench [--option value]...`.

use std::path::PathBuf;
use std::time::Duration;

/// The command line's help, which `scripts/bench.sh --help` prints too (without building).
pub(crate) const USAGE: &str = include_str!("../usage.txt");

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub(crate) bin_dir: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) concurrency: usize,
    pub(crate) phase: Duration,
    pub(crate) flows: Duration,
    pub(crate) rate: Option<f64>,
    pub(crate) poll: Duration,
    pub(crate) start_runs: usize,
    pub(crate) bulk_messages: usize,
}

/// The options of `storefront-bench backlog`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BacklogOptions {
    pub(crate) bin_dir: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) records: usize,
    pub(crate) prefetch_kbytes: Vec<u32>,
}

/// The options of `storefront-bench scale`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScaleOptions {
    pub(crate) bin_dir: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) instances: Vec<usize>,
    pub(crate) concurrency: usize,
    pub(crate) phase: Duration,
}

/// The options of `storefront-bench growth`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GrowthOptions {
    pub(crate) bin_dir: PathBuf,
    pub(crate) out: PathBuf,
    /// Customers held at each step, increasing.
    pub(crate) sizes: Vec<usize>,
    pub(crate) concurrency: usize,
    pub(crate) phase: Duration,
    /// The database server's process, whose CPU while the relays idle is reported.
    pub(crate) database_pid: Option<u32>,
}

/// The options of `storefront-bench load`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrafficOptions {
    /// The base URLs of accounts, orders and fulfillment.
    pub(crate) accounts: String,
    pub(crate) orders: String,
    pub(crate) fulfillment: String,
    pub(crate) concurrency: usize,
    /// `None` runs until stopped.
    pub(crate) duration: Option<Duration>,
    pub(crate) rate: Option<f64>,
    pub(crate) poll: Duration,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Run(Options),
    Backlog(BacklogOptions),
    Scale(ScaleOptions),
    Growth(GrowthOptions),
    Traffic(TrafficOptions),
    /// The constant server the benchmark runs as its yardstick.
    Constant {
        port: u16,
    },
    Help,
}

/// A pace must be a positive number of flows per second.
fn check_rate(rate: Option<f64>) -> Result<(), String> {
    match rate {
        Some(rate) if rate <= 0.0 || !rate.is_finite() => {
            Err("--rate must be a positive number".to_owned())
        }
        _ => Ok(()),
    }
}

fn parsed<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{option} takes a number, not `{value}`"))
}

/// Hands each `--option value` pair to `apply`, in order; true if `--help` came first.
fn each_option(
    mut arguments: impl Iterator<Item = String>,
    mut apply: impl FnMut(&str, String) -> Result<(), String>,
) -> Result<bool, String> {
    while let Some(option) = arguments.next() {
        if option == "--help" || option == "-h" {
            return Ok(true);
        }
        let value = arguments
            .next()
            .ok_or_else(|| format!("{option} needs a value"))?;
        apply(&option, value)?;
    }
    Ok(false)
}

impl Options {
    /// Reads the arguments after the program name; `bin_dir` is the default binary directory.
    pub(crate) fn parse(
        arguments: impl IntoIterator<Item = String>,
        bin_dir: PathBuf,
    ) -> Result<Command, String> {
        let mut arguments = arguments.into_iter().peekable();
        match arguments.peek().map(String::as_str) {
            Some("backlog") => {
                arguments.next();
                return BacklogOptions::parse(arguments, bin_dir);
            }
            Some("scale") => {
                arguments.next();
                return ScaleOptions::parse(arguments, bin_dir);
            }
            Some("growth") => {
                arguments.next();
                return GrowthOptions::parse(arguments, bin_dir);
            }
            Some("load") => {
                arguments.next();
                return TrafficOptions::parse(arguments);
            }
            Some("constant") => {
                arguments.next();
                let mut port = None;
                let help = each_option(arguments, |option, value| match option {
                    "--port" => {
                        port = Some(parsed(option, &value)?);
                        Ok(())
                    }
                    _ => Err(format!("unknown option {option}")),
                })?;
                if help {
                    return Ok(Command::Help);
                }
                return port
                    .map(|port| Command::Constant { port })
                    .ok_or_else(|| "constant needs --port N".to_owned());
            }
            _ => {}
        }
        let mut options = Options {
            out: PathBuf::new(),
            bin_dir,
            concurrency: 4,
            phase: Duration::from_secs(10),
            flows: Duration::from_secs(30),
            rate: None,
            poll: Duration::from_millis(5),
            start_runs: 3,
            bulk_messages: 20_000,
        };
        let mut out = None;
        let help = each_option(arguments, |option, value| {
            match option {
                "--bin-dir" => options.bin_dir = PathBuf::from(value),
                "--out" => out = Some(PathBuf::from(value)),
                "--concurrency" => options.concurrency = parsed(option, &value)?,
                "--phase-seconds" => options.phase = Duration::from_secs(parsed(option, &value)?),
                "--flow-seconds" => options.flows = Duration::from_secs(parsed(option, &value)?),
                "--rate" => options.rate = Some(parsed(option, &value)?),
                "--poll-ms" => options.poll = Duration::from_millis(parsed(option, &value)?),
                "--start-runs" => options.start_runs = parsed(option, &value)?,
                "--bulk-messages" => options.bulk_messages = parsed(option, &value)?,
                _ => return Err(format!("unknown option {option}")),
            }
            Ok(())
        })?;
        if help {
            return Ok(Command::Help);
        }
        options.out = out.unwrap_or_else(|| options.bin_dir.join("../bench/report.json"));
        if options.concurrency == 0 || options.bulk_messages == 0 {
            return Err("--concurrency and --bulk-messages must be at least 1".to_owned());
        }
        check_rate(options.rate)?;
        Ok(Command::Run(options))
    }
}

impl BacklogOptions {
    fn parse(arguments: impl Iterator<Item = String>, bin_dir: PathBuf) -> Result<Command, String> {
        let mut options = BacklogOptions {
            out: PathBuf::new(),
            bin_dir,
            records: 200_000,
            prefetch_kbytes: vec![4096, 65536],
        };
        let mut out = None;
        let help = each_option(arguments, |option, value| {
            match option {
                "--bin-dir" => options.bin_dir = PathBuf::from(value),
                "--out" => out = Some(PathBuf::from(value)),
                "--records" => options.records = parsed(option, &value)?,
                "--prefetch-kbytes" => options.prefetch_kbytes = list(option, &value)?,
                _ => return Err(format!("unknown option {option}")),
            }
            Ok(())
        })?;
        if help {
            return Ok(Command::Help);
        }
        options.out = out.unwrap_or_else(|| options.bin_dir.join("../bench/backlog.json"));
        if options.records == 0 || options.prefetch_kbytes.is_empty() {
            return Err("--records and --prefetch-kbytes need at least one".to_owned());
        }
        Ok(Command::Backlog(options))
    }
}

impl ScaleOptions {
    fn parse(arguments: impl Iterator<Item = String>, bin_dir: PathBuf) -> Result<Command, String> {
        let mut options = ScaleOptions {
            out: PathBuf::new(),
            bin_dir,
            instances: vec![1, 2, 3],
            concurrency: 8,
            phase: Duration::from_secs(10),
        };
        let mut out = None;
        let help = each_option(arguments, |option, value| {
            match option {
                "--bin-dir" => options.bin_dir = PathBuf::from(value),
                "--out" => out = Some(PathBuf::from(value)),
                "--instances" => options.instances = list(option, &value)?,
                "--concurrency" => options.concurrency = parsed(option, &value)?,
                "--phase-seconds" => options.phase = Duration::from_secs(parsed(option, &value)?),
                _ => return Err(format!("unknown option {option}")),
            }
            Ok(())
        })?;
        if help {
            return Ok(Command::Help);
        }
        options.out = out.unwrap_or_else(|| options.bin_dir.join("../bench/scale.json"));
        if options.instances.is_empty() || options.instances.contains(&0) {
            return Err("--instances takes counts of at least 1".to_owned());
        }
        if options.concurrency == 0 {
            return Err("--concurrency must be at least 1".to_owned());
        }
        Ok(Command::Scale(options))
    }
}

impl GrowthOptions {
    fn parse(arguments: impl Iterator<Item = String>, bin_dir: PathBuf) -> Result<Command, String> {
        let mut options = GrowthOptions {
            out: PathBuf::new(),
            bin_dir,
            sizes: vec![10_000, 100_000, 1_000_000],
            concurrency: 4,
            phase: Duration::from_secs(10),
            database_pid: None,
        };
        let mut out = None;
        let help = each_option(arguments, |option, value| {
            match option {
                "--bin-dir" => options.bin_dir = PathBuf::from(value),
                "--out" => out = Some(PathBuf::from(value)),
                "--sizes" => options.sizes = list(option, &value)?,
                "--concurrency" => options.concurrency = parsed(option, &value)?,
                "--phase-seconds" => options.phase = Duration::from_secs(parsed(option, &value)?),
                "--database-pid" => options.database_pid = Some(parsed(option, &value)?),
                _ => return Err(format!("unknown option {option}")),
            }
            Ok(())
        })?;
        if help {
            return Ok(Command::Help);
        }
        options.out = out.unwrap_or_else(|| options.bin_dir.join("../bench/growth.json"));
        let increasing = options.sizes.windows(2).all(|pair| pair[0] < pair[1]);
        if options.sizes.is_empty() || options.sizes.contains(&0) || !increasing {
            return Err("--sizes takes increasing counts of at least 1".to_owned());
        }
        if options.concurrency == 0 {
            return Err("--concurrency must be at least 1".to_owned());
        }
        Ok(Command::Growth(options))
    }
}

impl TrafficOptions {
    fn parse(arguments: impl Iterator<Item = String>) -> Result<Command, String> {
        let (mut gateway, mut accounts, mut orders, mut fulfillment) = (None, None, None, None);
        let mut seconds = 60;
        let mut options = TrafficOptions {
            accounts: String::new(),
            orders: String::new(),
            fulfillment: String::new(),
            concurrency: 4,
            duration: None,
            rate: None,
            poll: Duration::from_millis(50),
        };
        let help = each_option(arguments, |option, value| {
            let url = value.trim_end_matches('/').to_owned();
            match option {
                "--gateway" => gateway = Some(url),
                "--accounts" => accounts = Some(url),
                "--orders" => orders = Some(url),
                "--fulfillment" => fulfillment = Some(url),
                "--concurrency" => options.concurrency = parsed(option, &value)?,
                "--seconds" => seconds = parsed(option, &value)?,
                "--rate" => options.rate = Some(parsed(option, &value)?),
                "--poll-ms" => options.poll = Duration::from_millis(parsed(option, &value)?),
                _ => return Err(format!("unknown option {option}")),
            }
            Ok(())
        })?;
        if help {
            return Ok(Command::Help);
        }
        let base = |service: &str, given: Option<String>| {
            given
                .or_else(|| {
                    gateway
                        .as_ref()
                        .map(|gateway| format!("{gateway}/{service}"))
                })
                .ok_or_else(|| format!("where is {service}? --gateway URL or --{service} URL"))
        };
        options.accounts = base("accounts", accounts)?;
        options.orders = base("orders", orders)?;
        options.fulfillment = base("fulfillment", fulfillment)?;
        options.duration = (seconds > 0).then(|| Duration::from_secs(seconds));
        if options.concurrency == 0 {
            return Err("--concurrency must be at least 1".to_owned());
        }
        check_rate(options.rate)?;
        Ok(Command::Traffic(options))
    }
}

/// A comma-separated list of numbers.
fn list<T: std::str::FromStr>(option: &str, value: &str) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|item| parsed(option, item.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Command, String> {
        Options::parse(
            arguments.iter().map(|a| (*a).to_owned()),
            PathBuf::from("target/release"),
        )
    }

    fn run(arguments: &[&str]) -> Options {
        match parse(arguments) {
            Ok(Command::Run(options)) => options,
            other => panic!("expected options, got {other:?}"),
        }
    }

    #[test]
    fn defaults_put_the_report_beside_the_release_directory() {
        let options = run(&[]);
        assert_eq!(options.bin_dir, PathBuf::from("target/release"));
        assert_eq!(
            options.out,
            PathBuf::from("target/release/../bench/report.json")
        );
        assert_eq!(options.concurrency, 4);
        assert_eq!(options.rate, None);
    }

    #[test]
    fn the_report_follows_a_binary_directory_given_after_it() {
        let options = run(&["--bin-dir", "/opt/storefront"]);
        assert_eq!(
            options.out,
            PathBuf::from("/opt/storefront/../bench/report.json")
        );
    }

    #[test]
    fn every_option_is_read() {
        let options = run(&[
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
        ]);
        assert_eq!(options.out, PathBuf::from("r.json"));
        assert_eq!(options.concurrency, 8);
        assert_eq!(options.phase, Duration::from_secs(5));
        assert_eq!(options.flows, Duration::from_secs(20));
        assert_eq!(options.rate, Some(2.5));
        assert_eq!(options.poll, Duration::from_millis(10));
        assert_eq!((options.start_runs, options.bulk_messages), (1, 100));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            parse(&["--concurrency"]),
            Err("--concurrency needs a value".to_owned())
        );
        assert_eq!(
            parse(&["--concurrency", "many"]),
            Err("--concurrency takes a number, not `many`".to_owned())
        );
        assert_eq!(
            parse(&["--fast", "1"]),
            Err("unknown option --fast".to_owned())
        );
        assert!(parse(&["--rate", "0"]).is_err());
        assert!(parse(&["--concurrency", "0"]).is_err());
    }

    #[test]
    fn the_backlog_command_reads_its_own_options() {
        assert_eq!(
            parse(&[
                "backlog",
                "--records",
                "1000",
                "--prefetch-kbytes",
                "1024, 8192"
            ]),
            Ok(Command::Backlog(BacklogOptions {
                bin_dir: PathBuf::from("target/release"),
                out: PathBuf::from("target/release/../bench/backlog.json"),
                records: 1000,
                prefetch_kbytes: vec![1024, 8192],
            }))
        );
        assert!(parse(&["backlog", "--records", "0"]).is_err());
        assert!(parse(&["backlog", "--prefetch-kbytes", "lots"]).is_err());
    }

    #[test]
    fn the_growth_command_takes_increasing_sizes() {
        assert_eq!(
            parse(&["growth", "--sizes", "100,1000", "--phase-seconds", "3"]),
            Ok(Command::Growth(GrowthOptions {
                bin_dir: PathBuf::from("target/release"),
                out: PathBuf::from("target/release/../bench/growth.json"),
                sizes: vec![100, 1000],
                concurrency: 4,
                phase: Duration::from_secs(3),
                database_pid: None,
            }))
        );
        assert!(matches!(
            parse(&["growth", "--database-pid", "4242"]),
            Ok(Command::Growth(GrowthOptions {
                database_pid: Some(4242),
                ..
            }))
        ));
        assert!(parse(&["growth", "--database-pid", "mongod"]).is_err());
        assert!(parse(&["growth", "--sizes", "1000,100"]).is_err());
        assert!(parse(&["growth", "--sizes", "0,10"]).is_err());
        assert!(parse(&["growth", "--instances", "1"]).is_err());
    }

    #[test]
    fn the_scale_command_reads_its_own_options() {
        assert_eq!(
            parse(&["scale", "--instances", "1, 3", "--phase-seconds", "5"]),
            Ok(Command::Scale(ScaleOptions {
                bin_dir: PathBuf::from("target/release"),
                out: PathBuf::from("target/release/../bench/scale.json"),
                instances: vec![1, 3],
                concurrency: 8,
                phase: Duration::from_secs(5),
            }))
        );
        assert!(parse(&["scale", "--instances", "0,1"]).is_err());
        assert!(parse(&["scale", "--rate", "1"]).is_err());
    }

    #[test]
    fn the_load_command_finds_the_services_under_a_gateway_or_one_by_one() {
        let Ok(Command::Traffic(options)) = parse(&[
            "load",
            "--gateway",
            "http://gateway.example/",
            "--fulfillment",
            "http://fulfillment:8080/fulfillment",
            "--seconds",
            "0",
            "--rate",
            "2",
        ]) else {
            panic!("expected the load command");
        };
        assert_eq!(options.accounts, "http://gateway.example/accounts");
        assert_eq!(options.orders, "http://gateway.example/orders");
        assert_eq!(options.fulfillment, "http://fulfillment:8080/fulfillment");
        assert_eq!(options.duration, None, "0 runs until stopped");
        assert_eq!(options.rate, Some(2.0));
        assert_eq!(
            parse(&["load", "--accounts", "http://a/accounts"]),
            Err("where is orders? --gateway URL or --orders URL".to_owned())
        );
        assert!(parse(&["load", "--gateway", "http://g", "--rate", "-1"]).is_err());
    }

    #[test]
    fn the_constant_server_needs_its_port() {
        assert_eq!(
            parse(&["constant", "--port", "8123"]),
            Ok(Command::Constant { port: 8123 })
        );
        assert!(parse(&["constant"]).is_err());
    }

    #[test]
    fn help_wins_over_everything_else() {
        assert_eq!(parse(&["--concurrency", "8", "--help"]), Ok(Command::Help));
    }
}
