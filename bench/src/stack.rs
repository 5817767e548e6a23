//! What a run owns and removes again: its topics (named after the run), its databases, and the
//! services, child processes of `test_support::ServiceProcess`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use platform::mongo::connect;
use platform::settings::{DatabaseSettings, KafkaSettings};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use shared_events::topics;
pub(crate) use test_support::ServiceProcess as Service;

pub(crate) const SERVICES: [&str; 3] = ["accounts", "orders", "fulfillment"];
/// The setting naming each of `shared_events::topics::ALL`, in that order.
const TOPIC_SETTINGS: [&str; 3] = [
    "APP_TOPICS__CUSTOMER_CHANGE",
    "APP_TOPICS__ORDER_FULFILL",
    "APP_TOPICS__ORDER_STATUS_CHANGE",
];
/// Partitions per topic, as `scripts/infra.sh` and the Kubernetes topics create them.
const PARTITIONS: i32 = 3;

/// The broker and database settings as the services load them (accounts' files, the same in
/// every service for these sections, under the same `APP_` variables), through platform.
pub(crate) fn service_settings() -> anyhow::Result<(KafkaSettings, DatabaseSettings)> {
    #[derive(serde::Deserialize)]
    struct Settings {
        kafka: KafkaSettings,
        database: DatabaseSettings,
    }
    let files = platform::settings::EmbeddedFiles {
        base: include_str!("../../services/accounts/configuration/base.toml"),
        local: include_str!("../../services/accounts/configuration/local.toml"),
        production: include_str!("../../services/accounts/configuration/production.toml"),
    };
    let settings: Settings =
        platform::settings::load(&files).context("loading the service settings")?;
    Ok((settings.kafka, settings.database))
}

pub(crate) fn pids(services: &[Service]) -> anyhow::Result<Vec<u32>> {
    services.iter().map(Service::pid).collect()
}

pub(crate) struct Launcher {
    pub(crate) kafka: KafkaSettings,
    pub(crate) database: DatabaseSettings,
    binaries: PathBuf,
    pub(crate) logs: PathBuf,
    pub(crate) run_id: String,
    created: Vec<String>,
}

impl Launcher {
    /// The run `run_id`: binaries from `binaries`, logs in a folder named after the run beside
    /// the report `out`; creates the run's topics with their dead-letter topics, and `extra`,
    /// the customer changelog compacted, as in every deployment, if `compact_changelog`.
    pub(crate) async fn for_run(
        binaries: &Path,
        out: &Path,
        run_id: &str,
        compact_changelog: bool,
        extra: &[String],
    ) -> anyhow::Result<Self> {
        let (kafka, database) = service_settings()?;
        let mut launcher = Launcher {
            kafka,
            database,
            binaries: binaries.to_path_buf(),
            logs: out.parent().unwrap_or(Path::new(".")).join(run_id),
            run_id: run_id.to_owned(),
            created: extra.to_vec(),
        };
        std::fs::create_dir_all(&launcher.logs)
            .with_context(|| format!("creating {}", launcher.logs.display()))?;
        for topic in topics::ALL {
            let topic = launcher.topic(topic);
            launcher.created.push(topics::dead_letter(&topic));
            launcher.created.push(topic);
        }
        let names: Vec<&str> = launcher.created.iter().map(String::as_str).collect();
        let changelog = launcher.changelog();
        let compacted: &[&str] = if compact_changelog {
            &[&changelog]
        } else {
            &[]
        };
        platform::kafka::create_topics(&launcher.kafka, &names, PARTITIONS, compacted).await?;
        step!("run {run_id}: logs in {}", launcher.logs.display());
        Ok(launcher)
    }

    fn topic(&self, topic: &str) -> String {
        format!("{}.{topic}", self.run_id)
    }

    pub(crate) fn changelog(&self) -> String {
        self.topic(topics::CUSTOMER_CHANGE)
    }

    pub(crate) fn binary(&self, name: &str) -> PathBuf {
        self.binaries.join(name)
    }

    pub(crate) fn database(&self, name: &str) -> DatabaseSettings {
        DatabaseSettings {
            name: format!("{}-{name}", self.run_id),
            ..self.database.clone()
        }
    }

    /// Starts instance `instance` of a service with `settings` over the run's, once ready;
    /// returns it with the time from spawning it to its first ready answer.
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
        let database = self.database(name).name;
        let topics = topics::ALL.map(|topic| self.topic(topic));
        let mut environment = vec![("APP_DATABASE__NAME", database.as_str())];
        environment.extend(
            TOPIC_SETTINGS
                .into_iter()
                .zip(topics.iter().map(String::as_str)),
        );
        environment.extend(settings.iter().map(|(name, value)| (*name, value.as_str())));
        Service::start(&self.binary(name), name, &environment, log).await
    }

    /// Stops `services`, drops the services' databases and `databases`, deletes the topics.
    pub(crate) async fn tear_down(&self, services: Vec<Service>, databases: &[&str]) {
        step!("stopping the services and removing what the run created");
        for mut service in services {
            if let Err(error) = service.terminate().await {
                eprintln!("stopping a service: {error:#}");
            }
        }
        for name in SERVICES.iter().chain(databases) {
            let settings = self.database(name);
            let dropped = async { anyhow::Ok(connect(&settings).await?.drop().await?) };
            if let Err(error) = dropped.await {
                eprintln!("dropping database {}: {error:#}", settings.name);
            }
        }
        let topics: Vec<&str> = self.created.iter().map(String::as_str).collect();
        let removed = async {
            let admin: AdminClient<DefaultClientContext> =
                platform::kafka::client_config(&self.kafka).create()?;
            admin.delete_topics(&topics, &AdminOptions::new()).await?;
            Ok::<_, anyhow::Error>(())
        };
        if let Err(error) = removed.await {
            eprintln!("deleting the run's topics: {error:#}");
        }
    }
}
