//! The append-only event log: owner changes (of a customer or of the partner's
//! default) and ended services. Rows are inserted, never updated or deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    /// `None` for partner-level events (the default owner changed).
    pub customer_id: Option<i64>,
    /// `OWNER_CHANGED`, `DEFAULT_OWNER_CHANGED` or `SERVICES_ENDED`.
    pub kind: String,
    pub at: DateTimeUtc,
    /// The label of the API token that made the change.
    pub actor: String,
    pub before_party: Option<String>,
    pub before_notify_user_id: Option<i64>,
    pub before_is_default: Option<bool>,
    pub after_party: Option<String>,
    pub after_notify_user_id: Option<i64>,
    pub after_is_default: Option<bool>,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
