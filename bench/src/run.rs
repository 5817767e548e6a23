//! One benchmark run, in order: start-up and idle memory, raw baselines, load on the services,
//! then the verdicts; whatever happens, the run's services, databases and topics are removed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use platform::settings::{DatabaseSettings, KafkaSettings};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;

use crate::baseline::{self, BulkRates, MongoRates, PipelineRates};
use crate::constant::Constant;
use crate::footprint::{self, Cpu, Footprint, Memory, PeakSampler, StartTimes, cpu};
use crate::latency::{Named, Summary};
use crate::load::{self, ChangeRates, Load, Urls};
use crate::options::Options;
use crate::report::{Baseline, Baselines, Check, CpuPerOperation, Report, Target, log};
use crate::stack::{Launcher, SERVICES, Service, Topics};

/// The consumer's `fetch.wait.max.ms` in the second round-trip baseline: far below librdkafka's
/// default of 500 ms, which the services keep.
const SHORT_FETCH_WAIT: Duration = Duration::from_millis(10);
/// Pause between the last service becoming ready and reading idle memory.
const SETTLE: Duration = Duration::from_secs(2);
/// Customers created for the read and change phases, at least.
const SEED_CUSTOMERS: usize = 100;
/// The targets of issue 6.
const READ_RATIO: f64 = 0.8;
const APPLY_RATIO: f64 = 0.7;
const END_TO_END_RATIO: f64 = 3.0;
const CPU_RATIO: f64 = 3.0;
const START_TO_READY_MS: f64 = 100.0;
const IDLE_RSS_MIB: f64 = 15.0;
const MIB: f64 = 1_048_576.0;
/// The hops whose p99 is held against the raw broker round trip.
const HOPS: [&str; 3] = [
    "customer changed -> in orders",
    "order approved -> fulfillment created",
    "status changed -> in orders",
];

pub(crate) async fn run(options: Options) -> anyhow::Result<()> {
    let (kafka, database) = crate::run::service_settings()?;
    let out = options.paths.out("report");
    let run_id = test_support::unique_name("bench");
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let launcher = Launcher::for_run(&options.paths.bin_dir, &out, &run_id)?;
    for name in SERVICES {
        let binary = launcher.binary(name);
        anyhow::ensure!(
            binary.exists(),
            "{} is missing: build the release binaries first",
            binary.display()
        );
    }
    let raw_topics = [
        format!("{run_id}.raw"),
        format!("{run_id}.raw.short-wait"),
        format!("{run_id}.raw.bulk"),
        format!("{run_id}.raw.pipeline"),
    ];
    let topics = launcher.create_topics(&kafka, 3, true, &raw_topics).await?;
    log(&format!(
        "run {run_id}: logs in {}",
        launcher.logs.display()
    ));

    let client = reqwest::Client::new();
    let mut services: Vec<Service> = Vec::new();
    let measured = async {
        // A broker just started is still loading its state: the first idempotent producer
        // waits for its producer id ("coordinator load in progress"), which would be timed as
        // the first service's start-up.
        warm_up_broker(&kafka, &raw_topics[0]).await?;
        let starts = start_services(&options, &launcher, &mut services).await?;
        tokio::time::sleep(SETTLE).await;
        let idle: Vec<Memory> = services
            .iter()
            .map(|service| footprint::memory(service.pid()?))
            .collect::<anyhow::Result<_>>()?;
        let raw = measure_baselines(&options, &kafka, &database, &run_id, &raw_topics).await?;
        let on_services = measure_services(&options, &launcher.topics, &services, &client).await?;
        save_metrics(&services, &client, &launcher.logs).await;
        Ok::<_, anyhow::Error>((starts, idle, raw, on_services))
    }
    .await;
    log("stopping the services and removing what the run created");
    tear_down(services, &launcher, (&kafka, &topics), &database).await;
    let (starts, idle, raw, on_services) = measured?;

    let footprints = SERVICES
        .into_iter()
        .zip(&starts)
        .zip(&idle)
        .map(|((name, (pid, times)), idle)| {
            Ok(Footprint {
                service: name,
                start_to_ready_ms: StartTimes::of(times),
                idle: *idle,
                load_rss_bytes: on_services.peaks.get(pid).copied().unwrap_or(0),
                binary_bytes: std::fs::metadata(launcher.binary(name))?.len(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = Report {
        run_id,
        started_at,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        concurrency: options.concurrency,
        phase_seconds: options.phase.as_secs(),
        flow_seconds: options.flows.as_secs(),
        poll_interval_ms: u64::try_from(options.poll.as_millis()).unwrap_or(u64::MAX),
        checks: checks(&raw, &on_services, &footprints),
        changes: on_services.changes,
        cpu_per_operation: on_services.cpu_per_operation,
        baselines: raw.baselines(),
        http: on_services.http,
        end_to_end: on_services.end_to_end,
        footprint: footprints,
        notes: notes(&options, on_services.errors),
    };
    crate::report::write(&out, &report, &report.markdown())
}

/// Publishes one record with a producer configured as the services' and waits for the ack.
async fn warm_up_broker(kafka: &KafkaSettings, topic: &str) -> anyhow::Result<()> {
    log("warming the broker up: one record through an idempotent producer");
    let producer = platform::kafka::producer(kafka)?;
    platform::kafka::publish(
        &producer,
        &platform::kafka::Record {
            topic,
            key: Some(b"warm-up"),
            payload: Some(b"{}"),
            headers: &[],
        },
    )
    .await
    .context("warming the broker up")
}

/// Starts each service `start_runs` times and stops it, then once more to keep it running.
/// Returns each service's pid and start-up times, in the order of `SERVICES`.
async fn start_services(
    options: &Options,
    launcher: &Launcher,
    services: &mut Vec<Service>,
) -> anyhow::Result<Vec<(u32, Vec<Duration>)>> {
    let mut starts = Vec::new();
    for name in SERVICES {
        log(&format!(
            "starting {name} {} times to time its start-up",
            options.start_runs + 1
        ));
        let mut times = Vec::new();
        for _ in 0..options.start_runs {
            let (mut service, time) = launcher.start(name, 0, &[]).await?;
            times.push(time);
            service.terminate().await?;
        }
        let (service, time) = launcher.start(name, 0, &[]).await?;
        times.push(time);
        starts.push((service.pid()?, times));
        services.push(service);
    }
    Ok(starts)
}

/// The raw figures: Kafka round trip and bulk rates, MongoDB reads and upserts.
struct Raw {
    round_trip: Summary,
    /// The same with the consumer's fetch wait shortened: what the broker itself takes.
    short_wait: Summary,
    bulk: BulkRates,
    mongo: MongoRates,
    /// Customer changes through the raw pipeline.
    pipeline: PipelineRates,
}

impl Raw {
    fn baselines(&self) -> Baselines {
        Baselines {
            kafka_round_trip: self.round_trip.clone(),
            kafka_round_trip_short_fetch_wait: self.short_wait.clone(),
            kafka_produce_per_second: self.bulk.produce_per_second,
            kafka_consume_per_second: self.bulk.consume_per_second,
            mongo_find_one: self.mongo.find_one.clone(),
            mongo_find_one_cpu_us: self.mongo.find_one_cpu_us,
            mongo_upsert: self.mongo.upsert.clone(),
            raw_pipeline: self.pipeline.changes.clone(),
            raw_pipeline_applied_per_second: self.pipeline.applied_per_second,
        }
    }
}

async fn measure_baselines(
    options: &Options,
    kafka: &KafkaSettings,
    database: &DatabaseSettings,
    run_id: &str,
    topics: &[String; 4],
) -> anyhow::Result<Raw> {
    let mut event = load::customer(0);
    if let Some(event) = event.as_object_mut() {
        event.remove("creditCards");
        event.insert("id".to_owned(), "5b189af9a8d05613315b0212".into());
    }
    let payload = serde_json::to_vec(&event)?;
    log(&format!(
        "raw Kafka: produce -> consume round trips, {} in flight, {:?}",
        options.concurrency, options.phase
    ));
    let round_trip = baseline::kafka_round_trip(
        kafka,
        (&topics[0], &format!("{run_id}-raw")),
        None,
        payload.clone(),
        options.concurrency,
        options.phase,
    )
    .await?;
    log(&format!(
        "raw Kafka again, the consumer's fetch.wait.max.ms at {} ms",
        SHORT_FETCH_WAIT.as_millis()
    ));
    let short_wait = baseline::kafka_round_trip(
        kafka,
        (&topics[1], &format!("{run_id}-raw-short-wait")),
        Some(SHORT_FETCH_WAIT),
        payload.clone(),
        options.concurrency,
        options.phase,
    )
    .await?;
    for outcome in [&round_trip, &short_wait] {
        anyhow::ensure!(
            outcome.failures == 0,
            "raw round trips failed: {}",
            outcome.first_error.as_deref().unwrap_or_default()
        );
    }
    log(&format!(
        "raw Kafka: {} records produced, then consumed",
        options.bulk_messages
    ));
    let bulk = baseline::kafka_bulk(
        kafka,
        &topics[2],
        &format!("{run_id}-bulk"),
        payload,
        options.bulk_messages,
    )
    .await?;
    log(&format!(
        "raw MongoDB: find_one, then upsert, by _id, {} workers, {:?} each",
        options.concurrency, options.phase
    ));
    let document = mongodb::bson::to_document(&load::customer(0))?;
    let mongo = baseline::mongo(
        &DatabaseSettings {
            name: format!("{run_id}-raw"),
            ..database.clone()
        },
        document.clone(),
        options.concurrency,
        options.phase,
    )
    .await?;
    log(&format!(
        "raw customer change pipeline (the services' database and broker work, nothing else), {} workers, {:?}",
        options.concurrency, options.phase
    ));
    let pipeline = baseline::pipeline(
        kafka,
        &DatabaseSettings {
            name: format!("{run_id}-raw-pipeline"),
            ..database.clone()
        },
        (&topics[3], &format!("{run_id}-raw-pipeline")),
        document,
        options.concurrency,
        options.phase,
    )
    .await?;
    Ok(Raw {
        round_trip: round_trip.summary,
        short_wait: short_wait.summary,
        bulk,
        mongo,
        pipeline,
    })
}

/// What the load on the services measured.
struct OnServices {
    cpu_per_operation: CpuPerOperation,
    reads: Summary,
    changes: ChangeRates,
    http: Vec<Named>,
    end_to_end: Vec<Named>,
    /// Peak resident memory under load, by pid.
    peaks: HashMap<u32, u64>,
    /// The first error of each phase that had failures.
    errors: Vec<String>,
}

async fn measure_services(
    options: &Options,
    topics: &Topics,
    services: &[Service],
    client: &reqwest::Client,
) -> anyhow::Result<OnServices> {
    let load = Load::new(client.clone(), Urls::of(services)?, options.poll);
    log("waiting for orders to join its consumer group");
    let first = load.seed_customers(1, 1).await?;
    load.await_in_orders(&first[0]).await?;

    let pid = |name: &str| {
        services
            .iter()
            .find(|service| service.name == name)
            .with_context(|| format!("{name} is not running"))?
            .pid()
    };
    let (accounts, orders) = (pid("accounts")?, pid("orders")?);
    log(&format!(
        "a constant actix-web handler, {} workers, {:?}: the yardstick of CPU per request",
        options.concurrency, options.phase
    ));
    let constant = Constant::start(client).await?;
    let measured = constant
        .read(client, options.concurrency, options.phase)
        .await;
    constant.stop().await;
    let (constant, constant_cpu) = measured?;

    let pids = services
        .iter()
        .map(Service::pid)
        .collect::<anyhow::Result<_>>()?;
    let sampler = PeakSampler::start(pids);
    let seeds = SEED_CUSTOMERS.max(options.concurrency * 10);
    log(&format!("creating {seeds} customers"));
    let ids = Arc::new(load.seed_customers(seeds, options.concurrency).await?);
    log(&format!(
        "reading customers by id, {} workers, {:?}",
        options.concurrency, options.phase
    ));
    let before = cpu(&[accounts])?;
    let reads = load
        .read_customers(Arc::clone(&ids), options.concurrency, options.phase)
        .await;
    let read_cpu = cpu(&[accounts])?.since(before);
    log(&format!(
        "changing customers, {} workers, {:?}, until orders applied every change",
        options.concurrency, options.phase
    ));
    let before = cpu(&[orders])?;
    let (changes, rates) = load
        .change_customers(
            ids,
            options.concurrency,
            options.phase,
            &topics.customer_change,
        )
        .await?;
    let change_cpu = cpu(&[orders])?.since(before);
    log(&format!(
        "realistic flows, {} workers, {:?}",
        options.concurrency, options.flows
    ));
    let flow_load = load.measuring_afresh();
    let flows = flow_load
        .flows(options.concurrency, options.flows, options.rate)
        .await;
    let peaks = sampler.finish().await;

    let mut http = vec![
        Named {
            name: "GET accounts customers/{id} (read phase)".to_owned(),
            failures: reads.failures,
            summary: reads.summary.clone(),
        },
        Named {
            name: "PATCH accounts customers/{id} (change phase)".to_owned(),
            failures: changes.failures,
            summary: changes.summary.clone(),
        },
    ];
    http.extend(flow_load.http.summaries(options.flows));
    let errors = [("read", &reads), ("change", &changes), ("flow", &flows)]
        .into_iter()
        .filter_map(|(phase, outcome)| {
            outcome.first_error.as_ref().map(|error| {
                format!(
                    "{phase} phase: {} failed; the first: {error}",
                    outcome.failures
                )
            })
        })
        .collect();
    let per = |used: Cpu, count: f64| used.total() * 1e6 / count.max(1.0);
    let cpu_per_operation = CpuPerOperation {
        constant_us: per(constant_cpu, constant.summary.count as f64),
        read_us: per(read_cpu, reads.summary.count as f64),
        applied_change_us: per(
            change_cpu,
            rates.applied_per_second * options.phase.as_secs_f64(),
        ),
        constant: constant.summary,
    };
    Ok(OnServices {
        cpu_per_operation,
        reads: reads.summary,
        changes: rates,
        http,
        end_to_end: flow_load.end_to_end.summaries(options.flows),
        peaks,
        errors,
    })
}

fn checks(raw: &Raw, on_services: &OnServices, footprints: &[Footprint]) -> Vec<Check> {
    let mut checks = vec![
        Check::against(
            "GET accounts customers/{id} throughput",
            "req/s",
            on_services.reads.per_second,
            Baseline {
                name: "raw find_one".to_owned(),
                value: raw.mongo.find_one.per_second,
            },
            Target::RatioAtLeast(READ_RATIO),
        ),
        Check::against(
            "customer changes applied in orders",
            "/s",
            on_services.changes.applied_per_second,
            Baseline {
                name: "raw change pipeline".to_owned(),
                value: raw.pipeline.applied_per_second,
            },
            Target::RatioAtLeast(APPLY_RATIO),
        ),
    ];
    let cpu = &on_services.cpu_per_operation;
    let constant = Baseline {
        name: "constant actix-web handler, per request".to_owned(),
        value: cpu.constant_us,
    };
    checks.push(Check::against(
        "CPU per GET accounts customers/{id}",
        "us",
        cpu.read_us,
        constant.clone(),
        Target::RatioAtMost(CPU_RATIO),
    ));
    checks.push(Check::against(
        "CPU per customer change applied in orders",
        "us",
        cpu.applied_change_us,
        constant,
        Target::RatioAtMost(CPU_RATIO),
    ));
    for hop in HOPS {
        let p99 = on_services
            .end_to_end
            .iter()
            .find(|named| named.name == hop)
            .map_or(f64::INFINITY, |named| named.summary.p99_ms);
        checks.push(Check::against(
            format!("p99 {hop}"),
            "ms",
            p99,
            Baseline {
                name: "raw round trip p99".to_owned(),
                value: raw.round_trip.p99_ms,
            },
            Target::RatioAtMost(END_TO_END_RATIO),
        ));
    }
    for footprint in footprints {
        checks.push(Check::below(
            format!("{} start to ready (median)", footprint.service),
            "ms",
            footprint.start_to_ready_ms.median,
            START_TO_READY_MS,
        ));
    }
    for footprint in footprints {
        checks.push(Check::below(
            format!("{} idle RSS", footprint.service),
            "MiB",
            footprint.idle.rss_bytes as f64 / MIB,
            IDLE_RSS_MIB,
        ));
    }
    checks
}

fn notes(options: &Options, errors: Vec<String>) -> Vec<String> {
    let mut notes = vec![
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
    ];
    notes.extend(errors);
    notes
}

/// Keeps each service's metrics after the load (`<service>.prom` beside its log), to explain
/// the figures: database operations, handler durations, outbox backlog.
async fn save_metrics(services: &[Service], client: &reqwest::Client, directory: &Path) {
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

/// Stops the services of a run, then removes its databases and its `topics`.
pub(crate) async fn tear_down(
    services: Vec<Service>,
    launcher: &Launcher,
    (kafka, topics): (&KafkaSettings, &[String]),
    database: &DatabaseSettings,
) {
    for mut service in services {
        if let Err(error) = service.terminate().await {
            eprintln!("stopping a service: {error:#}");
        }
    }
    let databases: Vec<String> = SERVICES
        .iter()
        .map(|name| launcher.database_name(name))
        .collect();
    remove_databases(database, &databases).await;
    remove_topics(kafka, topics).await;
}

/// The broker and database settings exactly as the services load them: accounts' configuration
/// files (the same in every service for these two sections), under the same `APP_` variables.
/// Read through platform's loader rather than the accounts crate, so the benchmark builds none
/// of a service's code.
pub(crate) fn service_settings() -> anyhow::Result<(KafkaSettings, DatabaseSettings)> {
    #[derive(serde::Deserialize)]
    struct Settings {
        kafka: KafkaSettings,
        database: DatabaseSettings,
    }
    let files = platform::settings::EmbeddedFiles {
        base: include_str!("../../services/accounts/configuration/base.toml"),
        local: include_str!("../../services/accounts/configuration/local.toml"),
        production: include_str!("../../services/accounts/configuration/production.toml"),
    };
    let settings: Settings =
        platform::settings::load(&files).context("loading the service settings")?;
    Ok((settings.kafka, settings.database))
}

/// Drops the databases a run used.
pub(crate) async fn remove_databases(database: &DatabaseSettings, names: &[String]) {
    for name in names {
        let settings = DatabaseSettings {
            name: name.clone(),
            ..database.clone()
        };
        let dropped = async {
            platform::mongo::connect(&settings)
                .await?
                .drop()
                .await
                .map_err(anyhow::Error::from)
        };
        if let Err(error) = dropped.await {
            eprintln!("dropping database {}: {error:#}", settings.name);
        }
    }
}

/// Deletes the topics a run created.
pub(crate) async fn remove_topics(kafka: &KafkaSettings, topics: &[String]) {
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    let removed = async {
        let admin: AdminClient<DefaultClientContext> =
            platform::kafka::client_config(kafka).create()?;
        admin.delete_topics(&topics, &AdminOptions::new()).await?;
        Ok::<_, anyhow::Error>(())
    };
    if let Err(error) = removed.await {
        eprintln!("deleting the run's topics: {error:#}");
    }
}
