//! The event contract between the storefront services.
//!
//! Payloads are UTF-8 JSON in exactly the shapes of the upstream demo (`null` for absent optional
//! fields), so that upstream's Java consumers could read them and its producers could be read.
//! Readers are tolerant: unknown fields are ignored, absent optional fields become `None`, money
//! may arrive as a string, and the legacy status `COMPLETED` is accepted.
//!
//! Nothing here talks to Kafka or MongoDB: this crate is types, topic names, header names, and
//! what follows from them (the AsyncAPI documents, the ACLs each service needs).

#![forbid(unsafe_code)]

pub mod acls;
pub mod asyncapi;
mod envelope;
mod events;
mod examples;
pub mod headers;
mod model;
mod money;
pub mod schema;
mod status;
pub mod topics;

pub use envelope::{Envelope, Origin};
pub use events::{CustomerChangeEvent, Event, FulfillmentRequestEvent, OrderStatusChangeEvent};
pub use model::{
    Address, AddressType, Contact, Name, Order, OrderItem, OrderStatusEvent, Product,
    ShippingMethod,
};
pub use money::{Money, MoneyError};
pub use status::{OrderStatusType, TransitionError};
