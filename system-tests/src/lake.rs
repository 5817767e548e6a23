//! The data lake of a test's own (docs/lake.md): Versity S3 Gateway, the Iceberg tables and a
//! Kafka Connect worker with the Iceberg sink reading a storefront's topics, started by
//! `scripts/infra.sh start-lake` on free ports with its data in a folder of its own, and
//! queried with `scripts/lake.py`. A test may crash or stop its parts and start them again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use test_support::{eventually, free_port, lake_python, send_signal, unique_name};

use crate::Topics;

/// How often the test's sink commits to the tables: often, so the test waits little.
const COMMIT_INTERVAL_MS: &str = "2000";

/// A running lake; stopped when dropped, its folder removed unless the test failed (the logs
/// are there: `lake-connect.log`, `lake-s3.log`).
pub struct Lake {
    folder: PathBuf,
    /// What `scripts/infra.sh start-lake` started it with: the same again after a fault.
    settings: Vec<(&'static str, String)>,
}

impl Lake {
    /// Starts the lake on the broker at `bootstrap_servers`, reading `topics`; returns once
    /// the connector and its task run.
    pub fn start(bootstrap_servers: &str, topics: &Topics) -> Self {
        let folder = crate::repository()
            .join("target/lake")
            .join(unique_name("lake"));
        let settings = vec![
            ("STOREFRONT_KAFKA_BOOTSTRAP", bootstrap_servers.to_owned()),
            ("STOREFRONT_LAKE_S3_PORT", free_port().to_string()),
            ("STOREFRONT_LAKE_CONNECT_PORT", free_port().to_string()),
            ("STOREFRONT_LAKE_METRICS_PORT", free_port().to_string()),
            ("STOREFRONT_LAKE_NAME", unique_name("lake")),
            ("STOREFRONT_LAKE_TOPICS", topics.all().join(",")),
            (
                "STOREFRONT_LAKE_COMMIT_INTERVAL_MS",
                COMMIT_INTERVAL_MS.to_owned(),
            ),
        ];
        let lake = Lake { folder, settings };
        lake.start_again();
        lake
    }

    /// Starts what of the lake is not running (a part a test stopped or killed), on the same
    /// ports and data, and waits until the connector and its task run; what runs is left as
    /// it is, and so is the connector's configuration.
    pub fn start_again(&self) {
        let output = self
            .infra(&["start-lake"])
            .envs(self.settings.iter().map(|(name, value)| (name, value)))
            .output()
            .expect("running scripts/infra.sh start-lake");
        assert!(
            output.status.success(),
            "scripts/infra.sh start-lake failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Kills the Connect worker at once (SIGKILL), as a crash would, and waits until it is gone.
    pub async fn kill_connect(&self) {
        let pid_file = self.folder.join("lake-connect.pid");
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the worker's pid file")
            .trim()
            .parse()
            .expect("a pid");
        send_signal(pid, "KILL");
        eventually("the worker to be gone", Duration::from_secs(10), || {
            let gone = !Path::new(&format!("/proc/{pid}")).exists();
            async move { gone.then_some(()) }
        })
        .await;
    }

    /// Stops the object store as an operator would (SIGTERM).
    pub fn stop_object_store(&self) {
        let status = self
            .infra(&["stop", "lake-s3"])
            .status()
            .expect("running scripts/infra.sh stop");
        assert!(status.success(), "stopping the object store");
    }

    fn infra(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(crate::repository().join("scripts/infra.sh"))
            .args(arguments)
            .env("STOREFRONT_DATA_DIR", &self.folder);
        command
    }

    /// Runs `scripts/lake.py` with these arguments and returns what it printed, as JSON.
    pub async fn query(&self, arguments: &[&str]) -> Value {
        let output = tokio::process::Command::new(lake_python())
            .arg(crate::repository().join("scripts/lake.py"))
            .arg("--lake-dir")
            .arg(self.folder.join("lake"))
            .args(arguments)
            .output()
            .await
            .expect("running scripts/lake.py");
        assert!(
            output.status.success(),
            "scripts/lake.py {arguments:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("scripts/lake.py printed JSON")
    }

    /// What `scripts/infra.sh` wrote for `scripts/lake.py`: names, topics, URLs.
    pub fn settings(&self) -> Value {
        let file = self.folder.join("lake/settings.json");
        serde_json::from_slice(&std::fs::read(file).expect("the lake's settings"))
            .expect("settings as JSON")
    }

    /// The connector's resource in Connect's REST API.
    fn connector_url(&self) -> String {
        let settings = self.settings();
        format!(
            "{}/connectors/{}",
            settings["connect_url"].as_str().expect("connect_url"),
            settings["name"].as_str().expect("name")
        )
    }

    /// The connector's and its tasks' states from Connect's REST API, the connector's first;
    /// the first failed task's trace, if any.
    pub async fn states(&self) -> (Vec<String>, Option<String>) {
        let url = format!("{}/status", self.connector_url());
        let status: Value = reqwest::get(&url)
            .await
            .expect("Connect's REST API")
            .json()
            .await
            .expect("a status as JSON");
        let tasks = status["tasks"].as_array().cloned().unwrap_or_default();
        let states = std::iter::once(&status["connector"])
            .chain(&tasks)
            .map(|part| part["state"].as_str().unwrap_or("none").to_owned())
            .collect();
        let trace = tasks
            .iter()
            .find_map(|task| task["trace"].as_str().map(str::to_owned));
        (states, trace)
    }

    /// What the Connect worker's metrics endpoint serves (k8s/lake/base/connect-metrics.yaml), a
    /// Prometheus text exposition.
    pub async fn metrics(&self) -> String {
        let settings = self.settings();
        let url = settings["metrics_url"].as_str().expect("metrics_url");
        let response = reqwest::get(url).await.expect("GET the worker's metrics");
        assert!(response.status().is_success(), "GET {url}");
        response.text().await.expect("the exposition")
    }

    /// The folder the lake keeps its data and logs in.
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

impl Drop for Lake {
    fn drop(&mut self) {
        let stopped = self.infra(&["stop", "lake-connect", "lake-s3"]).status();
        if !std::thread::panicking() && stopped.is_ok_and(|status| status.success()) {
            let _ = std::fs::remove_dir_all(&self.folder);
        }
    }
}
