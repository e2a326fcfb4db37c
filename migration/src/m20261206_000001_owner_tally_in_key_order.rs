//! `renewal_owner_tally` kept per statement, in key order (PostgreSQL).
//!
//! Owner changes of one partner run side by side: each holds the partner's
//! row `FOR SHARE` (only a change of the default owner, or an end of
//! services, holds it alone). Each also writes the tally rows of its
//! customers' renewals, and two changes may write the same rows. Kept by a
//! trigger per customer row, those rows were locked in the order the customers
//! were updated, which differs between two changes: each could hold a row the
//! other waits for, a deadlock that PostgreSQL breaks only after
//! `deadlock_timeout` (a second) by aborting one of them.
//!
//! This trigger runs once per `UPDATE` of customers, from the statement's
//! transition tables: one upsert writes the net change of every tally row, in
//! key order. An owner change updates its customers in one statement, so every
//! change locks the tally rows it writes in that one order, and none can wait
//! for another that waits for it.
//!
//! A trigger with transition tables cannot name columns (`UPDATE OF`): this
//! one runs on every update of customers, and rows whose owner and services
//! state did not change cancel out (`HAVING`). SQLite, whose writes run one at
//! a time, keeps its row triggers.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

use crate::m20261203_000001_renewal_owner_tally::{
    POSTGRES_CUSTOMER_FUNCTION, POSTGRES_CUSTOMER_TRIGGER,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "DROP TRIGGER renewal_owner_tally_customer ON customer",
    "DROP FUNCTION renewal_owner_tally_on_customer()",
    "CREATE FUNCTION renewal_owner_tally_on_customers() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        INSERT INTO renewal_owner_tally AS t (partner_id, owner_party, notify_user_id,
            status, services_ended, renewal_date, renewals)
        SELECT r.partner_id, c.owner_party, c.notify_user_id, r.status, c.services_ended,
            r.renewal_date, SUM(c.renewals)
        FROM (
            SELECT id, owner_party, COALESCE(owner_notify_user_id, 0) AS notify_user_id,
                services_ended_at IS NOT NULL AS services_ended, -1 AS renewals
            FROM old_customers WHERE owner_party IS NOT NULL
            UNION ALL
            SELECT id, owner_party, COALESCE(owner_notify_user_id, 0),
                services_ended_at IS NOT NULL, 1
            FROM new_customers WHERE owner_party IS NOT NULL
        ) c
        JOIN renewal r ON r.customer_id = c.id
        GROUP BY r.partner_id, c.owner_party, c.notify_user_id, r.status, c.services_ended,
            r.renewal_date
        HAVING SUM(c.renewals) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (partner_id, owner_party, notify_user_id, status, services_ended,
            renewal_date)
        DO UPDATE SET renewals = t.renewals + EXCLUDED.renewals;
        RETURN NULL;
     END $$",
    "CREATE TRIGGER renewal_owner_tally_customers AFTER UPDATE ON customer
     REFERENCING OLD TABLE AS old_customers NEW TABLE AS new_customers
     FOR EACH STATEMENT EXECUTE FUNCTION renewal_owner_tally_on_customers()",
];

const DOWN: &[&str] = &[
    "DROP TRIGGER renewal_owner_tally_customers ON customer",
    "DROP FUNCTION renewal_owner_tally_on_customers()",
    POSTGRES_CUSTOMER_FUNCTION,
    POSTGRES_CUSTOMER_TRIGGER,
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for statement in statements {
        manager
            .get_connection()
            .execute_unprepared(statement)
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
