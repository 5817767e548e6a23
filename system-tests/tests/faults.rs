//! Faults injected while a stream of changes is in flight: crashes, a lost broker, a frozen
//! database, poison messages and SIGTERM under load. Each scenario asserts that nothing
//! acknowledged is lost or doubled, and writes its row of the reliability table
//! (`scripts/reliability.sh` runs this suite and prints the table).
//!
//! The stream's size is `STOREFRONT_FAULT_STREAM` acknowledged changes (default 10,000); each
//! scenario has a broker and a database of its own, and runs alone (`.config/nextest.toml`).
//! Each runs on several threads: starting and stopping a broker blocks the test's own thread,
//! never the stream's requests.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use system_tests::faults::{
    Check, InFlight, Rig, Row, Stream, converge, count_log_lines, customer, outbox_dead_letters,
    pending_outbox_events, running,
};
use test_support::{EVENT_DEADLINE, eventually};

/// Acknowledged changes per stream.
fn stream_size() -> usize {
    std::env::var("STOREFRONT_FAULT_STREAM")
        .ok()
        .and_then(|size| size.parse().ok())
        .unwrap_or(10_000)
}

/// Concurrent clients of the stream.
const WORKERS: usize = 6;

/// How long the broker is away, and the database frozen.
const OUTAGE: Duration = Duration::from_secs(30);

/// SIGTERM to exit: the server's 10 s grace for requests, the consumer's last commit and the
/// relay's last pass.
const STOP_BOUND: Duration = Duration::from_secs(20);

fn assert_nothing_lost_or_doubled(row: &Row, check: &Check) {
    row.report();
    let missing = &check.missing;
    assert!(
        missing.is_empty(),
        "{}: {} acknowledged changes not applied downstream, e.g. {:?}",
        row.scenario,
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let diverged = &check.diverged;
    assert!(
        diverged.is_empty(),
        "{}: {} status histories orders does not mirror, e.g. {:?}",
        row.scenario,
        diverged.len(),
        &diverged[..diverged.len().min(5)]
    );
    assert_eq!(row.duplicated, 0, "{}: duplicated effects", row.scenario);
    assert_eq!(
        row.dead_lettered, 0,
        "{}: a stream of valid changes dead-letters nothing",
        row.scenario
    );
    assert_eq!(row.applied, row.acknowledged, "{}", row.scenario);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_killed_in_turn_under_load_loses_and_doubles_nothing() {
    // Static group membership, as in Kubernetes (the pod's name, kept across its restarts): a
    // restarted consumer takes its partitions back without waiting for a rebalance. Each
    // service's group is its own, so one name serves all three.
    let mut rig = Rig::start(&[("APP_CONSUMER__INSTANCE_ID", "storefront-0")]).await;
    let size = stream_size();
    let stream = Stream::start(&rig, WORKERS, size);
    let mut restarted_in = Vec::new();
    for (turn, name) in ["accounts", "orders", "fulfillment"]
        .into_iter()
        .enumerate()
    {
        stream.wait_for(size * (turn + 1) / 4).await;
        let service = match name {
            "accounts" => &mut rig.store.accounts,
            "orders" => &mut rig.store.orders,
            _ => &mut rig.store.fulfillment,
        };
        service.kill().await.expect("killing the service");
        let started = Instant::now();
        service.restart().await.expect("restarting the service");
        restarted_in.push(format!("{name} {:.1} s", started.elapsed().as_secs_f64()));
    }
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let row = check.row(
        "kill -9 accounts, orders, fulfillment in turn",
        rig.dead_lettered().await,
        format!("restarted to ready: {}", restarted_in.join(", ")),
    );
    assert_nothing_lost_or_doubled(&row, &check);
}

/// Instances of each service in the scaled-out scenario: one per partition of each topic.
const INSTANCES: usize = 3;

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_of_each_service_killed_replaced_and_scaled_in_lose_and_double_nothing() {
    let mut rig = Rig::start_scaled(3, INSTANCES, &[]).await;
    let size = stream_size();
    let stream = Stream::start(&rig, WORKERS, size);
    let mut replaced_in = Vec::new();
    // kill -9 one instance of each service in turn; a new one takes its place, as a new pod
    // would: a new group member, so the group rebalances (after the dead one's session ends).
    for (turn, name) in ["accounts", "orders", "fulfillment"]
        .into_iter()
        .enumerate()
    {
        stream.wait_for(size * (turn + 1) / 5).await;
        let victim = rig
            .replicas
            .iter_mut()
            .find(|service| service.name == name)
            .expect("a second instance");
        let member = format!("storefront-{}", INSTANCES + turn);
        let started = Instant::now();
        victim
            .replace(&[("APP_CONSUMER__INSTANCE_ID", &member)])
            .await
            .expect("replacing the instance");
        replaced_in.push(format!("{name} {:.1} s", started.elapsed().as_secs_f64()));
    }
    // Then each service scales in by one: an instance stops gracefully (SIGTERM) and stays
    // down; its partitions go to the two left.
    stream.wait_for(size * 4 / 5).await;
    for name in ["accounts", "orders", "fulfillment"] {
        let leaving = rig
            .replicas
            .iter_mut()
            .filter(|service| service.name == name)
            .nth(1)
            .expect("a third instance");
        let status = leaving.terminate().await.expect("stopping the instance");
        assert!(status.success(), "{name} exited with {status} on SIGTERM");
    }
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let row = check.row(
        "3 instances each (3 brokers): kill -9 and replace one of each service, then scale in",
        rig.dead_lettered().await,
        format!(
            "replaced to ready: {}; {} requests found a stopped instance",
            replaced_in.join(", "),
            sent.unreachable
        ),
    );
    assert!(
        check.records_per_event < 1.05,
        "the relays of three instances publish each event about once: {} records per event",
        check.records_per_event
    );
    assert_nothing_lost_or_doubled(&row, &check);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_away_for_30_seconds_loses_nothing_and_everything_recovers_by_itself() {
    let mut rig = Rig::start(&[]).await;
    // The outage is the point here: a quarter of the stream is enough.
    let size = stream_size() / 4;
    let stream = Stream::start(&rig, WORKERS, size);
    stream.wait_for(size / 4).await;
    rig.broker.stop();
    let during = stream.acknowledged();
    // The fault itself: the broker is away this long while the stream goes on.
    tokio::time::sleep(OUTAGE).await;
    let acknowledged_while_away = stream.acknowledged() - during;
    rig.broker.restart();
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let row = check.row(
        "broker stopped for 30 s",
        rig.dead_lettered().await,
        format!(
            "{acknowledged_while_away} writes acknowledged while the broker was away (their events waited in the outboxes)"
        ),
    );
    assert!(
        acknowledged_while_away > 0,
        "writes go on without the broker"
    );
    assert_nothing_lost_or_doubled(&row, &check);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_broker_leading_the_stream_killed_fails_over_and_loses_nothing() {
    let mut rig = Rig::start_with_brokers(3, &[]).await;
    let size = stream_size();
    let stream = Stream::start(&rig, WORKERS, size);
    stream.wait_for(size / 4).await;
    let topics = rig.store.topics.clone();
    let stream_topics = topics.all();
    // The broker that leads the most of the stream's partitions.
    let mut led = [0usize; 4];
    for topic in stream_topics {
        for leader in rig.broker.leaders(topic).into_iter().flatten() {
            led[leader] += 1;
        }
    }
    let victim = (1..=3).max_by_key(|id| led[*id]).expect("three brokers");
    let before = stream.acknowledged();
    rig.broker.kill_node(victim);
    let killed = Instant::now();
    // Failover: every partition it led has a new leader among the two others.
    test_support::eventually(
        "new leaders for the killed broker's partitions",
        system_tests::faults::CONVERGENCE_DEADLINE,
        || {
            let led_elsewhere = stream_topics.iter().all(|topic| {
                let leaders = rig.broker.leaders(topic);
                leaders.len() == 3
                    && leaders
                        .iter()
                        .all(|leader| leader.is_some_and(|id| id != victim))
            });
            async move { led_elsewhere.then_some(()) }
        },
    )
    .await;
    let failover = killed.elapsed();
    let during_failover = stream.acknowledged() - before;
    // It comes back later, while the stream goes on.
    stream.wait_for(size * 3 / 4).await;
    let down_for = killed.elapsed();
    rig.broker.restart_node(victim);
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let row = check.row(
        "kill -9 the broker leading the stream (3 brokers)",
        rig.dead_lettered().await,
        format!(
            "broker {victim} led {} of the stream's 9 partitions; new leaders in {:.1} s, {during_failover} writes acknowledged meanwhile; restarted after {:.0} s",
            led[victim],
            failover.as_secs_f64(),
            down_for.as_secs_f64()
        ),
    );
    assert!(during_failover > 0, "writes go on during the failover");
    assert_nothing_lost_or_doubled(&row, &check);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_of_three_brokers_down_for_30_seconds_hold_events_in_the_outboxes_until_one_returns() {
    let mut rig = Rig::start_with_brokers(3, &[]).await;
    // The outage is the point here: a quarter of the stream is enough.
    let size = stream_size() / 4;
    let stream = Stream::start(&rig, WORKERS, size);
    stream.wait_for(size / 4).await;
    // Stopped as an operator would, each leaves the in-sync replicas on its way out: broker 1
    // is then alone in every ISR, under min.insync.replicas=2, and refuses every acks=all write
    // with NOT_ENOUGH_REPLICAS (the controller quorum is lost too, so nothing else changes).
    rig.broker.stop_node(2);
    rig.broker.stop_node(3);
    let during = stream.acknowledged();
    // The fault itself: two brokers are away this long while the stream goes on.
    tokio::time::sleep(OUTAGE).await;
    let acknowledged_while_down = stream.acknowledged() - during;
    // Broker 1 logs each refused append with the partition's name: the stream's, not only the
    // consumer offsets'.
    let refusals: usize = rig
        .store
        .topics
        .all()
        .into_iter()
        .map(|topic| rig.broker.log_lines(1, &["NotEnoughReplicas", topic]))
        .sum();
    rig.broker.restart_node(2);
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let mut kept_by_relays = 0;
    for service in rig.store.services() {
        kept_by_relays += outbox_dead_letters(&rig.mongo, service).await;
    }
    let row = check.row(
        "2 of 3 brokers stopped for 30 s",
        rig.dead_lettered().await + usize::try_from(kept_by_relays).expect("a count"),
        format!(
            "{acknowledged_while_down} writes acknowledged with 1 broker of 3 (their events waited in the outboxes); {refusals} produce requests refused with NOT_ENOUGH_REPLICAS, retried, none dead-lettered; all published once broker 2 returned (broker 3 stayed down)"
        ),
    );
    assert!(
        acknowledged_while_down > 0,
        "writes go on with one broker of three"
    );
    assert!(
        refusals > 0,
        "the broker refused writes under min.insync.replicas"
    );
    assert_eq!(kept_by_relays, 0, "nothing dead-lettered by the relays");
    assert_nothing_lost_or_doubled(&row, &check);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_frozen_for_30_seconds_answers_503_then_delivers_every_pending_event() {
    let rig = Rig::start(&[
        ("APP_HTTP__REQUEST_TIMEOUT", "2000"),
        ("APP_DATABASE__TIMEOUT", "1000"),
    ])
    .await;
    let size = stream_size();
    let stream = Stream::start(&rig, WORKERS, size);
    stream.wait_for(size / 4).await;
    rig.database.pause().await;
    let paused = Instant::now();

    let answer = rig
        .client
        .get(format!("{}/customers?size=1", rig.store.accounts.url))
        .send()
        .await
        .expect("an answer, not a hang");
    let answered_in = paused.elapsed();
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().await.expect("a JSON body");
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    assert!(
        ["timeout", "database_unavailable"].contains(&code.as_str()),
        "{body}"
    );
    let mut unready = Vec::new();
    for service in rig.store.services() {
        let readiness = format!("{}/actuator/health/readiness", service.url);
        let status = rig
            .client
            .get(&readiness)
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(
            status.ok(),
            Some(503),
            "{} readiness while frozen",
            service.name
        );
        unready.push(service.name);
    }
    // The fault itself: the database stays frozen this long while the stream goes on.
    tokio::time::sleep(OUTAGE.saturating_sub(paused.elapsed())).await;
    rig.database.resume();
    let fault_ended = Instant::now();
    for service in rig.store.services() {
        let readiness = format!("{}/actuator/health/readiness", service.url);
        test_support::eventually(
            &format!("{} to be ready again", service.name),
            test_support::EVENT_DEADLINE,
            || {
                let request = rig.client.get(&readiness).send();
                async move { (request.await.ok()?.status() == 200).then_some(()) }
            },
        )
        .await;
    }
    let ready_again = fault_ended.elapsed();
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let row = check.row(
        "database frozen (SIGSTOP) for 30 s",
        rig.dead_lettered().await,
        format!(
            "API answered 503 `{code}` in {:.1} s; readiness DOWN for {}, UP {:.1} s after the thaw; {} requests refused",
            answered_in.as_secs_f64(),
            unready.join(", "),
            ready_again.as_secs_f64(),
            sent.refused
        ),
    );
    assert_nothing_lost_or_doubled(&row, &check);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_on_every_consumed_topic_is_dead_lettered_and_consumers_go_on() {
    let rig = Rig::start(&[]).await;
    let topics = rig.store.topics.clone();
    let consumed = [
        (&topics.customer_change, "customer-change-event.json"),
        (&topics.order_fulfill, "fulfillment-request-event.json"),
        (
            &topics.order_status_change,
            "order-status-change-event.json",
        ),
    ];
    let mut poisoned = 0;
    for (topic, fixture) in consumed {
        for (kind, payload) in poison(&system_tests::faults::fixture_text(fixture)) {
            test_support::publish_raw(
                &rig.store.kafka,
                topic,
                Some("poison"),
                Some(&payload),
                &[("eventType", kind)],
            )
            .await;
            poisoned += 1;
        }
    }
    // Good events after the poison, one per consumer: each applied once.
    let customer = system_tests::faults::fixture_text("customer-change-event.json");
    let request = system_tests::faults::fixture_text("fulfillment-request-event.json");
    let mut acknowledged = 0;
    for (topic, payload) in [
        (&topics.customer_change, &customer),
        (&topics.order_fulfill, &request),
    ] {
        // Returns once the broker acknowledged the record (it panics otherwise).
        test_support::publish_raw(
            &rig.store.kafka,
            topic,
            Some("good"),
            Some(payload.as_bytes()),
            &[],
        )
        .await;
        acknowledged += 1;
    }
    let good = GoodEvents::new(&customer, &request);
    let started = Instant::now();
    let mut effects = good.effects(&rig).await;
    while effects.applied < acknowledged && started.elapsed() < test_support::EVENT_DEADLINE {
        tokio::time::sleep(Duration::from_millis(100)).await;
        effects = good.effects(&rig).await;
    }
    let recovered = started.elapsed();
    // Repeats are judged once the groups have read their topics to the end.
    test_support::eventually(
        "the consumer groups to commit to their topics' end",
        test_support::EVENT_DEADLINE,
        || async { rig.settled().await.then_some(()) },
    )
    .await;
    let effects = good.effects(&rig).await;

    let mut reasons = Vec::new();
    for (topic, _) in consumed {
        let dead = rig
            .read_topic(&shared_events::topics::dead_letter(topic), 4)
            .await;
        assert_eq!(dead.len(), 4, "{topic}: every poison once, nothing else");
        for record in &dead {
            let reason = &record.headers[platform::consumer::dead_letter_headers::REASON];
            assert!(!reason.is_empty());
            assert_eq!(
                record.headers[platform::consumer::dead_letter_headers::ORIGINAL_TOPIC],
                *topic
            );
            reasons.push(format!(
                "{}: {}",
                record.headers["eventType"],
                truncate(reason)
            ));
        }
    }
    let dead_lettered = rig.dead_lettered().await;
    let row = Row {
        scenario: "poison on every consumed topic".into(),
        acknowledged,
        applied: effects.applied,
        duplicated: effects.duplicated,
        dead_lettered,
        lost: acknowledged - effects.applied,
        records_per_event: None,
        recovery_seconds: recovered.as_secs_f64(),
        notes: format!(
            "{poisoned} poison records (not JSON, wrong shape, unknown enum, 200 KB value) on 3 topics, each dead-lettered with its reason; the good events behind them applied"
        ),
    };
    row.report();
    for reason in reasons {
        println!("{reason}");
    }
    assert_eq!(dead_lettered, poisoned);
    assert_eq!(row.lost, 0, "the good events behind the poison are applied");
    assert_eq!(row.duplicated, 0, "the good events are applied once");
    assert_eq!(
        effects.unexpected, 0,
        "fulfillments other than the good request's"
    );
}

/// The good events published behind the poison, and what their effects look like.
struct GoodEvents {
    customer_id: String,
    email: String,
    order_guid: String,
}

/// The good events' effects downstream, read through the services' APIs.
struct Effects {
    /// The customer's copy in orders, and the request's fulfillment, each counted once.
    applied: usize,
    /// Fulfillments of the request's order beyond the first.
    duplicated: usize,
    /// Fulfillments of any other order (a poison record must make none).
    unexpected: usize,
}

impl GoodEvents {
    fn new(customer: &str, request: &str) -> Self {
        let customer: serde_json::Value = serde_json::from_str(customer).expect("an event");
        let request: serde_json::Value = serde_json::from_str(request).expect("an event");
        let text = |value: &serde_json::Value| value.as_str().expect("a string").to_owned();
        GoodEvents {
            customer_id: text(&customer["id"]),
            email: text(&customer["contact"]["email"]),
            order_guid: text(&request["order"]["guid"]),
        }
    }

    async fn effects(&self, rig: &Rig) -> Effects {
        let read = |url: String| async move {
            let response = rig.client.get(url).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.json::<serde_json::Value>().await.ok()
        };
        let copy = read(format!(
            "{}/customers/{}",
            rig.store.orders.url, self.customer_id
        ))
        .await;
        let copied = copy.is_some_and(|copy| copy["contact"]["email"] == self.email.as_str());
        let summary = read(format!(
            "{}/fulfillments/summary",
            rig.store.fulfillment.url
        ))
        .await;
        let guids: Vec<String> = summary
            .as_ref()
            .and_then(|summary| summary["fulfillments"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|fulfillment| fulfillment["order"]["guid"].as_str().map(str::to_owned))
            .collect();
        let fulfilled = guids
            .iter()
            .filter(|guid| **guid == self.order_guid)
            .count();
        Effects {
            applied: usize::from(copied) + usize::from(fulfilled > 0),
            duplicated: fulfilled.saturating_sub(1),
            unexpected: guids.len() - fulfilled,
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

/// The four kinds of poison, made from a valid event.
fn poison(valid: &str) -> Vec<(&'static str, Vec<u8>)> {
    let unknown_enum = ["SHIPPING", "PROCESSING", "CREATED"]
        .into_iter()
        .find(|known| valid.contains(&format!("\"{known}\"")))
        .map(|known| valid.replacen(&format!("\"{known}\""), "\"TELEPORTED\"", 1))
        .expect("the event has an enum value");
    let mut oversized: serde_json::Value = serde_json::from_str(valid).expect("a valid event");
    oversized["padding"] = serde_json::Value::String("x".repeat(200 * 1024));
    vec![
        ("not-json", b"{not json".to_vec()),
        ("wrong-shape", br#"{"guid": 42, "name": []}"#.to_vec()),
        ("unknown-enum", unknown_enum.into_bytes()),
        ("oversized", oversized.to_string().into_bytes()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_finishes_requests_exits_in_time_commits_offsets_and_flushes_the_outbox()
{
    let mut rig = Rig::start(&[]).await;
    let size = stream_size();
    let stream = Stream::start(&rig, WORKERS, size);
    let mut stops = Vec::new();
    for (turn, name) in ["accounts", "orders", "fulfillment"]
        .into_iter()
        .enumerate()
    {
        stream.wait_for(size * (turn + 1) / 4).await;
        let kafka = rig.store.kafka.clone();
        let mongo = rig.mongo.clone();
        let consumes: Vec<String> = rig
            .consumed()
            .into_iter()
            .filter(|(group, _)| *group == name)
            .map(|(_, topic)| topic.to_owned())
            .collect();
        let service = match name {
            "accounts" => &mut rig.store.accounts,
            "orders" => &mut rig.store.orders,
            _ => &mut rig.store.fulfillment,
        };
        let pid = service.pid().expect("running");
        // A request of its own that the server is handling when SIGTERM comes: answered.
        let in_flight = if name == "accounts" {
            let body = customer("in-flight@example.com");
            Some(InFlight::start(service.port, "/accounts/customers", &body).await)
        } else {
            None
        };
        let port = service.port;
        let started = Instant::now();
        let (status, answered) = tokio::join!(service.terminate(), async {
            let in_flight = in_flight?;
            // Refused connections: the server is stopping, its listener closed.
            test_support::eventually("the service to stop listening", STOP_BOUND, || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err()
                    .then_some(())
            })
            .await;
            Some(in_flight.finish().await)
        });
        let took = started.elapsed();
        if let Some(answered) = answered {
            assert_eq!(answered, 201, "{name}: the request in flight at SIGTERM");
        }
        let status = status.expect("stopping the service");
        assert!(status.success(), "{name} exited with {status}");
        assert!(!running(pid));
        assert!(took < STOP_BOUND, "{name} took {took:?} to stop");
        let pending = pending_outbox_events(&mongo, service).await;
        assert_eq!(
            pending, 0,
            "{name}: the relay publishes what was written before it stopped"
        );
        // Records handled per topic, from the service's log: a log that cannot be read or parsed
        // shows none, and fails the first assertion rather than skipping the second.
        let handled = count_log_lines(&service.log, "event handled", "topic");
        assert_eq!(
            handled.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            consumes.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            "{name}: its log shows records handled from every topic it consumes, and no other"
        );
        for (topic, count) in &handled {
            let group = service
                .setting("APP_CONSUMER__GROUP_ID")
                .expect("a consumer group");
            let committed = test_support::committed_count(&kafka, group, topic);
            assert_eq!(
                committed,
                i64::try_from(*count).expect("a count"),
                "{name}: every handled {topic} record committed"
            );
        }
        let committed = match handled.len() {
            0 => "consumes no topic".to_owned(),
            1 => "1 topic committed".to_owned(),
            topics => format!("{topics} topics committed"),
        };
        stops.push(format!("{name} {:.1} s ({committed})", took.as_secs_f64()));
        service.restart().await.expect("restarting the service");
    }
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let row = check.row(
        "SIGTERM each service under load",
        rig.dead_lettered().await,
        format!(
            "exit 0 in {}; a request in flight at SIGTERM answered 201; outboxes empty at exit; {} stream requests reset before an answer (connections the closing listener had not accepted)",
            stops.join(", "),
            sent.aborted
        ),
    );
    assert_nothing_lost_or_doubled(&row, &check);
}

/// The shortest stream of the revocation scenario.
const MIN_REVOKED_STREAM: usize = 2500;

#[tokio::test(flavor = "multi_thread")]
async fn write_grants_revoked_and_restored_under_load_lose_and_double_nothing() {
    let rig = Rig::start_secured(&[]).await;
    // The revocation is the point here: a quarter of the stream is enough, but no less than
    // what outlasts the Admin client that removes the grants (a JVM, which takes up to 20 s to
    // start beside the stream on 2 cores): a shorter stream ends before they are gone.
    let size = (stream_size() / 4).max(MIN_REVOKED_STREAM);
    let stream = Stream::start(&rig, WORKERS, size);
    stream.wait_for(size / 10).await;
    let topics = &rig.store.topics;
    let grants = vec![
        format!("accounts,Topic,{},Write", topics.customer_change),
        format!("orders,Topic,{},Write", topics.order_fulfill),
    ];
    rig.broker.revoke(&grants);
    let readiness = format!("{}/actuator/health/readiness", rig.store.accounts.url);
    let refused = format!("not authorized to write {}", topics.customer_change);
    eventually("accounts refused its writes", EVENT_DEADLINE, || async {
        let response = rig.client.get(&readiness).send().await.ok()?;
        let health: serde_json::Value = response.json().await.ok()?;
        let reason = health["components"]["kafka"]["details"]["reason"].as_str()?;
        reason.contains(&refused).then_some(())
    })
    .await;
    let during = stream.acknowledged();
    // The fault itself: the grants stay away while the stream goes on, to half its length.
    stream.wait_for(size / 2).await;
    let acknowledged_while_revoked = stream.acknowledged() - during;
    let mut waiting = 0;
    for service in rig.store.services() {
        waiting += pending_outbox_events(&rig.mongo, service).await;
    }
    rig.broker.allow(&grants);
    let sent = stream.finish().await;
    let check = converge(&rig, &sent).await;
    let refusals: Vec<String> = [&rig.store.accounts, &rig.store.orders]
        .into_iter()
        .map(|service| {
            let logged = count_log_lines(
                &service.log,
                "Kafka refuses the writes; the events wait in the outbox",
                "reason",
            );
            format!("{} {}", service.name, logged.values().sum::<usize>())
        })
        .collect();
    let row = check.row(
        "write grants of accounts and orders revoked and restored under load",
        rig.dead_lettered().await,
        format!(
            "secured broker (SCRAM-SHA-512 over TLS, an ACL set per service); {acknowledged_while_revoked} writes acknowledged while the grants were revoked, {waiting} documents with events waiting in the outboxes at the restore; refusals logged: {}",
            refusals.join(", ")
        ),
    );
    assert!(
        acknowledged_while_revoked > 0,
        "writes go on without the grants"
    );
    assert!(waiting > 0, "the refused events waited in the outboxes");
    assert_nothing_lost_or_doubled(&row, &check);
}
