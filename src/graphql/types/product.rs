//! Products and product renewals.

use std::sync::Arc;

use async_graphql::{ID, Object, SimpleObject};
use entity::{product, product_renewal};

use super::money::Money;
use crate::graphql::{
    eager::{Eager, Plain, PlainFields},
    ids::{NodeKind, encode},
    json,
};

/// A product of the vendor's catalogue.
#[derive(Clone, Debug)]
pub struct Product(pub Arc<product::Model>);

/// A product of the vendor's catalogue, the same for every partner.
#[Object]
impl Product {
    /// The product's global ID.
    pub async fn id(&self) -> ID {
        encode(NodeKind::Product, self.0.id)
    }

    /// Stock-keeping unit, e.g. `MKT-PRO`.
    async fn sku(&self) -> &str {
        &self.0.sku
    }

    /// The product's name, e.g. `Marketing Hub Professional`.
    async fn name(&self) -> &str {
        &self.0.name
    }
}

impl PlainFields for Product {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "id" => json::write_str(out, &encode(NodeKind::Product, self.0.id)),
            "sku" => json::write_str(out, &self.0.sku),
            "name" => json::write_str(out, &self.0.name),
            _ => return false,
        }
        true
    }
}

/// A product the customer owns on the contract that needs a renewal decision.
#[derive(SimpleObject, Clone, Debug)]
pub struct ProductRenewal {
    /// The product.
    pub product: Eager<Product>,
    /// How many units of the product the contract holds, e.g. seats.
    pub quantity: i32,
    /// Monthly recurring revenue of this product now, for the whole quantity (not
    /// per unit), in the renewal's currency.
    pub current_mrr: Eager<Money>,
    /// Monthly recurring revenue of this product after the renewal, for the whole
    /// quantity (not per unit), in the renewal's currency.
    pub renewal_mrr: Eager<Money>,
}

impl PlainFields for ProductRenewal {
    fn write_plain(&self, field: &Plain<'_>, out: &mut Vec<u8>) -> bool {
        match field.name() {
            "quantity" => {
                out.extend_from_slice(itoa::Buffer::new().format(self.quantity).as_bytes())
            }
            "product" => return field.object(&self.product.0, out),
            "currentMrr" => return field.object(&self.current_mrr.0, out),
            "renewalMrr" => return field.object(&self.renewal_mrr.0, out),
            _ => return false,
        }
        true
    }
}

impl ProductRenewal {
    /// `row` of `product`, on a renewal in currency `currency`.
    pub fn new(row: &product_renewal::Model, product: Arc<product::Model>, currency: &str) -> Self {
        Self {
            product: Eager(Product(product)),
            quantity: row.quantity,
            current_mrr: Eager(Money::new(row.current_mrr_minor, currency)),
            renewal_mrr: Eager(Money::new(row.renewal_mrr_minor, currency)),
        }
    }
}
