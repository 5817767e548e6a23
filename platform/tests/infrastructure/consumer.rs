use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use platform::consumer::{
    Handler, HandlerError, Heartbeat, InboundMessage, Subscription, dead_letter_headers,
};
use test_support::{
    EVENT_DEADLINE, TopicReader, committed_count, create_topics_with_dead_letters, eventually,
    publish_raw, unique_name,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::kafka_settings;

/// Records what it handled; rejects `poison`, and fails `flaky` the first time.
#[derive(Clone, Default)]
struct Recorder {
    handled: Arc<Mutex<Vec<String>>>,
    flaky_failures: Arc<AtomicUsize>,
}

impl Handler for Recorder {
    async fn handle(&self, message: &InboundMessage) -> Result<&'static str, HandlerError> {
        let text =
            String::from_utf8_lossy(message.payload.as_deref().unwrap_or_default()).into_owned();
        if text == "poison" {
            return Err(HandlerError::Rejected("poison is not an event".into()));
        }
        if text == "flaky" && self.flaky_failures.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(HandlerError::Failed(anyhow::anyhow!("database away")));
        }
        self.handled.lock().await.push(text);
        Ok("applied")
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
    }
}

#[tokio::test]
async fn poison_is_dead_lettered_failures_are_retried_and_offsets_committed_at_shutdown() {
    let kafka = kafka_settings();
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
    let stop = CancellationToken::new();
    let producer = platform::kafka::producer(&kafka).unwrap();
    let heartbeat = Heartbeat::default();
    assert_eq!(heartbeat.age(), None);
    let running = tokio::spawn(platform::consumer::run(
        kafka.clone(),
        subscription(&group, &topic),
        producer.clone(),
        recorder.clone(),
        heartbeat.clone(),
        stop.clone(),
    ));
    let handled = recorder.handled.clone();
    eventually("every good message handled", EVENT_DEADLINE, || async {
        (handled.lock().await.len() == 3).then_some(())
    })
    .await;
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
        record.headers[dead_letter_headers::REASON],
        "poison is not an event"
    );

    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(committed_count(&kafka, &group, &topic), 4);

    // The group resumes after what it committed: only the new message arrives.
    publish_raw(&kafka, &topic, Some("same-key"), Some(b"three"), &[]).await;
    let resumed = Recorder::default();
    let stop = CancellationToken::new();
    let running = tokio::spawn(platform::consumer::run(
        kafka.clone(),
        subscription(&group, &topic),
        producer,
        resumed.clone(),
        Heartbeat::default(),
        stop.clone(),
    ));
    let handled = resumed.handled.clone();
    eventually("the new message handled", EVENT_DEADLINE, || async {
        (!handled.lock().await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(*handled.lock().await, ["three"]);
    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(
        dead_letters
            .read_for(Duration::from_millis(300))
            .await
            .len(),
        1
    );
}
