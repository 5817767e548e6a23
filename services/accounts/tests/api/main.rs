//! Accounts over real HTTP, against the local broker and database.

mod customers;
mod events;
mod helpers;
mod outbox;
