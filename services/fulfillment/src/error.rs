//! Every way a fulfillment request can fail, and the JSON answer for each.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform::http::{PageError, error_response};

use crate::domain::TransitionError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("no fulfillment has the id {0}")]
    NotFound(String),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("the fulfillment was changed by another request meanwhile; try again")]
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
            ApiError::Transition(TransitionError::AlreadyInStatus(_)) | ApiError::Conflict => {
                StatusCode::CONFLICT
            }
            ApiError::Transition(TransitionError::Illegal { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Page(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::Transition(TransitionError::AlreadyInStatus(_)) | ApiError::Conflict => {
                "conflict"
            }
            ApiError::Transition(TransitionError::Illegal { .. }) => "illegal_transition",
            ApiError::Page(_) => "invalid_page",
            ApiError::Unavailable(_) => "database_unavailable",
            ApiError::Internal(_) => "internal_error",
        };
        if let ApiError::Unavailable(cause) | ApiError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        error_response(self.status_code(), code, self.to_string())
    }
}
