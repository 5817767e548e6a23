//! The accounts service: owns customer accounts and announces every change to them on
//! `accounts.customer.change`.

#![forbid(unsafe_code)]

pub mod configuration;
pub mod domain;
mod error;
mod events;
mod routes;
pub mod startup;
mod state;
mod storage;
