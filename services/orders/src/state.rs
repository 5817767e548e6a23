//! What every request handler of orders shares.

use crate::configuration::Topics;
use crate::storage::CustomerOrdersRepository;

pub(crate) struct AppState {
    pub(crate) customers: CustomerOrdersRepository,
    pub(crate) topics: Topics,
    pub(crate) base_path: String,
}
