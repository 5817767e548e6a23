//! Load on the running services over HTTP: the realistic flow (create and change a customer,
//! place and approve an order, move its fulfillment to RECEIVED), and two throughput phases
//! (reads by id, customer changes). Every call is timed per endpoint; every effect that crosses
//! the broker is timed from the acknowledgement to the moment the other service's API shows it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use test_support::summed;

use crate::latency::Recorders;
use crate::stack::Service;
use crate::workers::{Outcome, closed_loop, nth};

/// How long an effect may take to show up across the broker before the flow counts as failed.
const VISIBLE_DEADLINE: Duration = Duration::from_secs(60);
/// How long the consumers may take to catch up after the changes phase.
const DRAIN_DEADLINE: Duration = Duration::from_secs(180);

/// The end-to-end row of one whole flow, first call to RECEIVED in orders.
const WHOLE_FLOW: &str = "whole flow: customer created -> RECEIVED in orders";

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

/// The statuses fulfillment moves an approved order through, with what each request sends.
const JOURNEY: [(&str, Option<&str>); 4] = [
    ("PROCESSING", None),
    ("SHIPPED", Some("UPS")),
    ("IN_TRANSIT", None),
    ("RECEIVED", None),
];

/// A name for a customer, distinct per `n`.
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

/// Records accounts' producer had acknowledged by the broker, by topic.
pub(crate) const PRODUCED: &str = "kafka_records_produced_total";
/// Records orders' consumer handled, by topic and outcome.
const CONSUMED: &str = "kafka_records_consumed_total";

/// One read whose body is drained and whose status must be a success.
pub(crate) async fn read(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<()> {
    let response = request.send().await?;
    let status = response.status();
    response.bytes().await?;
    anyhow::ensure!(status.is_success(), "{what}: {status}");
    Ok(())
}

/// Whether an order resource's history holds `status`.
fn has_status(order: &Value, status: &str) -> bool {
    order["orderStatusEvents"].as_array().is_some_and(|events| {
        events
            .iter()
            .any(|event| event["orderStatusType"] == status)
    })
}

fn text<'a>(value: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    value[field]
        .as_str()
        .with_context(|| format!("no `{field}` in {value}"))
}

/// The customer changes phase, as rates over the time from its start.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ChangeRates {
    /// Changes accounts answered, during the phase.
    pub(crate) acknowledged_per_second: f64,
    /// Changes accounts' outbox relay had published, until the last was published.
    pub(crate) published_per_second: f64,
    /// Changes orders had handled, until the last was handled.
    pub(crate) applied_per_second: f64,
}

/// Published and handled counts, each with when it was seen complete.
struct Drained {
    published: u64,
    published_at: Instant,
    handled: u64,
    handled_at: Instant,
}

/// The base URLs of every instance of the three services. Requests go round robin over a
/// service's instances, by the number of the operation; counters add up over all of them.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    pub(crate) accounts: Vec<String>,
    pub(crate) orders: Vec<String>,
    pub(crate) fulfillment: Vec<String>,
}

impl Urls {
    /// The URLs of the running `services`, each service at least once.
    pub(crate) fn of(services: &[Service]) -> anyhow::Result<Self> {
        let urls = |name: &str| {
            let urls: Vec<String> = services
                .iter()
                .filter(|service| service.name == name)
                .map(|service| service.url.clone())
                .collect();
            anyhow::ensure!(!urls.is_empty(), "{name} is not running");
            Ok(urls)
        };
        Ok(Urls {
            accounts: urls("accounts")?,
            orders: urls("orders")?,
            fulfillment: urls("fulfillment")?,
        })
    }
}

/// Drives the services. Clones share the client, the histograms and the counters.
#[derive(Clone)]
pub(crate) struct Load {
    client: reqwest::Client,
    urls: Arc<Urls>,
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

    /// The same services and counters, with empty histograms: one phase's figures.
    pub(crate) fn measuring_afresh(&self) -> Self {
        Load {
            http: Arc::default(),
            end_to_end: Arc::default(),
            ..self.clone()
        }
    }

    /// One call, timed under `endpoint` when it succeeds; returns the body and when it arrived.
    async fn call(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<(Value, Instant)> {
        let began = Instant::now();
        let answered = async {
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            anyhow::ensure!(
                status.is_success(),
                "{endpoint}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            Ok::<_, anyhow::Error>(serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        .await;
        let arrived = Instant::now();
        match answered {
            Ok(body) => {
                self.http.record(endpoint, arrived - began);
                Ok((body, arrived))
            }
            Err(error) => {
                self.http.fail(endpoint);
                Err(error)
            }
        }
    }

    /// Reads `url` every poll interval until it answers 200 with a body in which `shows` finds
    /// what it looks for; returns that and when the answer arrived. A 404 is an answer too: not
    /// there yet.
    async fn visible<T>(
        &self,
        endpoint: &'static str,
        url: &str,
        shows: impl Fn(&Value) -> Option<T>,
    ) -> anyhow::Result<(T, Instant)> {
        let deadline = Instant::now() + VISIBLE_DEADLINE;
        loop {
            let began = Instant::now();
            let response = self.client.get(url).send().await;
            let answer = match response {
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await;
                    body.ok().map(|body| (status, body))
                }
                Err(_) => None,
            };
            let arrived = Instant::now();
            match answer {
                Some((status, body)) if status.is_success() || status == 404 => {
                    self.http.record(endpoint, arrived - began);
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if let Some(shown) = status.is_success().then(|| shows(&body)).flatten() {
                        return Ok((shown, arrived));
                    }
                }
                _ => self.http.fail(endpoint),
            }
            anyhow::ensure!(
                arrived < deadline,
                "{url} did not show the change within {VISIBLE_DEADLINE:?}"
            );
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn create_customer(&self, n: u64) -> anyhow::Result<(String, Instant)> {
        let url = format!("{}/customers", nth(&self.urls.accounts, n));
        let (body, created) = self
            .call(
                "POST accounts customers",
                self.client.post(url).json(&customer(n)),
            )
            .await?;
        self.customer_events.fetch_add(1, Ordering::Relaxed);
        Ok((text(&body, "id")?.to_owned(), created))
    }

    async fn change_customer(&self, id: &str, n: u64, first_name: &str) -> anyhow::Result<Instant> {
        let url = format!("{}/customers/{id}", nth(&self.urls.accounts, n));
        let body = json!({ "name": name(n, first_name) });
        let (_, changed) = self
            .call(
                "PATCH accounts customers/{id}",
                self.client.patch(url).json(&body),
            )
            .await?;
        self.customer_events.fetch_add(1, Ordering::Relaxed);
        Ok(changed)
    }

    /// Creates `count` customers, `concurrency` at a time, and returns their ids.
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

    /// Waits until orders shows one customer: its consumer has joined and caught up with it.
    pub(crate) async fn await_in_orders(&self, id: &str) -> anyhow::Result<()> {
        let url = format!("{}/customers/{id}", nth(&self.urls.orders, 0));
        self.visible("GET orders customers/{id}", &url, |_| Some(()))
            .await
            .map(|_| ())
    }

    /// Reads of customers by id on `concurrency` workers.
    pub(crate) async fn read_customers(
        &self,
        ids: Arc<Vec<String>>,
        concurrency: usize,
        duration: Duration,
    ) -> Outcome {
        let (client, bases) = (self.client.clone(), self.urls.accounts.clone());
        closed_loop(concurrency, duration, move |n| {
            let url = format!("{}/customers/{}", nth(&bases, n), *nth(&ids, n));
            read(client.get(url), "GET customers/{id}")
        })
        .await
    }

    /// Customer changes on `concurrency` workers, then the time until accounts published and
    /// orders handled every one of them.
    pub(crate) async fn change_customers(
        &self,
        ids: Arc<Vec<String>>,
        concurrency: usize,
        duration: Duration,
        topic: &str,
    ) -> anyhow::Result<(Outcome, ChangeRates)> {
        let before = self.drained(topic).await?;
        let started = Instant::now();
        let load = self.clone();
        let outcome = closed_loop(concurrency, duration, move |n| {
            let (load, ids) = (load.clone(), Arc::clone(&ids));
            async move {
                let id = nth(&ids, n);
                load.change_customer(id, n, &format!("Changed{n}"))
                    .await
                    .map(|_| ())
            }
        })
        .await;
        let after = self.drained(topic).await?;
        let rate = |count: u64, at: Instant| count as f64 / (at - started).as_secs_f64();
        let rates = ChangeRates {
            acknowledged_per_second: outcome.summary.per_second,
            published_per_second: rate(after.published - before.published, after.published_at),
            applied_per_second: rate(after.handled - before.handled, after.handled_at),
        };
        Ok((outcome, rates))
    }

    /// Waits until accounts has published, and orders has handled, every customer event that
    /// accounts acknowledged so far; each count with the moment it was first seen complete.
    async fn drained(&self, topic: &str) -> anyhow::Result<Drained> {
        let deadline = Instant::now() + DRAIN_DEADLINE;
        let mut published = None;
        loop {
            let expected = self.customer_events.load(Ordering::Relaxed);
            if published.is_none() {
                let count = self
                    .counter(&self.urls.accounts, PRODUCED, ("topic", topic))
                    .await?;
                published = (count >= expected).then(|| (count, Instant::now()));
            }
            let handled = self
                .counter(&self.urls.orders, CONSUMED, ("topic", topic))
                .await?;
            if let (Some((published, published_at)), true) = (published, handled >= expected) {
                return Ok(Drained {
                    published,
                    published_at,
                    handled,
                    handled_at: Instant::now(),
                });
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "orders handled {handled} of {expected} customer events within {DRAIN_DEADLINE:?}"
            );
            tokio::time::sleep(self.poll).await;
        }
    }

    /// A counter's sum over every instance of a service, for one label's value.
    pub(crate) async fn counter(
        &self,
        instances: &[String],
        metric: &str,
        label: (&str, &str),
    ) -> anyhow::Result<u64> {
        Ok(self.metric(instances, metric, label).await? as u64)
    }

    /// A metric's sum over every instance of a service, for one label's value (see
    /// [`summed`]).
    pub(crate) async fn metric(
        &self,
        instances: &[String],
        metric: &str,
        label: (&str, &str),
    ) -> anyhow::Result<f64> {
        let mut sum = 0.0;
        for instance in instances {
            let url = format!("{instance}/actuator/prometheus");
            let exposition = self.client.get(url).send().await?.text().await?;
            sum += summed(&exposition, metric, label);
        }
        Ok(sum)
    }

    /// The realistic flow on `concurrency` workers for `duration`, optionally paced to `rate`
    /// flows per second in all. Whole flows are timed in `end_to_end`, after any pacing.
    pub(crate) async fn flows(
        &self,
        concurrency: usize,
        duration: Duration,
        rate: Option<f64>,
    ) -> Outcome {
        let pacer = rate.map(|rate| {
            let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Arc::new(tokio::sync::Mutex::new(interval))
        });
        let load = self.clone();
        closed_loop(concurrency, duration, move |_| {
            let (load, pacer) = (load.clone(), pacer.clone());
            async move {
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
            }
        })
        .await
    }

    /// One customer's journey through the three services.
    async fn flow(&self) -> anyhow::Result<()> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let (accounts, orders, fulfillment) = (
            nth(&self.urls.accounts, n),
            nth(&self.urls.orders, n),
            nth(&self.urls.fulfillment, n),
        );
        let (id, created) = self.create_customer(n).await?;
        let copy = format!("{orders}/customers/{id}");
        let ((), seen) = self
            .visible("GET orders customers/{id}", &copy, |_| Some(()))
            .await?;
        self.end_to_end
            .record("customer created -> in orders", seen - created);

        self.call(
            "GET accounts customers/{id}",
            self.client.get(format!("{accounts}/customers/{id}")),
        )
        .await?;
        let first_name = format!("Changed{n}");
        let changed = self.change_customer(&id, n, &first_name).await?;
        let ((), seen) = self
            .visible("GET orders customers/{id}", &copy, |copy| {
                (copy["name"]["firstName"] == first_name.as_str()).then_some(())
            })
            .await?;
        self.end_to_end
            .record("customer changed -> in orders", seen - changed);

        let items = json!({ "orderItems": [
            { "product": { "guid": nth(&PRODUCTS, n) }, "quantity": 1 + n % 3 }
        ] });
        let (order, _) = self
            .call(
                "POST orders customers/{id}/orders",
                self.client
                    .post(format!("{orders}/customers/{id}/orders"))
                    .json(&items),
            )
            .await?;
        let guid = text(&order, "guid")?.to_owned();
        let (_, approved) = self
            .call(
                "POST orders orders/{guid}/approve",
                self.client.post(format!("{orders}/orders/{guid}/approve")),
            )
            .await?;
        let (fulfillment_id, seen) = self
            .visible(
                "GET fulfillment fulfillments/search/findByOrderGuid",
                &format!("{fulfillment}/fulfillments/search/findByOrderGuid?guid={guid}"),
                |found| found["id"].as_str().map(str::to_owned),
            )
            .await?;
        self.end_to_end
            .record("order approved -> fulfillment created", seen - approved);

        let order_url = format!("{orders}/orders/{guid}");
        let mut received = approved;
        for (status, shipping_method) in JOURNEY {
            let change = json!({ "orderStatusType": status, "shippingMethod": shipping_method });
            let (_, changed) = self
                .call(
                    "POST fulfillment fulfillments/{id}/status",
                    self.client
                        .post(format!(
                            "{fulfillment}/fulfillments/{fulfillment_id}/status"
                        ))
                        .json(&change),
                )
                .await?;
            ((), received) = self
                .visible("GET orders orders/{guid}", &order_url, |order| {
                    has_status(order, status).then_some(())
                })
                .await?;
            self.end_to_end
                .record("status changed -> in orders", received - changed);
        }
        self.end_to_end
            .record("order approved -> RECEIVED in orders", received - approved);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_has_a_status_when_its_history_lists_it() {
        let order = json!({ "orderStatusEvents": [
            { "orderStatusType": "CREATED", "timestamp": 1 },
            { "orderStatusType": "APPROVED", "timestamp": 2 }
        ] });
        assert!(has_status(&order, "APPROVED"));
        assert!(!has_status(&order, "PROCESSING"));
        assert!(!has_status(&Value::Null, "CREATED"));
    }

    #[test]
    fn every_customer_number_gets_its_own_email() {
        assert_ne!(
            customer(1)["contact"]["email"],
            customer(2)["contact"]["email"]
        );
    }
}
