//! The fault-injection rig: the three service processes on a broker and a database of their
//! own (so a test may stop or freeze them), a stream of realistic changes driven through the
//! API while a fault is injected, and the check that every acknowledged change took effect
//! downstream exactly once.

mod check;
mod probes;
mod rig;
mod stream;

pub use check::{Check, Row, converge};
pub use probes::{InFlight, count_log_lines, outbox_dead_letters, pending_outbox_events, running};
pub use rig::{CONVERGENCE_DEADLINE, Rig, fixture_text};
pub use stream::{Sent, Stream, create_customer, customer};
