//! SeaORM entities of the renewals database: one module per table.
//!
//! These are storage rows only. The GraphQL layer maps them to its own output
//! types; business rules live in the server's `domain` module.

pub mod api_token;
pub mod customer;
pub mod customer_event;
pub mod partner;
pub mod partner_user;
pub mod product;
pub mod product_renewal;
pub mod renewal;
