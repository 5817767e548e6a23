//! Customer accounts: what a customer is, what a valid one looks like, and the sample data.

mod customer;
pub mod sample;

pub use customer::{
    CreditCard, CreditCardType, Customer, CustomerDraft, CustomerPatch, InvalidCustomer,
    mask_card_number,
};
