//! Helpers for tests that run against the local Kafka and database.
//!
//! Every test gets its own database and topic names from [`unique_name`], so tests run in
//! parallel and never see each other's data. Waiting is always for a condition with a deadline
//! ([`eventually`]), never a fixed pause.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use platform::settings::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};

/// How long a test waits for an effect that crosses the broker. Joining a consumer group takes
/// a few seconds, so this is generous.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(30);

/// Pause between two checks of a condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A name no other test uses, e.g. `accounts-3f2a9c01`.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("finding a free port")
}

/// `host:port` of the shared test broker: `APP_KAFKA__BOOTSTRAP_SERVERS`, as the services read
/// it (`scripts/test.sh` sets it), else the local run's `127.0.0.1:9092`.
pub fn shared_bootstrap_servers() -> String {
    std::env::var("APP_KAFKA__BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// The URI of the shared test database: `APP_DATABASE__URI`, as the services read it, else the
/// local run's `mongodb://127.0.0.1:27017`.
pub fn shared_database_uri() -> String {
    std::env::var("APP_DATABASE__URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}

/// A script of `dev/` (the local servers' launchers).
fn dev_script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dev")).join(name)
}

/// A database server of a test's own (mongo-java-server, in memory), so that the test can stop,
/// freeze and restart its database without disturbing the tests that share the common one.
pub struct PrivateDatabase {
    port: u16,
    process: Option<Child>,
}

impl PrivateDatabase {
    pub fn start() -> Self {
        let mut database = PrivateDatabase {
            port: free_port(),
            process: None,
        };
        database.restart();
        database
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Freezes the server (SIGSTOP): its connections stay open and nothing answers, as when a
    /// host hangs or the network drops packets.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused server go on (SIGCONT), with its data.
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("the database is running");
        send_signal(process.id(), signal);
    }

    /// Starts the server again on the same port (empty: it keeps data in memory only).
    pub fn restart(&mut self) {
        self.kill();
        let mut process = Command::new("bash")
            .arg(dev_script("mongodb.sh"))
            .args([&self.port.to_string(), "memory"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mongo-java-server (run scripts/setup.sh first)");
        let mut ready = String::new();
        BufReader::new(process.stdout.take().expect("piped stdout"))
            .read_line(&mut ready)
            .expect("reading the database's first line");
        assert!(
            ready.starts_with("listening on"),
            "mongo-java-server said {ready:?} (run scripts/setup.sh first)"
        );
        self.process = Some(process);
    }
}

impl Drop for PrivateDatabase {
    fn drop(&mut self) {
        self.kill();
    }
}

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
        let data = std::env::temp_dir().join(unique_name("kafka"));
        std::fs::create_dir_all(&data).expect("creating the brokers' folder");
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
        let metadata = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers(&nodes))
            .create()
            .expect("creating a metadata client");
        let mut kafka = PrivateKafka {
            data,
            cluster_id: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            nodes,
            metadata,
        };
        kafka.restart();
        kafka
    }

    /// `host:port,...` for `bootstrap.servers`: every broker.
    pub fn bootstrap_servers(&self) -> String {
        bootstrap_servers(&self.nodes)
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

/// Sends a signal (`STOP`, `CONT`, `KILL`, `TERM`) to a process, as `kill -<signal>` does.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// The executable `name` in the Python environment `scripts/setup.sh --test` installs the test
/// tools into: `$STOREFRONT_TOOLS_DIR/venv/bin`, `~/.local/share/storefront/venv/bin`
/// by default.
pub fn python_tool(name: &str) -> String {
    let tools = std::env::var("STOREFRONT_TOOLS_DIR").unwrap_or_else(|_| {
        format!(
            "{}/.local/share/storefront",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    format!("{tools}/venv/bin/{name}")
}

/// Polls `check` until it yields a value, panicking with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Creates each topic and its dead-letter topic (`<topic>.DLT`), 3 partitions each.
pub async fn create_topics_with_dead_letters(kafka: &KafkaSettings, topics: &[&str]) {
    let mut names: Vec<String> = Vec::new();
    for topic in topics {
        names.push((*topic).to_owned());
        names.push(format!("{topic}.DLT"));
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    platform::kafka::create_topics(kafka, &names, 3)
        .await
        .expect("creating test topics");
}

/// Publishes one record as any producer could, e.g. upstream's Java services (no key, no
/// headers) or a broken one (a value that is not an event).
pub async fn publish_raw(
    kafka: &KafkaSettings,
    topic: &str,
    key: Option<&str>,
    payload: Option<&[u8]>,
    headers: &[(&str, &str)],
) {
    let producer = platform::kafka::producer(kafka).expect("creating a test producer");
    let headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect();
    platform::kafka::publish(
        &producer,
        &platform::kafka::Record {
            topic,
            key: key.map(str::as_bytes),
            payload,
            headers: &headers,
        },
    )
    .await
    .expect("publishing a test record");
}

/// How many records of `topic` the consumer group `group` has committed, over all partitions.
pub fn committed_count(kafka: &KafkaSettings, group: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = platform::kafka::client_config(kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a test consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("reading topic metadata");
    let mut partitions = TopicPartitionList::new();
    for partition in metadata
        .topics()
        .iter()
        .flat_map(|topic| topic.partitions())
    {
        partitions.add_partition(topic, partition.id());
    }
    let committed = consumer
        .committed_offsets(partitions, Duration::from_secs(10))
        .expect("reading committed offsets");
    committed
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        })
        .sum()
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct ConsumedRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub headers: HashMap<String, String>,
}

impl ConsumedRecord {
    /// The payload as text; panics on a tombstone.
    pub fn text(&self) -> &str {
        std::str::from_utf8(self.payload.as_deref().expect("a tombstone has no payload"))
            .expect("payload is UTF-8")
    }
}

/// Reads a topic from its beginning, outside any consumer group (no rebalance to wait for).
pub struct TopicReader {
    consumer: BaseConsumer,
    records: Vec<ConsumedRecord>,
}

impl TopicReader {
    pub fn new(kafka: &KafkaSettings, topic: &str) -> Self {
        let consumer: BaseConsumer = platform::kafka::client_config(kafka)
            .set("group.id", unique_name("reader"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating a test consumer");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("reading topic metadata");
        let partitions = metadata
            .topics()
            .first()
            .map(|topic| topic.partitions().len())
            .unwrap_or(0);
        assert!(partitions > 0, "topic {topic} has no partitions");
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition as i32, Offset::Beginning)
                .expect("assigning a partition");
        }
        consumer.assign(&assignment).expect("assigning partitions");
        TopicReader {
            consumer,
            records: Vec::new(),
        }
    }

    /// Every record read so far.
    pub fn records(&self) -> &[ConsumedRecord] {
        &self.records
    }

    /// Reads until `count` records have arrived in all, panicking after `deadline`.
    pub async fn read_at_least(&mut self, count: usize, deadline: Duration) -> &[ConsumedRecord] {
        let started = Instant::now();
        while self.records.len() < count {
            assert!(
                started.elapsed() < deadline,
                "timed out after {deadline:?} with {} of {count} records",
                self.records.len()
            );
            if !self.poll(Duration::ZERO) {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        &self.records
    }

    /// Reads whatever arrives within `window`: used to show that nothing more arrives after
    /// the records a test waited for.
    pub async fn read_for(&mut self, window: Duration) -> &[ConsumedRecord] {
        let started = Instant::now();
        while started.elapsed() < window {
            if !self.poll(Duration::ZERO) {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        &self.records
    }

    /// Takes one record if one is there; false if there was none. A broker that is down (a
    /// test stopped it) is reported by the client and then worked around: not a failure.
    fn poll(&mut self, timeout: Duration) -> bool {
        let message = match self.consumer.poll(timeout) {
            None => return false,
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown,
            ))) => return false,
            Some(result) => result.expect("reading a test topic"),
        };
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        (
                            header.key.to_owned(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.records.push(ConsumedRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned()),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
        });
        true
    }
}
