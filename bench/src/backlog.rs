//! `storefront-bench backlog`: customer changes wait on the changelog; orders, with a group and
//! a database of its own, works through them once per prefetch bound while its memory is sampled.

use std::time::{Duration, Instant};

use serde_json::json;
use shared_events::headers;
use test_support::within;

use crate::baseline::{KeyedRecord, Publisher, event_headers};
use crate::footprint::PeakSampler;
use crate::latency::rate;
use crate::load::customer_event;
use crate::options::BacklogOptions;
use crate::report::{Row, mebibytes, rows_table};
use crate::stack::Launcher;

/// Changes per customer: the backlog holds `records / CHANGES_PER_CUSTOMER` customers. Few
/// customers, so that the run measures the consumer rather than the database: with ten changes
/// each (20,000 customers) the local database server took five times as long per change.
const CHANGES_PER_CUSTOMER: usize = 100;
/// The memory limit of the orders container in `k8s/base/orders.yaml`.
const CONTAINER_LIMIT_MIB: f64 = 128.0;
const DRAIN_DEADLINE: Duration = Duration::from_secs(1800);
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

pub(crate) async fn run(options: BacklogOptions) -> anyhow::Result<()> {
    let out = options.common.out("backlog");
    let run_id = test_support::unique_name("backlog");
    let launcher = Launcher::for_run(&options.common.bin_dir, &out, &run_id, false, &[]).await?;
    let databases: Vec<String> = options
        .prefetch_kbytes
        .iter()
        .map(|prefetch| format!("orders-{prefetch}"))
        .collect();
    let measured = async {
        let (topic, records) = (launcher.changelog(), options.records);
        step!("producing a backlog of {records} customer changes on {topic}");
        let customers = records.div_ceil(CHANGES_PER_CUSTOMER);
        let change = |n| change(&run_id, n, customers);
        let publisher = Publisher::new(&launcher.kafka, &topic)?;
        publisher.send_all(records, change).await?;
        let mut drained = Vec::new();
        for (&prefetch, database) in options.prefetch_kbytes.iter().zip(&databases) {
            drained.push(drain(&launcher, (prefetch, database), options.records).await?);
        }
        Ok::<_, anyhow::Error>(drained)
    }
    .await;
    let databases: Vec<&str> = databases.iter().map(String::as_str).collect();
    launcher.tear_down(Vec::new(), &databases).await;
    let drained = measured?;
    let markdown = rows_table(&drained);
    crate::report::write(&out, &drained, &markdown)
}

/// The `n`th record of the backlog: change number `n / customers` of customer `n % customers`,
/// keyed, with the headers accounts writes (a unique event id, the customer's version).
fn change(run_id: &str, n: usize, customers: usize) -> KeyedRecord {
    let (customer, version) = (n % customers, n / customers);
    let id = format!("{customer:024x}");
    let mut event = customer_event(u64::try_from(customer).unwrap_or(u64::MAX), &id);
    event["contact"] = serde_json::json!({
        "primaryPhone": "555-666-7777",
        "secondaryPhone": "555-444-9898",
        "email": format!("backlog{customer}-v{version}@example.com"),
    });
    let mut headers = event_headers();
    headers.retain(|(name, _)| name != headers::EVENT_ID);
    headers.push((headers::EVENT_ID.to_owned(), format!("{run_id}-{n}").into()));
    headers.push((
        headers::AGGREGATE_VERSION.to_owned(),
        version.to_string().into(),
    ));
    (id, event.to_string().into_bytes(), headers)
}

/// Starts orders with a group and a database of its own and this prefetch bound, and samples
/// its memory until its group committed every record of the backlog.
async fn drain(
    launcher: &Launcher,
    (prefetch, database): (u32, &str),
    records: usize,
) -> anyhow::Result<Row> {
    let group = format!("{}-orders-{prefetch}", launcher.run_id);
    step!("orders works through the backlog, prefetch bound {prefetch} KiB");
    let started = Instant::now();
    let settings = [
        ("APP_CONSUMER__GROUP_ID", group.clone()),
        ("APP_CONSUMER__PREFETCH_KBYTES", prefetch.to_string()),
        ("APP_DATABASE__NAME", launcher.database(database).name),
    ];
    let (mut service, _) = launcher.start("orders", 0, &settings).await?;
    let pid = service.pid()?;
    let sampler = PeakSampler::start(vec![pid]);
    let (kafka, topic) = (&launcher.kafka, launcher.changelog());
    let target = i64::try_from(records).unwrap_or(i64::MAX);
    let committed = || async {
        let (kafka, group, topic) = (kafka.clone(), group.clone(), topic.clone());
        // Unknown while the broker still chooses the group's coordinator: none yet.
        let count = move || test_support::try_committed_count(&kafka, &group, &topic).unwrap_or(0);
        Ok((tokio::task::spawn_blocking(count).await? >= target).then(|| started.elapsed()))
    };
    let what = format!("orders to commit {records} records");
    let drained = within(&what, DRAIN_DEADLINE, PROGRESS_INTERVAL, committed).await;
    let peaks = sampler.finish().await;
    service.terminate().await?;
    let (took, peak) = (drained?, peaks.get(&pid).copied().unwrap_or(0));
    let (seconds, per_second) = (took.as_secs_f64(), rate(records as u64, took));
    let fields = [
        ("prefetch_kbytes", json!(prefetch)),
        ("records", json!(records)),
        ("seconds", json!(seconds)),
        ("records_per_second", json!(per_second)),
        ("peak_rss_bytes", json!(peak)),
    ];
    let cells = [
        ("prefetch bound (KiB)", prefetch.to_string()),
        ("records", records.to_string()),
        ("worked through in (s)", format!("{seconds:.1}")),
        ("records/s", format!("{per_second:.0}")),
        ("peak RSS (MiB)", format!("{:.1}", mebibytes(peak))),
        ("container limit (MiB)", format!("{CONTAINER_LIMIT_MIB:.0}")),
    ];
    Ok(Row::new(fields, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_changes_each_customer_in_turn_with_growing_versions() {
        let header = |record: &KeyedRecord, name: &str| {
            let (_, value) = record.2.iter().find(|(header, _)| header == name).unwrap();
            String::from_utf8(value.clone()).unwrap()
        };
        let (first, later) = (change("r", 1, 4), change("r", 5, 4));
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
