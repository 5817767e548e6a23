//! The accounts answers that are not in platform's: which code each domain error has.

use platform::http::errors::{ApiError, Code};

use crate::domain::InvalidCustomer;

impl From<InvalidCustomer> for ApiError {
    fn from(error: InvalidCustomer) -> Self {
        ApiError::new(Code::InvalidCustomer, error.to_string())
    }
}

pub(crate) fn customer_not_found(id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("no customer has the id {id}"))
}

pub(crate) fn changed_meanwhile() -> ApiError {
    ApiError::new(
        Code::Conflict,
        "the customer was changed by another request meanwhile; read it and try again",
    )
}
