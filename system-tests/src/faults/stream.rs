//! A stream of realistic changes driven through the API by concurrent workers, and the ledger
//! of what the services acknowledged.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::rig::{CONVERGENCE_DEADLINE, Rig};

/// The product every order in the stream buys (from the sample catalog).
const PRODUCT: &str = "b5efd4a0-4eb9-4ad0-bc9e-2f5542cbe897";

/// The statuses the stream moves each approved order's fulfillment through, in order.
const STATUSES: [&str; 4] = ["PROCESSING", "SHIPPED", "IN_TRANSIT", "RECEIVED"];

/// One customer the stream created, and the emails it tried to give it, in order.
#[derive(Debug, Clone)]
pub(super) struct CustomerTrack {
    pub(super) id: String,
    pub(super) emails: Vec<String>,
    /// Index in `emails` of the last change accounts acknowledged.
    pub(super) last_acknowledged: usize,
    /// Changes accounts acknowledged: the create and each acknowledged email change.
    pub(super) acknowledged: usize,
}

/// A status change fulfillment acknowledged to the stream: the order's guid and the status.
#[derive(Debug, Clone)]
pub(super) struct StatusChange {
    pub(super) guid: String,
    pub(super) status: &'static str,
}

/// Where the stream stands with one approved order's fulfillment.
struct Fulfilling {
    guid: String,
    /// The fulfillment's id, once fulfillment has created it.
    id: Option<String>,
    /// Index in [`STATUSES`] of the status to ask for next.
    next: usize,
}

/// What the stream did, and what the services acknowledged.
#[derive(Debug, Default)]
struct Ledger {
    customers: Vec<CustomerTrack>,
    /// Customers created but not yet given an order (their copy may not be in orders yet).
    waiting: Vec<String>,
    placed: Vec<String>,
    approved: Vec<String>,
    status_changes: Vec<StatusChange>,
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
    /// Each request goes to the next instance of its service, round robin, as a Kubernetes
    /// Service spreads connections.
    pub fn start(rig: &Rig, workers: usize, target: usize) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let driver = || Driver {
            client: rig.client.clone(),
            accounts: rig.urls("accounts"),
            orders: rig.urls("orders"),
            turn: AtomicUsize::new(0),
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

    /// Lets the workers finish the target, then stops the stream, fulfillment's client last.
    pub async fn finish(mut self) -> Sent {
        let stepper = self.tasks.pop().expect("the fulfillment stepper");
        for task in self.tasks {
            task.await.expect("a stream worker");
        }
        self.stop.store(true, Ordering::Relaxed);
        stepper.await.expect("the fulfillment stepper");
        let ledger = self.ledger.lock().expect("ledger");
        Sent {
            customers: ledger.customers.clone(),
            placed: ledger.placed.clone(),
            approved: ledger.approved.clone(),
            status_changes: ledger.status_changes.clone(),
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
    pub(super) customers: Vec<CustomerTrack>,
    pub(super) placed: Vec<String>,
    pub(super) approved: Vec<String>,
    /// Every status change fulfillment answered 2xx for.
    pub(super) status_changes: Vec<StatusChange>,
    /// Every 2xx answer to a write.
    pub acknowledged: usize,
    pub refused: usize,
    pub aborted: usize,
    pub unreachable: usize,
}

struct Driver {
    client: reqwest::Client,
    /// The base URLs of every instance of accounts, and of orders.
    accounts: Vec<String>,
    orders: Vec<String>,
    /// Counts requests, to send each to the next instance.
    turn: AtomicUsize,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    target: usize,
}

impl Driver {
    fn done(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.ledger().acknowledged >= self.target
    }

    /// The instance the next request goes to.
    fn next<'a>(&self, instances: &'a [String]) -> &'a str {
        &instances[self.turn.fetch_add(1, Ordering::Relaxed) % instances.len()]
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
                        .post(format!("{}/customers", self.next(&self.accounts)))
                        .json(&customer(&email(0))),
                )
                .await;
            if let Some(Outcome::Acknowledged(body)) = created
                && let Some(id) = body["id"].as_str()
            {
                let mut track = CustomerTrack {
                    id: id.to_owned(),
                    emails: vec![email(0)],
                    last_acknowledged: 0,
                    acknowledged: 1,
                };
                for change in 1..=2 {
                    track.emails.push(email(change));
                    let patch = json!({"contact": {"primaryPhone": "555-000-1111", "email": email(change)}});
                    let sent = self
                        .send(
                            self.client
                                .patch(format!("{}/customers/{id}", self.next(&self.accounts)))
                                .json(&patch),
                        )
                        .await;
                    if let Some(Outcome::Acknowledged(_)) = sent {
                        track.last_acknowledged = change;
                        track.acknowledged += 1;
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
                    .post(format!("{}/customers/{id}/orders", self.next(&self.orders)))
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
                    .post(format!("{}/orders/{guid}/approve", self.next(&self.orders))),
            )
            .await;
        if let Some(Outcome::Acknowledged(_)) = approved {
            self.ledger().approved.push(guid);
        }
    }

    /// Moves each approved order's fulfillment through [`STATUSES`], one step per order per
    /// pass, one request at a time, while the stream runs; every step is a status change of its
    /// own, recorded when fulfillment acknowledges it.
    async fn advance_fulfillments(&self, fulfillment: &str) {
        let mut orders: Vec<Fulfilling> = Vec::new();
        let mut taken = 0;
        while !self.stop.load(Ordering::Relaxed) {
            {
                let ledger = self.ledger();
                orders.extend(ledger.approved[taken..].iter().map(|guid| Fulfilling {
                    guid: guid.clone(),
                    id: None,
                    next: 0,
                }));
                taken = ledger.approved.len();
            }
            let mut moved = false;
            for order in &mut orders {
                if self.stop.load(Ordering::Relaxed) {
                    break;
                }
                moved |= self.advance(fulfillment, order).await;
            }
            orders.retain(|order| order.next < STATUSES.len());
            if !moved {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Asks fulfillment to move one order's fulfillment to its next status; whether it moved.
    async fn advance(&self, fulfillment: &str, order: &mut Fulfilling) -> bool {
        let id = match &order.id {
            Some(id) => id.clone(),
            None => {
                let found = self
                    .read(format!(
                        "{fulfillment}/fulfillments/search/findByOrderGuid?guid={}",
                        order.guid
                    ))
                    .await;
                let Some(id) = found.as_ref().and_then(|found| found["id"].as_str()) else {
                    // Not requested yet: the approval's event is on its way.
                    return false;
                };
                order.id.insert(id.to_owned()).clone()
            }
        };
        let status = STATUSES[order.next];
        let mut change = json!({"orderStatusType": status});
        if status == "SHIPPED" {
            change["shippingMethod"] = json!("UPS");
        }
        let url = format!("{fulfillment}/fulfillments/{id}");
        match self
            .send(self.client.post(format!("{url}/status")).json(&change))
            .await
        {
            Some(Outcome::Acknowledged(_)) => {
                self.ledger().status_changes.push(StatusChange {
                    guid: order.guid.clone(),
                    status,
                });
                order.next += 1;
                true
            }
            // Already in that status (an earlier request was applied but its answer lost): go
            // on from the status fulfillment holds.
            Some(Outcome::Refused(409)) => {
                let held = self.read(url).await;
                let current = held.as_ref().and_then(|held| {
                    held["order"]["orderStatusEvents"].as_array()?.last()?["orderStatusType"]
                        .as_str()
                });
                if let Some(current) = current {
                    order.next = STATUSES
                        .iter()
                        .position(|known| *known == current)
                        .map_or(0, |index| index + 1);
                }
                false
            }
            _ => false,
        }
    }

    /// The body of a 200 answer to a GET, if there was one.
    async fn read(&self, url: String) -> Option<Value> {
        let response = self.client.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
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

/// Creates a customer with this email through accounts (its base URL); returns its id.
pub async fn create_customer(client: &reqwest::Client, accounts: &str, email: &str) -> String {
    let response = client
        .post(format!("{accounts}/customers"))
        .json(&customer(email))
        .send()
        .await
        .expect("creating a customer");
    assert_eq!(response.status(), 201, "creating a customer");
    let created: Value = response.json().await.expect("the created customer");
    created["id"].as_str().expect("an id").to_owned()
}
