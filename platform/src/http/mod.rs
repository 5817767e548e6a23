//! The HTTP side every service shares, one job per module; the arrows go one way, from the
//! server that assembles everything to the parts it assembles.
//!
//! - [`errors`]: the table of error codes, the JSON error body, the one way to answer with it;
//! - [`extract`]: request bodies, query strings, paths and trace contexts, refused as JSON;
//! - [`middleware`]: tracing, logging and metrics of each request, its deadline, backpressure;
//! - [`methods`]: which methods each path answers, and 405 with `Allow` for the others;
//! - [`hal`]: HAL links, collection pages and their media type, as Spring Data REST serves them;
//! - [`routes`]: where a service, and the actuator, register their routes;
//! - [`actuator`] and [`openapi`]: the operational endpoints, the API's documentation and the
//!   AsyncAPI document the service gives;
//! - [`server`]: the server of a service, built from all of the above.

pub mod actuator;
pub mod errors;
pub mod extract;
pub mod hal;
pub mod methods;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod server;
