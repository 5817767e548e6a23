//! The orders answers that are not in platform's: which code each domain error has.

use platform::http::errors::{ApiError, Code};

use shared_events::TransitionError;

use crate::domain::OrderError;

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        let code = match &error {
            OrderError::UnknownOrder(_) => Code::NotFound,
            OrderError::Transition(TransitionError::AlreadyInStatus(_)) => Code::Conflict,
            OrderError::Transition(TransitionError::Illegal { .. }) => Code::IllegalTransition,
            _ => Code::InvalidOrder,
        };
        ApiError::new(code, error.to_string())
    }
}
