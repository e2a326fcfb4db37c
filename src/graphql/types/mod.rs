//! GraphQL output and input types, one file per type (or small family of types).
//! They wrap store rows; they are never the entity models themselves.

mod connection;
mod customer;
#[cfg(test)]
mod eager_tests;
mod enums;
mod event;
mod inputs;
mod money;
mod node;
mod owner;
mod partner;
mod product;
mod renewal;
mod user_error;

pub use connection::{PageInfo, RenewalConnection, RenewalEdge};
pub use customer::Customer;
pub use enums::{OrderDirection, RenewalOrderField, RenewalOwnerParty, RenewalStatus};
pub use inputs::{RenewalFilterInput, RenewalOrderInput, RenewalOwnerInput};
pub use node::Node;
pub use partner::{Partner, PartnerUser};
pub use product::Product;
pub use renewal::{ProductRenewalRows, Renewal};
pub use user_error::{UserError, UserErrorCode};

use super::eager::PlainFields;

// Eager types whose fields all go through their resolvers.
impl PlainFields for RenewalConnection {}
impl PlainFields for RenewalEdge {}
impl PlainFields for PageInfo {}
