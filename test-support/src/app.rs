//! A service app running inside the test process, and the HTTP calls tests make to it.

use std::future::Future;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::waiting::{EVENT_DEADLINE, eventually};

/// A running app with its settings; it stops when dropped.
pub struct TestApp<S> {
    /// The service's base URL: scheme, host, port and base path.
    pub address: String,
    pub client: reqwest::Client,
    pub settings: S,
    shutdown: CancellationToken,
}

impl<S> Drop for TestApp<S> {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl<S> TestApp<S> {
    /// Runs `run` (the app's `run_until_stopped`) in the background; the app listens on `port`
    /// and serves under `base_path`, and `shutdown` stops it.
    pub fn spawn(
        settings: S,
        port: u16,
        base_path: &str,
        shutdown: CancellationToken,
        run: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) -> Self {
        tokio::spawn(run);
        TestApp {
            address: format!("http://127.0.0.1:{port}{base_path}"),
            client: reqwest::Client::new(),
            settings,
            shutdown,
        }
    }

    /// The URL of `path` under the base path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("sending a GET")
    }

    /// The `Content-Type` of the app's 200 answer to a GET of `path` with this `Accept`.
    pub async fn content_type_of(&self, path: &str, accept: &str) -> String {
        let response = self
            .client
            .get(self.url(path))
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .expect("sending a GET");
        assert_eq!(response.status(), 200, "GET {path}");
        response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("GET {path} has no Content-Type"))
            .to_owned()
    }

    /// Asserts that GET `path` answers HAL's media type unless the request asks for plain JSON,
    /// as Spring Data REST does (`*/*` stands for no `Accept`, which means the same).
    pub async fn assert_answers_hal(&self, path: &str) {
        for (accept, expected) in [
            ("*/*", "application/hal+json"),
            ("application/json", "application/json"),
            ("application/hal+json", "application/hal+json"),
        ] {
            assert_eq!(
                self.content_type_of(path, accept).await,
                expected,
                "GET {path} with Accept {accept}"
            );
        }
    }

    /// GET `path`, which must answer 200 with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// POST `body` as JSON to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("sending a POST")
    }

    /// Sends `method` to `path` once per body, all at once, so that the requests race each
    /// other in the app; each answer's status and JSON body (null if it has none), in the
    /// order of `bodies`. As many GETs of `warm_up` go first, all at once, so that each
    /// request of the race finds an HTTP connection open and the app as many database
    /// connections: otherwise the first request can be done before the last one is let in.
    pub async fn send_at_once(
        &self,
        warm_up: &str,
        method: reqwest::Method,
        path: &str,
        bodies: &[Value],
    ) -> Vec<(u16, Value)> {
        let warming: Vec<_> = bodies
            .iter()
            .map(|_| tokio::spawn(self.client.get(self.url(warm_up)).send()))
            .collect();
        for response in warming {
            let response = response
                .await
                .expect("a request task")
                .expect("sending a GET");
            assert!(response.status().is_success(), "GET {warm_up}");
        }
        let sent: Vec<_> = bodies
            .iter()
            .map(|body| {
                let request = self
                    .client
                    .request(method.clone(), self.url(path))
                    .json(body);
                tokio::spawn(async move {
                    let response = request.send().await.expect("sending a request");
                    let status = response.status().as_u16();
                    (status, response.json().await.unwrap_or(Value::Null))
                })
            })
            .collect();
        let mut answers = Vec::with_capacity(sent.len());
        for answer in sent {
            answers.push(answer.await.expect("a request task"));
        }
        answers
    }

    /// Waits until GET `path` answers 200 with a body that `accept` takes.
    pub async fn wait_for(&self, path: &str, accept: impl Fn(&Value) -> bool) -> Value {
        eventually(
            &format!("GET {path} to show the change"),
            EVENT_DEADLINE,
            || async {
                let response = self.get(path).await;
                if response.status() != 200 {
                    return None;
                }
                let body: Value = response.json().await.ok()?;
                accept(&body).then_some(body)
            },
        )
        .await
    }
}
