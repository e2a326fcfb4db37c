//! The database refuses rows the API could not show as the domain says: a
//! renewal status, renewal owner party or currency code outside their
//! values, an MRR change that is not the renewal MRR minus the current MRR,
//! a notified user without an owner override, a negative quantity.
//!
//! The API writes only such values itself; these checks hold for whoever
//! else writes (the vendor's import, SQL by hand). Before, such a row was
//! stored and then shown as best the server could: an unknown status as
//! `RENEWED`, the amount of a currency code such as `usd` in minor units.
//!
//! PostgreSQL: `CHECK` constraints, `NOT VALID`: rows already stored are not
//! checked (a database holding such a row still migrates), every row written
//! from now on is (an old row that breaks a check, once it is updated).
//! SQLite cannot add a constraint to a table; triggers check each row written
//! instead. The MRR totals (each the sum over the renewal's product renewals)
//! span two tables and stay unchecked.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each table, the columns its check reads, and the check: true for a row
/// the API can show. The row's columns are written `NEW.column` in a SQLite
/// trigger, `column` in a PostgreSQL constraint. Only a currency code's
/// letters are checked apart: by code point on both databases, whatever
/// PostgreSQL's collation.
fn checks(backend: DatabaseBackend) -> [(&'static str, &'static str, String); 4] {
    let (row, currency) = match backend {
        DatabaseBackend::Sqlite => ("NEW.", "@currency GLOB '[A-Z][A-Z][A-Z]'"),
        _ => ("", "@currency COLLATE \"C\" ~ '^[A-Z]{3}$'"),
    };
    [
        (
            "renewal",
            "status, currency, current_mrr_minor, renewal_mrr_minor, mrr_change_minor",
            format!(
                "@status IN ('PENDING', 'CONFIRMED', 'RENEWED', 'CANCELLATION_REQUESTED') \
                 AND {currency} AND @mrr_change_minor = @renewal_mrr_minor - @current_mrr_minor"
            ),
        ),
        (
            "customer",
            "owner_party, owner_notify_user_id",
            // No party is the partner's default, which names nobody itself.
            "COALESCE(@owner_party IN ('HUBSPOT', 'PARTNER'), @owner_notify_user_id IS NULL)"
                .into(),
        ),
        (
            "partner",
            "default_owner_party",
            "@default_owner_party IN ('HUBSPOT', 'PARTNER')".into(),
        ),
        ("product_renewal", "quantity", "@quantity >= 0".into()),
    ]
    .map(|(table, columns, check)| (table, columns, check.replace('@', row)))
}

/// SQLite: the triggers that refuse a row of `table` failing `check`, as
/// inserted and as updated.
fn sqlite_triggers(table: &str, columns: &str, check: &str) -> [String; 2] {
    let refuse = format!("BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {table}'); END");
    [
        format!(
            "CREATE TRIGGER {table}_domain_insert BEFORE INSERT ON {table} \
             WHEN NOT ({check}) {refuse}"
        ),
        format!(
            "CREATE TRIGGER {table}_domain_update BEFORE UPDATE OF {columns} ON {table} \
             WHEN NOT ({check}) {refuse}"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for (table, columns, check) in checks(backend) {
            if backend == DatabaseBackend::Sqlite {
                for trigger in sqlite_triggers(table, columns, &check) {
                    db.execute_unprepared(&trigger).await?;
                }
            } else {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ADD CONSTRAINT ck_{table}_domain CHECK ({check}) NOT VALID"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for (table, _, _) in checks(backend) {
            if backend == DatabaseBackend::Sqlite {
                for event in ["insert", "update"] {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_domain_{event}"
                    ))
                    .await?;
                }
            } else {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS ck_{table}_domain"
                ))
                .await?;
            }
        }
        Ok(())
    }
}
