//! Products and product renewals.

use std::sync::Arc;

use async_graphql::{ID, Object};
use entity::{product, product_renewal};

use super::money::Money;
use crate::graphql::ids::{NodeKind, encode};

/// A product of the vendor's catalogue.
#[derive(Clone, Debug)]
pub struct Product(pub product::Model);

#[Object]
impl Product {
    pub async fn id(&self) -> ID {
        encode(NodeKind::Product, self.0.id)
    }

    /// Stock-keeping unit, e.g. `MKT-PRO`.
    async fn sku(&self) -> &str {
        &self.0.sku
    }

    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// A product the customer owns on the contract that needs a renewal decision.
#[derive(Clone, Debug)]
pub struct ProductRenewal {
    pub row: product_renewal::Model,
    pub product: Arc<product::Model>,
    pub currency: String,
}

#[Object]
impl ProductRenewal {
    async fn product(&self) -> Product {
        Product((*self.product).clone())
    }

    async fn quantity(&self) -> i32 {
        self.row.quantity
    }

    /// Monthly recurring revenue of this product now.
    async fn current_mrr(&self) -> Money {
        Money::new(self.row.current_mrr_minor, &self.currency)
    }

    /// Monthly recurring revenue of this product after the renewal.
    async fn renewal_mrr(&self) -> Money {
        Money::new(self.row.renewal_mrr_minor, &self.currency)
    }
}
