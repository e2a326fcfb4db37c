//! Folds every customer's `name_folded` again, by [`search_fold::fold`]: it
//! was `name.to_lowercase()`, which kept accents (`cafe` did not find
//! `Café`), width (`abc` did not find `ＡＢＣ`), a final `ς`, and a precomposed
//! `é` apart from a decomposed one.
//!
//! Only the names whose fold changes are written. SQLite's trigram index
//! follows by its trigger; PostgreSQL's by itself. Going down folds them with
//! `to_lowercase` again.

use sea_orm_migration::{prelude::*, sea_orm::ConnectionTrait};

use crate::search_fold;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
    Name,
    NameFolded,
}

/// Customers read at a time.
const BATCH: u64 = 2_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        fold_names(manager, search_fold::fold).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        fold_names(manager, str::to_lowercase).await
    }
}

/// Sets each customer's `name_folded` to `fold(name)` where it differs,
/// reading the customers in id order, a batch at a time.
async fn fold_names(manager: &SchemaManager<'_>, fold: fn(&str) -> String) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut after = 0_i64;
    loop {
        let batch = Query::select()
            .columns([Customer::Id, Customer::Name, Customer::NameFolded])
            .from(Customer::Table)
            .and_where(Expr::col(Customer::Id).gt(after))
            .order_by(Customer::Id, Order::Asc)
            .limit(BATCH)
            .to_owned();
        let rows = db.query_all(&batch).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get_by_index(0)?;
        for row in rows {
            let id: i64 = row.try_get_by_index(0)?;
            let name: String = row.try_get_by_index(1)?;
            let stored: String = row.try_get_by_index(2)?;
            let folded = fold(&name);
            if folded != stored {
                let update = Query::update()
                    .table(Customer::Table)
                    .value(Customer::NameFolded, folded)
                    .and_where(Expr::col(Customer::Id).eq(id))
                    .to_owned();
                db.execute(&update).await?;
            }
        }
    }
}
