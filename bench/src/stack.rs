//! The three services as child processes, on free ports with their own database names and
//! topics, so that a benchmark never meets a development stack running beside it; the consumer
//! groups are the services' own (`orders`, `fulfillment`) on the benchmark's own broker.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use platform::settings::KafkaSettings;
use tokio::process::{Child, Command};

/// How long a service may take to become ready before the run gives up.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How long a service may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);
/// Pause between two readiness probes: short, since it bounds the start-up figure's resolution.
const READY_POLL: Duration = Duration::from_millis(1);

pub(crate) const SERVICES: [&str; 3] = ["accounts", "orders", "fulfillment"];

/// The topic names of one run, set on each service through `APP_TOPICS__*`.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    pub(crate) customer_change: String,
    pub(crate) order_fulfill: String,
    pub(crate) order_status_change: String,
}

impl Topics {
    pub(crate) fn of_run(run_id: &str) -> Self {
        Topics {
            customer_change: format!("{run_id}.accounts.customer.change"),
            order_fulfill: format!("{run_id}.orders.order.fulfill"),
            order_status_change: format!("{run_id}.fulfillment.order.change"),
        }
    }

    /// Every topic of the run and its dead-letter topic.
    pub(crate) fn with_dead_letters(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .flat_map(|topic| [topic.to_owned(), shared_events::topics::dead_letter(topic)])
            .collect()
    }

    pub(crate) fn all(&self) -> [&str; 3] {
        [
            &self.customer_change,
            &self.order_fulfill,
            &self.order_status_change,
        ]
    }

    fn environment(&self) -> [(&'static str, &str); 3] {
        [
            ("APP_TOPICS__CUSTOMER_CHANGE", &self.customer_change),
            ("APP_TOPICS__ORDER_FULFILL", &self.order_fulfill),
            ("APP_TOPICS__ORDER_STATUS_CHANGE", &self.order_status_change),
        ]
    }
}

/// Where the binaries are and how this run names what it owns.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    pub(crate) binaries: PathBuf,
    pub(crate) logs: PathBuf,
    pub(crate) run_id: String,
    pub(crate) topics: Topics,
}

/// One running service.
pub(crate) struct Service {
    pub(crate) name: &'static str,
    /// Base URL with the base path, e.g. `http://127.0.0.1:40123/orders`.
    pub(crate) url: String,
    pub(crate) pid: u32,
    process: Child,
}

impl Launcher {
    /// The launcher of the run `run_id`: binaries from `binaries`, logs in a folder named after
    /// the run beside the report `out`, created here.
    pub(crate) fn for_run(binaries: &Path, out: &Path, run_id: &str) -> anyhow::Result<Self> {
        let out_dir = out
            .parent()
            .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
        let launcher = Launcher {
            binaries: binaries.to_path_buf(),
            logs: out_dir.join(run_id),
            run_id: run_id.to_owned(),
            topics: Topics::of_run(run_id),
        };
        std::fs::create_dir_all(&launcher.logs)
            .with_context(|| format!("creating {}", launcher.logs.display()))?;
        Ok(launcher)
    }

    /// Creates the run's topics with their dead-letter topics, and `extra`, each with
    /// `partitions`; the customer changelog compacted, as in every deployment, if
    /// `compact_changelog`. Returns the names of all it created.
    pub(crate) async fn create_topics(
        &self,
        kafka: &KafkaSettings,
        partitions: i32,
        compact_changelog: bool,
        extra: &[String],
    ) -> anyhow::Result<Vec<String>> {
        let mut topics = self.topics.with_dead_letters();
        topics.extend_from_slice(extra);
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let changelog = [self.topics.customer_change.as_str()];
        let compacted: &[&str] = if compact_changelog { &changelog } else { &[] };
        platform::kafka::create_topics(kafka, &names, partitions, compacted).await?;
        Ok(topics)
    }

    pub(crate) fn binary(&self, name: &str) -> PathBuf {
        self.binaries.join(name)
    }

    /// The database each service of this run uses.
    pub(crate) fn database_name(&self, service: &str) -> String {
        format!("{}-{service}", self.run_id)
    }

    /// Starts a service and waits until its readiness probe answers 200, returning it with the
    /// time from spawning the process to that answer.
    pub(crate) async fn start(
        &self,
        name: &'static str,
        client: &reqwest::Client,
    ) -> anyhow::Result<(Service, Duration)> {
        self.start_with(name, client, &[]).await
    }

    /// [`Launcher::start`], with more settings (`APP_...` variables), which win over the run's.
    pub(crate) async fn start_with(
        &self,
        name: &'static str,
        client: &reqwest::Client,
        settings: &[(&str, String)],
    ) -> anyhow::Result<(Service, Duration)> {
        self.start_instance(name, 0, client, settings).await
    }

    /// [`Launcher::start_with`] for instance number `instance` of the service: instances
    /// beyond the first log to files of their own (`<name>-<instance>.log`).
    pub(crate) async fn start_instance(
        &self,
        name: &'static str,
        instance: usize,
        client: &reqwest::Client,
        settings: &[(&str, String)],
    ) -> anyhow::Result<(Service, Duration)> {
        let port = test_support::free_port();
        let log = match instance {
            0 => open_log(&self.logs, name)?,
            n => open_log(&self.logs, &format!("{name}-{n}"))?,
        };
        let started = Instant::now();
        let process = Command::new(self.binary(name))
            .env("APP_HTTP__PORT", port.to_string())
            .env("APP_DATABASE__NAME", self.database_name(name))
            .envs(self.topics.environment())
            .envs(settings.iter().map(|(name, value)| (*name, value.as_str())))
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.binary(name).display()))?;
        let pid = process.id().context("the process ended at once")?;
        let url = format!("http://127.0.0.1:{port}/{name}");
        let readiness = format!("{url}/actuator/health/readiness");
        loop {
            let ready = client
                .get(&readiness)
                .send()
                .await
                .is_ok_and(|response| response.status() == reqwest::StatusCode::OK);
            if ready {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < READY_DEADLINE,
                "{name} was not ready within {READY_DEADLINE:?}; see {}",
                self.logs.display()
            );
            tokio::time::sleep(READY_POLL).await;
        }
        let elapsed = started.elapsed();
        Ok((
            Service {
                name,
                url,
                pid,
                process,
            },
            elapsed,
        ))
    }
}

fn open_log(directory: &Path, name: &str) -> anyhow::Result<File> {
    let path = directory.join(format!("{name}.log"));
    File::options()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

impl Service {
    /// Stops the service as an orchestrator would: SIGTERM, then SIGKILL after a deadline.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .context("running kill")?;
        if signalled.success()
            && tokio::time::timeout(STOP_DEADLINE, self.process.wait())
                .await
                .is_ok()
        {
            return Ok(());
        }
        eprintln!(
            "{} did not stop within {STOP_DEADLINE:?} of SIGTERM; killing it",
            self.name
        );
        self.process.kill().await.context("killing the service")
    }
}
