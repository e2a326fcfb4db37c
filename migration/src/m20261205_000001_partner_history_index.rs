//! The partner's own history read a page at a time.
//!
//! The partner's events are those of no customer: `partner_id = $1 AND
//! customer_id IS NULL`, newest first, `LIMIT n`. With an index on
//! `(partner_id, id)` alone, both databases read every event of the partner
//! (each change of a customer's owner writes one) to find its own few. On
//! `(partner_id, customer_id, id)` the page is a range of the index, read
//! backwards. That index also serves what `(partner_id, id)` served, a
//! partner's events, so it replaces it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustomerEvent {
    Table,
    PartnerId,
    CustomerId,
    Id,
}

const REPLACED: &str = "ix_customer_event_partner";
const INDEX: &str = "ix_customer_event_partner_history";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(CustomerEvent::Table)
                    .col(CustomerEvent::PartnerId)
                    .col(CustomerEvent::CustomerId)
                    .col(CustomerEvent::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(REPLACED)
                    .table(CustomerEvent::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(REPLACED)
                    .table(CustomerEvent::Table)
                    .col(CustomerEvent::PartnerId)
                    .col(CustomerEvent::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(CustomerEvent::Table)
                    .to_owned(),
            )
            .await
    }
}
