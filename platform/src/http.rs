//! HTTP plumbing every service shares: the JSON error body, extractor error handling, and HAL
//! collections with paging and sorting as Spring Data REST serves them.

use std::collections::BTreeMap;
use std::future::{Ready, ready};
use std::time::{Duration, Instant, SystemTime};

use std::net::TcpListener;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Server, ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, JsonPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use futures_util::future::LocalBoxFuture;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{AppExt, scope};

use crate::actuator::Actuator;
use crate::metrics;
use crate::outbox::Outbox;
use crate::settings::HttpSettings;
use crate::trace::export::{self, FinishedSpan};
use crate::trace::{TRACEPARENT, TraceContext};

/// Every error answer: a stable machine code and a sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(example = json!({"code": "not_found", "message": "no customer has the id 5b189af9a8d05613315b0212"}))]
pub struct ErrorBody {
    /// Stable across releases: `malformed_body`, `not_found`, `conflict`, ...
    pub code: String,
    pub message: String,
}

/// The answers of every operation that takes a JSON [`Body`] when the body is refused before
/// the handler sees it, for `responses(...)` in `#[utoipa::path]`. The body of each is an
/// [`ErrorBody`].
pub struct BodyRejected;

impl IntoResponses for BodyRejected {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error_responses(&[
            (
                StatusCode::BAD_REQUEST,
                "Malformed body: not JSON, or not of the documented shape",
            ),
            (StatusCode::PAYLOAD_TOO_LARGE, "Body too large"),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Not JSON: the content type is not `application/json`",
            ),
        ])
    }
}

/// The answer of every operation that reads or writes the database when it cannot be reached,
/// for `responses(...)` in `#[utoipa::path]`; the body is an [`ErrorBody`].
pub struct DatabaseUnavailable;

impl IntoResponses for DatabaseUnavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error_responses(&[(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database is unavailable",
        )])
    }
}

/// Documented answers whose body is an [`ErrorBody`].
fn error_responses(answers: &[(StatusCode, &str)]) -> BTreeMap<String, RefOr<Response>> {
    answers
        .iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/json", content)
                .build();
            (status.as_u16().to_string(), response.into())
        })
        .collect()
}

/// A request that failed on the server's side, not because of what the client sent.
#[derive(Debug, thiserror::Error)]
pub enum ServerFailure {
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<anyhow::Error> for ServerFailure {
    fn from(error: anyhow::Error) -> Self {
        if crate::mongo::is_unavailable(&error) {
            ServerFailure::Unavailable(error)
        } else {
            ServerFailure::Internal(error)
        }
    }
}

impl ServerFailure {
    /// The status and machine code of the answer.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ServerFailure::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
            }
            ServerFailure::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// The answer: 503 or 500 with a generic message; the cause is logged, never sent.
    pub fn response(&self) -> HttpResponse {
        let (ServerFailure::Unavailable(cause) | ServerFailure::Internal(cause)) = self;
        tracing::error!(error = format!("{cause:#}"), "request failed");
        let (status, code) = self.status_and_code();
        error_response(status, code, self.to_string())
    }
}

/// An error response with the JSON error body.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        code: code.to_owned(),
        message: message.into(),
    })
}

/// JSON bodies up to `limit` bytes; every rejection answers with the JSON error body.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _request| {
            let response = match &error {
                JsonPayloadError::OverflowKnownLength { limit, .. }
                | JsonPayloadError::Overflow { limit } => error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("the request body is larger than {limit} bytes"),
                ),
                JsonPayloadError::ContentType => error_response(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the request body must be application/json",
                ),
                JsonPayloadError::Deserialize(cause) => error_response(
                    StatusCode::BAD_REQUEST,
                    "malformed_body",
                    format!("the request body is not valid: {cause}"),
                ),
                other => error_response(
                    StatusCode::BAD_REQUEST,
                    "malformed_body",
                    format!("the request body could not be read: {other}"),
                ),
            };
            InternalError::from_response(error, response).into()
        })
}

/// A JSON request body whose shape errors name the field at fault, e.g. ``at `contact.email`:
/// invalid type: integer `5`, expected a string``. Size (413), content type (415) and syntax
/// (400) are checked as by `web::Json`, under [`json_config`].
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(request, payload);
        Box::pin(async move {
            let web::Json(value) = json.await?;
            serde_path_to_error::deserialize(value)
                .map(Body)
                .map_err(|error| {
                    let response = error_response(
                        StatusCode::BAD_REQUEST,
                        "malformed_body",
                        format!(
                            "the request body is not valid at `{}`: {}",
                            error.path(),
                            error.inner()
                        ),
                    );
                    InternalError::from_response(error.into_inner(), response).into()
                })
        })
    }
}

/// Query strings that do not parse answer 400 with the JSON error body.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _request| {
        let response = error_response(
            StatusCode::BAD_REQUEST,
            "malformed_query",
            format!("the query string is not valid: {error}"),
        );
        InternalError::from_response(error, response).into()
    })
}

/// Path segments that do not parse answer 404: no resource has such an id.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _request| {
        let response = error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such resource: {error}"),
        );
        InternalError::from_response(error, response).into()
    })
}

/// The answer for a path no route serves.
pub async fn no_route(request: HttpRequest) -> HttpResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing is served at {} {}",
            request.method(),
            request.path()
        ),
    )
}

/// Wraps every request: continues or starts its trace, logs it once with its trace id, counts
/// it by route pattern, and answers with the `traceparent` of the work it did.
///
/// Use with `actix_web::middleware::from_fn(platform::http::observe)`.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let incoming = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|value| value.to_str().ok());
    let context = TraceContext::continue_from(incoming);
    request.extensions_mut().insert(context);
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let span = tracing::info_span!("request", trace_id = %context.trace_id());
    let started = Instant::now();
    let started_at = SystemTime::now();
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
    // Scrapes and Swagger UI's static assets would drown the API's own series.
    if !route.ends_with("/actuator/prometheus") && !route.contains("/swagger-ui/") {
        metrics::record_http_request(&method, &route, status, elapsed);
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
    export::record(FinishedSpan {
        context,
        name: format!("{method} {route}"),
        kind: SpanKind::Server,
        start: started_at,
        end: SystemTime::now(),
        attributes: vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route),
            KeyValue::new("url.path", path),
            KeyValue::new("http.response.status_code", i64::from(status)),
        ],
        failed: status >= 500,
    });
    let mut response = outcome?;
    if let Ok(value) = HeaderValue::from_str(&context.to_string()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(TRACEPARENT), value);
    }
    Ok(response)
}

/// What every request is held to: a deadline, and, for requests that change something, room
/// in the outbox for the events they would add.
#[derive(Clone)]
struct Limits {
    request_timeout: Duration,
    outbox: Outbox,
}

/// Answers 503 (with `Retry-After`) instead of letting a request wait without end on a
/// dependency, or add events to an outbox the relay cannot empty.
async fn guard(
    limits: Limits,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !request.method().is_safe()
        && let Some(pending) = limits.outbox.overloaded()
    {
        let refused = unavailable(
            "overloaded",
            format!("{pending} events are waiting to be published; try again shortly"),
        );
        return Ok(request.into_response(refused).map_into_right_body());
    }
    match tokio::time::timeout(limits.request_timeout, next.call(request)).await {
        Ok(response) => Ok(response?.map_into_left_body()),
        Err(_) => {
            let late = unavailable(
                "timeout",
                format!(
                    "the request did not complete within {:?}; a dependency is not answering",
                    limits.request_timeout
                ),
            );
            // The request went into the abandoned work, so the answer travels as an error,
            // which `observe` turns into the response.
            Err(InternalError::from_response("request deadline passed", late).into())
        }
    }
}

/// A 503 that tells the client when to try again.
fn unavailable(code: &str, message: String) -> HttpResponse {
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, code, message);
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        HeaderValue::from_static("1"),
    );
    response
}

/// The trace of the current request, for handlers that publish events within it.
impl FromRequest for TraceContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let context = request.extensions().get::<TraceContext>().copied();
        ready(Ok(context.unwrap_or_else(|| {
            let incoming = request
                .headers()
                .get(TRACEPARENT)
                .and_then(|value| value.to_str().ok());
            TraceContext::continue_from(incoming)
        })))
    }
}

/// The HTTP server of a service, bound to `settings.host:port`: every route under
/// `settings.base_path` (the service's, registered by `configure` once per worker, and the
/// actuator's), the OpenAPI document and Swagger UI collected from those routes, JSON errors for
/// every rejected request, the request deadline and the outbox's backpressure, and [`observe`]
/// around it all. Returns the server and its port.
pub fn server<F>(
    settings: &HttpSettings,
    title: &'static str,
    description: &'static str,
    actuator: Actuator,
    outbox: Outbox,
    configure: F,
) -> anyhow::Result<(Server, u16)>
where
    F: Fn(&mut ServiceConfig<'_>) + Clone + Send + 'static,
{
    let listener = TcpListener::bind((settings.host.as_str(), settings.port))
        .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
    let port = listener.local_addr()?.port();
    let exposure = crate::actuator::Exposure::parse(&settings.actuator_exposure)?;
    let routes = move |cfg: &mut ServiceConfig<'_>| {
        configure(cfg);
        crate::actuator::configure(cfg, actuator.clone(), exposure);
    };
    let limits = Limits {
        request_timeout: settings.request_timeout,
        outbox,
    };
    let base_path = settings.base_path.clone();
    let max_body_bytes = settings.max_body_bytes;
    // The document is collected from the same route registrations the workers make.
    let (_, api) = App::new()
        .into_utoipa_app()
        .service(scope(base_path.as_str()).configure(|cfg| routes(cfg)))
        .split_for_parts();
    let mut server = HttpServer::new(move || {
        let routes = routes.clone();
        let limits = limits.clone();
        App::new()
            .wrap(from_fn(move |request, next| {
                guard(limits.clone(), request, next)
            }))
            .wrap(from_fn(observe))
            .app_data(json_config(max_body_bytes))
            .app_data(query_config())
            .app_data(path_config())
            // Before the scope: a scope that matches the prefix keeps every request under it.
            .service(crate::openapi::documentation(
                &base_path,
                title,
                description,
                api.clone(),
            ))
            .into_utoipa_app()
            .service(scope(base_path.as_str()).configure(move |cfg| routes(cfg)))
            .into_app()
            .default_service(web::to(no_route))
    })
    // Shutdown is the service's to decide (SIGTERM stops the consumer and relay too).
    .disable_signals()
    .shutdown_timeout(10);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    let server = server.listen(listener)?.run();
    tracing::info!(port, "listening");
    Ok((server, port))
}

/// The paging query parameters of a collection: `page` (from 0), `size`, `sort=property,dir`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page number, from 0.
    pub page: Option<u64>,
    /// Items per page, 1 to 1000; 20 when absent.
    #[param(minimum = 1, maximum = 1000)]
    pub size: Option<u64>,
    /// `property` or `property,asc|desc`.
    pub sort: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub size: u64,
    /// Property and ascending (`true`) or descending.
    pub sort: Option<(String, bool)>,
}

/// Page size when none is asked for, as in Spring Data REST.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page served.
pub const MAX_PAGE_SIZE: u64 = 1000;
/// The most documents a page may skip: MongoDB takes the skip as a signed 64-bit integer.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("size must be between 1 and {MAX_PAGE_SIZE}")]
    Size,
    #[error("page must be at most {0} with that size")]
    Page(u64),
    #[error("cannot sort by `{0}`; sortable properties: {1}")]
    Property(String, String),
    #[error("sort direction must be asc or desc, not `{0}`")]
    Direction(String),
}

impl PageRequest {
    /// Checks the query against the properties this collection can be sorted by.
    pub fn parse(query: &PageQuery, sortable: &[&str]) -> Result<Self, PageError> {
        let size = query.size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(PageError::Size);
        }
        let page = query.page.unwrap_or(0);
        let last_page = MAX_OFFSET / size;
        if page > last_page {
            return Err(PageError::Page(last_page));
        }
        let sort = match query.sort.as_deref().filter(|sort| !sort.is_empty()) {
            None => None,
            Some(sort) => {
                let (property, direction) = sort.split_once(',').unwrap_or((sort, "asc"));
                if !sortable.contains(&property) {
                    return Err(PageError::Property(
                        property.to_owned(),
                        sortable.join(", "),
                    ));
                }
                let ascending = match direction.to_ascii_lowercase().as_str() {
                    "asc" => true,
                    "desc" => false,
                    _ => return Err(PageError::Direction(direction.to_owned())),
                };
                Some((property.to_owned(), ascending))
            }
        };
        Ok(PageRequest { page, size, sort })
    }

    /// Documents to skip before this page.
    pub fn offset(&self) -> u64 {
        self.page.saturating_mul(self.size)
    }

    fn query_string(&self, page: u64) -> String {
        let mut query = format!("page={page}&size={}", self.size);
        if let Some((property, ascending)) = &self.sort {
            let direction = if *ascending { "asc" } else { "desc" };
            query.push_str(&format!("&sort={property},{direction}"));
        }
        query
    }
}

/// The absolute URL of the request's path, as the client addressed it.
pub fn request_url(request: &HttpRequest) -> String {
    let connection = request.connection_info();
    format!(
        "{}://{}{}",
        connection.scheme(),
        connection.host(),
        request.path()
    )
}

/// A HAL link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub href: String,
}

/// The `_links` of an entity: where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SelfLinks {
    #[serde(rename = "self")]
    pub self_link: Link,
}

impl SelfLinks {
    pub fn to(href: String) -> Self {
        SelfLinks {
            self_link: Link { href },
        }
    }
}

/// Where a page sits in its collection, as Spring Data REST reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMetadata {
    pub size: u64,
    pub total_elements: u64,
    pub total_pages: u64,
    pub number: u64,
}

/// A HAL collection page: `_embedded.<relation>`, `_links` (self, first, prev, next, last)
/// and `page`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HalPage<T> {
    #[serde(rename = "_embedded")]
    pub embedded: BTreeMap<String, Vec<T>>,
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
    pub page: PageMetadata,
}

impl<T> HalPage<T> {
    /// One page of `total` items, linked to its neighbours under `collection_url`.
    pub fn new(
        relation: &str,
        collection_url: &str,
        items: Vec<T>,
        request: &PageRequest,
        total: u64,
    ) -> Self {
        let total_pages = total.div_ceil(request.size);
        let link = |page: u64| Link {
            href: format!("{collection_url}?{}", request.query_string(page)),
        };
        let mut links = BTreeMap::new();
        links.insert("self".to_owned(), link(request.page));
        if total_pages > 0 {
            links.insert("first".to_owned(), link(0));
            links.insert("last".to_owned(), link(total_pages - 1));
        }
        if request.page > 0 {
            links.insert("prev".to_owned(), link(request.page - 1));
        }
        if request.page + 1 < total_pages {
            links.insert("next".to_owned(), link(request.page + 1));
        }
        HalPage {
            embedded: BTreeMap::from([(relation.to_owned(), items)]),
            links,
            page: PageMetadata {
                size: request.size,
                total_elements: total,
                total_pages,
                number: request.page,
            },
        }
    }
}

/// The base URL of the service (scheme, host and base path) as the client addressed it.
pub fn base_url(request: &HttpRequest, base_path: &str) -> String {
    let url = request_url(request);
    match url.find(base_path) {
        Some(start) => url[..start + base_path.len()].to_owned(),
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn query(page: Option<u64>, size: Option<u64>, sort: Option<&str>) -> PageQuery {
        PageQuery {
            page,
            size,
            sort: sort.map(str::to_owned),
        }
    }

    #[test]
    fn a_page_request_defaults_to_the_first_twenty_unsorted() {
        let request = PageRequest::parse(&PageQuery::default(), &["id"]).unwrap();
        assert_eq!(
            request,
            PageRequest {
                page: 0,
                size: 20,
                sort: None
            }
        );
    }

    #[test]
    fn a_page_request_checks_size_property_and_direction() {
        let sortable = &["id", "name.lastName"];
        assert_eq!(
            PageRequest::parse(&query(None, Some(0), None), sortable),
            Err(PageError::Size)
        );
        assert!(matches!(
            PageRequest::parse(&query(None, None, Some("password")), sortable),
            Err(PageError::Property(..))
        ));
        assert!(matches!(
            PageRequest::parse(&query(None, None, Some("id,sideways")), sortable),
            Err(PageError::Direction(_))
        ));
        let sorted =
            PageRequest::parse(&query(Some(2), None, Some("name.lastName,DESC")), sortable)
                .unwrap();
        assert_eq!(sorted.sort, Some(("name.lastName".into(), false)));
        assert_eq!(sorted.offset(), 40);
    }

    #[test]
    fn a_page_request_refuses_a_page_past_what_the_database_can_skip() {
        let last = i64::MAX.unsigned_abs() / 20;
        assert_eq!(
            PageRequest::parse(&query(Some(last + 1), None, None), &[]),
            Err(PageError::Page(last))
        );
        let furthest = PageRequest::parse(&query(Some(last), None, None), &[]).unwrap();
        assert!(i64::try_from(furthest.offset()).is_ok());
        assert!(PageRequest::parse(&query(Some(u64::MAX), Some(1), None), &[]).is_err());
    }

    #[test]
    fn the_documented_page_size_bounds_are_those_checked() {
        let size = PageQuery::into_params(|| None)
            .into_iter()
            .find(|parameter| parameter.name == "size")
            .and_then(|parameter| parameter.schema);
        let bounds = serde_json::to_value(size).unwrap();
        assert_eq!(bounds["minimum"], 1);
        assert_eq!(bounds["maximum"], MAX_PAGE_SIZE);
    }

    #[test]
    fn a_hal_page_links_its_neighbours() {
        let request = PageRequest::parse(&query(Some(1), Some(2), None), &[]).unwrap();
        let page = serde_json::to_value(HalPage::new(
            "customers",
            "http://h/accounts/customers",
            vec![json!({"id": "a"})],
            &request,
            5,
        ))
        .unwrap();
        assert_eq!(
            page["page"],
            json!({"size": 2, "totalElements": 5, "totalPages": 3, "number": 1})
        );
        assert_eq!(
            page["_links"]["next"]["href"],
            "http://h/accounts/customers?page=2&size=2"
        );
        assert_eq!(
            page["_links"]["prev"]["href"],
            "http://h/accounts/customers?page=0&size=2"
        );
        assert_eq!(page["_embedded"]["customers"][0]["id"], "a");
    }

    #[test]
    fn an_empty_collection_has_no_pages_and_no_neighbours() {
        let request = PageRequest::parse(&PageQuery::default(), &[]).unwrap();
        let page = serde_json::to_value(HalPage::<Value>::new(
            "customers",
            "http://h/c",
            vec![],
            &request,
            0,
        ))
        .unwrap();
        assert_eq!(page["page"]["totalPages"], 0);
        assert!(page["_links"].get("next").is_none());
        assert!(page["_links"].get("prev").is_none());
        assert_eq!(page["_embedded"]["customers"], json!([]));
    }
}
