//! The three services as child processes (`test_support::ServiceProcess`, which the
//! system tests use too), on free ports with their own database names and topics, so that a
//! benchmark never meets a development stack running beside it; the consumer groups are the
//! services' own (`orders`, `fulfillment`) on the benchmark's own broker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use platform::settings::KafkaSettings;
pub(crate) use test_support::ServiceProcess as Service;

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

    /// Starts instance number `instance` of a service with more settings (`APP_...`
    /// variables, which win over the run's), and waits until its readiness probe answers 200;
    /// returns it with the time from spawning the process to that answer. Instances beyond the
    /// first log to files of their own (`<name>-<instance>.log`).
    pub(crate) async fn start(
        &self,
        name: &'static str,
        instance: usize,
        settings: &[(&str, String)],
    ) -> anyhow::Result<(Service, Duration)> {
        let log = match instance {
            0 => self.logs.join(format!("{name}.log")),
            n => self.logs.join(format!("{name}-{n}.log")),
        };
        let database = self.database_name(name);
        let mut environment = vec![("APP_DATABASE__NAME", database.as_str())];
        environment.extend(self.topics.environment());
        environment.extend(settings.iter().map(|(name, value)| (*name, value.as_str())));
        Service::start(&self.binary(name), name, &environment, log).await
    }
}
