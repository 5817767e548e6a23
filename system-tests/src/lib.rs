//! The whole storefront for tests: accounts, orders and fulfillment, each with its own
//! database, sharing topics of their own, against the local Kafka and database.
//!
//! [`Storefront`] runs the three apps inside the test process; [`processes::Storefront`] runs
//! the built binaries as child processes, for what needs separate processes: a metrics
//! endpoint per service, and each service's own log output. [`faults`] drives a stream of
//! changes through them while a fault is injected, and checks every change took effect once.
//! [`schemas`] holds event payloads against the committed JSON Schemas. [`lake::Lake`] runs the
//! data lake on a storefront's topics. The Python tools the
//! tests run are found by `test_support::python_tool`.

#![forbid(unsafe_code)]

pub mod faults;
mod in_process;
pub mod lake;
pub mod processes;
pub mod sample;
pub mod schemas;
mod shape;

pub use in_process::{Storefront, Topics};
pub use shape::same_shape;

/// The repository's root, where the scripts and the schemas are.
fn repository() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}
