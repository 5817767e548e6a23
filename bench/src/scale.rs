//! `storefront-bench scale`: the storefront with 1, 2 and 3 instances of each service behind
//! one load generator, which sends each request to the next instance of its service (round
//! robin over their ports; no proxy in the path).
//!
//! Each instance count gets topics (3 partitions), databases and consumer groups of its own, so
//! every row starts from the same state; its instances are static group members, as the pods'
//! names make them in Kubernetes. Per row: reads by id and customer changes applied in orders,
//! each as a ratio to the raw MongoDB baseline measured at the start of the same run; records
//! the relays published per acknowledged change (1.0: each once); the CPU every service process
//! used per operation, from `/proc/PID/stat`; and the rebalances the consumer groups went
//! through while the load ran. On a machine with fewer cores than processes, more instances
//! cannot add throughput: what the table shows is whether the cost per operation grows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use platform::settings::{DatabaseSettings, KafkaSettings};
use serde::Serialize;

use crate::baseline::{self, MongoRates};
use crate::footprint::{Cpu, cpu};
use crate::load::{self, Load, PRODUCED, Urls};
use crate::options::ScaleOptions;
use crate::report::log;
use crate::report::markdown_table;
use crate::run::{remove_databases, tear_down};
use crate::stack::{Launcher, SERVICES, Service};

/// Customers created for the read and change phases.
const SEED_CUSTOMERS: usize = 200;
/// How often a worker looks for an effect in the other service.
const POLL: Duration = Duration::from_millis(5);
/// The groups count as settled once no member was assigned or revoked anything this long.
const SETTLED_FOR: Duration = Duration::from_secs(3);
/// How long the groups may take to settle after the instances started.
const SETTLE_DEADLINE: Duration = Duration::from_secs(120);
/// Partitions per topic, as `scripts/infra.sh` and the Kubernetes topics create them.
const PARTITIONS: i32 = 3;
/// How long the CPU of the idle instances is measured: their fixed cost (relays polling,
/// consumers fetching and heartbeating, statistics), which the load's figures are net of.
const IDLE_WINDOW: Duration = Duration::from_secs(10);
const REBALANCES: &str = "kafka_consumer_rebalances_total";

/// One instance count's figures.
#[derive(Debug, Clone, Serialize)]
struct Scaled {
    instances: usize,
    /// CPU every instance used together while idle, in seconds per second (1.0: one core).
    idle_cpu: f64,
    reads_per_second: f64,
    cpu_ms_per_read: f64,
    /// The same, less what the instances use idle over the phase.
    net_cpu_ms_per_read: f64,
    changes_acknowledged: u64,
    records_published: u64,
    applied_per_second: f64,
    cpu_ms_per_change: f64,
    net_cpu_ms_per_change: f64,
    /// The kernel's part of the CPU the instances used under load (system over user and
    /// system): scheduling, the network stack, waking threads.
    kernel_share: f64,
    /// Partitions assigned or revoked, over every consumer instance, while the load ran.
    rebalances_under_load: u64,
}

#[derive(Debug, Clone, Serialize)]
struct ScaleReport {
    run_id: String,
    cores: usize,
    concurrency: usize,
    phase_seconds: u64,
    raw: MongoRates,
    rows: Vec<Scaled>,
}

pub(crate) async fn run(options: ScaleOptions) -> anyhow::Result<()> {
    let (kafka, database) = crate::run::service_settings()?;
    let out = options.paths.out("scale");
    let run_id = test_support::unique_name("scale");
    log(&format!(
        "raw MongoDB: find_one, then upsert, by _id, {} workers, {:?} each",
        options.concurrency, options.phase
    ));
    let raw_database = DatabaseSettings {
        name: format!("{run_id}-raw"),
        ..database.clone()
    };
    let document = mongodb::bson::to_document(&load::customer(0))?;
    let raw = baseline::mongo(&raw_database, document, options.concurrency, options.phase).await;
    remove_databases(&database, &[raw_database.name]).await;
    let raw = raw?;
    let mut rows = Vec::new();
    for &instances in &options.instances {
        let launcher = Launcher::for_run(
            &options.paths.bin_dir,
            &out,
            &format!("{run_id}-x{instances}"),
        )?;
        rows.push(measure(&options, &kafka, &database, &launcher, instances).await?);
    }
    let report = ScaleReport {
        run_id,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        concurrency: options.concurrency,
        phase_seconds: options.phase.as_secs(),
        raw,
        rows,
    };
    crate::report::write(&out, &report, &markdown(&report))
}

/// Starts `instances` of each service on topics and databases of their own, loads them, and
/// removes what it created.
async fn measure(
    options: &ScaleOptions,
    kafka: &KafkaSettings,
    database: &DatabaseSettings,
    launcher: &Launcher,
    instances: usize,
) -> anyhow::Result<Scaled> {
    let topics = launcher.create_topics(kafka, PARTITIONS, true, &[]).await?;
    let client = reqwest::Client::new();
    let mut services = Vec::new();
    let measured = async {
        log(&format!("starting {instances} instance(s) of each service"));
        for name in SERVICES {
            for instance in 0..instances {
                let settings = [
                    (
                        "APP_CONSUMER__GROUP_ID",
                        format!("{}-{name}", launcher.run_id),
                    ),
                    ("APP_CONSUMER__INSTANCE_ID", format!("{name}-{instance}")),
                ];
                let (service, _) = launcher.start(name, instance, &settings).await?;
                services.push(service);
            }
        }
        load(options, launcher, &services, &client, instances).await
    }
    .await;
    tear_down(services, launcher, (kafka, &topics), database).await;
    measured
}

async fn load(
    options: &ScaleOptions,
    launcher: &Launcher,
    services: &[Service],
    client: &reqwest::Client,
    instances: usize,
) -> anyhow::Result<Scaled> {
    let urls = Urls::of(services)?;
    let consumers: Vec<String> = urls
        .orders
        .iter()
        .chain(&urls.fulfillment)
        .cloned()
        .collect();
    let pids: Vec<u32> = services
        .iter()
        .map(Service::pid)
        .collect::<anyhow::Result<_>>()?;
    let load = Load::new(client.clone(), urls.clone(), POLL);
    let first = load.seed_customers(1, 1).await?;
    load.await_in_orders(&first[0]).await?;
    let settled_at = settled(&load, &consumers).await?;
    log(&format!("creating {SEED_CUSTOMERS} customers"));
    let ids = Arc::new(
        load.seed_customers(SEED_CUSTOMERS, options.concurrency)
            .await?,
    );

    log(&format!(
        "measuring the idle instances' CPU for {IDLE_WINDOW:?}"
    ));
    let before = cpu(&pids)?;
    tokio::time::sleep(IDLE_WINDOW).await;
    let idle_cpu = cpu(&pids)?.since(before).total() / IDLE_WINDOW.as_secs_f64();

    log(&format!(
        "reading customers by id over {instances} accounts instance(s), {} workers, {:?}",
        options.concurrency, options.phase
    ));
    let (before, started) = (cpu(&pids)?, Instant::now());
    let reads = load
        .read_customers(Arc::clone(&ids), options.concurrency, options.phase)
        .await;
    let (read_cpu, read_time) = (cpu(&pids)?.since(before), started.elapsed());
    anyhow::ensure!(
        reads.failures == 0,
        "reads failed: {}",
        reads.first_error.unwrap_or_default()
    );

    log(&format!(
        "changing customers, {} workers, {:?}, until orders applied every change",
        options.concurrency, options.phase
    ));
    let topic = &launcher.topics.customer_change;
    let produced = load
        .counter(&urls.accounts, PRODUCED, ("topic", topic))
        .await?;
    let (before, started) = (cpu(&pids)?, Instant::now());
    let (changes, rates) = load
        .change_customers(ids, options.concurrency, options.phase, topic)
        .await?;
    let (change_cpu, change_time) = (cpu(&pids)?.since(before), started.elapsed());
    anyhow::ensure!(
        changes.failures == 0,
        "changes failed: {}",
        changes.first_error.unwrap_or_default()
    );
    let records_published = load
        .counter(&urls.accounts, PRODUCED, ("topic", topic))
        .await?
        - produced;
    let after = rebalances(&load, &consumers).await?;
    let per_operation = |seconds: f64, count: u64| seconds * 1000.0 / count.max(1) as f64;
    let net = |used: Cpu, took: Duration| (used.total() - idle_cpu * took.as_secs_f64()).max(0.0);
    Ok(Scaled {
        instances,
        idle_cpu,
        reads_per_second: reads.summary.per_second,
        cpu_ms_per_read: per_operation(read_cpu.total(), reads.summary.count),
        net_cpu_ms_per_read: per_operation(net(read_cpu, read_time), reads.summary.count),
        changes_acknowledged: changes.summary.count,
        records_published,
        applied_per_second: rates.applied_per_second,
        cpu_ms_per_change: per_operation(change_cpu.total(), changes.summary.count),
        net_cpu_ms_per_change: per_operation(net(change_cpu, change_time), changes.summary.count),
        kernel_share: (read_cpu.system + change_cpu.system)
            / (read_cpu.total() + change_cpu.total()).max(f64::MIN_POSITIVE),
        rebalances_under_load: after.saturating_sub(settled_at),
    })
}

/// Partitions assigned and revoked so far, over the consumer instances `consumers`.
async fn rebalances(load: &Load, consumers: &[String]) -> anyhow::Result<u64> {
    let assigned = load
        .counter(consumers, REBALANCES, ("kind", "assigned"))
        .await?;
    let revoked = load
        .counter(consumers, REBALANCES, ("kind", "revoked"))
        .await?;
    Ok(assigned + revoked)
}

/// Waits until the consumer groups stopped moving partitions (the members that started last
/// joined), and returns the rebalance count then.
async fn settled(load: &Load, consumers: &[String]) -> anyhow::Result<u64> {
    let started = Instant::now();
    let mut last = (rebalances(load, consumers).await?, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let count = rebalances(load, consumers).await?;
        if count != last.0 {
            last = (count, Instant::now());
        } else if last.1.elapsed() >= SETTLED_FOR {
            return Ok(count);
        }
        anyhow::ensure!(
            started.elapsed() < SETTLE_DEADLINE,
            "the consumer groups still rebalanced after {SETTLE_DEADLINE:?}"
        );
    }
}

fn markdown(report: &ScaleReport) -> String {
    let (find_one, upsert) = (report.raw.find_one.per_second, report.raw.upsert.per_second);
    let base = report.rows.first();
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|row| {
            let relative = |value: f64, first: Option<f64>| {
                first.map_or_else(|| "-".to_owned(), |first| format!("{:.2}", value / first))
            };
            vec![
                row.instances.to_string(),
                format!("{:.1}", row.idle_cpu * 100.0),
                format!("{:.0}", row.reads_per_second),
                format!("{:.2}", row.reads_per_second / find_one),
                format!(
                    "{:.3} / {:.3}",
                    row.cpu_ms_per_read, row.net_cpu_ms_per_read
                ),
                relative(
                    row.net_cpu_ms_per_read,
                    base.map(|base| base.net_cpu_ms_per_read),
                ),
                format!("{:.0}", row.applied_per_second),
                format!("{:.2}", row.applied_per_second / upsert),
                format!(
                    "{:.3}",
                    row.records_published as f64 / row.changes_acknowledged.max(1) as f64
                ),
                format!(
                    "{:.2} / {:.2}",
                    row.cpu_ms_per_change, row.net_cpu_ms_per_change
                ),
                relative(
                    row.net_cpu_ms_per_change,
                    base.map(|base| base.net_cpu_ms_per_change),
                ),
                format!("{:.0}", row.kernel_share * 100.0),
                row.rebalances_under_load.to_string(),
            ]
        })
        .collect();
    let mut text = format!(
        "Raw MongoDB at {} workers: find_one {find_one:.0}/s, upsert {upsert:.0}/s; {} cores.\n\n",
        report.concurrency, report.cores
    );
    text.push_str(&markdown_table(
        &[
            "instances of each",
            "idle CPU, all (% of a core)",
            "GET by id /s",
            "x raw find_one",
            "CPU ms per GET (all / net of idle)",
            "net vs 1 instance",
            "changes applied /s",
            "x raw upsert",
            "records per change",
            "CPU ms per change (all / net of idle)",
            "net vs 1 instance",
            "kernel share of CPU under load (%)",
            "rebalances under load",
        ],
        &rows,
    ));
    text
}
