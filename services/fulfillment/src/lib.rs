//! The fulfillment service: takes approved orders from `orders.order.fulfill`, one fulfillment
//! per order, and announces each step of shipping them on `fulfillment.order.change`.

#![forbid(unsafe_code)]

pub mod configuration;
pub mod domain;
mod error;
mod events;
mod routes;
pub mod startup;
mod state;
mod storage;
