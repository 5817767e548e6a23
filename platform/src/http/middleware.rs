//! What wraps every request: its trace, log line and metrics, its deadline, and the outbox's
//! backpressure.

use std::time::{Duration, Instant};

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::Status;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::http::errors::{ApiError, Code};
use crate::metrics;
use crate::outbox::Outbox;
use crate::trace::{self, TRACEPARENT};

/// Wraps every request: continues or starts its trace, logs it once with its trace id, counts
/// it by route pattern, and answers with the `traceparent` of the work it did.
///
/// Use with `actix_web::middleware::from_fn(platform::http::middleware::observe)`.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let span = tracing::info_span!(
        "request",
        trace_id = tracing::field::Empty,
        otel.kind = "server",
    );
    // Before the span starts, where the sampler sees them.
    span.set_attribute("http.request.method", method.clone());
    span.set_attribute("url.path", path.clone());
    let context = trace::continue_trace(&span, &RequestHeaders(request.headers()));
    request.extensions_mut().insert(context.clone());
    let started = Instant::now();
    let outcome = next.call(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (status, route) = match &outcome {
        Ok(response) => (
            response.status().as_u16(),
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| metrics::UNMATCHED_ROUTE.to_owned()),
        ),
        Err(error) => (
            error.as_response_error().status_code().as_u16(),
            metrics::ABANDONED_ROUTE.to_owned(),
        ),
    };
    // Scrapes and the documentation viewers' static assets would drown the API's own series.
    if !route.ends_with("/actuator/prometheus")
        && !route.contains("/swagger-ui/")
        && !route.contains("/asyncapi/")
    {
        metrics::record_http_request(&method, &route, status, elapsed);
    }
    // The route is known only now, after the span started: the name is updated in place.
    context.rename(format!("{method} {route}"));
    span.set_attribute("http.route", route.clone());
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.set_status(Status::error(""));
    }
    span.in_scope(|| {
        tracing::info!(
            %method,
            %path,
            %route,
            status,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    let mut response = outcome?;
    if let Ok(value) = HeaderValue::from_str(&context.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(TRACEPARENT), value);
    }
    Ok(response)
}

/// A request's headers as a carrier of trace context.
struct RequestHeaders<'a>(&'a HeaderMap);

impl Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// What every request is held to: a deadline, and, for requests that change something, room
/// in the outbox for the events they would add.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) request_timeout: Duration,
    pub(crate) outbox: Outbox,
}

/// Answers 503 (with `Retry-After`) instead of letting a request wait without end on a
/// dependency, or add events to an outbox the relay cannot empty.
pub(crate) async fn guard(
    limits: Limits,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !request.method().is_safe()
        && let Some(pending) = limits.outbox.overloaded()
    {
        let refused = ApiError::new(
            Code::Overloaded,
            format!("{pending} events are waiting to be published; try again shortly"),
        );
        return Ok(request
            .into_response(refused.response())
            .map_into_right_body());
    }
    match tokio::time::timeout(limits.request_timeout, next.call(request)).await {
        Ok(response) => Ok(response?.map_into_left_body()),
        Err(_) => {
            let late = ApiError::new(
                Code::Timeout,
                format!(
                    "the request did not complete within {:?}; a dependency is not answering",
                    limits.request_timeout
                ),
            );
            // The request went into the abandoned work, so the answer travels as an error,
            // which `observe` turns into the response.
            Err(InternalError::from_response("request deadline passed", late.response()).into())
        }
    }
}
