use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use platform::consumer::{
    Consumer, Handler, HandlerError, Heartbeat, InboundMessage, Outcome, Pulse, Subscription,
    dead_letter_headers,
};
use platform::kafka::Record;
use platform::settings::KafkaSettings;
use test_support::{
    EVENT_DEADLINE, TopicReader, committed_count, create_topics_with_dead_letters, eventually,
    publish_raw, shared_kafka, unique_name,
};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Records what it handled; rejects `poison`, fails `flaky` the first time, and fails `held`
/// while `holding` is set.
#[derive(Clone, Default)]
struct Recorder {
    handled: Arc<Mutex<Vec<String>>>,
    flaky_failures: Arc<AtomicUsize>,
    holding: Arc<AtomicBool>,
    held_failures: Arc<AtomicUsize>,
}

impl Handler for Recorder {
    async fn handle(&self, message: &InboundMessage) -> Result<Outcome, HandlerError> {
        let text =
            String::from_utf8_lossy(message.payload.as_deref().unwrap_or_default()).into_owned();
        if text == "poison" {
            return Err(HandlerError::Rejected("poison is not an event".into()));
        }
        if text == "flaky" && self.flaky_failures.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(HandlerError::Failed(anyhow::anyhow!("database away")));
        }
        if text == "held" && self.holding.load(Ordering::SeqCst) {
            self.held_failures.fetch_add(1, Ordering::SeqCst);
            return Err(HandlerError::Failed(anyhow::anyhow!("held back")));
        }
        self.handled.lock().await.push(text);
        Ok(Outcome::Applied)
    }
}

fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.DLT")
}

fn subscription(group: &str, topic: &str) -> Subscription {
    Subscription {
        group_id: group.to_owned(),
        instance_id: None,
        topics: vec![topic.to_owned()],
        dead_letter_topic,
        handler_timeout: Duration::from_secs(5),
        max_poll_interval: None,
        prefetch_kbytes: 4096,
    }
}

/// A consumer loop running in the background until stopped.
struct Running {
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    heartbeat: Heartbeat,
}

impl Running {
    fn start(kafka: &KafkaSettings, group: &str, topic: &str, recorder: &Recorder) -> Self {
        Self::start_as(kafka, subscription(group, topic), recorder)
    }

    fn start_as(kafka: &KafkaSettings, subscription: Subscription, recorder: &Recorder) -> Self {
        let consumer = Consumer::new(
            kafka,
            subscription,
            platform::kafka::producer(kafka).unwrap(),
            recorder.clone(),
        )
        .unwrap();
        let (stop, heartbeat) = (consumer.stop_token(), consumer.heartbeat());
        assert_eq!(
            heartbeat.pulse(),
            Pulse::NotStarted,
            "no beat before the loop runs"
        );
        let task = tokio::spawn(consumer.run());
        Running {
            stop,
            task,
            heartbeat,
        }
    }

    /// Stops the loop and waits until it committed and returned.
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn poison_is_dead_lettered_failures_are_retried_and_offsets_committed_at_shutdown() {
    let kafka = shared_kafka();
    let topic = unique_name("consumed");
    let group = unique_name("group");
    create_topics_with_dead_letters(&kafka, &[&topic]).await;
    for payload in ["one", "poison", "flaky", "two"] {
        publish_raw(
            &kafka,
            &topic,
            Some("same-key"),
            Some(payload.as_bytes()),
            &[("h", "v")],
        )
        .await;
    }

    let recorder = Recorder::default();
    let running = Running::start(&kafka, &group, &topic, &recorder);
    let handled = recorder.handled.clone();
    eventually("every good message handled", EVENT_DEADLINE, || async {
        (handled.lock().await.len() == 3).then_some(())
    })
    .await;
    assert!(
        matches!(running.heartbeat.pulse(), Pulse::Beating(_)),
        "the loop beats while it runs"
    );
    assert_eq!(
        *handled.lock().await,
        ["one", "flaky", "two"],
        "per-key order kept"
    );
    assert_eq!(
        recorder.flaky_failures.load(Ordering::SeqCst),
        2,
        "failed once, then retried"
    );

    let mut dead_letters = TopicReader::new(&kafka, &dead_letter_topic(&topic));
    let record = dead_letters.read_at_least(1, EVENT_DEADLINE).await[0].clone();
    assert_eq!(record.payload.as_deref(), Some(&b"poison"[..]));
    assert_eq!(record.key.as_deref(), Some("same-key"));
    assert_eq!(record.headers["h"], "v");
    assert_eq!(record.headers[dead_letter_headers::ORIGINAL_TOPIC], topic);
    assert_eq!(
        record.header_bytes[dead_letter_headers::ORIGINAL_OFFSET],
        1_i64.to_be_bytes(),
        "the poison's offset, as Spring encodes it: second on its partition"
    );
    assert_eq!(
        record.headers[dead_letter_headers::ORIGINAL_CONSUMER_GROUP],
        group
    );
    assert_eq!(
        record.headers[dead_letter_headers::REASON],
        "poison is not an event"
    );

    running.stop().await;
    assert_eq!(committed_count(&kafka, &group, &topic), 4);

    // The group resumes after what it committed: only the new message arrives.
    publish_raw(&kafka, &topic, Some("same-key"), Some(b"three"), &[]).await;
    let resumed = Recorder::default();
    let running = Running::start(&kafka, &group, &topic, &resumed);
    let handled = resumed.handled.clone();
    eventually("the new message handled", EVENT_DEADLINE, || async {
        (!handled.lock().await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(*handled.lock().await, ["three"]);
    running.stop().await;
    assert_eq!(
        dead_letters
            .read_for(Duration::from_millis(300))
            .await
            .len(),
        1
    );
}

/// Stopped in the middle of a producer's batch, the group resumes with the rest of that batch,
/// each record handled once: Kafka answers a fetch from inside a batch with the whole batch, and
/// the client skips what the group already committed.
#[tokio::test]
async fn a_group_stopped_inside_a_batch_resumes_with_the_rest_of_it() {
    let kafka = shared_kafka();
    let topic = unique_name("batched");
    let group = unique_name("group");
    create_topics_with_dead_letters(&kafka, &[&topic]).await;
    let producer = platform::kafka::producer(&kafka).unwrap();
    let payloads = ["one", "two", "three", "held", "five", "six"];
    // Sent at once, they leave the producer together, as one batch (it lingers 5 ms).
    let records: Vec<Record<'_>> = payloads
        .iter()
        .map(|payload| Record {
            topic: &topic,
            key: Some(b"same-key"),
            payload: Some(payload.as_bytes()),
            headers: &[],
        })
        .collect();
    let sent = join_all(
        records
            .iter()
            .map(|record| platform::kafka::publish(&producer, record)),
    )
    .await;
    assert!(sent.iter().all(Result::is_ok), "{sent:?}");

    let first = Recorder::default();
    first.holding.store(true, Ordering::SeqCst);
    let running = Running::start(&kafka, &group, &topic, &first);
    let held = first.held_failures.clone();
    eventually("the fourth record held back", EVENT_DEADLINE, || async {
        (held.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(*first.handled.lock().await, ["one", "two", "three"]);
    assert_eq!(committed_count(&kafka, &group, &topic), 3);

    let resumed = Recorder::default();
    let running = Running::start(&kafka, &group, &topic, &resumed);
    let handled = resumed.handled.clone();
    eventually("the rest of the batch handled", EVENT_DEADLINE, || async {
        (handled.lock().await.len() >= 3).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(*resumed.handled.lock().await, ["held", "five", "six"]);
    assert_eq!(committed_count(&kafka, &group, &topic), 6);
}

/// Two members of one group with one `group.instance.id` (two pods with one name, or
/// `docker compose --scale` with a fixed instance id): the broker fences the older one. Its loop
/// ends with an error and its heartbeat says it failed, so liveness goes DOWN and the service
/// exits for a restart, instead of idling with a dead client; the newer member consumes what
/// follows, and every record is handled.
#[tokio::test]
async fn a_member_fenced_by_another_with_its_instance_id_fails_and_the_other_goes_on() {
    let kafka = shared_kafka();
    let topic = unique_name("fenced");
    let group = unique_name("group");
    create_topics_with_dead_letters(&kafka, &[&topic]).await;
    let static_member = || Subscription {
        instance_id: Some("storefront-0".to_owned()),
        ..subscription(&group, &topic)
    };
    publish_raw(&kafka, &topic, Some("k"), Some(b"before"), &[]).await;
    let older = Recorder::default();
    let first = Running::start_as(&kafka, static_member(), &older);
    let handled = older.handled.clone();
    eventually(
        "the first member handles a record",
        EVENT_DEADLINE,
        || async { (!handled.lock().await.is_empty()).then_some(()) },
    )
    .await;

    let newer = Recorder::default();
    let second = Running::start_as(&kafka, static_member(), &newer);
    let mut task = first.task;
    let ended = tokio::time::timeout(EVENT_DEADLINE, &mut task)
        .await
        .expect("the fenced member stops within the deadline")
        .unwrap();
    let error = format!(
        "{:#}",
        ended.expect_err("a fenced member ends with an error")
    );
    assert!(error.to_lowercase().contains("fenced"), "{error}");
    assert_eq!(first.heartbeat.pulse(), Pulse::Failed);

    publish_raw(&kafka, &topic, Some("k"), Some(b"after"), &[]).await;
    let handled = newer.handled.clone();
    eventually(
        "the newer member handles what follows",
        EVENT_DEADLINE,
        || async {
            handled
                .lock()
                .await
                .iter()
                .any(|text| text == "after")
                .then_some(())
        },
    )
    .await;
    second.stop().await;
}

/// A record held back longer than `max.poll.interval.ms` (the database away for a while): the
/// loop pauses its partitions and keeps polling, so the member stays in its group. Without that
/// it would leave the group, lose its partitions and handle the held record a second time after
/// rejoining. Here each record is handled exactly once and every offset is committed.
#[tokio::test]
async fn a_record_held_back_past_the_poll_interval_keeps_the_member_in_its_group() {
    const INTERVAL: Duration = Duration::from_secs(10);
    let kafka = shared_kafka();
    let topic = unique_name("held");
    let group = unique_name("group");
    create_topics_with_dead_letters(&kafka, &[&topic]).await;
    for payload in ["one", "held", "three"] {
        publish_raw(
            &kafka,
            &topic,
            Some("same-key"),
            Some(payload.as_bytes()),
            &[],
        )
        .await;
    }
    let recorder = Recorder::default();
    recorder.holding.store(true, Ordering::SeqCst);
    let short_interval = Subscription {
        max_poll_interval: Some(INTERVAL),
        ..subscription(&group, &topic)
    };
    let running = Running::start_as(&kafka, short_interval, &recorder);
    let held = recorder.held_failures.clone();
    eventually("the record to be held back", EVENT_DEADLINE, || async {
        (held.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    // The fault: the record stays held back for longer than the poll interval.
    tokio::time::sleep(INTERVAL + Duration::from_secs(5)).await;
    recorder.holding.store(false, Ordering::SeqCst);
    publish_raw(&kafka, &topic, Some("same-key"), Some(b"four"), &[]).await;
    let handled = recorder.handled.clone();
    eventually("every record handled", EVENT_DEADLINE, || async {
        (handled.lock().await.len() >= 4).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(
        *recorder.handled.lock().await,
        ["one", "held", "three", "four"],
        "each once, in order"
    );
    assert_eq!(committed_count(&kafka, &group, &topic), 4);
}
