//! The accounts answers that are not in platform's: which code each domain error has.

use platform::http::errors::{ApiError, Code};

use crate::domain::InvalidCustomer;

impl From<InvalidCustomer> for ApiError {
    fn from(error: InvalidCustomer) -> Self {
        ApiError::new(Code::InvalidCustomer, error.to_string())
    }
}
