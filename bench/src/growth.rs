//! `storefront-bench growth`: the documents accounts and orders stored for one customer are
//! copied (a new `_id` each, no pending events) up to each size, where what docs/performance.md
//! ("How cost grows with data") lists is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::{Collection, Database};
use platform::outbox::PENDING_REMOVAL;
use serde::Serialize;
use serde_json::json;
use test_support::within;

use crate::baseline::{find_by_id, insert_copies, update_by_id};
use crate::chart::{Panel, YAxis};
use crate::footprint::metered;
use crate::load::Load;
use crate::options::GrowthOptions;
use crate::report::{Row, Run, fixed, rows_table};
use crate::stack::{Launcher, SERVICES, Service};

const POLL: Duration = Duration::from_millis(5);
/// Documents per `insert_many` while the collections grow.
const BATCH: usize = 10_000;
/// Ids the reads and changes go round at each size, spread over the whole collection.
const SAMPLE: usize = 100_000;
const IDLE_PASSES: f64 = 3.0;
const IDLE_DEADLINE: Duration = Duration::from_secs(300);
const RELAY_PASS: &str = "outbox_relay_pass_duration_seconds";

#[derive(Debug, Clone, Serialize)]
struct GrowthReport {
    #[serde(flatten)]
    run: Run,
    /// Bytes stored for the template: accounts' customer, orders' customer.
    document_bytes: (usize, usize),
    rows: Vec<Row>,
}

/// A service's customers, its document for the template without outbox state, its instances.
struct Stored {
    collection: Collection<Document>,
    template: Document,
    instances: Vec<String>,
}

pub(crate) async fn run(options: GrowthOptions) -> anyhow::Result<()> {
    let out = options.common.out("growth");
    let run_id = test_support::unique_name("growth");
    let launcher = Launcher::for_run(&options.common.bin_dir, &out, &run_id, true, &[]).await?;
    let mut services = Vec::new();
    let measured = async {
        for name in SERVICES {
            services.push(launcher.start(name, 0, &[]).await?.0);
        }
        measure(&options, &launcher, &services).await
    }
    .await;
    launcher.tear_down(services, &[]).await;
    let (document_bytes, rows) = measured?;
    let report = GrowthReport {
        run: Run::new(&run_id, &options.common),
        document_bytes,
        rows,
    };
    crate::report::write(&out, &report, &markdown(&report))?;
    let figure = out.with_extension("svg");
    std::fs::write(&figure, chart(&report.rows)?)
        .with_context(|| format!("writing {}", figure.display()))?;
    step!("chart: {}", figure.display());
    Ok(())
}

async fn measure(
    options: &GrowthOptions,
    launcher: &Launcher,
    services: &[Service],
) -> anyhow::Result<((usize, usize), Vec<Row>)> {
    let phases @ (concurrency, phase) = options.common.phases();
    let urls = crate::load::Urls::of(services);
    let load = Load::new(reqwest::Client::new(), urls, POLL);
    step!("creating the template customer and waiting for it in orders");
    let id = load.await_orders().await?;
    let id = ObjectId::parse_str(&id).context("accounts answered an id")?;
    let mut stored = Vec::new();
    let urls = [&load.urls.accounts, &load.urls.orders];
    for (service, instances) in SERVICES.into_iter().zip(urls) {
        let database = platform::mongo::connect(&launcher.database(service)).await?;
        stored.push(Stored::find(&database, id, instances).await?);
    }
    let size = |stored: &Stored| mongodb::bson::to_vec(&stored.template).map(|bytes| bytes.len());
    let document_bytes = (size(&stored[0])?, size(&stored[1])?);
    let accounts = &stored[0].collection;
    let changelog = launcher.changelog();
    let mut ids: Vec<ObjectId> = Vec::new();
    let mut rows = Vec::new();
    for &size in &options.sizes {
        step!("copying customers until each service holds {size}");
        let began = Instant::now();
        while ids.len() < size {
            let batch: Vec<ObjectId> = (ids.len()..size.min(ids.len() + BATCH))
                .map(|_| ObjectId::new())
                .collect();
            for stored in &stored {
                insert_copies(&stored.collection, &stored.template, &batch).await?;
            }
            ids.extend(batch);
        }
        let load_seconds = began.elapsed().as_secs_f64();

        step!("waiting for idle passes of the outbox relays");
        // The pass under way when the copy ended, and what the copy left the database to
        // collect, are not an idle pass's cost: one pass of each relay goes by first.
        idle_passes(&load, &stored, 1.0).await?;
        let database = options.database_pid;
        let idle = idle_passes(&load, &stored, IDLE_PASSES);
        let (idle, used, took) = metered(database.as_slice(), idle).await?;
        let idle = idle?;
        let database_idle_cores = database.map_or(f64::NAN, |_| used.total() / took.as_secs_f64());

        let sample = Arc::new(spread(&ids, SAMPLE));
        let sample_text = Arc::new(sample.iter().map(|id| id.to_hex()).collect::<Vec<_>>());
        step!("{size} customers: raw find_one by id, {concurrency} workers, {phase:?}");
        let raw = find_by_id(accounts, Arc::clone(&sample), phases).await;
        let raw = raw.succeeded("raw find_one")?;
        step!("{size} customers: GET customers/{{id}}");
        let reads = load.read_customers(Arc::clone(&sample_text), phases).await;
        let reads = reads.succeeded("GET by id")?;
        let mut raw_updates = Vec::new();
        for condition in [doc! {}, doc! { PENDING_REMOVAL: { "$ne": true } }] {
            step!("{size} customers: raw update_one by _id and {condition}");
            let sample = Arc::clone(&sample);
            let updates = update_by_id(accounts, sample, condition, false, phases);
            raw_updates.push(updates.await.succeeded("raw update_one")?.per_second);
        }
        step!("{size} customers: changing customers until orders applied every change");
        let changes = load.change_customers(sample_text, phases, &changelog);
        let (changes, rates) = changes.await?;
        let (acknowledged, applied) = (rates.acknowledged_per_second, rates.applied_per_second);
        let ([update, conditional], failed) = ([raw_updates[0], raw_updates[1]], changes.failures);
        let x_raw = reads.per_second / raw.per_second.max(f64::MIN_POSITIVE);
        let (p50, p99, cores) = (reads.p50_ms, reads.p99_ms, database_idle_cores * 100.0);
        let passes = format!("{:.1} / {:.1}", idle[0], idle[1]);
        let cpu = if cores.is_finite() {
            fixed(cores, 0)
        } else {
            "-".to_owned()
        };
        // Changes that failed, with the first failure: where a write takes longer than the
        // services' request deadline, they time out rather than stop the measurement.
        let fields = [
            ("customers", json!(size)),
            ("load_seconds", json!(load_seconds)),
            ("raw_find_one_per_second", json!(raw.per_second)),
            ("raw_find_one_p99_ms", json!(raw.p99_ms)),
            ("reads_per_second", json!(reads.per_second)),
            ("read_p50_ms", json!(p50)),
            ("read_p99_ms", json!(p99)),
            ("raw_update_per_second", json!(update)),
            ("raw_conditional_update_per_second", json!(conditional)),
            ("changes_acknowledged_per_second", json!(acknowledged)),
            ("changes_failed", json!(failed)),
            ("first_failure", json!(changes.first_error)),
            ("applied_per_second", json!(applied)),
            ("accounts_idle_pass_ms", json!(idle[0])),
            ("orders_idle_pass_ms", json!(idle[1])),
            ("database_idle_cores", json!(database_idle_cores)),
        ];
        let cells = [
            ("customers", size.to_string()),
            ("copied in (s)", fixed(load_seconds, 0)),
            ("raw find_one /s", fixed(raw.per_second, 0)),
            ("GET by id /s", fixed(reads.per_second, 0)),
            ("x raw", fixed(x_raw, 2)),
            ("GET by id p50 / p99 (ms)", format!("{p50:.2} / {p99:.2}")),
            ("raw update by _id /s", fixed(update, 0)),
            ("raw update by _id + condition /s", fixed(conditional, 0)),
            ("changes acknowledged /s", fixed(acknowledged, 0)),
            ("changes failed", failed.to_string()),
            ("changes applied in orders /s", fixed(applied, 0)),
            ("idle relay pass, accounts / orders (ms)", passes),
            ("database CPU meanwhile (% of a core)", cpu),
        ];
        let row = Row::new(fields, cells);
        rows.push(row);
    }
    Ok((document_bytes, rows))
}

impl Stored {
    async fn find(database: &Database, id: ObjectId, instances: &[String]) -> anyhow::Result<Self> {
        for name in database.list_collection_names().await? {
            let collection = database.collection::<Document>(&name);
            if let Some(mut template) = collection.find_one(doc! { "_id": id }).await? {
                let outbox_state = [
                    platform::outbox::FIELD,
                    platform::outbox::CLAIM,
                    PENDING_REMOVAL,
                ];
                for field in outbox_state {
                    template.remove(field);
                }
                let instances = instances.to_vec();
                return Ok(Stored {
                    collection,
                    template,
                    instances,
                });
            }
        }
        anyhow::bail!("no collection of {} holds {id}", database.name())
    }

    /// Its relay's passes so far and their total seconds.
    async fn relay_passes(&self, load: &Load) -> anyhow::Result<(f64, f64)> {
        let label = ("collection", self.collection.name());
        let [count, sum] = ["count", "sum"].map(|suffix| format!("{RELAY_PASS}_{suffix}"));
        let count = load.metric(&self.instances, &count, label).await?;
        Ok((count, load.metric(&self.instances, &sum, label).await?))
    }
}

/// The mean idle pass of each of the `stored` collections' relays, in milliseconds, over the
/// next `passes` passes of each (or more: all since the call).
async fn idle_passes(load: &Load, stored: &[Stored], passes: f64) -> anyhow::Result<Vec<f64>> {
    let mut before = Vec::new();
    for stored in stored {
        before.push(stored.relay_passes(load).await?);
    }
    let means = || async {
        let mut means = Vec::new();
        for (stored, (count, seconds)) in stored.iter().zip(&before) {
            let (now, now_seconds) = stored.relay_passes(load).await?;
            if now - count < passes {
                return Ok(None);
            }
            means.push((now_seconds - seconds) * 1000.0 / (now - count));
        }
        Ok(Some(means))
    };
    let what = "idle passes of the outbox relays";
    let interval = Duration::from_millis(250);
    within(what, IDLE_DEADLINE, interval, means).await
}

/// Up to `count` of `ids`, spread evenly over all of them: every `step`th id, `step` coprime
/// with the length, so that a sample smaller than the collection reaches across it with
/// consecutive reads `step` apart (adjacent when the sample takes every id).
fn spread(ids: &[ObjectId], count: usize) -> Vec<ObjectId> {
    let length = ids.len();
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut step = (length / count.max(1)).max(1) | 1;
    while length > 0 && gcd(step, length) != 1 {
        step += 2;
    }
    (0..count.min(length))
        .map(|k| ids[(k * step) % length])
        .collect()
}

fn markdown(report: &GrowthReport) -> String {
    let rows = rows_table(&report.rows);
    let (accounts, orders) = report.document_bytes;
    let mut text = format!(
        "{} workers, {} s per phase, {} cores; a customer is {accounts} bytes in accounts and \
         {orders} in orders.\n\n{rows}",
        report.run.concurrency, report.run.phase_seconds, report.run.cores
    );
    for row in &report.rows {
        if let Some(failure) = row.text("first_failure") {
            let customers = row.get("customers");
            text.push_str(&format!(
                "\nAt {customers:.0} customers, the first failed change: {failure}\n"
            ));
        }
    }
    text
}

/// The chart: GET by id's latency, reads, writes, the relays' idle passes.
const PANELS: [Panel; 4] = [
    (
        "GET customers/{id}: latency",
        "ms",
        YAxis::Linear,
        &[
            ("p50", "read_p50_ms"),
            ("p99", "read_p99_ms"),
            ("raw find_one p99", "raw_find_one_p99_ms"),
        ],
    ),
    (
        "Reads by id",
        "per second",
        YAxis::Linear,
        &[
            ("raw find_one", "raw_find_one_per_second"),
            ("GET customers/{id}", "reads_per_second"),
        ],
    ),
    (
        "Writes (log scale)",
        "per second",
        YAxis::Logarithmic,
        &[
            ("raw update by _id", "raw_update_per_second"),
            (
                "raw update by _id + condition",
                "raw_conditional_update_per_second",
            ),
            ("changes applied in orders", "applied_per_second"),
        ],
    ),
    (
        "Outbox relay: one idle pass",
        "ms",
        YAxis::Linear,
        &[
            ("accounts", "accounts_idle_pass_ms"),
            ("orders", "orders_idle_pass_ms"),
        ],
    ),
];

fn chart(rows: &[Row]) -> anyhow::Result<String> {
    crate::chart::svg(rows, ("customers", "customers held (log scale)"), &PANELS)
}
#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_spread_sample_is_distinct_and_reaches_across_the_ids() {
        let ids: Vec<ObjectId> = (0..1000).map(|_| ObjectId::new()).collect();
        let sample = spread(&ids, 100);
        assert_eq!(sample.iter().collect::<HashSet<_>>().len(), 100);
        let positions: Vec<usize> = sample
            .iter()
            .map(|id| ids.iter().position(|known| known == id).unwrap())
            .collect();
        assert!(positions.iter().any(|&at| at >= 900));
        let mut pairs = positions.windows(2);
        assert!(pairs.all(|pair| pair[0].abs_diff(pair[1]) > 1));
        let few = &ids[..10];
        assert_eq!(spread(few, 100).iter().collect::<HashSet<_>>().len(), 10);
        assert!(spread(&[], 5).is_empty());
    }
}
