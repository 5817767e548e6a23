//! Load over HTTP: the realistic flow and the read and change phases. Every call is timed per
//! endpoint; every effect across the broker from the acknowledgement until the other API shows it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use reqwest::{RequestBuilder, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use test_support::{summed, within};

use crate::latency::{Outcome, Phase, Recorders, closed_loop, nth, rate};
use crate::stack::{SERVICES, Service};

/// How long an effect may take to show up across the broker before the flow counts as failed.
const VISIBLE_DEADLINE: Duration = Duration::from_secs(60);
const DRAIN_DEADLINE: Duration = Duration::from_secs(180);
const WHOLE_FLOW: &str = "whole flow: customer created -> RECEIVED in orders";
pub(crate) const PRODUCED: &str = "kafka_records_produced_total";
const CONSUMED: &str = "kafka_records_consumed_total";

/// The catalog's product guids (the contract's sample products).
const PRODUCTS: [&str; 8] = [
    "b5efd4a0-4eb9-4ad0-bc9e-2f5542cbe897",
    "d01fde07-7c24-49c5-a5f1-bc2ce1f14c48",
    "a9d5a5c7-4245-4b4e-b1c3-1d3968f36b2d",
    "4efe33a1-722d-48c8-af8e-7879edcad2fa",
    "f3b9bdce-10d8-4c22-9861-27149879b3c1",
    "7f3c9c22-3c0a-47a5-9a92-2bd2e23f6e37",
    "b506b962-fcfa-4ad6-a955-8859797edf16",
    "c8810c1d-b0ea-486b-acfa-7724bb70f5e6",
];

/// The statuses an approved order moves through, with the shipping method sent.
const JOURNEY: [(&str, Option<&str>); 4] = [
    ("PROCESSING", None),
    ("SHIPPED", Some("UPS")),
    ("IN_TRANSIT", None),
    ("RECEIVED", None),
];

fn name(n: u64, first_name: &str) -> Value {
    json!({ "title": "Ms.", "firstName": first_name, "lastName": format!("Bench{n}") })
}

/// A customer as clients create one: two addresses and a card, like the sample customers.
pub(crate) fn customer(n: u64) -> Value {
    let address = |kind: &str, description: &str| {
        json!({
            "type": kind, "description": description, "address1": format!("{n} Oak Street"),
            "city": "Sunrise", "state": "CA", "postalCode": "12345-6789"
        })
    };
    json!({
        "name": name(n, "Benchmark"),
        "contact": {
            "primaryPhone": "555-666-7777", "secondaryPhone": "555-444-9898",
            "email": format!("bench{n}@example.com")
        },
        "addresses": [address("BILLING", "My cc billing address"), address("SHIPPING", "My home address")],
        "creditCards": [{
            "type": "PRIMARY", "description": "VISA", "number": "1234-6789-0000-0000",
            "expiration": "6/30", "nameOnCard": "Bench Customer"
        }]
    })
}

/// Customer `n` as accounts publishes it: with an id, without the cards.
pub(crate) fn customer_event(n: u64, id: &str) -> Value {
    let mut event = customer(n);
    if let Some(event) = event.as_object_mut() {
        event.remove("creditCards");
        event.insert("id".to_owned(), id.into());
    }
    event
}

/// One read whose body is drained and whose status must be a success.
pub(crate) async fn read(request: RequestBuilder, what: &str) -> anyhow::Result<()> {
    let response = request.send().await?;
    let status = response.status();
    response.bytes().await?;
    anyhow::ensure!(status.is_success(), "{what}: {status}");
    Ok(())
}

/// The change phase's rates, over the time from its start.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ChangeRates {
    pub(crate) acknowledged_per_second: f64,
    /// Changes accounts' outbox relay had published, until the last was published.
    pub(crate) published_per_second: f64,
    /// Changes orders had handled, until the last was handled.
    pub(crate) applied_per_second: f64,
}

/// The base URLs of every instance, which requests go round by the operation's number.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    pub(crate) accounts: Vec<String>,
    pub(crate) orders: Vec<String>,
    pub(crate) fulfillment: Vec<String>,
}

impl Urls {
    pub(crate) fn of(services: &[Service]) -> Self {
        let urls = |name| {
            services
                .iter()
                .filter(move |s| s.name == name)
                .map(|s| s.url.clone())
        };
        let [accounts, orders, fulfillment] = SERVICES.map(|name| urls(name).collect());
        Urls {
            accounts,
            orders,
            fulfillment,
        }
    }
}

type Label<'a> = (&'a str, &'a str);

/// What an answer showed, and when it arrived.
type Answer<T> = anyhow::Result<(T, Instant)>;

/// Drives the services. Clones share the client, the histograms and the counters.
#[derive(Clone)]
pub(crate) struct Load {
    client: reqwest::Client,
    pub(crate) urls: Arc<Urls>,
    pub(crate) http: Arc<Recorders>,
    pub(crate) end_to_end: Arc<Recorders>,
    poll: Duration,
    /// Customer events accounts acknowledged (creates and changes): what orders must handle.
    customer_events: Arc<AtomicU64>,
    /// Distinct numbers for customers and names across phases.
    next: Arc<AtomicU64>,
}

impl Load {
    pub(crate) fn new(client: reqwest::Client, urls: Urls, poll: Duration) -> Self {
        Load {
            client,
            urls: Arc::new(urls),
            http: Arc::default(),
            end_to_end: Arc::default(),
            poll,
            customer_events: Arc::default(),
            next: Arc::default(),
        }
    }

    /// The same services and counters, with empty histograms.
    pub(crate) fn measuring_afresh(&self) -> Self {
        Load {
            http: Arc::default(),
            end_to_end: Arc::default(),
            ..self.clone()
        }
    }

    /// One call, timed under `endpoint` when it answers with a success (or, if `polling`, a
    /// 404: not there yet); returns the status, the body and when it arrived.
    async fn exchange(
        &self,
        endpoint: &'static str,
        request: RequestBuilder,
        polling: bool,
    ) -> anyhow::Result<(StatusCode, Value, Instant)> {
        let began = Instant::now();
        let answered = async {
            let response = request.send().await?;
            Ok::<_, anyhow::Error>((response.status(), response.bytes().await?))
        }
        .await;
        let arrived = Instant::now();
        match answered {
            Ok((status, body)) if status.is_success() || (polling && status == 404) => {
                self.http.record(endpoint, arrived - began);
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                Ok((status, body, arrived))
            }
            answered => {
                self.http.fail(endpoint);
                let (status, body) = answered?;
                anyhow::bail!("{endpoint}: {status} {}", String::from_utf8_lossy(&body))
            }
        }
    }

    async fn call(&self, endpoint: &'static str, request: RequestBuilder) -> Answer<Value> {
        let (_, body, arrived) = self.exchange(endpoint, request, false).await?;
        Ok((body, arrived))
    }

    /// Reads `url` every poll interval until it answers 200 with a body in which `shows` finds
    /// what it looks for; returns that and when the answer arrived.
    async fn visible<T>(
        &self,
        endpoint: &'static str,
        url: &str,
        shows: impl Fn(&Value) -> Option<T>,
    ) -> Answer<T> {
        let what = format!("{url} to show the change");
        within(&what, VISIBLE_DEADLINE, self.poll, || async {
            let answer = self.exchange(endpoint, self.client.get(url), true).await;
            Ok(answer.ok().and_then(|(status, body, arrived)| {
                let shown = status.is_success().then(|| shows(&body)).flatten();
                shown.map(|shown| (shown, arrived))
            }))
        })
        .await
    }

    async fn create_customer(&self, n: u64) -> Answer<String> {
        let url = format!("{}/customers", nth(&self.urls.accounts, n));
        let request = self.client.post(url).json(&customer(n));
        let (body, created) = self.call("POST accounts customers", request).await?;
        self.customer_events.fetch_add(1, Ordering::Relaxed);
        let id = body["id"]
            .as_str()
            .with_context(|| format!("no id in {body}"))?;
        Ok((id.to_owned(), created))
    }

    async fn change_customer(&self, id: &str, n: u64) -> anyhow::Result<Instant> {
        let url = format!("{}/customers/{id}", nth(&self.urls.accounts, n));
        let body = json!({ "name": name(n, &format!("Changed{n}")) });
        let request = self.client.patch(url).json(&body);
        let (_, changed) = self.call("PATCH accounts customers/{id}", request).await?;
        self.customer_events.fetch_add(1, Ordering::Relaxed);
        Ok(changed)
    }

    pub(crate) async fn seed_customers(
        &self,
        count: usize,
        concurrency: usize,
    ) -> anyhow::Result<Vec<String>> {
        futures_util::stream::iter(0..count)
            .map(|_| async {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                self.create_customer(n).await.map(|(id, _)| id)
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Creates one customer and waits until orders shows it: its consumer has joined and
    /// caught up. Returns the customer's id.
    pub(crate) async fn await_orders(&self) -> anyhow::Result<String> {
        let id = self.seed_customers(1, 1).await?.remove(0);
        let url = format!("{}/customers/{id}", nth(&self.urls.orders, 0));
        self.visible("GET orders customers/{id}", &url, |_| Some(()))
            .await?;
        Ok(id)
    }

    pub(crate) async fn read_customers(&self, ids: Arc<Vec<String>>, phase: Phase) -> Outcome {
        let state = (self.client.clone(), Arc::clone(&self.urls), ids);
        closed_loop(phase, state, |(client, urls, ids), n| {
            let url = format!("{}/customers/{}", nth(&urls.accounts, n), nth(&ids, n));
            read(client.get(url), "GET customers/{id}")
        })
        .await
    }

    /// Customer changes over `phase`, then the time until every one was published and handled.
    pub(crate) async fn change_customers(
        &self,
        ids: Arc<Vec<String>>,
        phase: Phase,
        topic: &str,
    ) -> anyhow::Result<(Outcome, ChangeRates)> {
        let before = self.drained(topic).await?;
        let started = Instant::now();
        let state = (self.clone(), ids);
        let outcome = closed_loop(phase, state, |(load, ids), n| async move {
            load.change_customer(nth::<String>(&ids, n), n)
                .await
                .map(drop)
        })
        .await;
        let after = self.drained(topic).await?;
        let since_start = |(after, at): (u64, Instant), (before, _): (u64, Instant)| {
            rate(after - before, at - started)
        };
        let rates = ChangeRates {
            acknowledged_per_second: outcome.summary.per_second,
            published_per_second: since_start(after[0], before[0]),
            applied_per_second: since_start(after[1], before[1]),
        };
        Ok((outcome, rates))
    }

    /// Waits until accounts has published, and orders has handled, every customer event that
    /// accounts acknowledged so far: each count with the moment it was first seen complete.
    async fn drained(&self, topic: &str) -> anyhow::Result<[(u64, Instant); 2]> {
        let (label, deadline) = (("topic", topic), Instant::now() + DRAIN_DEADLINE);
        let mut published = None;
        loop {
            let expected = self.customer_events.load(Ordering::Relaxed);
            if published.is_none() {
                let count = self.metric(&self.urls.accounts, PRODUCED, label).await? as u64;
                published = (count >= expected).then(|| (count, Instant::now()));
            }
            let handled = self.metric(&self.urls.orders, CONSUMED, label).await? as u64;
            if let Some(published) = published
                && handled >= expected
            {
                return Ok([published, (handled, Instant::now())]);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "orders handled {handled} of {expected} customer events within {DRAIN_DEADLINE:?}"
            );
            tokio::time::sleep(self.poll).await;
        }
    }

    /// `metric` with `label`, summed over `instances`.
    pub(crate) async fn metric(
        &self,
        instances: &[String],
        metric: &str,
        label: Label<'_>,
    ) -> anyhow::Result<f64> {
        let mut sum = 0.0;
        for instance in instances {
            let url = format!("{instance}/actuator/prometheus");
            let exposition = self.client.get(url).send().await?.text().await?;
            sum += summed(&exposition, metric, label);
        }
        Ok(sum)
    }

    /// The realistic flow over `phase`, paced to `rate` flows per second in all if given.
    pub(crate) async fn flows(&self, phase: Phase, rate: Option<f64>) -> Outcome {
        let pacer = rate.map(|rate| {
            let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Arc::new(tokio::sync::Mutex::new(interval))
        });
        let state = (self.clone(), pacer);
        closed_loop(phase, state, |(load, pacer), _| async move {
            if let Some(pacer) = pacer {
                pacer.lock().await.tick().await;
            }
            let began = Instant::now();
            let flow = load.flow().await;
            match &flow {
                Ok(()) => load.end_to_end.record(WHOLE_FLOW, began.elapsed()),
                Err(_) => load.end_to_end.fail(WHOLE_FLOW),
            }
            flow
        })
        .await
    }

    async fn flow(&self) -> anyhow::Result<()> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let urls = &self.urls;
        let (accounts, orders) = (nth(&urls.accounts, n), nth(&urls.orders, n));
        let fulfillment = nth(&urls.fulfillment, n);
        let hop = |name: &'static str, from: Instant, to: Instant| {
            self.end_to_end.record(name, to - from);
        };
        let (id, created) = self.create_customer(n).await?;
        let copy = format!("{orders}/customers/{id}");
        let ((), seen) = self
            .visible("GET orders customers/{id}", &copy, |_| Some(()))
            .await?;
        hop("customer created -> in orders", created, seen);

        let read = self.client.get(format!("{accounts}/customers/{id}"));
        self.call("GET accounts customers/{id}", read).await?;
        let changed = self.change_customer(&id, n).await?;
        let ((), seen) = self
            .visible("GET orders customers/{id}", &copy, |copy| {
                (copy["name"]["firstName"] == format!("Changed{n}")).then_some(())
            })
            .await?;
        hop("customer changed -> in orders", changed, seen);

        let items = json!({ "orderItems": [
            { "product": { "guid": nth(&PRODUCTS, n) }, "quantity": 1 + n % 3 }
        ] });
        let place = self.client.post(format!("{orders}/customers/{id}/orders"));
        let (order, _) = self
            .call("POST orders customers/{id}/orders", place.json(&items))
            .await?;
        let guid = order["guid"]
            .as_str()
            .with_context(|| format!("no guid in {order}"))?;
        let approve = self.client.post(format!("{orders}/orders/{guid}/approve"));
        let (_, approved) = self
            .call("POST orders orders/{guid}/approve", approve)
            .await?;
        let (fulfillment_id, seen) = self
            .visible(
                "GET fulfillment fulfillments/search/findByOrderGuid",
                &format!("{fulfillment}/fulfillments/search/findByOrderGuid?guid={guid}"),
                |found| found["id"].as_str().map(str::to_owned),
            )
            .await?;
        hop("order approved -> fulfillment created", approved, seen);

        let order_url = format!("{orders}/orders/{guid}");
        let status_url = format!("{fulfillment}/fulfillments/{fulfillment_id}/status");
        let mut received = approved;
        for (status, shipping_method) in JOURNEY {
            let change = json!({ "orderStatusType": status, "shippingMethod": shipping_method });
            let request = self.client.post(&status_url).json(&change);
            let (_, changed) = self
                .call("POST fulfillment fulfillments/{id}/status", request)
                .await?;
            let shown = |order: &Value| {
                let events = order["orderStatusEvents"].as_array();
                let mut events = events.into_iter().flatten();
                events
                    .any(|event| event["orderStatusType"] == status)
                    .then_some(())
            };
            ((), received) = self
                .visible("GET orders orders/{guid}", &order_url, shown)
                .await?;
            hop("status changed -> in orders", changed, received);
        }
        hop("order approved -> RECEIVED in orders", approved, received);
        Ok(())
    }
}
