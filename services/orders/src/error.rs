//! Every way an orders request can fail, and the JSON answer for each.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use platform::http::{PageError, ServerFailure, error_response};

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
            ApiError::CustomerNotFound(_)
            | ApiError::Order(OrderError::UnknownOrder(_))
            | ApiError::NothingToFulfill(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Order(OrderError::AlreadyInStatus(_)) | ApiError::Conflict => {
                (StatusCode::CONFLICT, "conflict")
            }
            ApiError::Order(OrderError::IllegalTransition { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "illegal_transition")
            }
            ApiError::Order(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_order"),
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
