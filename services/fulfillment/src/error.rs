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
