//! Schema migrations of the renewals database, shared by SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_tables;
mod m20261201_000001_list_indexes;
mod m20261201_000002_renewal_tally;
mod m20261202_000001_rate_limit_buckets;
mod m20261203_000001_renewal_owner_tally;
mod m20261204_000001_customer_search;
mod m20261204_000002_customer_owner_statistics;
mod m20261205_000001_partner_history_index;
mod m20261206_000001_owner_tally_in_key_order;
mod m20261206_000002_renewal_tally_by_status;
mod m20261207_000001_search_fold;
mod m20261208_000001_domain_checks;
mod search_fold;

/// How text is folded for search (see [`search_fold::fold`]).
pub use search_fold::fold as search_fold;

/// Rebuilds `renewal_tally` from scratch (bulk loaders that bypass the triggers).
pub const REFILL_RENEWAL_TALLY: &str = m20261201_000002_renewal_tally::REFILL;
/// Rebuilds `renewal_owner_tally` from scratch (likewise).
pub const REFILL_RENEWAL_OWNER_TALLY: &str = m20261203_000001_renewal_owner_tally::REFILL;
/// SQLite: the trigger that indexes new customers for search, and the
/// statement that indexes them all (bulk loaders drop the trigger meanwhile).
pub const CUSTOMER_SEARCH_INSERT_TRIGGER: &str = m20261204_000001_customer_search::INSERT_TRIGGER;
pub const REBUILD_CUSTOMER_SEARCH: &str = m20261204_000001_customer_search::REBUILD;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_tables::Migration),
            Box::new(m20261201_000001_list_indexes::Migration),
            Box::new(m20261201_000002_renewal_tally::Migration),
            Box::new(m20261202_000001_rate_limit_buckets::Migration),
            Box::new(m20261203_000001_renewal_owner_tally::Migration),
            Box::new(m20261204_000001_customer_search::Migration),
            Box::new(m20261204_000002_customer_owner_statistics::Migration),
            Box::new(m20261205_000001_partner_history_index::Migration),
            Box::new(m20261206_000001_owner_tally_in_key_order::Migration),
            Box::new(m20261206_000002_renewal_tally_by_status::Migration),
            Box::new(m20261207_000001_search_fold::Migration),
            Box::new(m20261208_000001_domain_checks::Migration),
        ]
    }
}
