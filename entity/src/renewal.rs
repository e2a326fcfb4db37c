//! An upcoming contract renewal of a customer.
//!
//! `partner_id` repeats the customer's partner so that every list query can be
//! answered from one `(partner_id, …)` index. The MRR columns are the sums over
//! the renewal's product renewals, written together with them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "renewal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    pub customer_id: i64,
    /// `PENDING`, `CONFIRMED`, `RENEWED` or `CANCELLATION_REQUESTED`.
    pub status: String,
    pub renewal_date: Date,
    /// ISO 4217 code.
    pub currency: String,
    pub options_url: String,
    pub current_mrr_minor: i64,
    pub renewal_mrr_minor: i64,
    /// `renewal_mrr_minor - current_mrr_minor`, stored so that it can be indexed.
    pub mrr_change_minor: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::customer::Entity",
        from = "Column::CustomerId",
        to = "super::customer::Column::Id"
    )]
    Customer,
    #[sea_orm(has_many = "super::product_renewal::Entity")]
    ProductRenewal,
}

impl Related<super::customer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Customer.def()
    }
}

impl Related<super::product_renewal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProductRenewal.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
