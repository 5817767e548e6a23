//! What every request handler of accounts shares.

use crate::configuration::{Events, Topics};
use crate::storage::CustomerRepository;

pub(crate) struct AppState {
    pub(crate) customers: CustomerRepository,
    pub(crate) topics: Topics,
    pub(crate) events: Events,
    pub(crate) base_path: String,
}
