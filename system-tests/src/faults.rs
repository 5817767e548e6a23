//! The fault-injection rig: the three service processes on a broker and a database of their
//! own (so a test may stop or freeze them), a stream of realistic changes driven through the
//! API while a fault is injected, and the check that every acknowledged change took effect
//! downstream exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use test_support::{PrivateDatabase, PrivateKafka, TopicReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::processes::{Service, Storefront};

/// How long the storefront may take to converge after a fault before what is missing counts
/// as lost.
pub const CONVERGENCE_DEADLINE: Duration = Duration::from_secs(180);

/// The product every order in the stream buys (from the sample catalog).
const PRODUCT: &str = "b5efd4a0-4eb9-4ad0-bc9e-2f5542cbe897";

/// The storefront on infrastructure of its own.
pub struct Rig {
    pub broker: PrivateKafka,
    pub database: PrivateDatabase,
    pub store: Storefront,
    pub client: reqwest::Client,
}

impl Rig {
    /// Starts a broker, a database and the three services on them, with these settings added.
    pub async fn start(settings: &[(&str, &str)]) -> Self {
        Self::start_with_brokers(1, settings).await
    }

    /// The same on a Kafka cluster of `brokers` nodes, with topics replicated to all of them and
    /// `min.insync.replicas` one less.
    pub async fn start_with_brokers(brokers: usize, settings: &[(&str, &str)]) -> Self {
        let broker = PrivateKafka::start_cluster(brokers);
        let database = PrivateDatabase::start();
        let servers = broker.bootstrap_servers();
        let uri = database.uri();
        let mut all = vec![
            ("APP_KAFKA__BOOTSTRAP_SERVERS", servers.as_str()),
            ("APP_DATABASE__URI", uri.as_str()),
            // A small pool keeps start-up quick.
            ("APP_DATABASE__MIN_POOL_SIZE", "1"),
        ];
        all.extend_from_slice(settings);
        let store = Storefront::start_with(&all).await;
        Rig {
            broker,
            database,
            store,
            // A fresh connection per request: a request cut off by a stopping server is then
            // told apart from a pooled connection the server had already closed.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// Records on the three dead-letter topics.
    pub async fn dead_lettered(&self) -> usize {
        let topics = &self.store.topics;
        let mut count = 0;
        for topic in [
            &topics.customer_change,
            &topics.order_fulfill,
            &topics.order_status_change,
        ] {
            let mut reader = TopicReader::new(&self.store.kafka, &format!("{topic}.DLT"));
            count += reader.read_for(Duration::from_secs(1)).await.len();
        }
        count
    }

    /// Every record of a topic, read from the beginning.
    pub async fn read_topic(
        &self,
        topic: &str,
        at_least: usize,
    ) -> Vec<test_support::ConsumedRecord> {
        let mut reader = TopicReader::new(&self.store.kafka, topic);
        reader
            .read_at_least(at_least, test_support::EVENT_DEADLINE)
            .await;
        reader.read_for(Duration::from_secs(1)).await.to_vec()
    }
}

/// A golden payload from `shared-events/fixtures`.
pub fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/../shared-events/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("reading a fixture")
}

/// One customer the stream created, and the emails it tried to give it, in order.
#[derive(Debug, Clone)]
struct CustomerTrack {
    id: String,
    emails: Vec<String>,
    /// Index in `emails` of the last change accounts acknowledged.
    acknowledged: usize,
}

/// What the stream did, and what the services acknowledged.
#[derive(Debug, Default)]
struct Ledger {
    customers: Vec<CustomerTrack>,
    /// Customers created but not yet given an order (their copy may not be in orders yet).
    waiting: Vec<String>,
    placed: Vec<String>,
    approved: Vec<String>,
    acknowledged: usize,
    /// Answers other than 2xx: refused (503 while a dependency is away) or rejected.
    refused: usize,
    /// Requests that were sent and then cut off without an answer.
    aborted: usize,
    /// Requests that found nothing listening (the service was down).
    unreachable: usize,
}

/// A stream of changes driven through the API by a few concurrent workers, until stopped or
/// until `target` changes were acknowledged.
pub struct Stream {
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

/// What one request came to.
enum Outcome {
    Acknowledged(Value),
    Refused(u16),
}

impl Stream {
    pub fn start(rig: &Rig, workers: usize, target: usize) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let driver = || Driver {
            client: rig.client.clone(),
            accounts: rig.store.accounts.url.clone(),
            orders: rig.store.orders.url.clone(),
            ledger: Arc::clone(&ledger),
            stop: Arc::clone(&stop),
            target,
        };
        let mut tasks = Vec::new();
        for worker in 0..workers {
            let driver = driver();
            tasks.push(tokio::spawn(async move { driver.run(worker).await }));
        }
        let stepper = driver();
        let fulfillment = rig.store.fulfillment.url.clone();
        tasks.push(tokio::spawn(async move {
            stepper.advance_fulfillments(&fulfillment).await;
        }));
        Stream {
            ledger,
            stop,
            tasks,
        }
    }

    /// Changes acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.ledger.lock().expect("ledger").acknowledged
    }

    /// Waits until `count` changes were acknowledged (or the stream ended).
    pub async fn wait_for(&self, count: usize) {
        let started = Instant::now();
        while self.acknowledged() < count && !self.tasks.iter().all(JoinHandle::is_finished) {
            assert!(
                started.elapsed() < CONVERGENCE_DEADLINE,
                "the stream acknowledged {} of {count} changes in {CONVERGENCE_DEADLINE:?}",
                self.acknowledged()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Lets the workers finish the target, then stops the stream.
    pub async fn finish(self) -> Sent {
        for task in self.tasks.into_iter().rev().skip(1).collect::<Vec<_>>() {
            task.await.expect("a stream worker");
        }
        self.stop.store(true, Ordering::Relaxed);
        let ledger = self.ledger.lock().expect("ledger");
        Sent {
            customers: ledger.customers.clone(),
            placed: ledger.placed.clone(),
            approved: ledger.approved.clone(),
            acknowledged: ledger.acknowledged,
            refused: ledger.refused,
            aborted: ledger.aborted,
            unreachable: ledger.unreachable,
        }
    }
}

/// What a finished stream sent and what was acknowledged.
#[derive(Debug, Clone)]
pub struct Sent {
    customers: Vec<CustomerTrack>,
    placed: Vec<String>,
    approved: Vec<String>,
    pub acknowledged: usize,
    pub refused: usize,
    pub aborted: usize,
    pub unreachable: usize,
}

struct Driver {
    client: reqwest::Client,
    accounts: String,
    orders: String,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    target: usize,
}

impl Driver {
    fn done(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.ledger().acknowledged >= self.target
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger")
    }

    /// Sends one change, recording how it ended; the body of a 2xx answer if there was one.
    async fn send(&self, request: reqwest::RequestBuilder) -> Option<Outcome> {
        let outcome = match request.send().await {
            Ok(response) if response.status().is_success() => {
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                self.ledger().acknowledged += 1;
                Outcome::Acknowledged(body)
            }
            Ok(response) => {
                self.ledger().refused += 1;
                Outcome::Refused(response.status().as_u16())
            }
            Err(error) if error.is_connect() => {
                self.ledger().unreachable += 1;
                // Nothing listens: the service is restarting.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return None;
            }
            Err(_) => {
                self.ledger().aborted += 1;
                return None;
            }
        };
        Some(outcome)
    }

    /// Creates a customer, changes its email twice, and places and approves an order for a
    /// customer created earlier whose copy has reached orders; until the target is reached.
    async fn run(&self, worker: usize) {
        let mut serial = 0;
        while !self.done() {
            serial += 1;
            let email = |change: usize| format!("w{worker}-{serial}-{change}@example.com");
            let created = self
                .send(
                    self.client
                        .post(format!("{}/customers", self.accounts))
                        .json(&customer(&email(0))),
                )
                .await;
            if let Some(Outcome::Acknowledged(body)) = created
                && let Some(id) = body["id"].as_str()
            {
                let mut track = CustomerTrack {
                    id: id.to_owned(),
                    emails: vec![email(0)],
                    acknowledged: 0,
                };
                for change in 1..=2 {
                    track.emails.push(email(change));
                    let patch = json!({"contact": {"primaryPhone": "555-000-1111", "email": email(change)}});
                    let sent = self
                        .send(
                            self.client
                                .patch(format!("{}/customers/{id}", self.accounts))
                                .json(&patch),
                        )
                        .await;
                    if let Some(Outcome::Acknowledged(_)) = sent {
                        track.acknowledged = change;
                    }
                }
                let mut ledger = self.ledger();
                ledger.customers.push(track);
                ledger.waiting.push(id.to_owned());
            }
            self.order_for_an_earlier_customer().await;
        }
    }

    async fn order_for_an_earlier_customer(&self) {
        let Some(id) = ({
            let mut ledger = self.ledger();
            let waiting = ledger.waiting.len();
            // The oldest has had the most time to reach orders.
            (waiting > 0).then(|| ledger.waiting.remove(0))
        }) else {
            return;
        };
        let order = json!({"orderItems": [{"product": {"guid": PRODUCT}, "quantity": 2}]});
        let placed = self
            .send(
                self.client
                    .post(format!("{}/customers/{id}/orders", self.orders))
                    .json(&order),
            )
            .await;
        let guid = match placed {
            Some(Outcome::Acknowledged(body)) => body["guid"].as_str().map(str::to_owned),
            // Not copied to orders yet: try again later.
            Some(Outcome::Refused(404)) | None => {
                self.ledger().waiting.push(id);
                return;
            }
            Some(Outcome::Refused(_)) => None,
        };
        let Some(guid) = guid else { return };
        self.ledger().placed.push(guid.clone());
        let approved = self
            .send(
                self.client
                    .post(format!("{}/orders/{guid}/approve", self.orders)),
            )
            .await;
        if let Some(Outcome::Acknowledged(_)) = approved {
            self.ledger().approved.push(guid);
        }
    }

    /// Moves every fulfillment one status on, step after step, while the stream runs.
    async fn advance_fulfillments(&self, fulfillment: &str) {
        let steps = ["process", "ship", "in-transit", "receive"];
        for step in steps.iter().cycle() {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            self.send(
                self.client
                    .post(format!("{fulfillment}/fulfillments/sample/{step}")),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// A new customer's body with this email.
pub fn customer(email: &str) -> Value {
    json!({
        "name": {"title": "Dr.", "firstName": "Ada", "lastName": "Lovelace"},
        "contact": {"primaryPhone": "555-000-1111", "email": email},
        "addresses": [{"type": "SHIPPING", "description": "Home", "address1": "1 Analytical Way",
                       "city": "London", "state": "LN", "postalCode": "00001"}],
        "creditCards": []
    })
}

/// What a scenario found: one row of the reliability table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    /// Changes the services acknowledged (2xx writes, and status changes fulfillment stored).
    pub acknowledged: usize,
    /// Of those, the ones whose effect is visible downstream.
    pub applied: usize,
    /// Effects seen more than once (a second fulfillment, a repeated status, a doubled order).
    pub duplicated: usize,
    pub dead_lettered: usize,
    /// Acknowledged changes with no effect downstream by the deadline.
    pub lost: usize,
    /// From the end of the fault until everything acknowledged was applied downstream.
    pub recovery_seconds: f64,
    /// What else the scenario observed.
    pub notes: String,
}

impl Row {
    /// Prints the row and writes it where `scripts/reliability.sh` collects the table from.
    pub fn report(&self) {
        println!("{}", serde_json::to_string_pretty(self).expect("a row"));
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reliability");
        std::fs::create_dir_all(&folder).expect("creating target/reliability");
        let file = folder.join(format!("{}.json", slug(&self.scenario)));
        std::fs::write(file, serde_json::to_vec_pretty(self).expect("a row"))
            .expect("writing the row");
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The downstream state, compared with what was acknowledged.
#[derive(Debug, Default)]
pub struct Check {
    pub acknowledged: usize,
    pub applied: usize,
    pub duplicated: usize,
    pub missing: Vec<String>,
}

impl Check {
    /// The table row of a scenario that ended with this check.
    pub fn row(
        &self,
        scenario: &str,
        dead_lettered: usize,
        recovery: Duration,
        notes: String,
    ) -> Row {
        Row {
            scenario: scenario.to_owned(),
            acknowledged: self.acknowledged,
            applied: self.applied,
            duplicated: self.duplicated,
            dead_lettered,
            lost: self.missing.len(),
            recovery_seconds: recovery.as_secs_f64(),
            notes,
        }
    }
}

/// Waits until everything acknowledged is applied downstream (or the deadline passes), and
/// says what it found.
pub async fn converge(rig: &Rig, sent: &Sent) -> Check {
    let started = Instant::now();
    loop {
        let check = inspect(rig, sent).await;
        if check.missing.is_empty() || started.elapsed() > CONVERGENCE_DEADLINE {
            println!(
                "converged in {:.1} s: {} of {} applied, {} missing, e.g. {:?}",
                started.elapsed().as_secs_f64(),
                check.applied,
                check.acknowledged,
                check.missing.len(),
                check.missing.iter().take(3).collect::<Vec<_>>()
            );
            return check;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn summary(rig: &Rig, url: String, field: &str) -> Vec<Value> {
    let body: Value = match rig.client.get(&url).send().await {
        Ok(response) if response.status().is_success() => response.json().await.unwrap_or_default(),
        _ => Value::Null,
    };
    body[field].as_array().cloned().unwrap_or_default()
}

fn status_types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|event| event["orderStatusType"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn repeats(types: &[String]) -> usize {
    types.len() - types.iter().collect::<HashSet<_>>().len()
}

async fn inspect(rig: &Rig, sent: &Sent) -> Check {
    let store = &rig.store;
    let accounts = summary(
        rig,
        format!("{}/customers/summary", store.accounts.url),
        "customers",
    )
    .await;
    let copies = summary(
        rig,
        format!("{}/customers/summary", store.orders.url),
        "customers",
    )
    .await;
    let fulfillments = summary(
        rig,
        format!("{}/fulfillments/summary", store.fulfillment.url),
        "fulfillments",
    )
    .await;
    let mut check = Check::default();

    let emails: HashMap<&str, &str> = accounts
        .iter()
        .filter_map(|customer| {
            Some((
                customer["id"].as_str()?,
                customer["contact"]["email"].as_str()?,
            ))
        })
        .collect();
    let copied: HashMap<&str, &Value> = copies
        .iter()
        .filter_map(|copy| Some((copy["id"].as_str()?, copy)))
        .collect();
    for customer in &sent.customers {
        // A create and each acknowledged email change.
        let changes = customer.acknowledged + 1;
        check.acknowledged += changes;
        let current = emails.get(customer.id.as_str()).copied();
        let stored_at = current.and_then(|email| customer.emails.iter().position(|e| e == email));
        let copy_email = copied
            .get(customer.id.as_str())
            .and_then(|copy| copy["contact"]["email"].as_str());
        match stored_at {
            // Accounts holds the last acknowledged email or a later one, and orders has it.
            Some(index) if index >= customer.acknowledged && copy_email == current => {
                check.applied += changes;
            }
            _ => check.missing.push(format!(
                "customer {}: accounts has {current:?}, orders has {copy_email:?}, acknowledged {:?}",
                customer.id, customer.emails[customer.acknowledged]
            )),
        }
    }

    let mut orders: HashMap<String, Vec<String>> = HashMap::new();
    for copy in &copies {
        for order in copy["orders"].as_array().into_iter().flatten() {
            if let Some(guid) = order["guid"].as_str() {
                if orders.contains_key(guid) {
                    check.duplicated += 1;
                }
                orders.insert(guid.to_owned(), status_types(&order["orderStatusEvents"]));
            }
        }
    }
    for guid in &sent.placed {
        check.acknowledged += 1;
        if orders.contains_key(guid) {
            check.applied += 1;
        } else {
            check.missing.push(format!("order {guid} is not in orders"));
        }
    }
    check.duplicated += orders.values().map(|types| repeats(types)).sum::<usize>();

    let mut fulfilled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for fulfillment in &fulfillments {
        if let Some(guid) = fulfillment["order"]["guid"].as_str() {
            if fulfilled.contains_key(guid) {
                check.duplicated += 1;
            }
            fulfilled.insert(
                guid.to_owned(),
                status_types(&fulfillment["order"]["orderStatusEvents"]),
            );
        }
    }
    for guid in &sent.approved {
        check.acknowledged += 1;
        if fulfilled.contains_key(guid) {
            check.applied += 1;
        } else {
            check
                .missing
                .push(format!("approved order {guid} has no fulfillment"));
        }
    }
    // Every status change fulfillment stored is a change it acknowledged; orders must show it.
    for (guid, history) in &fulfilled {
        let changes = history.len().saturating_sub(2);
        check.acknowledged += changes;
        check.duplicated += repeats(history);
        match orders.get(guid) {
            Some(mirrored) if mirrored == history => check.applied += changes,
            mirrored => check.missing.push(format!(
                "order {guid}: fulfillment has {history:?}, orders has {mirrored:?}"
            )),
        }
    }
    check
}

/// Events in a service's outboxes, not yet published.
pub async fn pending_outbox_events(database_uri: &str, service: &Service) -> u64 {
    outbox_collection(database_uri, service)
        .await
        .count_documents(mongodb::bson::doc! { "outbox.0": { "$exists": true } })
        .await
        .expect("counting pending events")
}

/// Events a service's outbox relay dead-lettered (the producer refused them outright).
pub async fn outbox_dead_letters(database_uri: &str, service: &Service) -> u64 {
    platform::outbox::dead_letters(&outbox_collection(database_uri, service).await)
        .count_documents(mongodb::bson::doc! {})
        .await
        .expect("counting outbox dead letters")
}

/// The collection whose documents carry a service's outbox.
async fn outbox_collection(
    database_uri: &str,
    service: &Service,
) -> mongodb::Collection<mongodb::bson::Document> {
    let collection = match service.name {
        "accounts" => "customer.accounts",
        "orders" => "customer.orders",
        _ => "fulfillment.requests",
    };
    let client = mongodb::Client::with_uri_str(database_uri)
        .await
        .expect("a MongoDB client");
    let database = service
        .setting("APP_DATABASE__NAME")
        .expect("a database name");
    client.database(database).collection(collection)
}

/// Whether a service process is still running (after SIGTERM it must not be).
pub fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Counts the log lines of a service with this message, per value of `field`.
pub fn count_log_lines(
    log: &std::path::Path,
    message: &str,
    field: &str,
) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let fields = &entry["fields"];
        if fields["message"] == message {
            let key = fields[field].as_str().unwrap_or_default().to_owned();
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// A request the server is handling: its headers are parsed and the handler waits for the body.
/// It asks `Expect: 100-continue`, and the server's `100 Continue` is the proof that the request
/// is in its hands rather than queued. [`InFlight::finish`] sends the body and reads the status.
pub struct InFlight {
    stream: tokio::net::TcpStream,
    body: Vec<u8>,
}

impl InFlight {
    /// Starts a `POST path` with a JSON `body` and returns once the server said to continue.
    pub async fn start(port: u16, path: &str, body: &Value) -> Self {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connecting");
        let body = body.to_string().into_bytes();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("sending");
        let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut answer = vec![0_u8; expected.len()];
        stream
            .read_exact(&mut answer)
            .await
            .expect("reading the interim answer");
        assert_eq!(
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(expected)
        );
        InFlight { stream, body }
    }

    /// Sends the body; the status of the answer.
    pub async fn finish(mut self) -> u16 {
        self.stream.write_all(&self.body).await.expect("sending");
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = self.stream.read(&mut buffer).await.expect("reading");
            assert!(read > 0, "the connection closed without an answer");
            received.extend_from_slice(&buffer[..read]);
        }
        String::from_utf8_lossy(&received[9..12])
            .parse()
            .expect("a status code")
    }
}
