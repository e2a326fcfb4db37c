//! The append-only event log of owner changes and ended services.

use chrono::Utc;
use entity::customer_event;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Order, Query, WindowStatement},
};

use super::{Store, one_of};
use crate::domain::RenewalOwner;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A customer's renewal owner changed (override set, changed, or cleared).
    OwnerChanged,
    /// The partner's default renewal owner changed.
    DefaultOwnerChanged,
    /// The partner ended services for a customer.
    ServicesEnded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnerChanged => "OWNER_CHANGED",
            Self::DefaultOwnerChanged => "DEFAULT_OWNER_CHANGED",
            Self::ServicesEnded => "SERVICES_ENDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::OwnerChanged,
            Self::DefaultOwnerChanged,
            Self::ServicesEnded,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
    }
}

/// An event to append; `at` is the current time.
#[derive(Clone, Debug)]
pub(super) struct NewEvent<'a> {
    pub partner_id: i64,
    pub customer_id: Option<i64>,
    pub kind: EventKind,
    pub actor: &'a str,
    pub before: Option<RenewalOwner>,
    pub after: Option<RenewalOwner>,
    pub reason: Option<String>,
}

impl NewEvent<'_> {
    pub(super) fn into_active_model(
        self,
        at: chrono::DateTime<Utc>,
    ) -> customer_event::ActiveModel {
        customer_event::ActiveModel {
            partner_id: Set(self.partner_id),
            customer_id: Set(self.customer_id),
            kind: Set(self.kind.as_str().to_owned()),
            at: Set(at),
            actor: Set(self.actor.to_owned()),
            before_party: Set(self.before.map(|o| o.party.as_str().to_owned())),
            before_notify_user_id: Set(self.before.and_then(|o| o.notify_user_id)),
            before_is_default: Set(self.before.map(|o| o.is_default)),
            after_party: Set(self.after.map(|o| o.party.as_str().to_owned())),
            after_notify_user_id: Set(self.after.and_then(|o| o.notify_user_id)),
            after_is_default: Set(self.after.map(|o| o.is_default)),
            reason: Set(self.reason),
            ..Default::default()
        }
    }
}

/// Appends events in one statement (inside the caller's transaction).
pub(super) async fn append<'a>(
    conn: &impl ConnectionTrait,
    events: impl IntoIterator<Item = NewEvent<'a>>,
) -> Result<(), DbErr> {
    let at = Utc::now();
    let rows: Vec<_> = events
        .into_iter()
        .map(|e| e.into_active_model(at))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    customer_event::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Which events of a history to read: those older than `before_id` (all
/// when `None`), newest first, at most `limit` of each history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistoryPage {
    pub before_id: Option<i64>,
    pub limit: u64,
}

impl Store {
    /// A page of each of these customers' histories (the partner's customers
    /// only), in one statement: each customer's events newest first, at most
    /// `page.limit` of each, ranked by a window over the customer.
    #[tracing::instrument(level = "debug", skip(self, customer_ids))]
    pub async fn customer_history(
        &self,
        partner_id: i64,
        customer_ids: &[i64],
        page: HistoryPage,
    ) -> Result<Vec<customer_event::Model>, DbErr> {
        use customer_event::Column;
        let rank = Alias::new("rank_in_history");
        let mut ranked = Query::select();
        ranked
            .column(Asterisk)
            .expr_window_as(
                Func::cust(Alias::new("ROW_NUMBER")),
                WindowStatement::partition_by(Column::CustomerId)
                    .order_by(Column::Id, Order::Desc)
                    .to_owned(),
                rank.clone(),
            )
            .from(customer_event::Entity)
            .and_where(Expr::col(Column::PartnerId).eq(self.opaque(partner_id)))
            .and_where(one_of(
                self.backend(),
                Expr::col(Column::CustomerId),
                customer_ids,
            ))
            .and_where_option(
                page.before_id
                    .map(|id| Expr::col(Column::Id).lt(self.opaque(id))),
            );
        let query = Query::select()
            .column(Asterisk)
            .from_subquery(ranked.to_owned(), Alias::new("ranked"))
            .and_where(Expr::col(rank).lte(self.opaque(page.limit as i64)))
            .order_by(Column::CustomerId, Order::Asc)
            .order_by(Column::Id, Order::Desc)
            .to_owned();
        customer_event::Entity::find()
            .from_raw_sql(self.backend().build(&query))
            .all(&self.read)
            .await
    }

    /// A page of the partner's own events (those of no customer), newest first.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn partner_history(
        &self,
        partner_id: i64,
        page: HistoryPage,
    ) -> Result<Vec<customer_event::Model>, DbErr> {
        customer_event::Entity::find()
            .filter(customer_event::Column::PartnerId.eq(partner_id))
            .filter(customer_event::Column::CustomerId.is_null())
            .apply_if(page.before_id, |query, id| {
                query.filter(customer_event::Column::Id.lt(id))
            })
            .order_by_desc(customer_event::Column::Id)
            .limit(page.limit)
            .all(&self.read)
            .await
    }
}
