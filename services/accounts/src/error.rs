//! Every way an accounts request can fail, and the JSON answer for each.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform::http::{PageError, error_response};

use crate::domain::InvalidCustomer;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("no customer has the id {0}")]
    NotFound(String),
    #[error(transparent)]
    Invalid(#[from] InvalidCustomer),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("the customer was changed by another request meanwhile; read it and try again")]
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

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Page(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid(_) => "invalid_customer",
            ApiError::Page(_) => "invalid_page",
            ApiError::Conflict => "conflict",
            ApiError::Unavailable(cause) | ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                if matches!(self, ApiError::Unavailable(_)) {
                    "database_unavailable"
                } else {
                    "internal_error"
                }
            }
        };
        error_response(self.status_code(), code, self.to_string())
    }
}
