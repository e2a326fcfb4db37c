//! A customer of a partner, with its renewal-owner override and services state.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    /// Lowercase; unique per partner.
    pub domain: String,
    pub name: String,
    /// `name` lowercased (Unicode-aware), so search behaves the same on every database.
    pub name_folded: String,
    pub account_url: String,
    pub manager_name: String,
    pub manager_email: String,
    /// `HUBSPOT`, `PARTNER`, or `None` for "use the partner's default".
    pub owner_party: Option<String>,
    pub owner_notify_user_id: Option<i64>,
    pub services_ended_at: Option<DateTimeUtc>,
    pub services_end_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::partner::Entity",
        from = "Column::PartnerId",
        to = "super::partner::Column::Id"
    )]
    Partner,
    #[sea_orm(has_many = "super::renewal::Entity")]
    Renewal,
}

impl Related<super::partner::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Partner.def()
    }
}

impl Related<super::renewal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Renewal.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
