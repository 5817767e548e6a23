//! The fulfillment answers that are not in platform's: which code each domain error has.

use platform::http::errors::{ApiError, Code};

use shared_events::TransitionError;

/// A move the state machine refuses: a repeat is a conflict, anything else illegal.
pub(crate) fn transition_refused(error: TransitionError) -> ApiError {
    let code = match &error {
        TransitionError::AlreadyInStatus(_) => Code::Conflict,
        TransitionError::Illegal { .. } => Code::IllegalTransition,
    };
    ApiError::new(code, error.to_string())
}

pub(crate) fn fulfillment_not_found(id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("no fulfillment has the id {id}"))
}

pub(crate) fn changed_meanwhile() -> ApiError {
    ApiError::new(
        Code::Conflict,
        "the fulfillment was changed by another request meanwhile; try again",
    )
}
