//! `storefront-bench scale`: 1, 2 and 3 instances of each service behind one load generator,
//! round robin over their ports, each count on topics, databases and groups of its own; the
//! rows are described in docs/performance.md ("Several instances of each service").

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use test_support::within;

use crate::baseline::{self, MongoRates};
use crate::footprint::{Cpu, metered, micros_per};
use crate::latency::Summary;
use crate::load::{self, Load, PRODUCED, Urls};
use crate::options::ScaleOptions;
use crate::report::{Row, Run, fixed, rows_table};
use crate::stack::{Launcher, SERVICES, Service, pids, service_settings};

const SEED_CUSTOMERS: usize = 200;
const POLL: Duration = Duration::from_millis(5);
/// The groups count as settled once no member was assigned or revoked anything this long.
const SETTLED_FOR: Duration = Duration::from_secs(3);
const SETTLE_DEADLINE: Duration = Duration::from_secs(120);
/// How long the CPU of the idle instances is measured: their fixed cost (relays polling,
/// consumers fetching and heartbeating, statistics), which the load's figures are net of.
const IDLE_WINDOW: Duration = Duration::from_secs(10);
const REBALANCES: &str = "kafka_consumer_rebalances_total";

#[derive(Debug, Clone, Serialize)]
struct ScaleReport {
    #[serde(flatten)]
    run: Run,
    raw: MongoRates,
    rows: Vec<Row>,
}

pub(crate) async fn run(options: ScaleOptions) -> anyhow::Result<()> {
    let out = options.common.out("scale");
    let run_id = test_support::unique_name("scale");
    let phases @ (concurrency, phase) = options.common.phases();
    step!("raw MongoDB: find_one, then upsert, by _id, {concurrency} workers, {phase:?} each");
    let raw_database = platform::settings::DatabaseSettings {
        name: format!("{run_id}-raw"),
        ..service_settings()?.1
    };
    let document = mongodb::bson::to_document(&load::customer(0))?;
    let raw = baseline::mongo(&raw_database, &document, phases).await?;
    let mut rows = Vec::new();
    for &instances in &options.instances {
        let run = format!("{run_id}-x{instances}");
        let launcher = Launcher::for_run(&options.common.bin_dir, &out, &run, true, &[]).await?;
        let mut services = Vec::new();
        let started = (&launcher, &mut services);
        let measured = measure(&options, started, instances, (&raw, rows.first())).await;
        launcher.tear_down(services, &[]).await;
        rows.push(measured?);
    }
    let report = ScaleReport {
        run: Run::new(&run_id, &options.common),
        raw,
        rows,
    };
    crate::report::write(&out, &report, &markdown(&report))
}

/// Starts and loads `instances` of each service: a row against `raw` and the `first` row.
async fn measure(
    options: &ScaleOptions,
    (launcher, services): (&Launcher, &mut Vec<Service>),
    instances: usize,
    (raw, first): (&MongoRates, Option<&Row>),
) -> anyhow::Result<Row> {
    step!("starting {instances} instance(s) of each service");
    for name in SERVICES {
        let group = format!("{}-{name}", launcher.run_id);
        for instance in 0..instances {
            let id = format!("{name}-{instance}");
            let settings = [
                ("APP_CONSUMER__GROUP_ID", group.clone()),
                ("APP_CONSUMER__INSTANCE_ID", id),
            ];
            services.push(launcher.start(name, instance, &settings).await?.0);
        }
    }
    let phases @ (concurrency, phase) = options.common.phases();
    let urls = Urls::of(services);
    let consumers = [&urls.orders[..], &urls.fulfillment].concat();
    let pids = pids(services)?;
    let load = Load::new(reqwest::Client::new(), urls, POLL);
    load.await_orders().await?;
    let settled_at = settled(&load, &consumers).await?;
    step!("creating {SEED_CUSTOMERS} customers");
    let ids = Arc::new(load.seed_customers(SEED_CUSTOMERS, concurrency).await?);

    step!("measuring the idle instances' CPU for {IDLE_WINDOW:?}");
    let (_, idle, _) = metered(&pids, tokio::time::sleep(IDLE_WINDOW)).await?;
    let idle_cpu = idle.total() / IDLE_WINDOW.as_secs_f64();

    step!(
        "reading customers by id over {instances} accounts instance(s), {concurrency} workers, \
         {phase:?}"
    );
    let reads = load.read_customers(Arc::clone(&ids), phases);
    let (reads, read_cpu, read_time) = metered(&pids, reads).await?;
    let reads = reads.succeeded("reads")?;

    step!(
        "changing customers, {concurrency} workers, {phase:?}, until orders applied every change"
    );
    let changelog = launcher.changelog();
    let published = async || {
        let produced = load.metric(&load.urls.accounts, PRODUCED, ("topic", &changelog));
        produced.await.map(|count| count as u64)
    };
    let produced = published().await?;
    let changes = load.change_customers(ids, phases, &changelog);
    let (changes, change_cpu, change_time) = metered(&pids, changes).await?;
    let (changes, rates) = changes?;
    let changes = changes.succeeded("changes")?;
    let records_published = published().await? - produced;
    let after = rebalances(&load, &consumers).await?;
    // Milliseconds of CPU per operation, of all the instances or net of their idle use.
    let per = |seconds: f64, done: &Summary| micros_per(seconds, done.count as f64) / 1000.0;
    let net = |used: Cpu, took: Duration| (used.total() - idle_cpu * took.as_secs_f64()).max(0.0);
    let read_all = per(read_cpu.total(), &reads);
    let read_net = per(net(read_cpu, read_time), &reads);
    let change_all = per(change_cpu.total(), &changes);
    let change_net = per(net(change_cpu, change_time), &changes);
    let relative =
        |value: f64, key| format!("{:.2}", value / first.map_or(value, |first| first.get(key)));
    let applied = rates.applied_per_second;
    let per_change = records_published as f64 / changes.count.max(1) as f64;
    // The kernel's part of the CPU the instances used under load (system over user and
    // system): scheduling, the network stack, waking threads.
    let kernel_share = (read_cpu.system + change_cpu.system)
        / (read_cpu.total() + change_cpu.total()).max(f64::MIN_POSITIVE);
    let rebalanced = after.saturating_sub(settled_at);
    let fields = [
        ("instances", json!(instances)),
        ("idle_cpu", json!(idle_cpu)),
        ("reads_per_second", json!(reads.per_second)),
        ("cpu_ms_per_read", json!(read_all)),
        ("net_cpu_ms_per_read", json!(read_net)),
        ("changes_acknowledged", json!(changes.count)),
        ("records_published", json!(records_published)),
        ("applied_per_second", json!(applied)),
        ("cpu_ms_per_change", json!(change_all)),
        ("net_cpu_ms_per_change", json!(change_net)),
        ("kernel_share", json!(kernel_share)),
        ("rebalances_under_load", json!(rebalanced)),
    ];
    let (find_one, upsert) = (raw.find_one.per_second, raw.upsert.per_second);
    let reads = reads.per_second;
    let cells = [
        ("instances of each", instances.to_string()),
        ("idle CPU, all (% of a core)", fixed(idle_cpu * 100.0, 1)),
        ("GET by id /s", fixed(reads, 0)),
        ("x raw find_one", fixed(reads / find_one, 2)),
        (
            "CPU ms per GET (all / net of idle)",
            format!("{read_all:.3} / {read_net:.3}"),
        ),
        (
            "net vs 1 instance",
            relative(read_net, "net_cpu_ms_per_read"),
        ),
        ("changes applied /s", fixed(applied, 0)),
        ("x raw upsert", fixed(applied / upsert, 2)),
        ("records per change", fixed(per_change, 3)),
        (
            "CPU ms per change (all / net of idle)",
            format!("{change_all:.2} / {change_net:.2}"),
        ),
        (
            "net vs 1 instance",
            relative(change_net, "net_cpu_ms_per_change"),
        ),
        (
            "kernel share of CPU under load (%)",
            fixed(kernel_share * 100.0, 0),
        ),
        ("rebalances under load", rebalanced.to_string()),
    ];
    Ok(Row::new(fields, cells))
}

async fn rebalances(load: &Load, consumers: &[String]) -> anyhow::Result<u64> {
    let assigned = load.metric(consumers, REBALANCES, ("kind", "assigned"));
    let revoked = load.metric(consumers, REBALANCES, ("kind", "revoked"));
    Ok((assigned.await? + revoked.await?) as u64)
}

/// Waits until the consumer groups stopped moving partitions (the members that started last
/// joined), and returns the rebalance count then.
async fn settled(load: &Load, consumers: &[String]) -> anyhow::Result<u64> {
    let last = std::cell::Cell::new((rebalances(load, consumers).await?, Instant::now()));
    let still = || async {
        let count = rebalances(load, consumers).await?;
        if count != last.get().0 {
            last.set((count, Instant::now()));
        }
        Ok((last.get().1.elapsed() >= SETTLED_FOR).then_some(count))
    };
    let (what, interval) = ("the consumer groups to settle", Duration::from_millis(250));
    within(what, SETTLE_DEADLINE, interval, still).await
}

fn markdown(report: &ScaleReport) -> String {
    let (find_one, upsert) = (report.raw.find_one.per_second, report.raw.upsert.per_second);
    let rows = rows_table(&report.rows);
    format!(
        "Raw MongoDB at {} workers: find_one {find_one:.0}/s, upsert {upsert:.0}/s; {} cores.\n\n\
         {rows}",
        report.run.concurrency, report.run.cores
    )
}
