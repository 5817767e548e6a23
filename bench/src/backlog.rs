//! `storefront-bench backlog`: what orders holds in memory while it works through a backlog.
//!
//! The records accounts would have published while orders was away (customers changed a
//! hundred times each) wait on the customer changelog; then orders starts, with a consumer group and a
//! database of its own, once per prefetch bound asked for, and works through all of them while
//! its resident memory is sampled. The table holds the peak next to the container's limit.

use std::time::{Duration, Instant};

use serde::Serialize;
use shared_events::headers;

use crate::baseline::{Headers, KeyedRecord, event_headers, produce_all};
use crate::footprint::PeakSampler;
use crate::load;
use crate::options::BacklogOptions;
use crate::report::log;
use crate::report::markdown_table;
use crate::run::{remove_databases, remove_topics};
use crate::stack::Launcher;

/// Changes per customer: the backlog holds `records / CHANGES_PER_CUSTOMER` customers. Few
/// customers, so that the run measures the consumer rather than the database: with ten changes
/// each (20,000 customers) the local database server took five times as long per change.
const CHANGES_PER_CUSTOMER: usize = 100;
/// The memory limit of the orders container in `k8s/base/orders.yaml`.
const CONTAINER_LIMIT_MIB: f64 = 128.0;
/// How long working through the backlog may take before the run gives up.
const DRAIN_DEADLINE: Duration = Duration::from_secs(1800);
/// How often the committed offsets are read while orders works.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);
const MIB: f64 = 1_048_576.0;

/// One pass of orders through the backlog.
#[derive(Debug, Clone, Serialize)]
struct Drained {
    prefetch_kbytes: u32,
    records: usize,
    seconds: f64,
    records_per_second: f64,
    peak_rss_bytes: u64,
}

pub(crate) async fn run(options: BacklogOptions) -> anyhow::Result<()> {
    let (kafka, database) = crate::run::service_settings()?;
    let out = options.paths.out("backlog");
    let run_id = test_support::unique_name("backlog");
    let launcher = Launcher::for_run(&options.paths.bin_dir, &out, &run_id)?;
    let topics = launcher.create_topics(&kafka, 3, false, &[]).await?;
    let databases: Vec<String> = options
        .prefetch_kbytes
        .iter()
        .map(|prefetch| launcher.database_name(&format!("orders-{prefetch}")))
        .collect();

    let measured = async {
        let topic = launcher.topics.customer_change.clone();
        log(&format!(
            "producing a backlog of {} customer changes on {topic}",
            options.records
        ));
        let producer = platform::kafka::producer(&kafka)?;
        let customers = options.records.div_ceil(CHANGES_PER_CUSTOMER);
        produce_all(&producer, &topic, options.records, |n| {
            change(&run_id, n, customers)
        })
        .await?;
        let mut drained = Vec::new();
        for (&prefetch, database_name) in options.prefetch_kbytes.iter().zip(&databases) {
            drained.push(
                drain(
                    &launcher,
                    &kafka,
                    (prefetch, database_name),
                    options.records,
                )
                .await?,
            );
        }
        Ok::<_, anyhow::Error>(drained)
    }
    .await;
    log("removing what the run created");
    remove_databases(&database, &databases).await;
    remove_topics(&kafka, &topics).await;
    let drained = measured?;

    crate::report::write(&out, &drained, &markdown(&drained))
}

/// The `n`th record of the backlog: change number `n / customers` of customer `n % customers`,
/// keyed, with the headers accounts writes (a unique event id, the customer's version).
fn change(run_id: &str, n: usize, customers: usize) -> KeyedRecord {
    let (customer, version) = (n % customers, n / customers);
    let id = format!("{customer:024x}");
    let mut event = load::customer(u64::try_from(customer).unwrap_or(u64::MAX));
    if let Some(event) = event.as_object_mut() {
        event.remove("creditCards");
        event.insert("id".to_owned(), id.clone().into());
        event.insert(
            "contact".to_owned(),
            serde_json::json!({
                "primaryPhone": "555-666-7777",
                "secondaryPhone": "555-444-9898",
                "email": format!("backlog{customer}-v{version}@example.com"),
            }),
        );
    }
    let mut headers: Headers = event_headers()
        .into_iter()
        .filter(|(name, _)| name != headers::EVENT_ID)
        .collect();
    headers.push((
        headers::EVENT_ID.to_owned(),
        format!("{run_id}-{n}").into_bytes(),
    ));
    headers.push((
        headers::AGGREGATE_VERSION.to_owned(),
        version.to_string().into_bytes(),
    ));
    (id, event.to_string().into_bytes(), headers)
}

/// Starts orders with a group and a database of its own and this prefetch bound, and samples
/// its memory until its group committed every record of the backlog.
async fn drain(
    launcher: &Launcher,
    kafka: &platform::settings::KafkaSettings,
    (prefetch, database): (u32, &str),
    records: usize,
) -> anyhow::Result<Drained> {
    let group = format!("{}-orders-{prefetch}", launcher.run_id);
    log(&format!(
        "orders works through the backlog, prefetch bound {prefetch} KiB"
    ));
    let started = Instant::now();
    let (mut service, _) = launcher
        .start(
            "orders",
            0,
            &[
                ("APP_CONSUMER__GROUP_ID", group.clone()),
                ("APP_CONSUMER__PREFETCH_KBYTES", prefetch.to_string()),
                ("APP_DATABASE__NAME", database.to_owned()),
            ],
        )
        .await?;
    let pid = service.pid()?;
    let sampler = PeakSampler::start(vec![pid]);
    let topic = launcher.topics.customer_change.clone();
    let target = i64::try_from(records).unwrap_or(i64::MAX);
    let drained = loop {
        let committed = tokio::task::spawn_blocking({
            let (kafka, group, topic) = (kafka.clone(), group.clone(), topic.clone());
            // Unknown while the broker still chooses the group's coordinator: none yet.
            move || test_support::try_committed_count(&kafka, &group, &topic).unwrap_or(0)
        })
        .await?;
        if committed >= target {
            break Ok(started.elapsed());
        }
        if started.elapsed() > DRAIN_DEADLINE {
            break Err(anyhow::anyhow!(
                "orders committed {committed} of {records} records within {DRAIN_DEADLINE:?}"
            ));
        }
        tokio::time::sleep(PROGRESS_INTERVAL).await;
    };
    let peaks = sampler.finish().await;
    service.terminate().await?;
    let seconds = drained?.as_secs_f64();
    Ok(Drained {
        prefetch_kbytes: prefetch,
        records,
        seconds,
        records_per_second: records as f64 / seconds.max(1e-9),
        peak_rss_bytes: peaks.get(&pid).copied().unwrap_or(0),
    })
}

fn markdown(drained: &[Drained]) -> String {
    let rows: Vec<Vec<String>> = drained
        .iter()
        .map(|run| {
            vec![
                run.prefetch_kbytes.to_string(),
                run.records.to_string(),
                format!("{:.1}", run.seconds),
                format!("{:.0}", run.records_per_second),
                format!("{:.1}", run.peak_rss_bytes as f64 / MIB),
                format!("{CONTAINER_LIMIT_MIB:.0}"),
            ]
        })
        .collect();
    markdown_table(
        &[
            "prefetch bound (KiB)",
            "records",
            "worked through in (s)",
            "records/s",
            "peak RSS (MiB)",
            "container limit (MiB)",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_changes_each_customer_in_turn_with_growing_versions() {
        let header = |record: &KeyedRecord, name: &str| {
            record
                .2
                .iter()
                .find(|(header, _)| header == name)
                .map(|(_, value)| String::from_utf8(value.clone()).unwrap())
                .unwrap()
        };
        let first = change("r", 1, 4);
        let later = change("r", 5, 4);
        assert_eq!(first.0, later.0, "records 1 and 5 change customer 1");
        assert_eq!(first.0, format!("{:024x}", 1));
        assert_eq!(header(&first, headers::AGGREGATE_VERSION), "0");
        assert_eq!(header(&later, headers::AGGREGATE_VERSION), "1");
        assert_ne!(
            header(&first, headers::EVENT_ID),
            header(&later, headers::EVENT_ID)
        );
        let event: shared_events::CustomerChangeEvent =
            serde_json::from_slice(&later.1).expect("a customer change event");
        assert_eq!(event.contact.email, "backlog1-v1@example.com");
    }
}
