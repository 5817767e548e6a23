//! What every request handler of fulfillment shares.

use crate::configuration::Topics;
use crate::storage::FulfillmentRepository;

pub(crate) struct AppState {
    pub(crate) fulfillments: FulfillmentRepository,
    pub(crate) topics: Topics,
    pub(crate) base_path: String,
}
