//! Indexes for the query plans of the benchmark data set (issue 4):
//!
//! - (no index on the customer's owner columns: the owner filters are read
//!   from the renewal side's range, and owner changes stay HOT updates on
//!   PostgreSQL, which touch no index, the trigram ones included);
//! - the count of the dashboard only needs `(partner_id, status, renewal_date)`
//!   and the customer: `customer_id` is added to that index so the renewal
//!   side of the count is read from the index alone;
//! - substring `search` cannot use a B-tree: on PostgreSQL, trigram (GIN)
//!   indexes on `customer.domain` and `customer.name_folded`, when the
//!   `pg_trgm` extension is available (SQLite scans the partner's customers).

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DatabaseBackend, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
#[expect(
    clippy::enum_variant_names,
    reason = "the variants are the table's column names"
)]
enum Renewal {
    Table,
    Id,
    PartnerId,
    CustomerId,
    Status,
    RenewalDate,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Replaces ix_renewal_partner_status_date with a covering variant.
        manager
            .drop_index(
                Index::drop()
                    .name("ix_renewal_partner_status_date")
                    .table(Renewal::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_renewal_partner_status_date_customer")
                    .table(Renewal::Table)
                    .col(Renewal::PartnerId)
                    .col(Renewal::Status)
                    .col(Renewal::RenewalDate)
                    .col(Renewal::Id)
                    .col(Renewal::CustomerId)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            trigram_indexes(manager).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "DROP INDEX IF EXISTS ix_customer_domain_trgm; \
                 DROP INDEX IF EXISTS ix_customer_name_folded_trgm",
            )
            .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ix_renewal_partner_status_date_customer")
                    .table(Renewal::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_renewal_partner_status_date")
                    .table(Renewal::Table)
                    .col(Renewal::PartnerId)
                    .col(Renewal::Status)
                    .col(Renewal::RenewalDate)
                    .col(Renewal::Id)
                    .to_owned(),
            )
            .await
    }
}

/// Trigram indexes for substring search. The extension is created in `public`
/// (never in a schema that tests drop) and referenced by its schema, so it
/// works whatever the `search_path`. Without the privilege to create it, the
/// indexes are skipped and search scans the partner's customers.
async fn trigram_indexes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let schema_of_extension = "SELECT extnamespace::regnamespace::text AS schema \
                               FROM pg_extension WHERE extname = 'pg_trgm'";
    let mut found = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            schema_of_extension,
        ))
        .await?;
    if found.is_none() {
        // Without the privilege, or when a concurrent migration wins the race,
        // the error is swallowed in a subtransaction (this runs in a transaction).
        db.execute_unprepared(
            "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public; \
             EXCEPTION WHEN OTHERS THEN NULL; END $$",
        )
        .await?;
        found = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                schema_of_extension,
            ))
            .await?;
    }
    let Some(row) = found else {
        return Ok(());
    };
    let schema: String = row.try_get("", "schema")?;
    for column in ["domain", "name_folded"] {
        db.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS ix_customer_{column}_trgm ON customer \
             USING gin ({column} {schema}.gin_trgm_ops)"
        ))
        .await?;
    }
    Ok(())
}
