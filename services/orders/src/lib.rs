//! The orders service: keeps a copy of each customer (from `accounts.customer.change`) with
//! that customer's orders, asks for approved orders to be fulfilled on `orders.order.fulfill`,
//! and records the status changes fulfillment reports on `fulfillment.order.change`.

#![forbid(unsafe_code)]

pub mod configuration;
pub mod domain;
mod error;
mod events;
mod routes;
pub mod startup;
mod state;
mod storage;
