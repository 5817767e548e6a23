//! Every error answer the services give: one table of codes, one body, one way to answer.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use crate::documents::{OutboxFull, TooLarge};
use crate::paging::PageError;

/// The machine code of every error answer, and the status it answers with. Stable across
/// releases: clients branch on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// 400: the body is not JSON, or not of the documented shape.
    MalformedBody,
    /// 400: the query string does not parse.
    MalformedQuery,
    /// 400: bad paging or sorting.
    InvalidPage,
    /// 404: no resource has that id, or nothing is served at that path.
    NotFound,
    /// 405: the path is served, but not with that method (the `Allow` header lists those it
    /// answers).
    MethodNotAllowed,
    /// 409: already in that status, or changed meanwhile by another request.
    Conflict,
    /// 413: the body is larger than the service takes.
    PayloadTooLarge,
    /// 413: the change would make a stored document, or an event it publishes, larger than the
    /// service keeps (a customer with too many orders to hold in one document, say).
    DocumentTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: a customer with invalid values.
    InvalidCustomer,
    /// 422: an order with invalid values.
    InvalidOrder,
    /// 422: a status change the order state machine does not allow.
    IllegalTransition,
    /// 503: the database cannot be reached.
    DatabaseUnavailable,
    /// 503: the request did not finish within the service's deadline.
    Timeout,
    /// 503: the outbox holds more events than the service takes while the broker is away
    /// (in all, or in the document the change is about).
    Overloaded,
    /// 500: anything else; the cause is logged, never sent.
    InternalError,
}

impl Code {
    /// The status every answer with this code has.
    pub const fn status(self) -> StatusCode {
        match self {
            Code::MalformedBody | Code::MalformedQuery | Code::InvalidPage => {
                StatusCode::BAD_REQUEST
            }
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Conflict => StatusCode::CONFLICT,
            Code::PayloadTooLarge | Code::DocumentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidCustomer | Code::InvalidOrder | Code::IllegalTransition => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Code::DatabaseUnavailable | Code::Timeout | Code::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Every error answer: a stable machine code and a sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[schema(example = json!({"code": "not_found", "message": "no customer has the id 5b189af9a8d05613315b0212"}))]
pub struct ErrorBody {
    #[schema(inline)]
    pub code: Code,
    pub message: String,
}

/// A request that failed: the code, the sentence, and for failures on the server's side the
/// cause, which is logged and never sent.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    cause: Option<anyhow::Error>,
}

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            cause: None,
        }
    }

    /// 404: no `noun` (customer, order, ...) has this id.
    pub fn not_found(noun: &str, id: &str) -> Self {
        ApiError::new(Code::NotFound, format!("no {noun} has the id {id}"))
    }

    /// 409: the `noun` changed while the request read and wrote it, more often than it retries.
    pub fn changed_meanwhile(noun: &str) -> Self {
        ApiError::new(
            Code::Conflict,
            format!("the {noun} was changed by another request meanwhile; read it and try again"),
        )
    }

    /// The answer: the JSON error body, and `Retry-After` on a 503, which is always worth
    /// trying again.
    pub fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.code.status()).json(ErrorBody {
            code: self.code,
            message: self.message.clone(),
        });
        if self.code.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        self.response()
    }
}

/// A failure on the server's side: 413 for a change that would make a document too large,
/// 503 if it may pass (the database could not be reached, the document's outbox is full), else
/// 500.
impl From<anyhow::Error> for ApiError {
    fn from(cause: anyhow::Error) -> Self {
        if let Some(too_large) = cause.downcast_ref::<TooLarge>() {
            return ApiError::new(Code::DocumentTooLarge, too_large.to_string());
        }
        if let Some(full) = cause.downcast_ref::<OutboxFull>() {
            return ApiError::new(Code::Overloaded, full.to_string());
        }
        let (code, message) = if crate::mongo::is_unavailable(&cause) {
            (
                Code::DatabaseUnavailable,
                "the database is unavailable; try again shortly",
            )
        } else if crate::mongo::is_too_large(&cause) {
            (
                Code::DocumentTooLarge,
                "the change would make a stored document larger than the database keeps",
            )
        } else {
            (Code::InternalError, "internal error")
        };
        ApiError {
            cause: Some(cause),
            ..ApiError::new(code, message)
        }
    }
}

impl From<PageError> for ApiError {
    fn from(error: PageError) -> Self {
        ApiError::new(Code::InvalidPage, error.to_string())
    }
}

/// The answer for a path no route serves.
pub async fn no_route(request: HttpRequest) -> HttpResponse {
    ApiError::new(
        Code::NotFound,
        format!(
            "nothing is served at {} {}",
            request.method(),
            request.path()
        ),
    )
    .response()
}

/// The answers of every operation that takes a JSON body when the body is refused before the
/// handler sees it, for `responses(...)` in `#[utoipa::path]`. The body of each is an
/// [`ErrorBody`].
pub struct BodyRejected;

impl IntoResponses for BodyRejected {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        documented(&[
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
        documented(&[(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database is unavailable",
        )])
    }
}

/// Documented answers whose body is an [`ErrorBody`].
fn documented(answers: &[(StatusCode, &str)]) -> BTreeMap<String, RefOr<Response>> {
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

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn codes_are_written_as_the_api_documents_them() {
        let written = serde_json::to_value([
            Code::MalformedBody,
            Code::UnsupportedMediaType,
            Code::DatabaseUnavailable,
        ])
        .unwrap();
        assert_eq!(
            written,
            json!([
                "malformed_body",
                "unsupported_media_type",
                "database_unavailable"
            ])
        );
    }

    #[actix_web::test]
    async fn an_unreachable_database_answers_503_with_retry_after_and_no_cause() {
        let cause = anyhow::Error::new(crate::mongo::NoAnswer(std::time::Duration::from_secs(1)))
            .context("reading a customer at mongodb://secret-host");
        let response = ApiError::from(cause).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body: Value =
            serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["code"], "database_unavailable");
        assert!(!body.to_string().contains("secret-host"), "{body}");
    }

    #[test]
    fn other_failures_answer_500_without_retry_after() {
        let response = ApiError::from(anyhow::anyhow!("a bug")).error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    #[actix_web::test]
    async fn a_document_that_would_grow_too_large_answers_413_and_a_full_outbox_503() {
        let too_large = anyhow::Error::new(TooLarge::Document {
            collection: "customer.orders".into(),
            bytes: 2048,
            limit: 1024,
        })
        .context("placing an order");
        let response = ApiError::from(too_large).error_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value =
            serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["code"], "document_too_large");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("over its limit of 1024")
        );

        let full = anyhow::Error::new(OutboxFull {
            collection: "customer.accounts".into(),
            limit: 32,
        });
        let response = ApiError::from(full).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body: Value =
            serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["code"], "overloaded");
    }
}
