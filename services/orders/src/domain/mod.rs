//! Customers' orders: the customer copy, the product catalog, placing and approving orders,
//! recording status changes, and the sample orders.

pub mod catalog;
mod customer_orders;
pub mod sample;

pub use customer_orders::{
    CopyChange, CustomerOrders, NewOrder, NewOrderItem, OrderError, StatusOutcome,
};
