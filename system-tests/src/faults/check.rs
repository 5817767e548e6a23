//! The check that every acknowledged change took effect downstream exactly once, and the
//! reliability table's row that reports it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::rig::{CONVERGENCE_DEADLINE, Rig};
use super::stream::Sent;

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
    /// Records the relays published per event on the stream's topics (1.0: each once), when
    /// the scenario's events came from the relays.
    pub records_per_event: Option<f64>,
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
    pub records_per_event: f64,
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
            records_per_event: Some(self.records_per_event),
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
        let mut check = inspect(rig, sent).await;
        if check.missing.is_empty() || started.elapsed() > CONVERGENCE_DEADLINE {
            check.records_per_event = rig.records_per_event().await;
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
