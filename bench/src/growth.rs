//! `storefront-bench growth`: how the storefront's cost grows with the data it holds.
//!
//! The three services run once, on topics and databases of their own. One customer is created
//! through the API; the documents accounts and orders stored for it are the template that the
//! benchmark copies (a new `_id` each, the same in both services, no pending events) straight
//! into their collections until each holds the next size, 10^4, 10^5, 10^6 customers by
//! default. At every size, with the same workers and phase length: the raw driver `find_one` by
//! id over the loaded customers, GET by id through accounts over the same ids (spread over the
//! whole collection, not the newest), raw `update_one` by `_id` alone and by `_id` with the
//! liveness condition the services' writes carry, customer changes until orders applied every
//! one, and the idle passes of the outbox relays (what polling an outbox costs), from the
//! services' `outbox_relay_pass_duration_seconds`, with the database server's CPU over those
//! passes when its process is given. A flat line is the goal: the table and the chart (SVG,
//! beside the report) show where one bends.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::{Collection, Database};
use platform::outbox::PENDING_REMOVAL;
use platform::settings::DatabaseSettings;
use serde::Serialize;

use crate::chart::{Panel, Series, YAxis};
use crate::footprint;
use crate::load::{Load, Urls};
use crate::options::GrowthOptions;
use crate::report::log;
use crate::report::markdown_table;
use crate::run::tear_down;
use crate::stack::{Launcher, SERVICES, Service};

/// How often a worker looks for an effect in the other service.
const POLL: Duration = Duration::from_millis(5);
/// Documents per `insert_many` while the collections grow.
const BATCH: usize = 10_000;
/// Ids the reads and changes go round at each size, spread over the whole collection.
const SAMPLE: usize = 100_000;
/// Idle relay passes averaged per service at each size.
const IDLE_PASSES: f64 = 3.0;
/// How long the idle passes may take to come.
const IDLE_DEADLINE: Duration = Duration::from_secs(300);
const RELAY_PASS: &str = "outbox_relay_pass_duration_seconds";

/// One size's figures; latencies in milliseconds.
#[derive(Debug, Clone, Serialize)]
struct Row {
    customers: usize,
    /// How long copying the customers added at this size took, both collections.
    load_seconds: f64,
    raw_find_one_per_second: f64,
    raw_find_one_p99_ms: f64,
    reads_per_second: f64,
    read_p50_ms: f64,
    read_p99_ms: f64,
    /// `update_one` by `_id` alone, and by `_id` with the liveness condition.
    raw_update_per_second: f64,
    raw_conditional_update_per_second: f64,
    changes_acknowledged_per_second: f64,
    /// Changes that failed, with the first failure: where a write takes longer than the
    /// services' request deadline, they time out rather than stop the measurement.
    changes_failed: u64,
    first_failure: Option<String>,
    applied_per_second: f64,
    /// The mean pass of accounts' and orders' relays while nothing was written.
    accounts_idle_pass_ms: f64,
    orders_idle_pass_ms: f64,
    /// The database server's CPU over those idle passes, in cores (NaN when not measured).
    database_idle_cores: f64,
}

#[derive(Debug, Clone, Serialize)]
struct GrowthReport {
    run_id: String,
    cores: usize,
    concurrency: usize,
    phase_seconds: u64,
    /// The template's size as stored, in bytes: accounts' customer, orders' customer.
    document_bytes: (usize, usize),
    rows: Vec<Row>,
}

/// A collection a service keeps its customers in, with the document it stored for the template
/// customer, stripped of outbox state.
struct Stored {
    collection: Collection<Document>,
    template: Document,
}

pub(crate) async fn run(options: GrowthOptions) -> anyhow::Result<()> {
    let (kafka, database) = crate::run::service_settings()?;
    let out = options.paths.out("growth");
    let run_id = test_support::unique_name("growth");
    let launcher = Launcher::for_run(&options.paths.bin_dir, &out, &run_id)?;
    let topics = launcher.create_topics(&kafka, 3, true, &[]).await?;
    log(&format!(
        "run {run_id}: logs in {}",
        launcher.logs.display()
    ));
    let client = reqwest::Client::new();
    let mut services = Vec::new();
    let measured = async {
        for name in SERVICES {
            let (service, _) = launcher.start(name, 0, &[]).await?;
            services.push(service);
        }
        measure(&options, &launcher, &services, &client, &database).await
    }
    .await;
    log("stopping the services and removing what the run created");
    tear_down(services, &launcher, (&kafka, &topics), &database).await;
    let (document_bytes, rows) = measured?;
    let report = GrowthReport {
        run_id,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        concurrency: options.concurrency,
        phase_seconds: options.phase.as_secs(),
        document_bytes,
        rows,
    };
    crate::report::write(&out, &report, &markdown(&report))?;
    let figure = out.with_extension("svg");
    std::fs::write(&figure, chart(&report.rows)?)
        .with_context(|| format!("writing {}", figure.display()))?;
    log(&format!("chart: {}", figure.display()));
    Ok(())
}

async fn measure(
    options: &GrowthOptions,
    launcher: &Launcher,
    services: &[Service],
    client: &reqwest::Client,
    database: &DatabaseSettings,
) -> anyhow::Result<((usize, usize), Vec<Row>)> {
    let urls = Urls::of(services)?;
    let load = Load::new(client.clone(), urls.clone(), POLL);
    log("creating the template customer and waiting for it in orders");
    let seeded = load.seed_customers(1, 1).await?;
    load.await_in_orders(&seeded[0]).await?;
    let id = ObjectId::parse_str(&seeded[0]).context("accounts answered an id")?;
    let settings = |service: &str| DatabaseSettings {
        name: launcher.database_name(service),
        ..database.clone()
    };
    let accounts_database = platform::mongo::connect(&settings("accounts")).await?;
    let orders_database = platform::mongo::connect(&settings("orders")).await?;
    let accounts = Stored::find(&accounts_database, id).await?;
    let orders = Stored::find(&orders_database, id).await?;
    let document_bytes = (accounts.size()?, orders.size()?);
    let topic = &launcher.topics.customer_change;
    let mut ids: Vec<ObjectId> = Vec::new();
    let mut rows = Vec::new();
    for &size in &options.sizes {
        log(&format!(
            "copying customers until each service holds {size}"
        ));
        let began = Instant::now();
        while ids.len() < size {
            let batch: Vec<ObjectId> = (ids.len()..size.min(ids.len() + BATCH))
                .map(|_| ObjectId::new())
                .collect();
            accounts.insert_copies(&batch).await?;
            orders.insert_copies(&batch).await?;
            ids.extend(batch);
        }
        let load_seconds = began.elapsed().as_secs_f64();

        log("waiting for idle passes of the outbox relays");
        // The pass under way when the copy ended, and what the copy left the database to
        // collect, are not an idle pass's cost: one pass of each relay goes by first.
        idle_passes(&load, &urls, (&accounts, &orders), 1.0).await?;
        let database_before = options
            .database_pid
            .map(|pid| footprint::cpu(&[pid]).map(|used| (pid, used, Instant::now())))
            .transpose()?;
        let (accounts_idle, orders_idle) =
            idle_passes(&load, &urls, (&accounts, &orders), IDLE_PASSES).await?;
        let database_idle_cores = match database_before {
            Some((pid, before, began)) => {
                footprint::cpu(&[pid])?.since(before).total() / began.elapsed().as_secs_f64()
            }
            None => f64::NAN,
        };

        let sample = Arc::new(spread(&ids, SAMPLE));
        let sample_text = Arc::new(
            sample
                .iter()
                .copied()
                .map(ObjectId::to_hex)
                .collect::<Vec<_>>(),
        );
        log(&format!(
            "{size} customers: raw find_one by id, {} workers, {:?}",
            options.concurrency, options.phase
        ));
        let raw = crate::baseline::find_by_id(
            &accounts.collection,
            Arc::clone(&sample),
            options.concurrency,
            options.phase,
        )
        .await;
        succeeded("raw find_one", &raw)?;
        log(&format!("{size} customers: GET customers/{{id}}"));
        let reads = load
            .read_customers(Arc::clone(&sample_text), options.concurrency, options.phase)
            .await;
        succeeded("GET by id", &reads)?;
        let mut raw_updates = Vec::new();
        for condition in [doc! {}, doc! { PENDING_REMOVAL: { "$ne": true } }] {
            log(&format!(
                "{size} customers: raw update_one by _id and {condition}"
            ));
            let updates = crate::baseline::update_by_id(
                &accounts.collection,
                Arc::clone(&sample),
                condition,
                options.concurrency,
                options.phase,
            )
            .await;
            succeeded("raw update_one", &updates)?;
            raw_updates.push(updates.summary.per_second);
        }
        log(&format!(
            "{size} customers: changing customers until orders applied every change"
        ));
        let (changes, rates) = load
            .change_customers(sample_text, options.concurrency, options.phase, topic)
            .await?;
        rows.push(Row {
            customers: size,
            load_seconds,
            raw_find_one_per_second: raw.summary.per_second,
            raw_find_one_p99_ms: raw.summary.p99_ms,
            reads_per_second: reads.summary.per_second,
            read_p50_ms: reads.summary.p50_ms,
            read_p99_ms: reads.summary.p99_ms,
            raw_update_per_second: raw_updates[0],
            raw_conditional_update_per_second: raw_updates[1],
            changes_acknowledged_per_second: rates.acknowledged_per_second,
            changes_failed: changes.failures,
            first_failure: changes.first_error,
            applied_per_second: rates.applied_per_second,
            accounts_idle_pass_ms: accounts_idle,
            orders_idle_pass_ms: orders_idle,
            database_idle_cores,
        });
    }
    Ok((document_bytes, rows))
}

fn succeeded(what: &str, outcome: &crate::workers::Outcome) -> anyhow::Result<()> {
    anyhow::ensure!(
        outcome.failures == 0,
        "{what}: {} failed; the first: {}",
        outcome.failures,
        outcome.first_error.as_deref().unwrap_or("")
    );
    Ok(())
}

impl Stored {
    /// The collection of `database` that holds the document `_id: id`, whichever it is.
    async fn find(database: &Database, id: ObjectId) -> anyhow::Result<Self> {
        for name in database.list_collection_names().await? {
            let collection = database.collection::<Document>(&name);
            if let Some(mut template) = collection.find_one(doc! { "_id": id }).await? {
                for field in [
                    platform::outbox::FIELD,
                    platform::outbox::CLAIM,
                    PENDING_REMOVAL,
                ] {
                    template.remove(field);
                }
                return Ok(Stored {
                    collection,
                    template,
                });
            }
        }
        anyhow::bail!("no collection of {} holds {id}", database.name())
    }

    fn size(&self) -> anyhow::Result<usize> {
        Ok(mongodb::bson::to_vec(&self.template)?.len())
    }

    async fn insert_copies(&self, ids: &[ObjectId]) -> anyhow::Result<()> {
        let copies = ids.iter().map(|id| {
            let mut copy = self.template.clone();
            copy.insert("_id", *id);
            copy
        });
        self.collection
            .insert_many(copies)
            .await
            .with_context(|| format!("copying customers into {}", self.collection.name()))?;
        Ok(())
    }
}

/// A relay's pass count and total time at one moment, on one service's instances.
struct RelayPasses {
    instances: Vec<String>,
    collection: String,
    count: f64,
    seconds: f64,
}

impl RelayPasses {
    async fn of(
        load: &Load,
        instances: &[String],
        collection: &Collection<Document>,
    ) -> anyhow::Result<Self> {
        let mut passes = RelayPasses {
            instances: instances.to_vec(),
            collection: collection.name().to_owned(),
            count: 0.0,
            seconds: 0.0,
        };
        (passes.count, passes.seconds) = passes.now(load).await?;
        Ok(passes)
    }

    async fn now(&self, load: &Load) -> anyhow::Result<(f64, f64)> {
        let label = ("collection", self.collection.as_str());
        let count = load
            .metric(&self.instances, &format!("{RELAY_PASS}_count"), label)
            .await?;
        let seconds = load
            .metric(&self.instances, &format!("{RELAY_PASS}_sum"), label)
            .await?;
        Ok((count, seconds))
    }

    /// Passes since this snapshot and their mean time in milliseconds (NaN for none).
    async fn since(&self, load: &Load) -> anyhow::Result<(f64, f64)> {
        let (count, seconds) = self.now(load).await?;
        let passes = count - self.count;
        let mean = if passes > 0.0 {
            (seconds - self.seconds) * 1000.0 / passes
        } else {
            f64::NAN
        };
        Ok((passes, mean))
    }
}

/// The mean idle pass of accounts' and orders' relays, in milliseconds, over the next
/// `passes` passes of each (or more: all since the call).
async fn idle_passes(
    load: &Load,
    urls: &Urls,
    (accounts, orders): (&Stored, &Stored),
    passes: f64,
) -> anyhow::Result<(f64, f64)> {
    let accounts = RelayPasses::of(load, &urls.accounts, &accounts.collection).await?;
    let orders = RelayPasses::of(load, &urls.orders, &orders.collection).await?;
    let deadline = Instant::now() + IDLE_DEADLINE;
    loop {
        let (accounts_passes, accounts_mean) = accounts.since(load).await?;
        let (orders_passes, orders_mean) = orders.since(load).await?;
        if accounts_passes >= passes && orders_passes >= passes {
            return Ok((accounts_mean, orders_mean));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the relays made {accounts_passes} and {orders_passes} passes within {IDLE_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Up to `count` of `ids`, spread evenly over all of them: every `step`th id, `step` coprime
/// with the length, so that a sample smaller than the collection reaches across it with
/// consecutive reads `step` apart (adjacent when the sample takes every id).
fn spread(ids: &[ObjectId], count: usize) -> Vec<ObjectId> {
    let length = ids.len();
    if length == 0 {
        return Vec::new();
    }
    let mut step = (length / count.max(1)).max(1) | 1;
    while gcd(step, length) != 1 {
        step += 2;
    }
    (0..count.min(length))
        .map(|k| ids[(k * step) % length])
        .collect()
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn markdown(report: &GrowthReport) -> String {
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|row| {
            vec![
                row.customers.to_string(),
                format!("{:.0}", row.load_seconds),
                format!("{:.0}", row.raw_find_one_per_second),
                format!("{:.0}", row.reads_per_second),
                format!(
                    "{:.2}",
                    row.reads_per_second / row.raw_find_one_per_second.max(f64::MIN_POSITIVE)
                ),
                format!("{:.2} / {:.2}", row.read_p50_ms, row.read_p99_ms),
                format!("{:.0}", row.raw_update_per_second),
                format!("{:.0}", row.raw_conditional_update_per_second),
                format!("{:.0}", row.changes_acknowledged_per_second),
                row.changes_failed.to_string(),
                format!("{:.0}", row.applied_per_second),
                format!(
                    "{:.1} / {:.1}",
                    row.accounts_idle_pass_ms, row.orders_idle_pass_ms
                ),
                if row.database_idle_cores.is_finite() {
                    format!("{:.0}", row.database_idle_cores * 100.0)
                } else {
                    "-".to_owned()
                },
            ]
        })
        .collect();
    let (accounts, orders) = report.document_bytes;
    let mut text = format!(
        "{} workers, {} s per phase, {} cores; a customer is {accounts} bytes in accounts and \
         {orders} in orders.\n\n",
        report.concurrency, report.phase_seconds, report.cores
    );
    text.push_str(&markdown_table(
        &[
            "customers",
            "copied in (s)",
            "raw find_one /s",
            "GET by id /s",
            "x raw",
            "GET by id p50 / p99 (ms)",
            "raw update by _id /s",
            "raw update by _id + condition /s",
            "changes acknowledged /s",
            "changes failed",
            "changes applied in orders /s",
            "idle relay pass, accounts / orders (ms)",
            "database CPU meanwhile (% of a core)",
        ],
        &rows,
    ));
    for row in &report.rows {
        if let Some(failure) = &row.first_failure {
            let _ = write!(
                text,
                "\nAt {} customers, the first failed change: {failure}\n",
                row.customers
            );
        }
    }
    text
}

/// Four panels: GET by id's latency, the reads, the writes, the relays' idle passes.
fn chart(rows: &[Row]) -> anyhow::Result<String> {
    let xs: Vec<f64> = rows.iter().map(|row| row.customers as f64).collect();
    let series = |name: &str, value: fn(&Row) -> f64| Series {
        name: name.to_owned(),
        values: rows.iter().map(value).collect(),
    };
    let panel = |title: &str, unit: &str, y_axis: YAxis, series: Vec<Series>| Panel {
        title: title.to_owned(),
        unit: unit.to_owned(),
        y_axis,
        series,
    };
    let panels = [
        panel(
            "GET customers/{id}: latency",
            "ms",
            YAxis::Linear,
            vec![
                series("p50", |row| row.read_p50_ms),
                series("p99", |row| row.read_p99_ms),
                series("raw find_one p99", |row| row.raw_find_one_p99_ms),
            ],
        ),
        panel(
            "Reads by id",
            "per second",
            YAxis::Linear,
            vec![
                series("raw find_one", |row| row.raw_find_one_per_second),
                series("GET customers/{id}", |row| row.reads_per_second),
            ],
        ),
        panel(
            "Writes (log scale)",
            "per second",
            YAxis::Logarithmic,
            vec![
                series("raw update by _id", |row| row.raw_update_per_second),
                series("raw update by _id + condition", |row| {
                    row.raw_conditional_update_per_second
                }),
                series("changes applied in orders", |row| row.applied_per_second),
            ],
        ),
        panel(
            "Outbox relay: one idle pass",
            "ms",
            YAxis::Linear,
            vec![
                series("accounts", |row| row.accounts_idle_pass_ms),
                series("orders", |row| row.orders_idle_pass_ms),
            ],
        ),
    ];
    crate::chart::svg("customers held (log scale)", &xs, &panels)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_spread_sample_is_distinct_and_reaches_across_the_ids() {
        let ids: Vec<ObjectId> = (0..1000).map(|_| ObjectId::new()).collect();
        let sample = spread(&ids, 100);
        assert_eq!(sample.len(), 100);
        assert_eq!(sample.iter().collect::<HashSet<_>>().len(), 100);
        let positions: Vec<usize> = sample
            .iter()
            .map(|id| ids.iter().position(|known| known == id).unwrap())
            .collect();
        assert!(positions.iter().any(|&at| at >= 900));
        assert!(
            positions
                .windows(2)
                .all(|pair| pair[0].abs_diff(pair[1]) > 1)
        );
    }

    #[test]
    fn a_sample_larger_than_the_ids_takes_each_once() {
        let ids: Vec<ObjectId> = (0..10).map(|_| ObjectId::new()).collect();
        let sample = spread(&ids, 100);
        assert_eq!(sample.iter().collect::<HashSet<_>>().len(), 10);
        assert_eq!(sample.len(), 10);
        assert!(spread(&[], 5).is_empty());
    }
}
