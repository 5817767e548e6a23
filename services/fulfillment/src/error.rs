//! Every way a fulfillment request can fail, and the JSON answer for each.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform::http::{PageError, ServerFailure, error_response};

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
    #[error(transparent)]
    Server(#[from] ServerFailure),
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Server(error.into())
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Transition(TransitionError::AlreadyInStatus(_)) | ApiError::Conflict => {
                (StatusCode::CONFLICT, "conflict")
            }
            ApiError::Transition(TransitionError::Illegal { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "illegal_transition")
            }
            ApiError::Page(_) => (StatusCode::BAD_REQUEST, "invalid_page"),
            ApiError::Server(failure) => failure.status_and_code(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Server(failure) => failure.response(),
            client => {
                let (status, code) = client.status_and_code();
                error_response(status, code, client.to_string())
            }
        }
    }
}
