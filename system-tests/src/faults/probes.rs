//! What a scenario looks at besides the API: outboxes, processes, logs, and a request held
//! in flight.

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::processes::Service;

/// Events in a service's outboxes, not yet published.
pub async fn pending_outbox_events(mongo: &mongodb::Client, service: &Service) -> u64 {
    outbox_collection(mongo, service)
        .count_documents(mongodb::bson::doc! { "outbox.0": { "$exists": true } })
        .await
        .expect("counting pending events")
}

/// Events a service's outbox relay dead-lettered (the producer refused them outright).
pub async fn outbox_dead_letters(mongo: &mongodb::Client, service: &Service) -> u64 {
    platform::outbox::dead_letters(&outbox_collection(mongo, service))
        .count_documents(mongodb::bson::doc! {})
        .await
        .expect("counting outbox dead letters")
}

/// The collection whose documents carry a service's outbox.
fn outbox_collection(
    mongo: &mongodb::Client,
    service: &Service,
) -> mongodb::Collection<mongodb::bson::Document> {
    let collection = match service.name {
        "accounts" => "customer.accounts",
        "orders" => "customer.orders",
        _ => "fulfillment.requests",
    };
    let database = service
        .setting("APP_DATABASE__NAME")
        .expect("a database name");
    mongo.database(database).collection(collection)
}

/// Whether a service process is still running (after SIGTERM it must not be).
pub fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Counts the log lines of a service with this message, per value of `field`.
pub fn count_log_lines(
    log: &std::path::Path,
    message: &str,
    field: &str,
) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let fields = &entry["fields"];
        if fields["message"] == message {
            let key = fields[field].as_str().unwrap_or_default().to_owned();
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// A request the server is handling: its headers are parsed and the handler waits for the body.
/// It asks `Expect: 100-continue`, and the server's `100 Continue` is the proof that the request
/// is in its hands rather than queued. [`InFlight::finish`] sends the body and reads the status.
pub struct InFlight {
    stream: tokio::net::TcpStream,
    body: Vec<u8>,
}

impl InFlight {
    /// Starts a `POST path` with a JSON `body` and returns once the server said to continue.
    pub async fn start(port: u16, path: &str, body: &Value) -> Self {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connecting");
        let body = body.to_string().into_bytes();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("sending");
        let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut answer = vec![0_u8; expected.len()];
        stream
            .read_exact(&mut answer)
            .await
            .expect("reading the interim answer");
        assert_eq!(
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(expected)
        );
        InFlight { stream, body }
    }

    /// Sends the body; the status of the answer.
    pub async fn finish(mut self) -> u16 {
        self.stream.write_all(&self.body).await.expect("sending");
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = self.stream.read(&mut buffer).await.expect("reading");
            assert!(read > 0, "the connection closed without an answer");
            received.extend_from_slice(&buffer[..read]);
        }
        String::from_utf8_lossy(&received[9..12])
            .parse()
            .expect("a status code")
    }
}
