//! What handlers take from a request, and the JSON answer when a request cannot give it.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::{InternalError, JsonPayloadError};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::http::errors::{ApiError, Code};
use crate::trace::TraceContext;

/// Turns an extractor's error into the JSON error answer.
fn refused(
    error: impl std::fmt::Debug + std::fmt::Display + 'static,
    answer: ApiError,
) -> actix_web::Error {
    InternalError::from_response(error, answer.response()).into()
}

/// JSON bodies up to `limit` bytes; every rejection answers with the JSON error body.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _request| {
            let answer = match &error {
                JsonPayloadError::OverflowKnownLength { limit, .. }
                | JsonPayloadError::Overflow { limit } => ApiError::new(
                    Code::PayloadTooLarge,
                    format!("the request body is larger than {limit} bytes"),
                ),
                JsonPayloadError::ContentType => ApiError::new(
                    Code::UnsupportedMediaType,
                    "the request body must be application/json",
                ),
                JsonPayloadError::Deserialize(cause) => ApiError::new(
                    Code::MalformedBody,
                    format!("the request body is not valid: {cause}"),
                ),
                other => ApiError::new(
                    Code::MalformedBody,
                    format!("the request body could not be read: {other}"),
                ),
            };
            refused(error, answer)
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
                    let answer = ApiError::new(
                        Code::MalformedBody,
                        format!(
                            "the request body is not valid at `{}`: {}",
                            error.path(),
                            error.inner()
                        ),
                    );
                    refused(error.into_inner(), answer)
                })
        })
    }
}

/// Query strings that do not parse answer 400 with the JSON error body.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _request| {
        let answer = ApiError::new(
            Code::MalformedQuery,
            format!("the query string is not valid: {error}"),
        );
        refused(error, answer)
    })
}

/// Path segments that do not parse answer 404: no resource has such an id.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _request| {
        let answer = ApiError::new(Code::NotFound, format!("no such resource: {error}"));
        refused(error, answer)
    })
}

/// The trace of the current request, for handlers that publish events within it.
impl FromRequest for TraceContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let context = request.extensions().get::<TraceContext>().cloned();
        ready(Ok(context.unwrap_or_else(TraceContext::current)))
    }
}
