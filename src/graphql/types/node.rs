//! The `Node` interface: everything with a global ID.

use async_graphql::{ID, Interface};

use super::{Customer, Partner, PartnerUser, Product, Renewal};

/// An object with a globally unique, opaque ID, fetchable with `Query.node`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's global ID."))]
pub enum Node {
    Partner(Partner),
    PartnerUser(PartnerUser),
    Customer(Customer),
    Renewal(Renewal),
    Product(Product),
}
