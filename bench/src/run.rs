//! One benchmark run: start-up and idle memory, raw baselines, load on the services, checks.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;

use crate::baseline::{Baselines, Publisher, raw_topics};
use crate::footprint::{Footprint, PeakSampler, StartTimes, memory, metered, micros_per};
use crate::latency::{Named, Outcome, Summary};
use crate::load::{ChangeRates, Load, Urls};
use crate::options::Options;
use crate::report::{Row, Run, Target, check, grid, latency_table, mebibytes, number, rows_table};
use crate::stack::{Launcher, SERVICES, Service, pids};

/// Pause between the last service becoming ready and reading idle memory.
const SETTLE: Duration = Duration::from_secs(2);
const SEED_CUSTOMERS: usize = 100;
/// The targets of issue 6.
const READ_RATIO: f64 = 0.8;
const APPLY_RATIO: f64 = 0.7;
const END_TO_END_RATIO: f64 = 3.0;
const CPU_RATIO: f64 = 3.0;
const START_TO_READY_MS: f64 = 100.0;
const IDLE_RSS_MIB: f64 = 15.0;
const READ_PHASE: &str = "GET accounts customers/{id} (read phase)";
const HOPS: [&str; 3] = [
    "customer changed -> in orders",
    "order approved -> fulfillment created",
    "status changed -> in orders",
];

/// CPU time per operation over each phase, in microseconds.
#[derive(Debug, Clone, Serialize)]
struct CpuPerOperation {
    constant_us: f64,
    read_us: f64,
    applied_change_us: f64,
    constant: Summary,
}

#[derive(Debug, Clone, Serialize)]
struct Report {
    #[serde(flatten)]
    run: Run,
    started_at: u64,
    flow_seconds: u64,
    poll_interval_ms: u128,
    checks: Vec<Row>,
    changes: ChangeRates,
    cpu_per_operation: CpuPerOperation,
    baselines: Baselines,
    http: Vec<Named>,
    end_to_end: Vec<Named>,
    footprint: Vec<Footprint>,
    notes: Vec<String>,
}

pub(crate) async fn run(options: Options) -> anyhow::Result<()> {
    let out = options.common.out("report");
    let run_id = test_support::unique_name("bench");
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    for name in SERVICES {
        let binary = options.common.bin_dir.join(name);
        let missing = "is missing: build the release binaries first";
        anyhow::ensure!(binary.exists(), "{} {missing}", binary.display());
    }
    let raw = raw_topics(&run_id);
    let launcher = Launcher::for_run(&options.common.bin_dir, &out, &run_id, true, &raw).await?;
    let mut services: Vec<Service> = Vec::new();
    let measured = async {
        // A broker just started is still loading its state: the first idempotent producer
        // waits for its producer id ("coordinator load in progress"), which would be timed as
        // the first service's start-up.
        step!("warming the broker up: one record through an idempotent producer");
        let producer = Publisher::new(&launcher.kafka, &raw[0])?;
        let warm_up = producer.send("warm-up", b"{}", &[]).await;
        warm_up.context("warming the broker up")?;
        let footprint = start_services(&options, &launcher, &mut services).await?;
        let baselines = Baselines::measure(&options, &launcher).await?;
        let report = measure_services(&options, &launcher, &services, (baselines, footprint));
        let report = report.await?;
        save_metrics(&services, &launcher.logs).await;
        Ok::<_, anyhow::Error>(report)
    }
    .await;
    launcher.tear_down(services, &[]).await;
    let mut report = measured?;
    report.started_at = started_at;
    report.checks = checks(&report);
    crate::report::write(&out, &report, &markdown(&report))
}

/// Starts and stops each service `start_runs` times, then starts it to keep; their footprints.
async fn start_services(
    options: &Options,
    launcher: &Launcher,
    services: &mut Vec<Service>,
) -> anyhow::Result<Vec<Footprint>> {
    let mut starts = Vec::new();
    for name in SERVICES {
        let runs = options.start_runs + 1;
        step!("starting {name} {runs} times to time its start-up");
        let (mut service, first) = launcher.start(name, 0, &[]).await?;
        let mut times = vec![first];
        for _ in 0..options.start_runs {
            service.terminate().await?;
            times.push(service.restart().await?);
        }
        starts.push(StartTimes::of(&times));
        services.push(service);
    }
    tokio::time::sleep(SETTLE).await;
    let footprint = |(service, start_to_ready_ms): (&Service, StartTimes)| {
        Ok(Footprint {
            service: service.name,
            start_to_ready_ms,
            idle: memory(service.pid()?)?,
            load_rss_bytes: 0,
            binary_bytes: std::fs::metadata(launcher.binary(service.name))?.len(),
        })
    };
    services.iter().zip(starts).map(footprint).collect()
}

async fn measure_services(
    options: &Options,
    launcher: &Launcher,
    services: &[Service],
    (baselines, mut footprint): (Baselines, Vec<Footprint>),
) -> anyhow::Result<Report> {
    let phases @ (concurrency, phase) = options.common.phases();
    let client = reqwest::Client::new();
    let load = Load::new(client.clone(), Urls::of(services), options.poll);
    step!("waiting for orders to join its consumer group");
    load.await_orders().await?;
    let pids = pids(services)?;
    let (accounts, orders) = (pids[0], pids[1]);
    step!("a constant actix-web handler, {concurrency} workers, {phase:?}: the yardstick");
    let (constant, constant_cpu) = crate::constant::measure(&client, phases).await?;

    let sampler = PeakSampler::start(pids.clone());
    let seeds = SEED_CUSTOMERS.max(concurrency * 10);
    step!("creating {seeds} customers");
    let ids = Arc::new(load.seed_customers(seeds, concurrency).await?);
    step!("reading customers by id, {concurrency} workers, {phase:?}");
    let reads = load.read_customers(Arc::clone(&ids), phases);
    let (reads, read_cpu, _) = metered(&[accounts], reads).await?;
    step!("changing customers, {concurrency} workers, {phase:?}, until orders applied each");
    let changelog = launcher.changelog();
    let changes = load.change_customers(ids, phases, &changelog);
    let (changes, change_cpu, _) = metered(&[orders], changes).await?;
    let (changes, rates) = changes?;
    let flow_time = options.flows;
    step!("realistic flows, {concurrency} workers, {flow_time:?}");
    let flow_load = load.measuring_afresh();
    let flows = flow_load.flows((concurrency, flow_time), options.rate);
    let flows = flows.await;
    let peaks = sampler.finish().await;
    for (footprint, pid) in footprint.iter_mut().zip(&pids) {
        footprint.load_rss_bytes = peaks.get(pid).copied().unwrap_or(0);
    }

    let mut notes = notes(options);
    for (phase, outcome) in [("read", &reads), ("change", &changes), ("flow", &flows)] {
        if let Some(error) = &outcome.first_error {
            let failed = outcome.failures;
            notes.push(format!(
                "{phase} phase: {failed} failed; the first: {error}"
            ));
        }
    }
    let named =
        |name, outcome: &Outcome| Named::new(name, outcome.failures, outcome.summary.clone());
    let mut http = vec![
        named(READ_PHASE, &reads),
        named("PATCH accounts customers/{id} (change phase)", &changes),
    ];
    http.extend(flow_load.http.summaries(options.flows));
    let applied = rates.applied_per_second * phase.as_secs_f64();
    Ok(Report {
        run: Run::new(&launcher.run_id, &options.common),
        started_at: 0,
        flow_seconds: options.flows.as_secs(),
        poll_interval_ms: options.poll.as_millis(),
        checks: Vec::new(),
        changes: rates,
        cpu_per_operation: CpuPerOperation {
            constant_us: micros_per(constant_cpu.total(), constant.summary.count as f64),
            read_us: micros_per(read_cpu.total(), reads.summary.count as f64),
            applied_change_us: micros_per(change_cpu.total(), applied),
            constant: constant.summary,
        },
        baselines,
        http,
        end_to_end: flow_load.end_to_end.summaries(options.flows),
        footprint,
        notes,
    })
}

fn checks(report: &Report) -> Vec<Row> {
    let (raw, cpu) = (&report.baselines, &report.cpu_per_operation);
    let find = |rows: &[Named], name: &str| {
        let found = rows.iter().find(|named| named.name == name);
        found.map(|named| named.summary.clone())
    };
    let reads = find(&report.http, READ_PHASE).map_or(0.0, |reads| reads.per_second);
    let constant = Some(("constant actix-web handler, per request", cpu.constant_us));
    let mut checks = vec![
        check(
            "GET accounts customers/{id} throughput",
            (reads, "req/s"),
            Some(("raw find_one", raw.mongo_find_one.per_second)),
            Target::RatioAtLeast(READ_RATIO),
        ),
        check(
            "customer changes applied in orders",
            (report.changes.applied_per_second, "/s"),
            Some(("raw change pipeline", raw.raw_pipeline_applied_per_second)),
            Target::RatioAtLeast(APPLY_RATIO),
        ),
        check(
            "CPU per GET accounts customers/{id}",
            (cpu.read_us, "us"),
            constant,
            Target::RatioAtMost(CPU_RATIO),
        ),
        check(
            "CPU per customer change applied in orders",
            (cpu.applied_change_us, "us"),
            constant,
            Target::RatioAtMost(CPU_RATIO),
        ),
    ];
    for hop in HOPS {
        let p99 = find(&report.end_to_end, hop).map_or(f64::INFINITY, |hop| hop.p99_ms);
        let raw = Some(("raw round trip p99", raw.kafka_round_trip.p99_ms));
        let target = Target::RatioAtMost(END_TO_END_RATIO);
        checks.push(check(format!("p99 {hop}"), (p99, "ms"), raw, target));
    }
    for footprint in &report.footprint {
        let (name, start) = (footprint.service, footprint.start_to_ready_ms.median);
        let target = Target::Below(START_TO_READY_MS);
        let name = format!("{name} start to ready (median)");
        checks.push(check(name, (start, "ms"), None, target));
    }
    for footprint in &report.footprint {
        let (name, idle) = (footprint.service, mebibytes(footprint.idle.rss_bytes));
        let target = Target::Below(IDLE_RSS_MIB);
        checks.push(check(
            format!("{name} idle RSS"),
            (idle, "MiB"),
            None,
            target,
        ));
    }
    checks
}

fn notes(options: &Options) -> Vec<String> {
    vec![
        "No Docker engine on this machine, so no image size; the release binaries' sizes \
         (debuginfo stripped, no cross-crate LTO) stand in."
            .to_owned(),
        "Kafka is Apache Kafka (one KRaft node, data on disk); MongoDB is mongo-java-server (in \
         memory), not MongoDB: the ratios hold the services against raw clients on these same \
         servers; absolute figures do not carry over to a real MongoDB."
            .to_owned(),
        format!(
            "End-to-end hops are seen by polling the other service's API every {} ms, so each \
             includes up to one poll interval and one GET; the raw round trip has no such cost.",
            options.poll.as_millis()
        ),
        format!(
            "Start to ready: {} starts per service (the first on an empty database), readiness \
             (MongoDB ping and Kafka metadata) probed every 1 ms from spawning the process.",
            options.start_runs + 1
        ),
        "Customer changes: accounts acknowledges them during the phase; published and applied \
         per second run from the phase's start until accounts' relay had published, and orders \
         had handled, the last of them."
            .to_owned(),
    ]
}

fn markdown(report: &Report) -> String {
    let (cpu, baselines) = (&report.cpu_per_operation, &report.baselines);
    let changes = &report.changes;
    let headers = [
        "service",
        "start to ready ms: median",
        "idle RSS MiB",
        "threads",
        "peak RSS under load MiB",
        "binary MiB",
    ];
    let footprint = report.footprint.iter().map(|footprint| {
        let (times, idle) = (&footprint.start_to_ready_ms, &footprint.idle);
        let [median, min, max] = [times.median, times.min, times.max].map(number);
        let [rss, anonymous, file, load, binary] = [
            idle.rss_bytes,
            idle.anonymous_bytes,
            idle.file_bytes,
            footprint.load_rss_bytes,
            footprint.binary_bytes,
        ]
        .map(|bytes| number(mebibytes(bytes)));
        vec![
            footprint.service.to_owned(),
            format!("{median} (min {min}, max {max}, n={})", times.samples),
            format!("{rss} ({anonymous} anon + {file} file)"),
            idle.threads.to_string(),
            load,
            binary,
        ]
    });
    let footprint = grid(headers.map(str::to_owned).into(), footprint);
    let mut text = format!(
        "## Storefront benchmark `{}`\n\n{} cores; concurrency {}; {} s per throughput phase, {} \
         s of flows; visibility polled every {} ms.\n\n### Targets\n\n{}\nCustomer changes per \
         second: acknowledged by accounts {}, published by its outbox relay {}, applied in \
         orders {}.\n\nCPU per operation (user + system, from /proc/PID/stat over each phase): \
         accounts {} us per GET by id, orders {} us per change applied; the constant actix-web \
         handler {} us per request ({} req/s, p50 {} ms).\n\n### Baselines (raw clients, same \
         broker and database)\n\n{}\nKafka bulk: produce {} msg/s, consume {} msg/s. Raw change \
         pipeline (the database and broker work of a change, with the services' clients, \
         nothing else): {} changes applied per second. CPU per raw find_one in the client (this \
         benchmark's process, the driver and the loop): {} us.\n\n### HTTP latency per \
         endpoint\n\n{}\n### End to end (acknowledged until visible through the other \
         service's API)\n\n{}\n### Footprint\n\n{footprint}",
        report.run.run_id,
        report.run.cores,
        report.run.concurrency,
        report.run.phase_seconds,
        report.flow_seconds,
        report.poll_interval_ms,
        rows_table(&report.checks),
        number(changes.acknowledged_per_second),
        number(changes.published_per_second),
        number(changes.applied_per_second),
        number(cpu.read_us),
        number(cpu.applied_change_us),
        number(cpu.constant_us),
        number(cpu.constant.per_second),
        number(cpu.constant.p50_ms),
        latency_table("operation", &baselines.rows()),
        number(baselines.kafka_produce_per_second),
        number(baselines.kafka_consume_per_second),
        number(baselines.raw_pipeline_applied_per_second),
        number(baselines.mongo_find_one_cpu_us),
        latency_table("endpoint", &report.http),
        latency_table("hop", &report.end_to_end),
    );
    if !report.notes.is_empty() {
        text.push('\n');
        for note in &report.notes {
            text.push_str(&format!("- {note}\n"));
        }
    }
    text
}

/// Keeps each service's metrics after the load (`<service>.prom` beside its log), to explain
/// the figures: database operations, handler durations, outbox backlog.
async fn save_metrics(services: &[Service], directory: &Path) {
    let client = reqwest::Client::new();
    for service in services {
        let url = format!("{}/actuator/prometheus", service.url);
        let saved = async {
            let exposition = client.get(url).send().await?.text().await?;
            std::fs::write(directory.join(format!("{}.prom", service.name)), exposition)?;
            Ok::<_, anyhow::Error>(())
        };
        if let Err(error) = saved.await {
            eprintln!("saving the metrics of {}: {error:#}", service.name);
        }
    }
}
