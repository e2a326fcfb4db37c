//! Rows decoded by position, for the joined statements a dashboard runs on
//! every visit. SeaORM decodes a joined row by column name, and builds every
//! name with `format!` (`A_id`, `B_name`, …): about a tenth of a dashboard
//! request's CPU.
//!
//! A joined select lists the first entity's columns, then the second's, each in
//! declaration order (`Column::iter()`). The struct literals below follow that
//! order, and Rust evaluates their fields in the order written.
//!
//! Values are decoded by sqlx without its per-value check that the column's
//! SQL type matches the Rust type (a tenth of the decoding on PostgreSQL):
//! the statements are ours and the test below compares the result with
//! SeaORM's checked decoding. A mismatch would still be an error, not a wrong value.

use std::{collections::HashMap, sync::Arc};

use entity::{customer, product, product_renewal, renewal};
use sea_orm::{
    DbErr, QueryResult, RuntimeErr, TryGetable,
    sqlx::{Decode, Postgres, Row, Sqlite},
};

/// Reads a row's columns one after the other.
struct Columns<'a> {
    row: &'a QueryResult,
    at: usize,
}

impl<'a> Columns<'a> {
    fn next<T>(&mut self) -> Result<T, DbErr>
    where
        T: TryGetable + Decode<'a, Postgres> + Decode<'a, Sqlite>,
    {
        let at = self.at;
        self.at += 1;
        let decoded = if let Some(row) = self.row.try_as_pg_row() {
            row.try_get_unchecked(at)
        } else if let Some(row) = self.row.try_as_sqlite_row() {
            row.try_get_unchecked(at)
        } else {
            return self.row.try_get_by_index(at);
        };
        decoded.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))
    }
}

/// A row of `renewal` joined with `customer`.
pub fn renewal_with_customer(
    row: &QueryResult,
) -> Result<(renewal::Model, customer::Model), DbErr> {
    let mut c = Columns { row, at: 0 };
    Ok((renewal(&mut c)?, customer(&mut c)?))
}

/// Rows of `product_renewal` joined with `product`, each product decoded
/// once and shared: a page's product renewals (150 on a dashboard) name a
/// few products of the catalogue again and again.
pub fn product_renewals_with_products(
    rows: &[QueryResult],
) -> Result<Vec<(product_renewal::Model, Arc<product::Model>)>, DbErr> {
    let mut products: HashMap<i64, Arc<product::Model>> = HashMap::new();
    rows.iter()
        .map(|row| {
            let mut c = Columns { row, at: 0 };
            let line = product_renewal(&mut c)?;
            // The join's product is the line's.
            let product = match products.get(&line.product_id) {
                Some(product) => Arc::clone(product),
                None => {
                    let product = Arc::new(product(&mut c)?);
                    products.insert(product.id, Arc::clone(&product));
                    product
                }
            };
            Ok((line, product))
        })
        .collect()
}

fn renewal(c: &mut Columns) -> Result<renewal::Model, DbErr> {
    Ok(renewal::Model {
        id: c.next()?,
        partner_id: c.next()?,
        customer_id: c.next()?,
        status: c.next()?,
        renewal_date: c.next()?,
        currency: c.next()?,
        options_url: c.next()?,
        current_mrr_minor: c.next()?,
        renewal_mrr_minor: c.next()?,
        mrr_change_minor: c.next()?,
    })
}

fn customer(c: &mut Columns) -> Result<customer::Model, DbErr> {
    Ok(customer::Model {
        id: c.next()?,
        partner_id: c.next()?,
        domain: c.next()?,
        name: c.next()?,
        name_folded: c.next()?,
        account_url: c.next()?,
        manager_name: c.next()?,
        manager_email: c.next()?,
        owner_party: c.next()?,
        owner_notify_user_id: c.next()?,
        services_ended_at: c.next()?,
        services_end_reason: c.next()?,
    })
}

fn product_renewal(c: &mut Columns) -> Result<product_renewal::Model, DbErr> {
    Ok(product_renewal::Model {
        id: c.next()?,
        renewal_id: c.next()?,
        product_id: c.next()?,
        quantity: c.next()?,
        current_mrr_minor: c.next()?,
        renewal_mrr_minor: c.next()?,
    })
}

fn product(c: &mut Columns) -> Result<product::Model, DbErr> {
    Ok(product::Model {
        id: c.next()?,
        sku: c.next()?,
        name: c.next()?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use sea_orm::{ConnectionTrait, EntityTrait, JoinType, QuerySelect, QueryTrait, RelationTrait};

    use super::*;
    use crate::{seed, store::Store};

    /// Positional decoding gives exactly what SeaORM's decoding by name gives.
    #[tokio::test]
    async fn decodes_joined_rows_as_sea_orm_does() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/rows.db?mode=rwc", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        store
            .insert_dataset(&seed::generate(200, 3, today))
            .await
            .unwrap();
        let db = store.reader();

        let renewals = renewal::Entity::find().find_also_related(customer::Entity);
        let by_name: Vec<_> = renewals.clone().all(db).await.unwrap();
        let by_position: Vec<_> = db
            .query_all(&renewals.into_query())
            .await
            .unwrap()
            .iter()
            .map(|row| renewal_with_customer(row).map(|(r, c)| (r, Some(c))))
            .collect::<Result<_, _>>()
            .unwrap();
        // The optional columns are decoded too, both ways.
        let customers = || by_name.iter().filter_map(|(_, c)| c.as_ref());
        assert!(customers().any(|c| c.services_ended_at.is_some()));
        assert!(customers().any(|c| c.owner_notify_user_id.is_some()));
        assert_eq!(by_name, by_position);

        let products = product_renewal::Entity::find()
            .join(
                JoinType::InnerJoin,
                product_renewal::Relation::Product.def(),
            )
            .select_also(product::Entity);
        let by_name: Vec<_> = products.clone().all(db).await.unwrap();
        let rows = db.query_all(&products.into_query()).await.unwrap();
        let by_position: Vec<_> = product_renewals_with_products(&rows)
            .unwrap()
            .into_iter()
            .map(|(line, product)| (line, Some(Arc::unwrap_or_clone(product))))
            .collect();
        assert!(!by_name.is_empty());
        assert_eq!(by_name, by_position);
    }
}
