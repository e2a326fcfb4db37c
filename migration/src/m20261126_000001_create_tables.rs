//! The initial schema: every table with its foreign keys declared in `CREATE TABLE`,
//! and the indexes behind every filter and order of the API.
//!
//! Composite foreign keys keep tenants apart inside the database too: a renewal's
//! partner is its customer's partner, and a notify user belongs to the same
//! partner as the customer (or partner) that names it.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partner {
    Table,
    Id,
    Slug,
    Name,
    DefaultOwnerParty,
    DefaultNotifyUserId,
}

#[derive(DeriveIden)]
enum PartnerUser {
    Table,
    Id,
    PartnerId,
    Name,
    Email,
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    PartnerId,
    Name,
    TokenHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
    PartnerId,
    Domain,
    Name,
    NameFolded,
    AccountUrl,
    ManagerName,
    ManagerEmail,
    OwnerParty,
    OwnerNotifyUserId,
    ServicesEndedAt,
    ServicesEndReason,
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
    Sku,
    Name,
}

#[derive(DeriveIden, Clone, Copy)]
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
    Currency,
    OptionsUrl,
    CurrentMrrMinor,
    RenewalMrrMinor,
    MrrChangeMinor,
}

#[derive(DeriveIden)]
enum ProductRenewal {
    Table,
    Id,
    RenewalId,
    ProductId,
    Quantity,
    CurrentMrrMinor,
    RenewalMrrMinor,
}

#[derive(DeriveIden)]
enum CustomerEvent {
    Table,
    Id,
    PartnerId,
    CustomerId,
    Kind,
    At,
    Actor,
    BeforeParty,
    BeforeNotifyUserId,
    BeforeIsDefault,
    AfterParty,
    AfterNotifyUserId,
    AfterIsDefault,
    Reason,
}

/// `partner (id, default_notify_user_id) → partner_user (partner_id, id)`.
fn partner_default_user_fk() -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name("fk_partner_default_notify_user")
        .from(Partner::Table, (Partner::Id, Partner::DefaultNotifyUserId))
        .to(
            PartnerUser::Table,
            (PartnerUser::PartnerId, PartnerUser::Id),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // partner and partner_user reference each other. SQLite resolves foreign keys
        // when rows are written, so the constraint can be declared up front; PostgreSQL
        // needs the target table to exist, so it is added once partner_user is there.
        let sqlite = manager.get_database_backend() == DatabaseBackend::Sqlite;
        let mut partner = Table::create()
            .table(Partner::Table)
            .col(big_pk_auto(Partner::Id))
            .col(string_uniq(Partner::Slug))
            .col(string(Partner::Name))
            .col(string(Partner::DefaultOwnerParty).default("HUBSPOT"))
            .col(big_integer_null(Partner::DefaultNotifyUserId))
            .to_owned();
        if sqlite {
            partner.foreign_key(&mut partner_default_user_fk());
        }
        manager.create_table(partner).await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnerUser::Table)
                    .col(big_pk_auto(PartnerUser::Id))
                    .col(big_integer(PartnerUser::PartnerId))
                    .col(string(PartnerUser::Name))
                    .col(string(PartnerUser::Email))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PartnerUser::Table, PartnerUser::PartnerId)
                            .to(Partner::Table, Partner::Id),
                    )
                    .index(
                        Index::create()
                            .name("uq_partner_user_partner_id_id")
                            .unique()
                            .col(PartnerUser::PartnerId)
                            .col(PartnerUser::Id),
                    )
                    .index(
                        Index::create()
                            .name("uq_partner_user_partner_id_email")
                            .unique()
                            .col(PartnerUser::PartnerId)
                            .col(PartnerUser::Email),
                    )
                    .to_owned(),
            )
            .await?;
        if !sqlite {
            manager
                .create_foreign_key(partner_default_user_fk())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .col(big_pk_auto(ApiToken::Id))
                    .col(big_integer(ApiToken::PartnerId))
                    .col(string(ApiToken::Name))
                    .col(string_uniq(ApiToken::TokenHash))
                    .col(timestamp_with_time_zone(ApiToken::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiToken::Table, ApiToken::PartnerId)
                            .to(Partner::Table, Partner::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Customer::Table)
                    .col(big_pk_auto(Customer::Id))
                    .col(big_integer(Customer::PartnerId))
                    .col(string(Customer::Domain))
                    .col(string(Customer::Name))
                    .col(string(Customer::NameFolded))
                    .col(string(Customer::AccountUrl))
                    .col(string(Customer::ManagerName))
                    .col(string(Customer::ManagerEmail))
                    .col(string_null(Customer::OwnerParty))
                    .col(big_integer_null(Customer::OwnerNotifyUserId))
                    .col(timestamp_with_time_zone_null(Customer::ServicesEndedAt))
                    .col(text_null(Customer::ServicesEndReason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Customer::Table, Customer::PartnerId)
                            .to(Partner::Table, Partner::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_owner_notify_user")
                            .from(
                                Customer::Table,
                                (Customer::PartnerId, Customer::OwnerNotifyUserId),
                            )
                            .to(
                                PartnerUser::Table,
                                (PartnerUser::PartnerId, PartnerUser::Id),
                            ),
                    )
                    .index(
                        Index::create()
                            .name("uq_customer_partner_id_domain")
                            .unique()
                            .col(Customer::PartnerId)
                            .col(Customer::Domain),
                    )
                    .index(
                        Index::create()
                            .name("uq_customer_id_partner_id")
                            .unique()
                            .col(Customer::Id)
                            .col(Customer::PartnerId),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Product::Table)
                    .col(big_pk_auto(Product::Id))
                    .col(string_uniq(Product::Sku))
                    .col(string(Product::Name))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Renewal::Table)
                    .col(big_pk_auto(Renewal::Id))
                    .col(big_integer(Renewal::PartnerId))
                    .col(big_integer(Renewal::CustomerId))
                    .col(string(Renewal::Status))
                    .col(date(Renewal::RenewalDate))
                    .col(string_len(Renewal::Currency, 3))
                    .col(string(Renewal::OptionsUrl))
                    .col(big_integer(Renewal::CurrentMrrMinor))
                    .col(big_integer(Renewal::RenewalMrrMinor))
                    .col(big_integer(Renewal::MrrChangeMinor))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Renewal::Table, (Renewal::CustomerId, Renewal::PartnerId))
                            .to(Customer::Table, (Customer::Id, Customer::PartnerId)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Renewal::Table, Renewal::PartnerId)
                            .to(Partner::Table, Partner::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductRenewal::Table)
                    .col(big_pk_auto(ProductRenewal::Id))
                    .col(big_integer(ProductRenewal::RenewalId))
                    .col(big_integer(ProductRenewal::ProductId))
                    .col(integer(ProductRenewal::Quantity))
                    .col(big_integer(ProductRenewal::CurrentMrrMinor))
                    .col(big_integer(ProductRenewal::RenewalMrrMinor))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProductRenewal::Table, ProductRenewal::RenewalId)
                            .to(Renewal::Table, Renewal::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProductRenewal::Table, ProductRenewal::ProductId)
                            .to(Product::Table, Product::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomerEvent::Table)
                    .col(big_pk_auto(CustomerEvent::Id))
                    .col(big_integer(CustomerEvent::PartnerId))
                    .col(big_integer_null(CustomerEvent::CustomerId))
                    .col(string(CustomerEvent::Kind))
                    .col(timestamp_with_time_zone(CustomerEvent::At))
                    .col(string(CustomerEvent::Actor))
                    .col(string_null(CustomerEvent::BeforeParty))
                    .col(big_integer_null(CustomerEvent::BeforeNotifyUserId))
                    .col(boolean_null(CustomerEvent::BeforeIsDefault))
                    .col(string_null(CustomerEvent::AfterParty))
                    .col(big_integer_null(CustomerEvent::AfterNotifyUserId))
                    .col(boolean_null(CustomerEvent::AfterIsDefault))
                    .col(text_null(CustomerEvent::Reason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomerEvent::Table, CustomerEvent::PartnerId)
                            .to(Partner::Table, Partner::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                CustomerEvent::Table,
                                (CustomerEvent::CustomerId, CustomerEvent::PartnerId),
                            )
                            .to(Customer::Table, (Customer::Id, Customer::PartnerId)),
                    )
                    .to_owned(),
            )
            .await?;

        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name("fk_partner_default_notify_user")
                        .table(Partner::Table)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            CustomerEvent::Table.into_iden(),
            ProductRenewal::Table.into_iden(),
            Renewal::Table.into_iden(),
            Product::Table.into_iden(),
            Customer::Table.into_iden(),
            ApiToken::Table.into_iden(),
            PartnerUser::Table.into_iden(),
            Partner::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Every list of the API reads one partner's renewals in one order; each order
/// has an index that starts with the partner and ends with the id tie-breaker,
/// so keyset pages are index range scans. The `status` variants serve
/// `actionRequired` and the status filter.
fn indexes() -> Vec<IndexCreateStatement> {
    let renewal = |name: &str, cols: &[Renewal]| {
        let mut index = Index::create();
        index.name(name).table(Renewal::Table);
        for col in cols {
            index.col(*col);
        }
        index.to_owned()
    };
    use Renewal::*;
    vec![
        renewal("ix_renewal_partner_date", &[PartnerId, RenewalDate, Id]),
        renewal(
            "ix_renewal_partner_status_date",
            &[PartnerId, Status, RenewalDate, Id],
        ),
        renewal(
            "ix_renewal_partner_current_mrr",
            &[PartnerId, CurrentMrrMinor, Id],
        ),
        renewal(
            "ix_renewal_partner_renewal_mrr",
            &[PartnerId, RenewalMrrMinor, Id],
        ),
        renewal(
            "ix_renewal_partner_mrr_change",
            &[PartnerId, MrrChangeMinor, Id],
        ),
        renewal("ix_renewal_customer", &[CustomerId, RenewalDate]),
        Index::create()
            .name("ix_product_renewal_renewal")
            .table(ProductRenewal::Table)
            .col(ProductRenewal::RenewalId)
            .to_owned(),
        Index::create()
            .name("ix_customer_event_customer")
            .table(CustomerEvent::Table)
            .col(CustomerEvent::CustomerId)
            .col(CustomerEvent::Id)
            .to_owned(),
        Index::create()
            .name("ix_customer_event_partner")
            .table(CustomerEvent::Table)
            .col(CustomerEvent::PartnerId)
            .col(CustomerEvent::Id)
            .to_owned(),
        Index::create()
            .name("ix_api_token_partner")
            .table(ApiToken::Table)
            .col(ApiToken::PartnerId)
            .to_owned(),
    ]
}
