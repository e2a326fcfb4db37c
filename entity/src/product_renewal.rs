//! One product of a renewal that needs a renewal decision.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_renewal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub renewal_id: i64,
    pub product_id: i64,
    pub quantity: i32,
    pub current_mrr_minor: i64,
    pub renewal_mrr_minor: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::renewal::Entity",
        from = "Column::RenewalId",
        to = "super::renewal::Column::Id"
    )]
    Renewal,
    #[sea_orm(
        belongs_to = "super::product::Entity",
        from = "Column::ProductId",
        to = "super::product::Column::Id"
    )]
    Product,
}

impl Related<super::renewal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Renewal.def()
    }
}

impl Related<super::product::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
