//! `rate_limit_bucket`: each partner's rate-limit budget on PostgreSQL, where
//! several server processes share one database and so must share the budget.
//!
//! A bucket is one number, the instant (microseconds since the Unix epoch) at
//! which the partner's budget will be full again; the server updates it in one
//! statement per request. The table is unlogged: it writes no WAL, so a
//! request's charge costs no disk flush, and after a crash PostgreSQL empties
//! it, which gives every partner a full budget. SQLite, which one server
//! process owns, keeps the buckets in that process and gets no table.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNLOGGED TABLE rate_limit_bucket (
                    partner_id BIGINT PRIMARY KEY REFERENCES partner (id) ON DELETE CASCADE,
                    full_at BIGINT NOT NULL
                )",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE rate_limit_bucket")
            .await?;
        Ok(())
    }
}
