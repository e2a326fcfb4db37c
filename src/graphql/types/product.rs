//! Products and product renewals.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject, Value};
use entity::{product, product_renewal};

use super::money::Money;
use crate::graphql::{
    eager::{self, EagerObject, field_name},
    ids::{NodeKind, encode},
};

/// A product of the vendor's catalogue.
#[derive(Clone, Debug)]
pub struct Product(pub Arc<product::Model>);

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

impl EagerObject for Product {
    fn field(&self, ctx: &Context<'_>) -> Value {
        match field_name(ctx) {
            "id" => Value::String(encode(NodeKind::Product, self.0.id).0),
            "sku" => Value::String(self.0.sku.clone()),
            "name" => Value::String(self.0.name.clone()),
            _ => Value::Null,
        }
    }
}

/// A product the customer owns on the contract that needs a renewal decision.
#[derive(SimpleObject, Clone, Debug)]
pub struct ProductRenewal {
    pub product: Product,
    pub quantity: i32,
    /// Monthly recurring revenue of this product now.
    pub current_mrr: Money,
    /// Monthly recurring revenue of this product after the renewal.
    pub renewal_mrr: Money,
}

impl ProductRenewal {
    /// `row` of `product`, on a renewal in currency `currency`.
    pub fn new(row: &product_renewal::Model, product: Arc<product::Model>, currency: &str) -> Self {
        Self {
            product: Product(product),
            quantity: row.quantity,
            current_mrr: Money::new(row.current_mrr_minor, currency),
            renewal_mrr: Money::new(row.renewal_mrr_minor, currency),
        }
    }
}

impl EagerObject for ProductRenewal {
    fn field(&self, ctx: &Context<'_>) -> Value {
        match field_name(ctx) {
            "product" => eager::object(&self.product, ctx),
            "quantity" => Value::from(self.quantity),
            "currentMrr" => eager::object(&self.current_mrr, ctx),
            "renewalMrr" => eager::object(&self.renewal_mrr, ctx),
            _ => Value::Null,
        }
    }
}
