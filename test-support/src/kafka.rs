//! An Apache Kafka of a test's own: one broker, or a cluster.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use platform::settings::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::names::{free_port, unique_name};
use crate::processes::{dev_script, send_signal};
use crate::waiting::POLL_INTERVAL;

/// An Apache Kafka of a test's own: one node, or a cluster of several (each a KRaft broker and
/// controller, one quorum), so that the test can stop, kill and restart brokers, or load them
/// heavily, without disturbing the tests that share the common broker. Records and offsets are
/// kept on disk (a folder of its own) across restarts.
pub struct PrivateKafka {
    data: PathBuf,
    cluster_id: String,
    nodes: Vec<KafkaNode>,
    /// One client for every metadata question (leaders, live brokers), across restarts.
    metadata: BaseConsumer,
    /// Set when clients must authenticate (`dev/kafka.sh --secure`).
    security: Option<Security>,
}

/// What a secured broker's clients need: the folder of its CA and users, and the password of
/// its super user `admin`.
struct Security {
    folder: PathBuf,
    admin_password: String,
}

struct KafkaNode {
    port: u16,
    controller_port: u16,
    process: Option<Child>,
}

impl PrivateKafka {
    /// One broker on free ports.
    pub fn start() -> Self {
        Self::start_cluster(1)
    }

    /// `size` brokers on free ports, with the internal topics and new topics replicated to all
    /// of them and `min.insync.replicas` one less.
    pub fn start_cluster(size: usize) -> Self {
        Self::start_with(size, &[], false)
    }

    /// One broker that takes clients over `SASL_SSL` only (SCRAM-SHA-512 or PLAIN, its
    /// certificate signed by a CA of its own, [`PrivateKafka::ca_location`]), and allows
    /// nothing that no ACL allows except to its super user `admin`. `users` are the other
    /// users, by name and password (letters, digits, `_`, `-`).
    pub fn start_secured(users: &[(&str, &str)]) -> Self {
        Self::start_with(1, users, true)
    }

    fn start_with(size: usize, users: &[(&str, &str)], secured: bool) -> Self {
        let data = std::env::temp_dir().join(unique_name("kafka"));
        std::fs::create_dir_all(&data).expect("creating the brokers' folder");
        let security = secured.then(|| {
            let folder = data.join("security");
            std::fs::create_dir_all(&folder).expect("creating the security folder");
            let admin_password = unique_name("admin");
            let listed: String = std::iter::once(("admin", admin_password.as_str()))
                .chain(users.iter().copied())
                .map(|(name, password)| format!("{name} {password}\n"))
                .collect();
            std::fs::write(folder.join("users"), listed).expect("writing the users");
            // Made now rather than by the broker's start: a client reads the CA when created.
            make_certificates(&folder);
            Security {
                folder,
                admin_password,
            }
        });
        let output = Command::new("bash")
            .arg(dev_script("kafka.sh"))
            .arg("--new-cluster-id")
            .output()
            .expect("running dev/kafka.sh");
        assert!(
            output.status.success(),
            "dev/kafka.sh --new-cluster-id failed"
        );
        let nodes: Vec<KafkaNode> = (0..size)
            .map(|_| KafkaNode {
                port: free_port(),
                controller_port: free_port(),
                process: None,
            })
            .collect();
        // Created before any broker runs: a client connects only when asked something.
        let metadata = platform::kafka::client_config(&admin_settings(
            bootstrap_servers(&nodes),
            security.as_ref(),
        ))
        .create()
        .expect("creating a metadata client");
        let mut kafka = PrivateKafka {
            data,
            cluster_id: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            nodes,
            metadata,
            security,
        };
        kafka.restart();
        kafka
    }

    /// `host:port,...` for `bootstrap.servers`: every broker.
    pub fn bootstrap_servers(&self) -> String {
        bootstrap_servers(&self.nodes)
    }

    /// Settings of the super user (`admin`, SCRAM-SHA-512 over TLS) on a secured broker, of an
    /// anonymous client on a plain one.
    pub fn admin_settings(&self) -> KafkaSettings {
        admin_settings(self.bootstrap_servers(), self.security.as_ref())
    }

    /// Settings of `user` authenticating with SCRAM-SHA-512 and `password` over TLS, trusting
    /// the broker's CA.
    pub fn user_settings(&self, user: &str, password: &str) -> KafkaSettings {
        self.secured()
            .user_settings(self.bootstrap_servers(), user, password)
    }

    /// The PEM file of the CA that signed a secured broker's certificate.
    pub fn ca_location(&self) -> PathBuf {
        self.secured().ca_location()
    }

    /// The PEM file of a CA that signed nothing this broker shows (another `dev/certs.sh` run):
    /// a client trusting only it refuses the broker's certificate.
    pub fn unrelated_ca(&self) -> PathBuf {
        let folder = self.data.join("unrelated-ca");
        make_certificates(&folder);
        folder.join("ca.pem")
    }

    /// Allows what `grants` name (`principal,Topic|Group,name,Read|Write|Describe`, as
    /// `shared_events::acls::Grant` prints them) through the Admin API, as `admin`.
    pub fn allow(&self, grants: &[String]) {
        self.alter_acls(&[], grants);
    }

    /// Removes the ACLs of `grants` (as [`PrivateKafka::allow`] reads them), as an operator
    /// revoking them at run time would.
    pub fn revoke(&self, grants: &[String]) {
        self.alter_acls(&["--delete"], grants);
    }

    /// Runs CreateAcls, with `mode`, over `grants` as `admin`.
    fn alter_acls(&self, mode: &[&str], grants: &[String]) {
        let security = self.secured();
        let properties = security.folder.join("admin.properties");
        let ca = security.ca_location();
        std::fs::write(
            &properties,
            format!(
                "security.protocol=SASL_SSL\n\
                 sasl.mechanism=SCRAM-SHA-512\n\
                 sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \
                 required username=\"admin\" password=\"{}\";\n\
                 ssl.truststore.type=PEM\n\
                 ssl.truststore.location={}\n",
                security.admin_password,
                ca.display()
            ),
        )
        .expect("writing the admin client's settings");
        let output = Command::new("java")
            .arg("-Dstorefront.log.level=warn")
            .arg("-cp")
            .arg(java_classpath())
            .arg("storefront.dev.CreateAcls")
            .args(mode)
            .arg(self.bootstrap_servers())
            .arg(&properties)
            .args(grants)
            .output()
            .expect("running CreateAcls (run scripts/setup.sh first)");
        assert!(
            output.status.success(),
            "CreateAcls failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn secured(&self) -> &Security {
        self.security
            .as_ref()
            .expect("a secured broker (PrivateKafka::start_secured)")
    }

    /// Stops every broker at once, as a crash or a lost host would.
    pub fn kill(&mut self) {
        for id in 1..=self.nodes.len() {
            self.kill_node(id);
        }
    }

    /// Stops broker `id` (from 1) at once (SIGKILL).
    pub fn kill_node(&mut self, id: usize) {
        if let Some(mut process) = self.nodes[id - 1].process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Stops every broker as an operator would (SIGTERM), waiting until each exited.
    pub fn stop(&mut self) {
        for id in 1..=self.nodes.len() {
            self.stop_node(id);
        }
    }

    /// Stops broker `id` (from 1) as an operator would (SIGTERM), waiting until it exited; one
    /// that has not exited within `BROKER_STOP_DEADLINE` (a controlled shutdown with no
    /// controller quorum left to approve it) is killed.
    pub fn stop_node(&mut self, id: usize) {
        if let Some(mut process) = self.nodes[id - 1].process.take() {
            send_signal(process.id(), "TERM");
            let started = Instant::now();
            while process.try_wait().ok().flatten().is_none() {
                if started.elapsed() > BROKER_STOP_DEADLINE {
                    let _ = process.kill();
                    let _ = process.wait();
                    break;
                }
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }

    /// Starts every broker again on its ports, with the records and offsets it had stored, and
    /// waits until the cluster answers with all of them.
    pub fn restart(&mut self) {
        self.kill();
        for id in 1..=self.nodes.len() {
            self.spawn_node(id);
        }
        self.wait_for_running_brokers();
    }

    /// Starts broker `id` (from 1) again and waits until the cluster lists every running broker.
    pub fn restart_node(&mut self, id: usize) {
        self.kill_node(id);
        self.spawn_node(id);
        self.wait_for_running_brokers();
    }

    fn spawn_node(&mut self, id: usize) {
        let voters = self
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| format!("{}@127.0.0.1:{}", index + 1, node.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        let folder = self.data.join(format!("node-{id}"));
        std::fs::create_dir_all(&folder).expect("creating the broker's folder");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(folder.join("kafka.log"))
            .expect("opening the broker's log");
        let node = &self.nodes[id - 1];
        let process = Command::new("bash")
            .arg(dev_script("kafka.sh"))
            .arg("--dir")
            .arg(&folder)
            .args(["--node-id", &id.to_string()])
            .args(["--port", &node.port.to_string()])
            .args(["--controller-port", &node.controller_port.to_string()])
            .args(["--voters", &voters])
            .args(["--cluster-id", &self.cluster_id])
            .args(["--replication", &self.nodes.len().to_string()])
            .args(["--heap", "384m"])
            .args(
                self.security
                    .iter()
                    .flat_map(|security| [Path::new("--secure"), &security.folder]),
            )
            .stdout(log.try_clone().expect("the broker's log"))
            .stderr(log)
            .spawn()
            .expect("starting Kafka (run scripts/setup.sh first)");
        self.nodes[id - 1].process = Some(process);
    }

    /// The node id (from 1) leading each partition of `topic`, by partition; `None` for a
    /// partition that has no leader right now. Empty when the cluster did not answer (a broker
    /// going down can make one metadata request fail).
    pub fn leaders(&self, topic: &str) -> Vec<Option<usize>> {
        let Ok(metadata) = self
            .metadata
            .fetch_metadata(Some(topic), Duration::from_secs(5))
        else {
            return Vec::new();
        };
        let mut partitions: Vec<(i32, i32)> = metadata
            .topics()
            .iter()
            .flat_map(|topic| topic.partitions())
            .map(|partition| (partition.id(), partition.leader()))
            .collect();
        partitions.sort_unstable();
        partitions
            .into_iter()
            .map(|(_, leader)| usize::try_from(leader).ok().filter(|id| *id > 0))
            .collect()
    }

    /// Lines of broker `id`'s log (from 1) that contain every one of `texts`.
    pub fn log_lines(&self, id: usize, texts: &[&str]) -> usize {
        std::fs::read_to_string(self.data.join(format!("node-{id}/kafka.log")))
            .unwrap_or_default()
            .lines()
            .filter(|line| texts.iter().all(|text| line.contains(text)))
            .count()
    }

    /// Waits until a metadata request lists every running broker.
    fn wait_for_running_brokers(&mut self) {
        let count = self
            .nodes
            .iter()
            .filter(|node| node.process.is_some())
            .count();
        let started = Instant::now();
        loop {
            let brokers = self
                .metadata
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|metadata| metadata.brokers().len())
                .unwrap_or(0);
            if brokers == count {
                return;
            }
            for (index, node) in self.nodes.iter_mut().enumerate() {
                if let Some(status) = node
                    .process
                    .as_mut()
                    .and_then(|p| p.try_wait().ok())
                    .flatten()
                {
                    panic!(
                        "Kafka node {} exited during start ({status}); see {}",
                        index + 1,
                        self.data
                            .join(format!("node-{}/kafka.log", index + 1))
                            .display()
                    );
                }
            }
            assert!(
                started.elapsed() < BROKER_START_DEADLINE,
                "Kafka answered with {brokers} of {count} brokers after {BROKER_START_DEADLINE:?}; see the logs in {}",
                self.data.display()
            );
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Security {
    fn user_settings(
        &self,
        bootstrap_servers: String,
        user: &str,
        password: &str,
    ) -> KafkaSettings {
        KafkaSettings {
            bootstrap_servers,
            security_protocol: "SASL_SSL".into(),
            sasl_mechanism: Some("SCRAM-SHA-512".into()),
            sasl_username: Some(user.into()),
            sasl_password: Some(password.to_owned().into()),
            ssl_ca_location: Some(self.ca_location().display().to_string()),
            ..crate::shared_kafka()
        }
    }

    fn ca_location(&self) -> PathBuf {
        self.folder.join("ca.pem")
    }
}

/// The super user's settings on a secured broker, an anonymous client's on a plain one.
fn admin_settings(bootstrap_servers: String, security: Option<&Security>) -> KafkaSettings {
    match security {
        Some(security) => {
            security.user_settings(bootstrap_servers, "admin", &security.admin_password)
        }
        None => KafkaSettings {
            bootstrap_servers,
            ..crate::shared_kafka()
        },
    }
}

/// The classpath of dev/'s Java mains, as dev/java.sh builds it.
fn java_classpath() -> String {
    let resolved = std::fs::read_to_string(dev_script("target/classpath"))
        .expect("dev/target/classpath (run scripts/setup.sh first)");
    format!(
        "{}:{}",
        dev_script("target/classes").display(),
        resolved.trim()
    )
}

fn bootstrap_servers(nodes: &[KafkaNode]) -> String {
    nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port))
        .collect::<Vec<_>>()
        .join(",")
}

/// How long a broker may take to start: a JVM on 2 cores shared with the other tests.
const BROKER_START_DEADLINE: Duration = Duration::from_secs(120);
/// How long a broker may take to stop in order before it is killed.
const BROKER_STOP_DEADLINE: Duration = Duration::from_secs(60);

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        self.kill();
        // Kept when the test failed, for its logs.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// A CA and a broker certificate it signed, in `folder` (`dev/certs.sh`).
fn make_certificates(folder: &Path) {
    let status = Command::new("bash")
        .arg(dev_script("certs.sh"))
        .arg(folder)
        .status()
        .expect("running dev/certs.sh");
    assert!(status.success(), "dev/certs.sh failed");
}
