//! The data lake of a test's own (docs/lake.md): Versity S3 Gateway, the Iceberg tables and a
//! Kafka Connect worker with the Iceberg sink reading a storefront's topics, started by
//! `scripts/infra.sh start-lake` on free ports with its data in a folder of its own, and
//! queried with `scripts/lake.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use test_support::{free_port, lake_python, unique_name};

use crate::Topics;

/// How often the test's sink commits to the tables: often, so the test waits little.
const COMMIT_INTERVAL_MS: &str = "2000";

/// A running lake; stopped when dropped, its folder removed unless the test failed (the logs
/// are there: `lake-connect.log`, `lake-s3.log`).
pub struct Lake {
    folder: PathBuf,
}

impl Lake {
    /// Starts the lake on the broker at `bootstrap_servers`, reading `topics`; returns once
    /// the connector and its task run.
    pub fn start(bootstrap_servers: &str, topics: &Topics) -> Self {
        let folder = crate::repository()
            .join("target/lake")
            .join(unique_name("lake"));
        let lake = Lake { folder };
        let output = lake
            .infra(&["start-lake"])
            .env("STOREFRONT_KAFKA_BOOTSTRAP", bootstrap_servers)
            .env("STOREFRONT_LAKE_S3_PORT", free_port().to_string())
            .env("STOREFRONT_LAKE_CONNECT_PORT", free_port().to_string())
            .env("STOREFRONT_LAKE_METRICS_PORT", free_port().to_string())
            .env("STOREFRONT_LAKE_NAME", unique_name("lake"))
            .env("STOREFRONT_LAKE_TOPICS", topics.all().join(","))
            .env("STOREFRONT_LAKE_COMMIT_INTERVAL_MS", COMMIT_INTERVAL_MS)
            .output()
            .expect("running scripts/infra.sh start-lake");
        assert!(
            output.status.success(),
            "scripts/infra.sh start-lake failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        lake
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

    /// What the Connect worker's metrics endpoint serves (k8s/lake/base/connect-metrics.yaml), a
    /// Prometheus text exposition.
    pub async fn metrics(&self) -> String {
        let settings = std::fs::read(self.folder.join("lake/settings.json"))
            .expect("the lake's settings.json");
        let settings: Value = serde_json::from_slice(&settings).expect("settings.json is JSON");
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
