//! A service binary as a child process, for the whole-system tests and the benchmark: on a free
//! port, its settings in the environment, its output appended to a log file, started, stopped,
//! killed and restarted as an orchestrator would.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::{free_port, send_signal, unique_name};

/// How long a service may take to become ready.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Pause between two readiness probes: short, since it bounds the benchmark's start-up figure.
const READY_POLL: Duration = Duration::from_millis(1);
/// How long a service may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// One running service binary.
pub struct ServiceProcess {
    pub name: &'static str,
    pub port: u16,
    /// The base URL, base path included, e.g. `http://127.0.0.1:40123/orders`.
    pub url: String,
    /// Where the process writes its output (stdout and stderr), appended to across restarts.
    pub log: PathBuf,
    binary: PathBuf,
    /// Its settings, kept to restart it as it was; later entries win.
    environment: Vec<(String, String)>,
    process: Option<Child>,
}

impl ServiceProcess {
    /// Starts `binary`, the service `name` (its base path too), on a free port with `settings`
    /// added to the environment, and waits until it is ready; returns it with the time from
    /// spawning the process to its first ready answer.
    pub async fn start(
        binary: &Path,
        name: &'static str,
        settings: &[(&str, &str)],
        log: PathBuf,
    ) -> anyhow::Result<(Self, Duration)> {
        let port = free_port();
        let mut service = ServiceProcess {
            name,
            port,
            url: format!("http://127.0.0.1:{port}/{name}"),
            log,
            binary: binary.to_path_buf(),
            environment: vec![("APP_HTTP__PORT".to_owned(), port.to_string())],
            process: None,
        };
        service.add_settings(settings);
        let ready_after = service.restart().await?;
        Ok((service, ready_after))
    }

    /// Starts another instance of this service, as a scaled deployment would: the same settings
    /// (database, consumer group, instance id if any) with `settings` added, but its own port
    /// and a log beside this one's.
    pub async fn another_instance(&self, settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let log = self
            .log
            .with_file_name(format!("{}.log", unique_name(self.name)));
        let mut inherited: Vec<(&str, &str)> = self
            .environment
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .filter(|(key, _)| *key != "APP_HTTP__PORT")
            .collect();
        inherited.extend_from_slice(settings);
        let (service, _) = Self::start(&self.binary, self.name, &inherited, log).await?;
        Ok(service)
    }

    fn add_settings(&mut self, settings: &[(&str, &str)]) {
        self.environment.extend(
            settings
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        );
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.process
            .as_ref()
            .and_then(Child::id)
            .with_context(|| format!("{} is not running", self.name))
    }

    /// A setting it was started with, e.g. `APP_DATABASE__NAME`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.environment
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Starts the process (again, after killing any running one) with the same port and
    /// settings, and waits until its readiness probe answers 200; returns the time that took.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        self.launch("health/readiness").await
    }

    /// Starts the process (again, after killing any running one) and waits until `probe` (an
    /// actuator health path) answers 200; returns the time that took.
    async fn launch(&mut self, probe: &str) -> anyhow::Result<Duration> {
        self.kill().await?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let started = Instant::now();
        let process = Command::new(&self.binary)
            .envs(self.environment.iter().map(|(key, value)| (key, value)))
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.process = Some(process);
        let client = reqwest::Client::new();
        let probe = format!("{}/actuator/{probe}", self.url);
        loop {
            let answered = client
                .get(&probe)
                .send()
                .await
                .is_ok_and(|response| response.status() == reqwest::StatusCode::OK);
            if answered {
                return Ok(started.elapsed());
            }
            anyhow::ensure!(
                started.elapsed() < READY_DEADLINE,
                "{} did not answer {probe} within {READY_DEADLINE:?}; see {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Kills the process at once (SIGKILL), as a crash or an OOM kill would.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process
                .kill()
                .await
                .with_context(|| format!("killing {}", self.name))?;
        }
        Ok(())
    }

    /// Kills the process (SIGKILL) and starts another in its place with `settings` added, as an
    /// orchestrator replaces a crashed pod with a new one: a new identity (its consumer's
    /// instance id, say) behind the same address.
    pub async fn replace(&mut self, settings: &[(&str, &str)]) -> anyhow::Result<()> {
        self.kill().await?;
        self.add_settings(settings);
        self.restart().await.map(drop)
    }

    /// Like [`ServiceProcess::replace`], but waits only until the new process is alive (its
    /// liveness probe answers 200): for settings it cannot be ready with, such as credentials
    /// the broker refuses.
    pub async fn replace_alive(&mut self, settings: &[(&str, &str)]) -> anyhow::Result<()> {
        self.add_settings(settings);
        self.launch("health/liveness").await.map(drop)
    }

    /// Stops the process as an orchestrator would: SIGTERM, then SIGKILL if it has not exited
    /// within a deadline. Returns how it exited.
    pub async fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.pid()?;
        send_signal(pid, "TERM");
        match self.exited(STOP_DEADLINE).await {
            Ok(status) => Ok(status),
            Err(_) => {
                eprintln!(
                    "{} did not stop within {STOP_DEADLINE:?} of SIGTERM; killing it",
                    self.name
                );
                let mut process = self.process.take().context("the service is running")?;
                process.kill().await?;
                Ok(process.wait().await?)
            }
        }
    }

    /// Waits for the process to exit by itself, up to `deadline`, and returns how it exited.
    pub async fn exited(&mut self, deadline: Duration) -> anyhow::Result<ExitStatus> {
        let process = self
            .process
            .as_mut()
            .with_context(|| format!("{} is not running", self.name))?;
        let status = tokio::time::timeout(deadline, process.wait())
            .await
            .map_err(|_| anyhow::anyhow!("{} still runs after {deadline:?}", self.name))?
            .with_context(|| format!("waiting for {} to exit", self.name))?;
        self.process = None;
        Ok(status)
    }
}
