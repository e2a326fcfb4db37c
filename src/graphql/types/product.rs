//! Products and product renewals.

use async_graphql::{Context, ID, Object, Result};
use entity::{product, product_renewal};

use super::money::Money;
use crate::{
    error::Error,
    graphql::{
        ids::{NodeKind, encode},
        loaders::row_of,
        session::session,
    },
};

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
    pub currency: String,
}

#[Object]
impl ProductRenewal {
    async fn product(&self, ctx: &Context<'_>) -> Result<Product> {
        let s = session(ctx)?;
        let product = row_of(&s.loaders.products, self.row.product_id)
            .await?
            .ok_or_else(|| missing_row("product", self.row.product_id))?;
        Ok(Product(product))
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

/// A row that a foreign key guarantees is missing: a bug or a corrupt database.
pub fn missing_row(table: &'static str, id: i64) -> Error {
    Error::from(sea_orm::DbErr::RecordNotFound(format!("{table} {id}")))
}
