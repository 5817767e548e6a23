//! The check that every acknowledged change took effect downstream exactly once, and the
//! reliability table's row that reports it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::rig::{CONVERGENCE_DEADLINE, Rig};
use super::stream::Sent;

/// What a scenario found: one row of the reliability table (docs/reliability.md
/// says what each column counts and from where).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    /// Changes the clients were told were made: every 2xx answer to a write (the stream's
    /// record), or every record the broker acknowledged (a scenario that produces directly).
    pub acknowledged: usize,
    /// Of those, the ones whose effect is visible downstream, read through the services' APIs.
    pub applied: usize,
    /// Effects seen more than once (a second fulfillment, a repeated status, a doubled order),
    /// judged once every consumer group has committed up to its topics' end offsets.
    pub duplicated: usize,
    /// Records on the dead-letter topics, counted to their end offsets.
    pub dead_lettered: usize,
    /// Acknowledged changes with no effect downstream by the deadline.
    pub lost: usize,
    /// Records the relays published per event on the stream's topics (1.0: each once), when
    /// the scenario's events came from the relays.
    pub records_per_event: Option<f64>,
    /// From the end of the fault and of the stream until a poll's reads found everything
    /// acknowledged applied, those reads included.
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
    /// Acknowledged changes with no effect downstream.
    pub missing: Vec<String>,
    /// Status histories orders does not mirror as fulfillment holds them, acknowledged or not
    /// (a change whose answer was lost is still fulfillment's to publish).
    pub diverged: Vec<String>,
    pub records_per_event: f64,
    /// From the call of [`converge`] until the end of the reads that found nothing missing.
    pub recovery: Duration,
    /// How long those reads took (the resolution of `recovery`, with the poll interval).
    pub reads: Duration,
}

impl Check {
    /// The table row of a scenario that ended with this check.
    pub fn row(&self, scenario: &str, dead_lettered: usize, notes: String) -> Row {
        Row {
            scenario: scenario.to_owned(),
            acknowledged: self.acknowledged,
            applied: self.applied,
            duplicated: self.duplicated,
            dead_lettered,
            lost: self.missing.len(),
            records_per_event: Some(self.records_per_event),
            recovery_seconds: self.recovery.as_secs_f64(),
            notes: format!(
                "{notes}; recovery's last reads took {:.1} s",
                self.reads.as_secs_f64()
            ),
        }
    }

    fn consistent(&self) -> bool {
        self.missing.is_empty() && self.diverged.is_empty()
    }
}

/// Pause between two reads of the downstream state.
const POLL: Duration = Duration::from_millis(500);

/// Waits until everything acknowledged is applied downstream, then until the relays have
/// published every event and the consumer groups have committed up to their topics' end
/// offsets (so that a redelivery still queued is seen), and judges the state then; or says what
/// it found at the deadline. Called once both the fault and the stream have ended.
pub async fn converge(rig: &Rig, sent: &Sent) -> Check {
    let started = Instant::now();
    let mut recovered: Option<(Duration, Duration)> = None;
    loop {
        let poll = Instant::now();
        let mut check = inspect(rig, sent).await;
        if check.consistent() {
            recovered.get_or_insert((started.elapsed(), poll.elapsed()));
        }
        let past_deadline = started.elapsed() > CONVERGENCE_DEADLINE;
        let settled = check.consistent() && rig.settled().await;
        if settled {
            // The state the groups have read to the end: the one to judge repeats on.
            check = inspect(rig, sent).await;
        }
        if (settled && check.consistent()) || past_deadline {
            assert_eq!(
                check.acknowledged, sent.acknowledged,
                "every 2xx answer the stream's clients got is a change the check looks for"
            );
            (check.recovery, check.reads) =
                recovered.unwrap_or((started.elapsed(), Duration::ZERO));
            check.records_per_event = rig.records_per_event().await;
            println!(
                "converged in {:.1} s, settled in {:.1} s: {} of {} applied, {} missing, e.g. {:?}; {} diverged, e.g. {:?}",
                check.recovery.as_secs_f64(),
                started.elapsed().as_secs_f64(),
                check.applied,
                check.acknowledged,
                check.missing.len(),
                check.missing.iter().take(3).collect::<Vec<_>>(),
                check.diverged.len(),
                check.diverged.iter().take(3).collect::<Vec<_>>(),
            );
            return check;
        }
        tokio::time::sleep(POLL).await;
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
        check.acknowledged += customer.acknowledged;
        let current = emails.get(customer.id.as_str()).copied();
        let stored_at = current.and_then(|email| customer.emails.iter().position(|e| e == email));
        let copy_email = copied
            .get(customer.id.as_str())
            .and_then(|copy| copy["contact"]["email"].as_str());
        match stored_at {
            // Accounts holds the last acknowledged email or a later one, and orders has it.
            Some(index) if index >= customer.last_acknowledged && copy_email == current => {
                check.applied += customer.acknowledged;
            }
            _ => check.missing.push(format!(
                "customer {}: accounts has {current:?}, orders has {copy_email:?}, acknowledged {:?}",
                customer.id, customer.emails[customer.last_acknowledged]
            )),
        }
    }

    let mut orders: BTreeMap<String, Vec<String>> = BTreeMap::new();
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
    // Every status change fulfillment answered 2xx for is in its history and in orders'.
    for change in &sent.status_changes {
        check.acknowledged += 1;
        let holds = |histories: &BTreeMap<String, Vec<String>>| {
            histories
                .get(&change.guid)
                .is_some_and(|history| history.iter().any(|status| status == change.status))
        };
        if holds(&fulfilled) && holds(&orders) {
            check.applied += 1;
        } else {
            check.missing.push(format!(
                "order {}: {} acknowledged; fulfillment has {:?}, orders has {:?}",
                change.guid,
                change.status,
                fulfilled.get(&change.guid),
                orders.get(&change.guid)
            ));
        }
    }
    for (guid, history) in &fulfilled {
        check.duplicated += repeats(history);
        let mirrored = orders.get(guid);
        if mirrored != Some(history) {
            check.diverged.push(format!(
                "order {guid}: fulfillment has {history:?}, orders has {mirrored:?}"
            ));
        }
    }
    check
}
