//! Every way an orders request can fail, and the JSON answer for each.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform::http::{PageError, error_response};

use crate::domain::OrderError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("no customer has the id {0}")]
    CustomerNotFound(String),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("{0}")]
    NothingToFulfill(&'static str),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("the customer was changed by another request meanwhile; try again")]
    Conflict,
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        if platform::mongo::is_unavailable(&error) {
            ApiError::Unavailable(error)
        } else {
            ApiError::Internal(error)
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::CustomerNotFound(_)
            | ApiError::Order(OrderError::UnknownOrder(_))
            | ApiError::NothingToFulfill(_) => "not_found",
            ApiError::Order(OrderError::AlreadyInStatus(_)) | ApiError::Conflict => "conflict",
            ApiError::Order(OrderError::IllegalTransition { .. }) => "illegal_transition",
            ApiError::Order(_) => "invalid_order",
            ApiError::Page(_) => "invalid_page",
            ApiError::Unavailable(_) => "database_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.code() {
            "not_found" => StatusCode::NOT_FOUND,
            "conflict" => StatusCode::CONFLICT,
            "illegal_transition" | "invalid_order" => StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_page" => StatusCode::BAD_REQUEST,
            "database_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unavailable(cause) | ApiError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        error_response(self.status_code(), self.code(), self.to_string())
    }
}
